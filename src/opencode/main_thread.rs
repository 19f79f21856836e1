//! [`MainThread`]: proof that code runs on the process's main thread, the only thread an
//! `opencode serve` may be started from; the compiler keeps the proof, and what holds it,
//! there.

use std::marker::PhantomData;

/// Proof that the code holding it runs on the process's main thread: the one that calls the
/// runtime's `block_on` in `cli::main`, which lives as long as ocfork.
///
/// [`Server::spawn`](super::Server::spawn) wants one, and so does everything that may call it
/// ([`connect`](super::connect), the pool's `grow`, the run's driver, the judges): the server's
/// parent-death signal (`PR_SET_PDEATHSIG`) fires when the *thread* that forked it exits, so a
/// server started from a tokio worker or a thread of its own would be killed when that thread
/// ends, while ocfork goes on. It is made only on the main thread ([`MainThread::here`] checks)
/// and is neither `Send` nor `Sync`: neither it nor a future holding it across an `.await` can
/// go to another thread, so `tokio::spawn`, `spawn_blocking` or `std::thread::spawn` of code
/// that may start a server does not compile:
///
/// ```compile_fail
/// async fn starts_a_server(_main: ocfork::opencode::MainThread) {}
/// fn on_a_worker(main: ocfork::opencode::MainThread) {
///     tokio::spawn(starts_a_server(main));
/// }
/// ```
#[derive(Clone, Copy, Debug)]
pub struct MainThread {
    /// A raw pointer is neither `Send` nor `Sync`, and so is this type.
    _here_only: PhantomData<*const ()>,
}

impl MainThread {
    /// The proof, when called on the process's main thread (its thread id is the process
    /// id); None on any other thread.
    pub fn here() -> Option<MainThread> {
        (nix::unistd::gettid() == nix::unistd::getpid()).then_some(MainThread {
            _here_only: PhantomData,
        })
    }
}

/// Compile-time check that [`MainThread`] is not `Send` (nor `Sync`): were it, the method
/// below would have two candidates and the constant would not compile.
const _: fn() = || {
    trait AmbiguousIfSendOrSync<A> {
        fn some_item() {}
    }
    impl<T: ?Sized> AmbiguousIfSendOrSync<()> for T {}
    impl<T: ?Sized + Send> AmbiguousIfSendOrSync<u8> for T {}
    impl<T: ?Sized + Sync> AmbiguousIfSendOrSync<u16> for T {}
    let _ = <MainThread as AmbiguousIfSendOrSync<_>>::some_item;
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_main_thread_gets_one() {
        // The main thread's own is proved by every test of `tests/it` that starts a server:
        // they all go through the binary's `cli::main`.
        let elsewhere = std::thread::spawn(|| MainThread::here().is_none())
            .join()
            .expect("the thread ends");
        assert!(elsewhere, "a spawned thread got a MainThread");
    }
}
