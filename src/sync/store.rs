//! What the [`Pusher`](super::Pusher) needs of the daemon's storage: the [`PushStore`] trait and
//! the values that cross it.

use std::fmt;
use std::future::Future;

use crate::upload::RecordingBody;
use crate::wire::{
    InvalidField, VoiceAccountRecord, VoiceCallRecord, VoiceRecordingRecord, VoiceTranscriptRecord,
};

/// What the pusher moves, in the order it pushes: a call's account before the call, a call before
/// its transcripts and recordings, a recording's metadata before its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Resource {
    /// SIP account lines (`POST /api/voice/accounts/sync`).
    Accounts,
    /// Calls (`POST /api/voice/calls/sync`).
    Calls,
    /// Transcript segments (`POST /api/voice/transcripts/sync`).
    Transcripts,
    /// Recording metadata (`POST /api/voice/recordings/sync`).
    Recordings,
    /// Recording bytes (`PUT /api/voice/recordings/{sourceId}/bytes`).
    RecordingBytes,
}

impl Resource {
    /// Every resource, in push order.
    pub const PUSH_ORDER: [Resource; 5] = [
        Resource::Accounts,
        Resource::Calls,
        Resource::Transcripts,
        Resource::Recordings,
        Resource::RecordingBytes,
    ];

    /// A short name for logs and errors: `accounts`, `calls`, `transcripts`, `recordings`,
    /// `recording bytes`.
    pub fn as_str(self) -> &'static str {
        match self {
            Resource::Accounts => "accounts",
            Resource::Calls => "calls",
            Resource::Transcripts => "transcripts",
            Resource::Recordings => "recordings",
            Resource::RecordingBytes => "recording bytes",
        }
    }
}

impl fmt::Display for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why the pusher set a record aside. A record set aside is never offered again by a correct
/// store; the daemon decides what to do with it (show it, fix it and queue it again, drop it).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SetAsideReason {
    /// The record holds values the platform would refuse (the spec's per-record checks); it was
    /// never sent. Every refused field is listed.
    Invalid {
        /// Every field the platform would refuse.
        fields: Vec<InvalidField>,
    },
    /// The platform refused this record with a status that sending it again unchanged cannot
    /// fix (400, 404, 409, 413, 422).
    Refused {
        /// The HTTP status.
        status: u16,
        /// The platform's body, cut to [`crate::Error::BODY_LIMIT`] bytes.
        body: String,
    },
    /// The recording's bytes cannot be sent as they are: the file is missing or unreadable, or
    /// its length differs from the `sizeBytes` its metadata was synced with.
    Bytes {
        /// What is wrong, naming the file where there is one.
        detail: String,
    },
}

impl fmt::Display for SetAsideReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SetAsideReason::Invalid { fields } => {
                f.write_str("the platform would refuse it: ")?;
                for (i, field) in fields.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{field}")?;
                }
                f.write_str("; fix those fields and queue it again")
            }
            SetAsideReason::Refused { status, body } => write!(
                f,
                "the platform refused it with HTTP {status}: {body}; fix what the platform names \
                 and queue it again, or drop it"
            ),
            SetAsideReason::Bytes { detail } => write!(
                f,
                "its bytes cannot be sent: {detail}; restore the file (or fix its path or \
                 sizeBytes) and queue the recording again"
            ),
        }
    }
}

/// One record set aside, with its reason.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SetAside {
    /// The record's `sourceId`.
    pub source_id: String,
    /// Why.
    pub reason: SetAsideReason,
}

/// The outcome of one step (a sync batch, or one recording's bytes), which the store commits in
/// one local transaction before the pusher takes the next step.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Commit {
    /// The resource the step pushed.
    pub resource: Resource,
    /// Records the platform applied (accepted or deliberately skipped): never pending again. For
    /// [`Resource::RecordingBytes`], recordings whose bytes have landed.
    pub applied: Vec<String>,
    /// Of `applied`, the recordings whose metadata the platform skipped (their call is deleted):
    /// they have no bytes to upload. Empty for the other resources, whose answer does not say
    /// which rows were skipped.
    pub skipped: Vec<String>,
    /// Of `applied` (recordings only), those whose bytes the platform already holds
    /// (`bytesUploaded: true`): nothing to upload.
    pub bytes_already_uploaded: Vec<String>,
    /// Records set aside, with why; never pending again.
    pub set_aside: Vec<SetAside>,
}

