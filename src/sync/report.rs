//! What the pusher tells its caller: [`PushEvent`]s as it goes, a [`PushSummary`] per cycle,
//! and the [`PushError`] that stops it for good.

use std::fmt;
use std::time::Duration;

use super::store::{Commit, Resource, SetAside};
use crate::error::Error;
use crate::upload::UploadProgress;

/// Something the pusher did, for a progress bar or a log line.
#[derive(Debug)]
#[non_exhaustive]
pub enum PushEvent<'a> {
    /// A sync batch is about to be sent (it may be sent again after a failure or a restart:
    /// the push is at least once).
    Sending {
        /// The resource.
        resource: Resource,
        /// The `sourceId`s in the batch, in order.
        source_ids: &'a [&'a str],
    },
    /// A step's outcome was committed to the store: `commit.applied` and `commit.set_aside` are
    /// done with. A progress bar advances by `applied.len() + set_aside.len()` of the daemon's
    /// pending count for `commit.resource`.
    Committed(&'a Commit),
    /// Bytes of one recording going out (a retry starts again from 0).
    Uploading {
        /// The recording.
        source_id: &'a str,
        /// How far this attempt has got.
        progress: UploadProgress,
    },
    /// A cycle of [`Pusher::run`](super::Pusher::run) ended.
    Cycle(&'a PushSummary),
    /// [`Pusher::run`](super::Pusher::run) will try again after `after`, because of `error` (a network failure, a
    /// 5xx, a 429, … after the client's own retries were spent).
    RetryLater {
        /// Why the cycle stopped.
        error: &'a Error,
        /// How long the pusher waits before the next cycle.
        after: Duration,
    },
}

/// Applied and set-aside counts of one resource in one cycle.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ResourceCounts {
    /// Records the platform applied (for recording bytes: recordings whose bytes landed).
    pub applied: usize,
    /// Records set aside.
    pub set_aside: usize,
}

/// What one cycle ([`Pusher::run_once`](super::Pusher::run_once)) did.
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct PushSummary {
    counts: [ResourceCounts; 5],
    /// Every record set aside this cycle, with why.
    pub set_aside: Vec<(Resource, SetAside)>,
    /// Recordings whose metadata the platform skipped because their call is deleted (they have
    /// no bytes to upload).
    pub skipped_recordings: Vec<String>,
    /// Recording bytes uploaded this cycle.
    pub bytes_uploaded: u64,
    /// Why the cycle stopped before the store ran out of pending records: a failure worth
    /// retrying later (the client's own retries were already spent). `None` when everything
    /// pending was pushed or set aside.
    pub stopped_by: Option<Error>,
    /// The cycle ended early because [`PushHandle::shutdown`](super::PushHandle::shutdown) was called.
    pub shut_down: bool,
}

impl PushSummary {
    /// The counts for one resource.
    pub fn counts(&self, resource: Resource) -> ResourceCounts {
        self.counts
            .get(resource as usize)
            .copied()
            .unwrap_or_default()
    }

    /// Records applied this cycle, over every resource (recording bytes included).
    pub fn applied(&self) -> usize {
        self.counts.iter().map(|c| c.applied).sum()
    }

    /// Whether the cycle pushed (or set aside) everything that was pending.
    pub fn is_complete(&self) -> bool {
        self.stopped_by.is_none() && !self.shut_down
    }

    pub(super) fn record(&mut self, commit: &Commit) {
        if let Some(counts) = self.counts.get_mut(commit.resource as usize) {
            counts.applied += commit.applied.len();
            counts.set_aside += commit.set_aside.len();
        }
        self.skipped_recordings
            .extend(commit.skipped.iter().cloned());
        self.set_aside.extend(
            commit
                .set_aside
                .iter()
                .map(|s| (commit.resource, s.clone())),
        );
    }
}

impl fmt::Display for PushSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("applied")?;
        for (i, resource) in Resource::PUSH_ORDER.iter().enumerate() {
            let sep = if i == 0 { " " } else { ", " };
            write!(f, "{sep}{} {}", self.counts(*resource).applied, resource)?;
        }
        write!(f, "; {} set aside", self.set_aside.len())?;
        match (&self.stopped_by, self.shut_down) {
            (Some(error), _) => write!(f, "; stopped, to retry later: {error}"),
            (None, true) => f.write_str("; shut down before the end"),
            (None, false) => f.write_str("; nothing left pending"),
        }
    }
}

/// Why the pusher stopped for good. Nothing is lost either way: records stay as the store holds
/// them, and a new pusher picks up where this one ended.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PushError<E: std::error::Error + 'static> {
    /// The platform refused the token (401), received none ([`Error::TokenMissing`]), or asks
    /// for a fresh sign-in (`reauth_required`): sign in again, then start a pusher with the new
    /// client. The source is the platform's answer (not repeated in the message).
    #[error(
        "the platform needs a new sign-in before the push can go on; sign in, then push again"
    )]
    SignInAgain(#[source] Error),
    /// The daemon's store failed.
    #[error("the daemon's sync store failed; the push stopped with nothing lost")]
    Store(#[source] E),
}
