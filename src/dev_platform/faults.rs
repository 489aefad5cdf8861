//! Deterministic fault injection: which `/api/*` requests fail, and how, before any handler runs.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// How often and how the emulator fails `/api/*` requests on purpose.
///
/// A fault is decided per request from `seed` and the request's arrival number alone, so the same
/// seed and the same request order always give the same faults. Roughly a third of faults are
/// `503`, a third `429` with `Retry-After`, and a third a dropped connection (no response).
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct Faults {
    /// Probability in `0.0..=1.0` that an `/api/*` request fails.
    pub rate: f64,
    /// Seed of the fault sequence.
    pub seed: u64,
    /// The `Retry-After` seconds sent with a `429` (default 1).
    pub retry_after_secs: u32,
}

impl Faults {
    /// Faults at `rate` (`0.0..=1.0`) from `seed`, with `Retry-After: 1` on a `429`.
    pub fn new(rate: f64, seed: u64) -> Self {
        Faults {
            rate,
            seed,
            retry_after_secs: 1,
        }
    }

    /// Sets the `Retry-After` seconds sent with a `429`.
    pub fn retry_after_secs(mut self, secs: u32) -> Self {
        self.retry_after_secs = secs;
        self
    }
}

/// What the emulator does with one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fault {
    /// Answer `503` without running the handler.
    Unavailable,
    /// Answer `429` with `Retry-After`.
    RateLimited,
    /// Close the connection without answering.
    Drop,
}

/// The running fault plan: the configuration and the request counter.
#[derive(Debug)]
pub(crate) struct FaultPlan {
    faults: Faults,
    counter: AtomicU64,
    /// Faults injected so far, shared with [`super::DevPlatform::injected_faults`].
    injected: Arc<AtomicU64>,
}

impl FaultPlan {
    pub(crate) fn new(faults: Faults) -> Self {
        FaultPlan {
            faults,
            counter: AtomicU64::new(0),
            injected: Arc::new(AtomicU64::new(0)),
        }
    }

    /// The count of faults injected so far, shared with the caller.
    pub(crate) fn injected(&self) -> Arc<AtomicU64> {
        Arc::clone(&self.injected)
    }

    pub(crate) fn retry_after_secs(&self) -> u32 {
        self.faults.retry_after_secs
    }

    /// Decides the next request's fate (and advances the counter).
    pub(crate) fn next(&self) -> Option<Fault> {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let fault = decide(self.faults.seed, n, self.faults.rate);
        if fault.is_some() {
            self.injected.fetch_add(1, Ordering::Relaxed);
        }
        fault
    }
}

/// The fault (if any) for request number `n` under `seed` at `rate`.
pub(crate) fn decide(seed: u64, n: u64, rate: f64) -> Option<Fault> {
    let x = splitmix64(seed ^ splitmix64(n));
    // 53 random bits as a uniform value in [0, 1).
    let unit = (x >> 11) as f64 / (1u64 << 53) as f64;
    if unit >= rate {
        return None;
    }
    Some(match splitmix64(x) % 3 {
        0 => Fault::Unavailable,
        1 => Fault::RateLimited,
        _ => Fault::Drop,
    })
}

fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_zero_never_faults() {
        assert!((0..1000).all(|n| decide(7, n, 0.0).is_none()));
    }

    #[test]
    fn rate_one_always_faults() {
        assert!((0..1000).all(|n| decide(7, n, 1.0).is_some()));
    }

    #[test]
    fn every_kind_of_fault_occurs_in_roughly_equal_shares() {
        let mut counts = [0u32; 3];
        for n in 0..3000 {
            match decide(42, n, 1.0) {
                Some(Fault::Unavailable) => counts[0] += 1,
                Some(Fault::RateLimited) => counts[1] += 1,
                Some(Fault::Drop) => counts[2] += 1,
                None => {}
            }
        }
        assert!(
            counts.iter().all(|&c| (800..1200).contains(&c)),
            "{counts:?}"
        );
    }

    #[test]
    fn different_seeds_give_different_sequences() {
        let a: Vec<_> = (0..64).map(|n| decide(1, n, 0.5)).collect();
        let b: Vec<_> = (0..64).map(|n| decide(2, n, 0.5)).collect();
        assert_ne!(a, b);
    }
}