impl Commit {
    /// An empty commit for `resource`; fill its lists. (The pusher builds these; a store's own
    /// tests and a hand-written push loop build them too.)
    pub fn new(resource: Resource) -> Self {
        Commit {
            resource,
            applied: Vec::new(),
            skipped: Vec::new(),
            bytes_already_uploaded: Vec::new(),
            set_aside: Vec::new(),
        }
    }

    /// Whether the commit names no record at all.
    pub fn is_empty(&self) -> bool {
        self.applied.is_empty() && self.set_aside.is_empty()
    }
}

/// A recording whose metadata the platform has applied and whose bytes it still needs.
#[derive(Debug)]
#[non_exhaustive]
pub struct PendingUpload {
    /// The recording's `sourceId`.
    pub source_id: String,
    /// The `sizeBytes` its metadata was synced with; the body must be exactly this long.
    pub size_bytes: u64,
    /// The bytes (a file path is cheapest: it is opened per attempt and streamed).
    pub body: RecordingBody,
}

impl PendingUpload {
    /// A pending upload of `body` for recording `source_id`, synced with `size_bytes`.
    pub fn new(source_id: impl Into<String>, size_bytes: u64, body: RecordingBody) -> Self {
        PendingUpload {
            source_id: source_id.into(),
            size_bytes,
            body,
        }
    }
}

/// The daemon's own storage, as the [`Pusher`](super::Pusher) sees it. The crate never touches
/// disk itself: the daemon implements this over whatever it keeps its calls in.
///
/// Each record of each [`Resource`] is in one of three states: **pending**, **applied** or
/// **set aside**. A recording has a second, bytes state once its metadata is applied: bytes
/// **pending**, **done** (uploaded, already there, or not wanted because the platform skipped
/// the metadata) or **set aside**.
///
/// The contract, which the pusher's guarantees rest on:
/// - `pending_*` return up to `limit` pending records, **in the order the daemon wants them
///   applied** (oldest first), the same order on every call, and never a record that is applied
///   or set aside;
/// - `commit` writes everything in the [`Commit`] **atomically** (one transaction) and durably
///   before it returns; a crash before it returns leaves the records pending;
/// - a record the daemon changes after it was applied (an account edited, a call tombstoned) is
///   made pending again by the daemon itself; one it changes **while it is in flight** (handed
///   out by `pending_*`, not yet committed) must stay pending: `commit` marks applied only the
///   version that was handed out (keep a revision per record and compare it, as
///   [`SqliteStore`](super::SqliteStore) does with its queue position), or the change is lost.
///
/// An error from any method stops the pusher with [`PushError::Store`](super::PushError::Store);
/// nothing is lost, the records stay as they were.
pub trait PushStore: Send + Sync {
    /// The store's own error (a store that cannot fail, such as one in memory, can use
    /// [`std::convert::Infallible`]).
    type Error: std::error::Error + Send + Sync + 'static;

    /// Up to `limit` pending account lines, in order.
    fn pending_accounts(
        &self,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<VoiceAccountRecord>, Self::Error>> + Send;

    /// Up to `limit` pending calls, in order.
    fn pending_calls(
        &self,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<VoiceCallRecord>, Self::Error>> + Send;

    /// Up to `limit` pending transcript segments, in order.
    fn pending_transcripts(
        &self,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<VoiceTranscriptRecord>, Self::Error>> + Send;

    /// Up to `limit` recordings whose metadata is pending, in order.
    fn pending_recordings(
        &self,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<VoiceRecordingRecord>, Self::Error>> + Send;

    /// Up to `limit` recordings whose metadata is applied and whose bytes are pending, in order,
    /// each with its bytes.
    fn pending_uploads(
        &self,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<PendingUpload>, Self::Error>> + Send;

    /// Commits one step's outcome, atomically and durably.
    fn commit(&self, commit: &Commit) -> impl Future<Output = Result<(), Self::Error>> + Send;
}
