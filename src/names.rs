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

/// Turns free text into a name: letters transliterated to lowercase ASCII (`Über Café` →
/// `uber-cafe`), runs of anything else collapsed to one `-`, trimmed, and cut to `max` bytes
/// at the end of a word when there is one. Empty when the text has no letters or digits
/// ASCII can spell.
pub fn slug(text: &str, max: usize) -> String {
    let mut out = String::new();
    let mut dash = false;
    for c in text.chars() {
        if out.len() > max {
            break;
        }
        let spelled = match fold(c) {
            Some(s) => s,
            None if c.is_ascii_alphanumeric() => {
                out_push(&mut out, &mut dash, c.to_ascii_lowercase());
                continue;
            }
            None => {
                dash = true;
                continue;
            }
        };
        for a in spelled.chars() {
            out_push(&mut out, &mut dash, a);
        }
    }
    if out.len() > max {
        // Cut where a word ends, unless that leaves too little of the name.
        let at = match out[..=max].rfind('-') {
            Some(i) if i >= max / 2 => i,
            _ => max,
        };
        out.truncate(at);
    }
    out.trim_end_matches('-').to_string()
}

fn out_push(out: &mut String, dash: &mut bool, c: char) {
    if *dash && !out.is_empty() {
        out.push('-');
    }
    *dash = false;
    out.push(c);
}

/// The ASCII spelling of a Latin letter with a mark or ligature (`é` → `e`, `ß` → `ss`).
fn fold(c: char) -> Option<&'static str> {
    const TABLE: [(&str, &str); 26] = [
        ("àáâãäåāăąÀÁÂÃÄÅĀĂĄ", "a"),
        ("çćĉċčÇĆĈĊČ", "c"),
        ("ďđðĎĐÐ", "d"),
        ("èéêëēĕėęěÈÉÊËĒĔĖĘĚ", "e"),
        ("ĝğġģĜĞĠĢ", "g"),
        ("ĥħĤĦ", "h"),
        ("ìíîïĩīĭįıÌÍÎÏĨĪĬĮİ", "i"),
        ("ĵĴ", "j"),
        ("ķĶ", "k"),
        ("ĺļľŀłĹĻĽĿŁ", "l"),
        ("ñńņňÑŃŅŇ", "n"),
        ("òóôõöøōŏőÒÓÔÕÖØŌŎŐ", "o"),
        ("ŕŗřŔŖŘ", "r"),
        ("śŝşšſŚŜŞŠ", "s"),
        ("ţťŧŢŤŦ", "t"),
        ("ùúûüũūŭůűųÙÚÛÜŨŪŬŮŰŲ", "u"),
        ("ŵŴ", "w"),
        ("ýÿŷÝŸŶ", "y"),
        ("źżžŹŻŽ", "z"),
        ("æÆ", "ae"),
        ("œŒ", "oe"),
        ("ßẞ", "ss"),
        ("þÞ", "th"),
        ("ĳĲ", "ij"),
        ("ŋŊ", "ng"),
        ("ŉ", "n"),
    ];
    TABLE
        .iter()
        .find(|(from, _)| from.contains(c))
        .map(|(_, to)| *to)
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

/// Parses an approach by the one naming rule (`try --help` says it): `"name=prompt text"` when the part before the first `=` is
/// a valid name, else all of it is prompt text and the name is derived from it.
pub fn parse_approach(spec: &str) -> Result<Approach, String> {
    if let Some((head, rest)) = spec.split_once('=')
        && is_valid(head)
    {
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

/// The note for an approach whose text before `=` was not taken as a name, if it had one
/// short enough to have been meant as one.
pub fn unnamed_note(a: &Approach) -> Option<String> {
    let (head, _) = a.text.split_once('=').filter(|_| !a.explicit)?;
    (!head.trim().is_empty() && head.chars().count() <= MAX_NAME).then(|| {
        format!(
            "`{head}` is not a fork name (1-{MAX_NAME} of a-z, 0-9 and -), so all of the approach is prompt text; its fork is named {}",
            a.name
        )
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

/// Longest generated run name: short enough to type and to read in a branch name.
const RUN_NAME_MAX: usize = 24;

/// A run name from its fork names: `redux-vs-context-api` for two, `redux-and-3-more` for
/// more, each fork name cut at a word end so the whole fits in 24 characters.
pub fn run_name(forks: &[String]) -> String {
    let name = match forks {
        [] => String::new(),
        [one] => slug(one, RUN_NAME_MAX),
        [a, b] if a.len() + b.len() + 4 <= RUN_NAME_MAX => format!("{a}-vs-{b}"),
        [a, b] => format!("{}-vs-{}", slug(a, 10), slug(b, 10)),
        [a, rest @ ..] => {
            let tail = format!("-and-{}-more", rest.len());
            let head = slug(a, RUN_NAME_MAX.saturating_sub(tail.len()));
            format!("{head}{tail}")
        }
    };
    let name = slug(&name, RUN_NAME_MAX);
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
        assert_eq!(
            parse_approach("a/b=x").map(|a| (a.name, a.explicit)),
            Ok(("a-b-x".into(), false))
        );
        assert_eq!(
            parse_approach("Über Café").map(|a| a.name),
            Ok("uber-cafe".into())
        );
        assert_eq!(
            slug("use the context api with memoized selectors", 40),
            "use-the-context-api-with-memoized"
        );
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
