//! RFC 3339 timestamps for the emulator: formatting the server's own clock. Parsing wire strings
//! into sortable instants is `crate::calendar::parse_rfc3339`, the parser the client's
//! per-record checks use too.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::calendar::civil_from_days;
pub(crate) use crate::calendar::{parse_rfc3339, Instant};

/// Formats the current system time as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
pub(crate) fn now_rfc3339_millis() -> String {
    let (secs, millis) = match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(d) => (
            i64::try_from(d.as_secs()).unwrap_or(i64::MAX / 2),
            d.subsec_millis(),
        ),
        Err(_) => (0, 0),
    };
    format_millis(secs, millis)
}

/// The current system time in whole Unix seconds (0 before the epoch).
pub(crate) fn now_unix_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Formats `secs` since the epoch plus `millis` as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
pub(crate) fn format_millis(secs: i64, millis: u32) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formatting_round_trips_through_parsing() {
        let s = format_millis(1_700_000_000, 7);
        assert_eq!(s, "2023-11-14T22:13:20.007Z");
        assert_eq!(
            parse_rfc3339(&s),
            Some(Instant {
                secs: 1_700_000_000,
                nanos: 7_000_000
            })
        );
    }
}
