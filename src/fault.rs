//! What a failure means to the user, said by the layer that knows it: its kind (the CLI
//! alone turns a kind into an exit code) and what the user can do about it, each hint printed
//! on its own `hint:` line, by the CLI and the TUI alike.

/// What kind of failure, as the user sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// What the user asked for cannot be done as asked (a name that does not exist, a bad
    /// flag value, not a repository).
    User,
    /// A config file or setting is wrong or unreadable.
    Config,
    /// The work itself failed (git refused, a server is unreachable, a conflict).
    Failure,
    /// ocfork or its own files are in a state they should never be in.
    Internal,
    /// Stdout was closed by its reader: stop quietly.
    BrokenPipe,
    /// Ctrl-C or SIGTERM.
    Interrupted,
}

/// An error's kind and its hints.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Meaning {
    pub kind: ErrorKind,
    pub hints: Vec<String>,
}

impl Meaning {
    pub fn new(kind: ErrorKind) -> Meaning {
        Meaning {
            kind,
            hints: Vec::new(),
        }
    }
    pub fn user() -> Meaning {
        Meaning::new(ErrorKind::User)
    }
    pub fn config() -> Meaning {
        Meaning::new(ErrorKind::Config)
    }
    pub fn failure() -> Meaning {
        Meaning::new(ErrorKind::Failure)
    }
    pub fn internal() -> Meaning {
        Meaning::new(ErrorKind::Internal)
    }

    /// One more hint.
    pub fn hint(mut self, hint: impl Into<String>) -> Meaning {
        self.hints.push(hint.into());
        self
    }
}

/// What an error means to the user. Every impl is one exhaustive `match` with no catch-all
/// arm (a new variant is a compile error until someone decides what it means), and an error
/// that wraps another hands on the inner one's meaning.
pub trait Fault {
    fn meaning(&self) -> Meaning;

    fn hints(&self) -> Vec<String> {
        self.meaning().hints
    }
}

impl Fault for std::io::Error {
    fn meaning(&self) -> Meaning {
        match self.kind() {
            std::io::ErrorKind::BrokenPipe => Meaning::new(ErrorKind::BrokenPipe),
            _ => Meaning::failure(),
        }
    }
}

impl Fault for serde_json::Error {
    fn meaning(&self) -> Meaning {
        Meaning::internal()
    }
}

impl Fault for tokio::task::JoinError {
    fn meaning(&self) -> Meaning {
        Meaning::internal()
    }
}

/// An error enum (it derives `thiserror::Error` itself: the derive must come from where its
/// `#[error]` formats are written) whose variants are its own, each with its meaning written
/// as `match` arms, and, after `wraps`, errors of lower layers it passes on whole: each such
/// variant is `#[error(transparent)]`, made from the inner error by `?`, and means what the
/// inner one means. One place for what every wrapping error would otherwise write out twice.
/// (`wraps transparent`: the word comes from the caller, as thiserror needs its span to.)
macro_rules! error_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident { $($own:tt)* }
        wraps $transparent:ident { $($(#[$wmeta:meta])* $wrap:ident($inner:ty)),* $(,)? }
        meaning($this:ident) { $($arms:tt)* }
    ) => {
        $(#[$meta])*
        $vis enum $name {
            $($own)*
            $($(#[$wmeta])* #[error($transparent)] $wrap(#[from] $inner),)*
        }

        impl $crate::fault::Fault for $name {
            fn meaning(&$this) -> $crate::fault::Meaning {
                #[allow(unused_imports)]
                use $crate::fault::Meaning;
                match $this {
                    $($name::$wrap(e) => $crate::fault::Fault::meaning(e),)*
                    $($arms)*
                }
            }
        }
    };
}
pub(crate) use error_enum;

/// An error as the interfaces tell it: `error: ...`, a `  caused by: ...` line per cause, and
/// a `hint: ...` line per hint.
pub fn told(error: &(dyn std::error::Error + 'static), hints: &[String]) -> String {
    let mut text = format!("error: {error}");
    let mut cause = error.source();
    while let Some(c) = cause {
        text.push_str(&format!("\n  caused by: {c}"));
        cause = c.source();
    }
    for h in hints {
        text.push_str(&format!("\nhint: {h}"));
    }
    text
}

#[cfg(test)]
mod tests {
    #[test]
    fn each_cause_and_each_hint_has_its_line() {
        #[derive(Debug, thiserror::Error)]
        #[error("cannot write the run")]
        struct Outer(#[source] std::io::Error);
        let outer = Outer(std::io::Error::other("disk full"));
        let hints = ["free some space".to_string(), "or pass --dir".to_string()];
        assert_eq!(
            super::told(&outer, &hints),
            "error: cannot write the run\n  caused by: disk full\nhint: free some space\nhint: or pass --dir"
        );
    }
}
