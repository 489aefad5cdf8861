//! The pieces of one push step: which failures refuse a record, the bytes check, and per
//! resource where pending records come from and what an applied batch commits.

use std::future::Future;

use super::store::{Commit, PushStore, Resource, SetAside, SetAsideReason};
use super::{
    SyncEndpoint, SyncOutcome, VoiceAccounts, VoiceCalls, VoiceRecordings, VoiceTranscripts,
};
use crate::error::Error;
use crate::upload::RecordingBody;

/// Statuses with which the platform refuses a sync batch for its content (a 404 on a sync route
/// means a wrong base URL, not a bad record).
pub(super) const SYNC_REFUSALS: &[u16] = &[400, 409, 413, 422];
/// Statuses with which the platform refuses a recording's bytes for good (404: its metadata is
/// gone, the call was deleted; 413: the length is not `sizeBytes`).
pub(super) const BYTES_REFUSALS: &[u16] = &[400, 404, 409, 410, 413, 422];

pub(super) fn needs_sign_in(error: &Error) -> bool {
    error.is_unauthorized() || error.is_reauth_required()
}

pub(super) fn refuses_records(error: &Error, statuses: &[u16]) -> bool {
    matches!(error, Error::Http { status, .. } if statuses.contains(status))
}

pub(super) fn refusal(source_id: &str, error: &Error) -> SetAside {
    let (status, body) = match error {
        Error::Http { status, body, .. } => (*status, body.clone()),
        other => (0, other.to_string()),
    };
    SetAside {
        source_id: source_id.to_owned(),
        reason: SetAsideReason::Refused { status, body },
    }
}

/// Checks that a body is exactly `size` bytes long before it is sent (a file is looked at, not
/// read); `Err` says what is wrong.
pub(super) fn body_matches(body: &RecordingBody, size: u64) -> Result<(), String> {
    let (actual, what) = match body {
        RecordingBody::Bytes(bytes) => (bytes.len() as u64, "the bytes".to_owned()),
        RecordingBody::Reader { len, .. } => (*len, "the reader".to_owned()),
        // A stat, on the calling task: a hop to the blocking pool per recording cost more
        // than the stat itself.
        RecordingBody::File(path) => match std::fs::metadata(path) {
            Ok(meta) if meta.is_file() => (meta.len(), format!("file {}", path.display())),
            Ok(_) => return Err(format!("{} is not a file", path.display())),
            Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
        },
    };
    if actual == size {
        Ok(())
    } else {
        Err(format!(
            "{what} holds {actual} bytes, but the recording was synced with sizeBytes {size}"
        ))
    }
}

/// A sync resource the pusher pushes: where its pending records come from, and what an applied
/// batch commits.
pub(super) trait Pushed: SyncEndpoint {
    const KIND: Resource;

    fn pending<S: PushStore>(
        store: &S,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<Self::Record>, S::Error>> + Send;

    /// Records `sent` as applied in `commit`, per the platform's answer.
    fn applied(sent: &[&Self::Record], _outcome: &SyncOutcome, commit: &mut Commit) {
        commit
            .applied
            .extend(sent.iter().map(|r| Self::source_id(r).to_owned()));
    }
}

/// `impl Pushed` for a resource whose answer says nothing per row: its kind and store method.
macro_rules! pushed {
    ($($marker:ty => $kind:ident, $pending:ident;)+) => {$(
        impl Pushed for $marker {
            const KIND: Resource = Resource::$kind;

            fn pending<S: PushStore>(
                store: &S,
                limit: usize,
            ) -> impl Future<Output = Result<Vec<Self::Record>, S::Error>> + Send {
                store.$pending(limit)
            }
        }
    )+};
}

pushed! {
    VoiceAccounts => Accounts, pending_accounts;
    VoiceCalls => Calls, pending_calls;
    VoiceTranscripts => Transcripts, pending_transcripts;
}

impl Pushed for VoiceRecordings {
    const KIND: Resource = Resource::Recordings;

    fn pending<S: PushStore>(
        store: &S,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<Self::Record>, S::Error>> + Send {
        store.pending_recordings(limit)
    }

    /// Every sent recording is applied; the answer's items (one per applied row, matched by
    /// `sourceId`) say whose bytes already landed, and a recording with no item was skipped.
    fn applied(sent: &[&Self::Record], outcome: &SyncOutcome, commit: &mut Commit) {
        for record in sent {
            let id = &record.source_id;
            match outcome.items.iter().find(|item| &item.source_id == id) {
                Some(item) if item.bytes_uploaded => commit.bytes_already_uploaded.push(id.clone()),
                Some(_) => {}
                None => commit.skipped.push(id.clone()),
            }
            commit.applied.push(id.clone());
        }
    }
}
