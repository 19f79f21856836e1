//! Why judging cannot be done, with what the user can do about it.

/// Input the judge cannot work with.
#[derive(Debug, thiserror::Error)]
pub enum JudgeError {
    #[error("the OpenCode server has no agent `{agent}` (it has: {known})")]
    UnknownAgent { agent: String, known: String },
}

impl crate::hint::Hints for JudgeError {
    fn hints(&self) -> Vec<String> {
        match self {
            JudgeError::UnknownAgent { .. } => vec!["choose a read-only agent with -a".into()],
        }
    }
}
