//! The OpenCode side: spawning `opencode serve`, a typed HTTP client for its API, and the
//! global event stream every fork listens to.

pub mod client;
pub mod events;
pub mod server;
pub mod types;

pub use client::{ApiError, Client};
pub use events::{Event, EventHub};
pub use server::{Server, ServerError, find_binary};
