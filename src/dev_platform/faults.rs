//! Deterministic fault injection: which `/api/*` requests fail, and how. Most faults fire before
//! any handler runs; an opt-in share ([`Faults::lose_responses`]) lets the handler commit its
//! effect and then loses the answer.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// How often and how the emulator fails `/api/*` requests on purpose.
///
/// A fault is decided per request from `seed` and the request's arrival number alone, so the same
/// seed and the same request order always give the same faults. Roughly a third of faults are
/// `503`, a third `429` with `Retry-After`, and a third a dropped connection (no response); none
/// of these runs the handler, so the platform applied nothing.
///
/// With [`lose_responses`](Self::lose_responses) set, that share of the faults is instead
/// *applied, but the response was lost*: the handler runs and commits its effect (the sync
/// batch's transaction, the recording's bytes, the revocation, the heartbeat's upsert), and then
/// the client gets no usable answer: the connection is dropped without a response, or a `503`
/// exactly like the one of a fault that applied nothing is sent (about half each). This is the
/// fault a durable client has to survive: it cannot tell from its side whether the platform
/// applied the request. It applies to every `/api/*` request (for a read it looks like any other
/// fault). The share is drawn independently of the other decisions, so a share of `0` (the
/// default) leaves a seed's fault sequence exactly as it was.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct Faults {
    /// Probability in `0.0..=1.0` that an `/api/*` request fails.
    pub rate: f64,
    /// Seed of the fault sequence.
    pub seed: u64,
    /// The `Retry-After` seconds sent with a `429` (default 1).
    pub retry_after_secs: u32,
    /// Fraction in `0.0..=1.0` of the faults that are applied-then-lost (default 0).
    pub lose_responses: f64,
}

impl Faults {
    /// Faults at `rate` (`0.0..=1.0`) from `seed`, with `Retry-After: 1` on a `429` and no
    /// applied-then-lost faults.
    pub fn new(rate: f64, seed: u64) -> Self {
        Faults {
            rate,
            seed,
            retry_after_secs: 1,
            lose_responses: 0.0,
        }
    }

    /// Sets the `Retry-After` seconds sent with a `429`.
    pub fn retry_after_secs(mut self, secs: u32) -> Self {
        self.retry_after_secs = secs;
        self
    }

    /// Makes `share` (`0.0..=1.0`) of the faults *applied, but the response was lost* (see
    /// [`Faults`]); the rest keep their kinds. [`DevPlatform::start`](super::DevPlatform::start)
    /// refuses a share outside `0.0..=1.0` with
    /// [`Error::InvalidOption`](super::Error::InvalidOption).
    pub fn lose_responses(mut self, share: f64) -> Self {
        self.lose_responses = share;
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
    /// Run the handler to completion, then close the connection without answering.
    AppliedThenDropped,
    /// Run the handler to completion, then answer `503` as [`Fault::Unavailable`] does.
    AppliedThenUnavailable,
}

/// The running fault plan: the configuration, the request counter, the pause switch and the
/// counts, shared by the middleware and [`super::DevPlatform`].
#[derive(Debug)]
pub(crate) struct FaultPlan {
    faults: Faults,
    counter: AtomicU64,
    paused: AtomicBool,
    injected: AtomicU64,
    lost: AtomicU64,
}

impl FaultPlan {
    pub(crate) fn new(faults: Faults) -> Self {
        FaultPlan {
            faults,
            counter: AtomicU64::new(0),
            paused: AtomicBool::new(false),
            injected: AtomicU64::new(0),
            lost: AtomicU64::new(0),
        }
    }

    /// Faults injected so far, applied-then-lost ones included.
    pub(crate) fn injected(&self) -> u64 {
        self.injected.load(Ordering::Relaxed)
    }

    /// Applied-then-lost faults whose handler has run and whose answer was discarded.
    pub(crate) fn lost(&self) -> u64 {
        self.lost.load(Ordering::Relaxed)
    }

    /// Counts one answer discarded after its handler ran.
    pub(crate) fn record_lost(&self) {
        self.lost.fetch_add(1, Ordering::Relaxed);
    }

    /// Pauses (`true`) or resumes (`false`) injection.
    pub(crate) fn set_paused(&self, paused: bool) {
        self.paused.store(paused, Ordering::SeqCst);
    }

    pub(crate) fn retry_after_secs(&self) -> u32 {
        self.faults.retry_after_secs
    }

