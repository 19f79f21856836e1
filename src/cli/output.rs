//! Results on stdout, control characters in text written out ([`crate::text::escape_controls`]:
//! tasks, agents' words and file names cannot drive the terminal) except in [`print_exact`]
//! (JSON, the HTML page). Nothing here panics on a closed pipe (`ocfork diff | head -1`): [`print`]
//! hands the closed pipe back as a [`CommandError`] of kind `BrokenPipe`, which stops a
//! command that only reads, quietly; [`print_during_change`] is for commands that change
//! things (clean, merge, try), which finish their change and only stop printing.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

use super::CommandError;

/// Set once a write to stdout failed: nothing more is tried.
static CLOSED: AtomicBool = AtomicBool::new(false);

/// Writes `text` to stdout (add the newline yourself), flushed, control characters written out.
pub fn print(text: impl AsRef<str>) -> Result<(), CommandError> {
    print_exact(&crate::text::escape_controls(text.as_ref()))
}

/// Writes `text` to stdout as it is, for output programs read (JSON) or that escapes its text
/// itself (HTML).
pub fn print_exact(text: &str) -> Result<(), CommandError> {
    print_bytes(text.as_bytes())
}

/// Writes `text` and a newline to stdout.
pub fn println(text: impl AsRef<str>) -> Result<(), CommandError> {
    let mut line = String::with_capacity(text.as_ref().len() + 1);
    line.push_str(text.as_ref());
    line.push('\n');
    print(line)
}

/// Writes raw bytes to stdout, flushed.
pub fn print_bytes(bytes: &[u8]) -> Result<(), CommandError> {
    if CLOSED.load(Ordering::Relaxed) {
        return Err(CommandError::broken_pipe());
    }
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) => {
            CLOSED.store(true, Ordering::Relaxed);
            Err(e.into())
        }
    }
}

/// A line printed while a change is under way: a stdout that cannot be written stops the
/// printing, never the change. The line then goes to stderr, so what a change dropped (a
/// commit id to bring back) is still said somewhere.
pub fn println_during_change(text: impl AsRef<str>) {
    let was_closed = CLOSED.load(Ordering::Relaxed);
    if let Err(e) = println(text.as_ref()) {
        if !was_closed && e.kind != super::ErrorKind::BrokenPipe {
            eprintln!("ocfork: cannot write to stdout: {:#}", e.error);
        }
        eprintln!("{}", crate::text::escape_controls(text.as_ref()));
    }
}

/// The result of printing after the work is done: a closed stdout is not an error then, the
/// command's own exit code stands.
pub fn after_work(r: Result<(), CommandError>) -> Result<(), CommandError> {
    match r {
        Err(e) if e.kind == super::ErrorKind::BrokenPipe => Ok(()),
        r => r,
    }
}
