//! Times in the manifest: RFC 3339 strings that also sort by time.

/// Milliseconds from an RFC 3339 time to `until`; 0 when there is none or it is later.
pub(super) fn ms_since(start: Option<&str>, until: time::OffsetDateTime) -> u64 {
    let format = time::format_description::well_known::Rfc3339;
    start
        .and_then(|s| time::OffsetDateTime::parse(s, &format).ok())
        .map_or(0, |t| {
            u64::try_from((until - t).whole_milliseconds()).unwrap_or(0)
        })
}

/// The current time as RFC 3339 (UTC).
pub fn now_rfc3339() -> String {
    // Fixed width (milliseconds, `Z`) so the strings also sort by time.
    let format = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    time::OffsetDateTime::now_utc()
        .format(&format)
        .unwrap_or_default()
}