    /// Decides the next request's fate. While paused, every request passes and the counter does
    /// not move, so the sequence continues after a resume exactly where the pause left it.
    pub(crate) fn next(&self) -> Option<Fault> {
        if self.paused.load(Ordering::SeqCst) {
            return None;
        }
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let fault = decide(&self.faults, n);
        if fault.is_some() {
            self.injected.fetch_add(1, Ordering::Relaxed);
        }
        fault
    }
}

/// Domain tag of the applied-then-lost draw, so it is independent of the other two.
const LOST_TAG: u64 = 0x6c6f_7374_5f72_6573;

/// The fault (if any) for request number `n` under `faults`.
pub(crate) fn decide(faults: &Faults, n: u64) -> Option<Fault> {
    let x = splitmix64(faults.seed ^ splitmix64(n));
    if unit(x) >= faults.rate {
        return None;
    }
    // Drawn from its own hash, so a share of 0 leaves every other decision as it was.
    let y = splitmix64(x ^ LOST_TAG);
    if unit(y) < faults.lose_responses {
        return Some(if splitmix64(y) & 1 == 0 {
            Fault::AppliedThenDropped
        } else {
            Fault::AppliedThenUnavailable
        });
    }
    Some(match splitmix64(x) % 3 {
        0 => Fault::Unavailable,
        1 => Fault::RateLimited,
        _ => Fault::Drop,
    })
}

/// 53 random bits of `x` as a uniform value in `[0, 1)`.
fn unit(x: u64) -> f64 {
    (x >> 11) as f64 / (1u64 << 53) as f64
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

    fn at(rate: f64, seed: u64) -> Faults {
        Faults::new(rate, seed)
    }

    #[test]
    fn rate_zero_never_faults() {
        assert!((0..1000).all(|n| decide(&at(0.0, 7), n).is_none()));
    }

    #[test]
    fn rate_one_always_faults() {
        assert!((0..1000).all(|n| decide(&at(1.0, 7), n).is_some()));
    }

    #[test]
    fn every_kind_of_fault_occurs_in_roughly_equal_shares() {
        let mut counts = [0u32; 3];
        for n in 0..3000 {
            match decide(&at(1.0, 42), n) {
                Some(Fault::Unavailable) => counts[0] += 1,
                Some(Fault::RateLimited) => counts[1] += 1,
                Some(Fault::Drop) => counts[2] += 1,
                _ => {}
            }
        }
        assert!(
            counts.iter().all(|&c| (800..1200).contains(&c)),
            "{counts:?}"
        );
    }

    #[test]
    fn different_seeds_give_different_sequences() {
        let a: Vec<_> = (0..64).map(|n| decide(&at(0.5, 1), n)).collect();
        let b: Vec<_> = (0..64).map(|n| decide(&at(0.5, 2), n)).collect();
        assert_ne!(a, b);
    }

    /// The decision as it was before applied-then-lost faults existed: what every existing seed's
    /// sequence was built from.
    fn decide_before_lost_responses(seed: u64, n: u64, rate: f64) -> Option<Fault> {
        let x = splitmix64(seed ^ splitmix64(n));
        if unit(x) >= rate {
            return None;
        }
        Some(match splitmix64(x) % 3 {
            0 => Fault::Unavailable,
            1 => Fault::RateLimited,
            _ => Fault::Drop,
        })
    }

    #[test]
    fn without_lost_responses_every_seed_keeps_its_old_sequence() {
        for seed in [0, 1, 3, 11, 21, 42, 1234, u64::MAX] {
            for rate in [0.2, 0.5, 1.0] {
                for n in 0..500 {
                    assert_eq!(
                        decide(&at(rate, seed), n),
                        decide_before_lost_responses(seed, n, rate),
                        "seed {seed}, rate {rate}, request {n}"
                    );
                }
            }
        }
    }

    #[test]
    fn a_share_of_one_makes_every_fault_applied_then_lost_both_ways_about_equally() {
        let faults = at(1.0, 42).lose_responses(1.0);
        let (mut dropped, mut unavailable) = (0u32, 0u32);
        for n in 0..2000 {
            match decide(&faults, n) {
                Some(Fault::AppliedThenDropped) => dropped += 1,
                Some(Fault::AppliedThenUnavailable) => unavailable += 1,
                other => panic!("request {n}: {other:?} is not applied-then-lost"),
            }
        }
        assert!((800..1200).contains(&dropped), "{dropped} vs {unavailable}");
    }

    #[test]
    fn a_share_turns_that_fraction_of_faults_into_lost_ones_and_keeps_which_requests_fail() {
        let plain = at(0.5, 9);
        let lossy = plain.lose_responses(0.5);
        let mut lost = 0u32;
        for n in 0..2000 {
            let (before, after) = (decide(&plain, n), decide(&lossy, n));
            assert_eq!(before.is_some(), after.is_some(), "request {n}");
            if matches!(
                after,
                Some(Fault::AppliedThenDropped | Fault::AppliedThenUnavailable)
            ) {
                lost += 1;
            } else {
                assert_eq!(before, after, "request {n}");
            }
        }
        // About half of about 1000 faults.
        assert!((400..600).contains(&lost), "{lost}");
    }

    #[test]
    fn a_paused_plan_passes_every_request_and_resumes_where_it_stopped() {
        let faults = at(0.5, 77);
        let plan = FaultPlan::new(faults);
        let first: Vec<_> = (0..10).map(|_| plan.next()).collect();
        plan.set_paused(true);
        assert!((0..50).all(|_| plan.next().is_none()));
        plan.set_paused(false);
        let rest: Vec<_> = (0..10).map(|_| plan.next()).collect();
        let expected: Vec<_> = (0..20).map(|n| decide(&faults, n)).collect();
        assert_eq!([first, rest].concat(), expected);
        let faulted = expected.iter().filter(|f| f.is_some()).count() as u64;
        assert_eq!(plan.injected(), faulted);
    }
}
