//! Proleptic Gregorian calendar arithmetic (Howard Hinnant's algorithms), shared by the HTTP-date
//! parser for `Retry-After` and the emulator, and the strict RFC 3339 parser that both the
//! client's per-record checks (`format: date-time`) and the emulator use.

/// Days since 1970-01-01 of a date.
pub(crate) fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date `(year, month, day)` of a day count since 1970-01-01.
#[cfg_attr(not(feature = "dev-platform"), allow(dead_code))]
pub(crate) fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// A parsed RFC 3339 timestamp as an instant: whole seconds since the Unix epoch (negative before
/// it) and nanoseconds within that second. Ordering is chronological.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(not(feature = "dev-platform"), allow(dead_code))]
pub(crate) struct Instant {
    /// Seconds since 1970-01-01T00:00:00Z.
    pub(crate) secs: i64,
    /// Nanoseconds within the second, `0..1_000_000_000` (digits past the ninth are dropped).
    pub(crate) nanos: i64,
}

/// Parses an RFC 3339 date-time (`2026-05-20T14:30:00.250+12:00`, `2026-05-16T10:00:00Z`).
///
/// Accepts `T`/`t` as the separator, `Z`/`z` or a `±HH:MM` offset, any number of fractional
/// digits, and a leap second (`:60`, counted as the next second). Returns `None` for anything
/// else, including impossible dates such as February 30.
pub(crate) fn parse_rfc3339(s: &str) -> Option<Instant> {
    let b = s.as_bytes();
    if b.len() < 20 {
        return None;
    }
    let year = digits(b, 0, 4)?;
    expect(b, 4, b'-')?;
    let month = digits(b, 5, 2)?;
    expect(b, 7, b'-')?;
    let day = digits(b, 8, 2)?;
    if !matches!(b.get(10), Some(b'T' | b't')) {
        return None;
    }
    let hour = digits(b, 11, 2)?;
    expect(b, 13, b':')?;
    let minute = digits(b, 14, 2)?;
    expect(b, 16, b':')?;
    let second = digits(b, 17, 2)?;

    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    if hour > 23 || minute > 59 || second > 60 {
        return None;
    }

    let mut i = 19;
    let mut nanos: i64 = 0;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        let mut scale: i64 = 100_000_000;
        while let Some(c) = b.get(i).filter(|c| c.is_ascii_digit()) {
            nanos += i64::from(c - b'0') * scale;
            scale /= 10;
            i += 1;
        }
        if i == start {
            return None;
        }
    }

    let offset_secs: i64 = match b.get(i)? {
        b'Z' | b'z' if i + 1 == b.len() => 0,
        sign @ (b'+' | b'-') if i + 6 == b.len() => {
            let oh = digits(b, i + 1, 2)?;
            expect(b, i + 3, b':')?;
            let om = digits(b, i + 4, 2)?;
            if oh > 23 || om > 59 {
                return None;
            }
            let off = oh * 3600 + om * 60;
            if *sign == b'-' {
                -off
            } else {
                off
            }
        }
        _ => return None,
    };

    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second - offset_secs;
    Some(Instant { secs, nanos })
}

fn digits(b: &[u8], at: usize, n: usize) -> Option<i64> {
    let slice = b.get(at..at + n)?;
    let mut v: i64 = 0;
    for c in slice {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + i64::from(c - b'0');
    }
    Some(v)
}

fn expect(b: &[u8], at: usize, c: u8) -> Option<()> {
    (b.get(at) == Some(&c)).then_some(())
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn day_counts_round_trip_across_leap_years_and_eras() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(days_from_civil(1969, 12, 31), -1);
        for days in (-800_000..800_000).step_by(997) {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }

    fn at(s: &str) -> Instant {
        match parse_rfc3339(s) {
            Some(i) => i,
            None => panic!("{s} should parse"),
        }
    }

    #[test]
    fn utc_epoch_is_zero() {
        assert_eq!(at("1970-01-01T00:00:00Z"), Instant { secs: 0, nanos: 0 });
    }

    #[test]
    fn a_known_instant_matches_its_unix_seconds() {
        // 2023-11-14T22:13:20Z is Unix time 1_700_000_000.
        assert_eq!(at("2023-11-14T22:13:20Z").secs, 1_700_000_000);
    }

    #[test]
    fn offsets_name_the_same_instant_as_utc() {
        assert_eq!(at("2026-05-20T14:30:00+12:00"), at("2026-05-20T02:30:00Z"));
        assert_eq!(at("2026-05-19T21:30:00-05:00"), at("2026-05-20T02:30:00z"));
    }

    #[test]
    fn fractional_seconds_order_within_a_second() {
        assert!(at("2026-05-16T10:00:00.5Z") > at("2026-05-16T10:00:00.25Z"));
        assert_eq!(at("2026-05-16T10:00:00.123456789123Z").nanos, 123_456_789);
    }

    #[test]
    fn impossible_or_malformed_timestamps_are_refused() {
        for bad in [
            "",
            "2026-02-30T00:00:00Z",
            "2025-02-29T00:00:00Z",
            "2026-13-01T00:00:00Z",
            "2026-01-01T24:00:00Z",
            "2026-01-01 00:00:00Z",
            "2026-01-01T00:00:00",
            "2026-01-01T00:00:00.Z",
            "2026-01-01T00:00:00+1200",
            "2026-01-01T00:00:00Zjunk",
            "yesterday",
            "２026-01-01T00:00:00Z",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad:?} must be refused");
        }
    }

    #[test]
    fn leap_day_of_a_leap_year_parses() {
        assert!(parse_rfc3339("2024-02-29T00:00:00Z").is_some());
    }
}
