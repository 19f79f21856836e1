//! Fork and run names: parsing `name=prompt` approaches, deriving slugs, keeping them unique.

use std::collections::HashSet;

/// Longest allowed fork or run name.
pub const MAX_NAME: usize = 40;

/// True when `s` is a valid fork or run name: `[a-z0-9][a-z0-9-]{0,39}`.
pub fn is_valid(s: &str) -> bool {
    let bytes = s.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= MAX_NAME
        && (bytes[0].is_ascii_lowercase() || bytes[0].is_ascii_digit())
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
}

/// Turns free text into a name: lowercase ASCII letters and digits, runs of anything else
/// collapsed to one `-`, trimmed, cut to `max` bytes. Empty when the text has no letters or digits.
pub fn slug(text: &str, max: usize) -> String {
    let mut out = String::new();
    let mut dash = false;
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            if dash && !out.is_empty() {
                out.push('-');
            }
            dash = false;
            out.push(c.to_ascii_lowercase());
        } else {
            dash = true;
        }
        if out.len() >= max {
            break;
        }
    }
    out.truncate(max);
    out.trim_end_matches('-').to_string()
}

/// One approach given on the command line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Approach {
    /// The fork name, given (`name=...`) or derived.
    pub name: String,
    /// The approach text that follows the task in the prompt.
    pub text: String,
    /// Whether the name was given explicitly.
    pub explicit: bool,
}

/// Parses `"prompt text"` or `"name=prompt text"`. Text before the first `=` with no
/// whitespace in it is meant as a name and must be a valid one; with whitespace (`"Use x=5"`)
/// the whole spec is prompt text.
pub fn parse_approach(spec: &str) -> Result<Approach, String> {
    if let Some((head, rest)) = spec.split_once('=')
        && !head.is_empty()
        && !head.contains(char::is_whitespace)
    {
        if !is_valid(head) {
            return Err(format!(
                "fork name `{head}` is not valid: use 1-{MAX_NAME} of a-z, 0-9 and -, starting with a letter or digit"
            ));
        }
        if rest.trim().is_empty() {
            return Err(format!("approach `{spec}` has a name but no prompt text"));
        }
        return Ok(Approach {
            name: head.to_string(),
            text: rest.to_string(),
            explicit: true,
        });
    }
    if spec.trim().is_empty() {
        return Err("an approach is empty; give prompt text or name=prompt".to_string());
    }
    let name = slug(spec, MAX_NAME);
    if name.is_empty() {
        return Err(format!(
            "no fork name can be made from `{spec}`; name it: \"name={spec}\""
        ));
    }
    Ok(Approach {
        name,
        text: spec.to_string(),
        explicit: false,
    })
}

/// Makes `base` unique against `taken` by appending `-2`, `-3`, ... (still within [`MAX_NAME`]).
pub fn unique(base: &str, taken: &HashSet<String>) -> String {
    if !taken.contains(base) {
        return base.to_string();
    }
    (2..)
        .map(|n| {
            let suffix = format!("-{n}");
            let keep = MAX_NAME.saturating_sub(suffix.len()).min(base.len());
            format!("{}{suffix}", base[..keep].trim_end_matches('-'))
        })
        .find(|candidate| !taken.contains(candidate))
        .unwrap_or_else(|| base.to_string())
}

/// A run name from its fork names: `redux-vs-context-api`, cut to [`MAX_NAME`].
pub fn run_name(forks: &[String]) -> String {
    let joined = forks.join("-vs-");
    let name = slug(&joined, MAX_NAME);
    if name.is_empty() {
        "run".to_string()
    } else {
        name
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derives_names() {
        assert_eq!(
            parse_approach("Context API").map(|a| a.name),
            Ok("context-api".into())
        );
        assert_eq!(
            parse_approach("redux=Use Redux").map(|a| a.name),
            Ok("redux".into())
        );
        let a = parse_approach("Use x=5").map(|a| (a.name, a.text));
        assert_eq!(a, Ok(("use-x-5".into(), "Use x=5".into())));
        assert!(parse_approach("  ").is_err());
        assert!(parse_approach("r=").is_err());
        assert!(parse_approach("日本語").is_err());
        assert!(parse_approach("!!!").is_err());
        assert!(parse_approach("a/b=x").is_err());
        assert!(parse_approach("..=x").is_err());
        assert_eq!(parse_approach("x=5").map(|a| a.name), Ok("x".into()));
    }

    #[test]
    fn keeps_unique_and_valid() {
        let mut taken = HashSet::new();
        taken.insert("a".repeat(40));
        let u = unique(&"a".repeat(40), &taken);
        assert!(is_valid(&u), "{u}");
        assert_ne!(u, "a".repeat(40));
        assert!(is_valid(&run_name(&["redux".into(), "context-api".into()])));
        assert_eq!(
            run_name(&["redux".into(), "context-api".into()]),
            "redux-vs-context-api"
        );
    }
}
