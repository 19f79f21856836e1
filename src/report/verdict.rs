//! The report's verdict section, at the top of the page once `ocfork judge` ranked the forks.

use maud::{Markup, html};

use crate::state::Run;

/// The ranking with each fork's group and reason, and the judges; nothing without a verdict.
pub fn section(run: &Run) -> Markup {
    let Some(v) = &run.judge else {
        return html! {};
    };
    html! {
        section class="verdict" {
            h2 { "Verdict" }
            @match &v.ranking {
                None => p class="none" { "No ranking: a judge gave no usable reply (evidence only)." },
                Some(ranking) => ol {
                    @for r in ranking {
                        li {
                            code class="name" { (r.fork) } " "
                            span class={"group " (r.group)} { (r.group) }
                            @if let Some(e) = v.evidence_of(&r.fork) {
                                @if e.tests_weakened { " · tests weakened: " (e.weakened_files.join(", ")) }
                                " · consensus " (format!("{:.2}", e.consensus))
                            }
                            @if let Some(why) = &r.reason { br; small { (why) } }
                        }
                    }
                },
            }
            p class="meta" {
                @for j in &v.judges {
                    "judge " (j.model.as_deref().unwrap_or("default model")) " (" (j.agent) ") session "
                    code { (j.session) } br;
                }
            }
        }
    }
}
