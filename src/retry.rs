//! When and how long to wait before retrying an idempotent request.

use std::time::{Duration, SystemTime};

use reqwest::header::{HeaderMap, RETRY_AFTER};

use crate::calendar::days_from_civil;

/// How idempotent calls (GETs, sync upserts, the recording bytes PUT) are retried on connect
/// errors, timeouts, 429, 502, 503 and 504. Non-idempotent calls (revoke, code exchange, the
/// signed heartbeat) are never retried.
///
/// The wait before attempt `n + 1` is `base_delay * 2^(n-1)`, capped at `max_delay`, with full
/// jitter (a uniformly random fraction of it); a `Retry-After` from the platform replaces it (also
/// capped at `max_delay`). Retrying stops after `max_attempts` attempts or when the next wait would
/// end past `max_elapsed` since the first attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, including the first; `1` disables retries.
    pub max_attempts: u32,
    /// Wait before the first retry (before jitter).
    pub base_delay: Duration,
    /// Longest single wait, including a `Retry-After`.
    pub max_delay: Duration,
    /// Longest time from the first attempt to the start of the last one.
    pub max_elapsed: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 6,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(10),
            max_elapsed: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// A policy that never retries.
    pub fn none() -> Self {
        RetryPolicy {
            max_attempts: 1,
            ..RetryPolicy::default()
        }
    }

    /// The wait after failed attempt number `attempt` (1-based), honouring `retry_after`.
    pub(crate) fn delay(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        self.delay_with_jitter(attempt, retry_after, jitter_fraction)
    }

    /// [`delay`](Self::delay) with the jitter drawn from `jitter` (a fraction in `[0, 1)`; values
    /// outside are clamped), so tests can pin it.
    fn delay_with_jitter(
        &self,
        attempt: u32,
        retry_after: Option<Duration>,
        jitter: impl FnOnce() -> f64,
    ) -> Duration {
        if let Some(wait) = retry_after {
            return wait.min(self.max_delay);
        }
        let exp = self
            .base_delay
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(16));
        let ceiling = exp.min(self.max_delay);
        let fraction = jitter();
        let fraction = if fraction.is_finite() {
            fraction.clamp(0.0, 1.0)
        } else {
            0.0
        };
        ceiling.mul_f64(fraction)
    }
}

/// The one failure classification: `None` when `result` is final (a success, a status not worth
/// retrying, a transport error that may have reached the server's handler), otherwise
/// `Some(retry_after)` with the platform's `Retry-After`, if it sent one.
pub(crate) fn classify(result: &reqwest::Result<reqwest::Response>) -> Option<Option<Duration>> {
    match result {
        Ok(response) if is_retryable_status(response.status().as_u16()) => {
            Some(retry_after(response.headers()))
        }
        Ok(_) => None,
        Err(err) if is_retryable_transport(err) => Some(None),
        Err(_) => None,
    }
}

/// Whether a status is worth retrying for an idempotent call.
pub(crate) fn is_retryable_status(status: u16) -> bool {
    matches!(status, 429 | 502 | 503 | 504)
}

/// Whether a transport error is worth retrying for an idempotent call: the request never got an
/// answer (connect failure, timeout, connection closed while sending).
pub(crate) fn is_retryable_transport(err: &reqwest::Error) -> bool {
    err.is_connect() || err.is_timeout() || err.is_request()
}

