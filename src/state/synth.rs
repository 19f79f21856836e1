//! A synthesized fork's record (`ocfork synth`): the forks it was written from, and how a
//! fork's approach reads beside the others (a synthesized fork's prompt holds theirs).

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use super::{Fork, Run};

/// The `synth` object of a fork that `ocfork synth` made.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Synth {
    /// The forks whose work its prompt held, in the order given to it.
    pub from: Vec<String>,
}

impl Fork {
    /// What the fork was asked to do beyond the run's task: its prompt without the task in
    /// front, or, for a synthesized fork, a line naming its sources (its prompt holds the
    /// other forks' patches, too much to repeat where forks are shown side by side).
    pub fn approach<'a>(&'a self, run: &Run) -> Cow<'a, str> {
        if let Some(s) = &self.synth {
            return Cow::Owned(format!(
                "a synthesis of forks {}: one implementation combining their best parts",
                s.from.join(", ")
            ));
        }
        let prompt = self.prompt.as_str();
        Cow::Borrowed(match run.task.as_deref().map(str::trim_end) {
            Some(t) if !t.is_empty() => prompt.strip_prefix(t).map_or(prompt, str::trim_start),
            _ => prompt,
        })
    }

    /// "synth ← redux, context" for a synthesized fork, else its name.
    pub fn label(&self) -> String {
        match &self.synth {
            Some(s) => format!("{} ← {}", self.name, s.from.join(", ")),
            None => self.name.clone(),
        }
    }
}
