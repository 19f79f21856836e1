//! What the user can do about a failure: the hints each error offers, said by the layer that
//! knows (git, OpenCode, an operation) and printed by the interfaces, each on its own `hint:`
//! line, by the CLI and the TUI alike.

/// The hints of an error, none unless it says; an error that wraps another hands the inner
/// one's hints on.
pub trait Hints {
    fn hints(&self) -> Vec<String> {
        Vec::new()
    }
}

impl Hints for std::io::Error {}
impl Hints for serde_json::Error {}
impl Hints for tokio::task::JoinError {}

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