/// Parses `Retry-After` as delay-seconds or an HTTP date.
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = httpdate_to_system_time(value)?;
    Some(
        when.duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

/// Parses an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), the only date form servers may send.
fn httpdate_to_system_time(value: &str) -> Option<SystemTime> {
    let mut parts = value.split_whitespace();
    let _weekday = parts.next()?;
    let day: u64 = parts.next()?.parse().ok()?;
    let month = match parts.next()? {
        "Jan" => 1,
        "Feb" => 2,
        "Mar" => 3,
        "Apr" => 4,
        "May" => 5,
        "Jun" => 6,
        "Jul" => 7,
        "Aug" => 8,
        "Sep" => 9,
        "Oct" => 10,
        "Nov" => 11,
        "Dec" => 12,
        _ => return None,
    };
    let year: i64 = parts.next()?.parse().ok()?;
    let mut hms = parts.next()?.split(':').map(|p| p.parse::<u64>().ok());
    let (h, m, s) = (hms.next()??, hms.next()??, hms.next()??);
    if parts.next()? != "GMT" || day == 0 || day > 31 || h > 23 || m > 59 || s > 60 {
        return None;
    }
    let days = days_from_civil(year, month, day as i64);
    let secs = u64::try_from(days).ok()? * 86_400 + h * 3_600 + m * 60 + s;
    SystemTime::UNIX_EPOCH.checked_add(Duration::from_secs(secs))
}

/// A uniformly random fraction in [0, 1) from the OS RNG (jitter needs no cryptographic quality,
/// but this avoids a second RNG dependency).
pub(crate) fn jitter_fraction() -> f64 {
    use rand_core::RngCore;
    let bits = rand_core::OsRng.next_u64() >> 11;
    bits as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn retry_after_seconds_replace_the_backoff_but_stay_capped() {
        let policy = RetryPolicy::default();
        assert_eq!(
            policy.delay(1, Some(Duration::from_secs(3))),
            Duration::from_secs(3)
        );
        assert_eq!(
            policy.delay(1, Some(Duration::from_secs(3600))),
            policy.max_delay
        );
    }

    #[test]
    fn backoff_grows_exponentially_within_the_cap() {
        let policy = RetryPolicy {
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(1),
            ..RetryPolicy::default()
        };
        let half = |attempt| policy.delay_with_jitter(attempt, None, || 0.5);
        let expected_ms = [50, 100, 200, 400, 500, 500, 500, 500, 500];
        for (attempt, ms) in (1..).zip(expected_ms) {
            assert_eq!(
                half(attempt),
                Duration::from_millis(ms),
                "attempt {attempt}"
            );
        }
        let whole = |attempt| policy.delay_with_jitter(attempt, None, || 0.999);
        assert_eq!(whole(3), Duration::from_micros(399_600));
        assert_eq!(whole(40), Duration::from_micros(999_000));
        assert_eq!(policy.delay_with_jitter(2, None, || 0.0), Duration::ZERO);
    }

    #[test]
    fn jitter_outside_zero_to_one_is_clamped_to_the_ceiling() {
        let policy = RetryPolicy {
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(1),
            ..RetryPolicy::default()
        };
        assert_eq!(
            policy.delay_with_jitter(2, None, || 7.0),
            Duration::from_millis(200)
        );
        assert_eq!(policy.delay_with_jitter(2, None, || -1.0), Duration::ZERO);
        assert_eq!(
            policy.delay_with_jitter(2, None, || f64::NAN),
            Duration::ZERO
        );
    }

    #[test]
    fn the_os_jitter_is_a_spread_of_fractions_below_one() {
        let draws: Vec<f64> = (0..64).map(|_| jitter_fraction()).collect();
        assert!(draws.iter().all(|f| (0.0..1.0).contains(f)), "{draws:?}");
        assert!(
            draws.windows(2).any(|pair| pair[0] != pair[1]),
            "64 equal draws: the jitter is not random"
        );
    }

    #[test]
    fn retry_after_parses_seconds_and_http_dates() {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, HeaderValue::from_static("7"));
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(7)));
        headers.insert(
            RETRY_AFTER,
            HeaderValue::from_static("Sun, 06 Nov 1994 08:49:37 GMT"),
        );
        assert_eq!(retry_after(&headers), Some(Duration::ZERO));
        assert_eq!(
            httpdate_to_system_time("Sun, 06 Nov 1994 08:49:37 GMT"),
            SystemTime::UNIX_EPOCH.checked_add(Duration::from_secs(784_111_777))
        );
        headers.insert(RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&headers), None);
    }

    #[test]
    fn only_the_transient_statuses_are_retryable() {
        for status in [429, 502, 503, 504] {
            assert!(is_retryable_status(status));
        }
        for status in [200, 400, 401, 404, 413, 500] {
            assert!(!is_retryable_status(status));
        }
    }
}
