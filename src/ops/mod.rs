//! Operations below the interfaces: what `merge` and `clean` do (plan, then apply, each with a
//! typed result) and the command that attaches OpenCode's TUI, for the CLI to print and for
//! `ocfork ui` to run as background jobs, so neither runs the other.

pub mod attach;
pub mod clean;
pub mod merge;

#[cfg(test)]
mod fixture;

/// True when two paths name the same existing directory.
pub fn same_dir(a: &std::path::Path, b: &std::path::Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}
