//! Pushing records to the platform and reading them back: the durable [`Pusher`] a daemon runs
//! over its own store, and the compound operations beside the generated ones.
//!
//! | You want to… | Use |
//! |---|---|
//! | push a daemon's store durably, in the background | [`Pusher`] over your [`PushStore`] |
//! | sync a slice of records now (any length) | [`Client::sync`], [`Client::sync_recordings`] |
//! | read every page of a resource | [`Client::list_all`] |
//! | send one request exactly as the spec defines it | the generated `Client::sync_voice_calls`, `Client::list_voice_calls`, … |
//!
//! The resources ([`VoiceCalls`], …) are generated from the spec: every `POST …/{R}/sync` whose
//! body is `{items: [Record]}` paired with a `GET …/{R}` answering `{items: [Record], nextBefore}`,
//! with the schema version from the sync operation's `x-wavekat-schema-version` (default 1).
//!
//! ```no_run
//! # async fn run(client: wavekat_platform_client::Client, calls: Vec<wavekat_platform_client::wire::VoiceCallRecord>) -> wavekat_platform_client::Result<()> {
//! use futures_util::TryStreamExt;
//! use wavekat_platform_client::sync::VoiceCalls;
//! use wavekat_platform_client::wire::VoiceCallsQuery;
//!
//! let summary = client.sync::<VoiceCalls>(&calls).await?; // any number of records
//! let all: Vec<_> = client
//!     .list_all::<VoiceCalls>(VoiceCallsQuery::default())
//!     .try_collect()
//!     .await?;
//! # Ok(()) }
//! ```
//!
//! # Pushing a daemon's store
//!
//! The daemon implements [`PushStore`] over its own storage (pending records per resource, in
//! order; commit a step's outcome in one transaction; the bytes of each recording) and runs a
//! [`Pusher`]: [`Pusher::run_once`] for one cycle, or [`Pusher::run`] as a long-running task
//! woken by [`PushHandle::wake`] when the daemon adds records. The crate never touches disk.
//!
//! What a daemon author can rely on:
//!
//! - **At least once, nothing lost.** A record leaves the pending state only when the store
//!   commits a step that names it as applied (the platform answered success) or set aside. The
//!   pusher commits each step (one sync batch, or one recording's bytes) before it takes the
//!   next. Killed at any point, a restarted pusher re-sends at most the step that was in flight;
//!   the platform's upserts by `sourceId` make that resend harmless (calls, transcripts and
//!   recordings are immutable, an account is last-write-wins on `updatedAt`, a bytes `PUT`
//!   replaces identical bytes).
//! - **Order.** Resources go accounts → calls → transcripts → recording metadata → recording
//!   bytes; within a resource, records are applied in the store's order. A recording's bytes go
//!   only after the platform applied its metadata, and never when it answered that it skipped it
//!   (its call is deleted) or already holds them.
//! - **Set aside, never stuck.** A record the platform would refuse (every enum value and
//!   timestamp the spec constrains is checked before sending), a record the platform refuses for
//!   its content (a 400 naming it, or found by halving the refused batch until it stands alone),
//!   and a recording whose file is gone or no longer `sizeBytes` long are *set aside*: committed
//!   with a typed [`SetAsideReason`], never offered again by a correct store, and never blocking
//!   the records behind them. The daemon shows, fixes and re-queues them as it sees fit.
//! - **Transient failures wait.** A network failure, timeout, 429 or 5xx that outlasts the
//!   client's own retries ends the cycle ([`PushSummary::stopped_by`]); the records stay pending
//!   and [`Pusher::run`] tries again with backoff (honouring `Retry-After`).
//! - **Sign in again.** 401 and `reauth_required` stop the pusher with
//!   [`PushError::SignInAgain`]; nothing is set aside for them.
//!
//! [`PushEvent`]s (each committed step, upload progress, each cycle's [`PushSummary`]) feed a
//! progress bar or a log.

use std::fmt;

use futures_core::Stream;
use serde::{Deserialize, Serialize};

use crate::client::{BoxFuture, Client};
pub use crate::error::InvalidRecord;
use crate::error::{Error, Result};
use crate::wire::{
    HasSyncEnvelope, Page, SyncRequest, SyncResponse, VoiceAccountsQuery, VoiceCallsQuery,
    VoiceRecordingRecord, VoiceRecordingSyncItem, VoiceRecordingsQuery,
    VoiceRecordingsSyncResponse, VoiceTranscriptsQuery, WireValidate,
};
#[allow(unused_imports)]
use crate::wire::{VoiceAccountRecord, VoiceCallRecord, VoiceTranscriptRecord};

/// The platform's sync batch cap: a larger batch is refused with 413.
pub const SYNC_BATCH_CAP: usize = 100;

/// One sync-able platform resource: its path segment `{R}`, current schema version, and record
/// and query types. Implemented by the markers generated from the spec ([`VoiceCalls`],
/// [`VoiceRecordings`], [`VoiceTranscripts`], [`VoiceAccounts`], …); sealed.
pub trait SyncEndpoint: sealed::Dispatch + Send + Sync + 'static {
    /// The path segment `{R}` in `/api/voice/{R}/sync` and `/api/voice/{R}`.
    const RESOURCE: &'static str;
    /// The schema version stamped on records that leave `schemaVersion` unset.
    const CURRENT_SCHEMA_VERSION: u32;
    /// One record of the resource.
    type Record: HasSyncEnvelope
        + WireValidate
        + Serialize
        + for<'de> Deserialize<'de>
        + Clone
        + fmt::Debug
        + Send
        + Sync
        + 'static;
    /// The list query.
    type Query: Serialize + Clone + fmt::Debug + Send + Sync + 'static;

    /// The record's upsert key.
    fn source_id(record: &Self::Record) -> &str;
}

mod sealed {
    use super::*;

    /// What one sync request returned, before it is folded into a caller-facing response.
    #[derive(Debug, Default)]
    pub struct SyncOutcome {
        pub(crate) accepted: u32,
        pub(crate) skipped: u32,
        pub(crate) items: Vec<VoiceRecordingSyncItem>,
    }

    /// The generated operations a resource dispatches to; unreachable outside the crate.
    pub trait Dispatch {
        /// The operationId of the list operation (for errors about a page).
        const LIST_OPERATION: &'static str;

        fn sync<'a>(
            client: &'a Client,
            batch: &'a SyncRequest<<Self as SyncEndpoint>::Record>,
        ) -> BoxFuture<'a, Result<SyncOutcome>>
        where
            Self: SyncEndpoint;

        fn list<'a>(
            client: &'a Client,
            query: &'a <Self as SyncEndpoint>::Query,
        ) -> BoxFuture<'a, Result<Page<<Self as SyncEndpoint>::Record>>>
        where
            Self: SyncEndpoint;

        /// The query for the page after one whose `nextBefore` was `before`; `None` when the
        /// resource has no cursor.
        fn next_query(
            query: &<Self as SyncEndpoint>::Query,
            before: String,
        ) -> Option<<Self as SyncEndpoint>::Query>
        where
            Self: SyncEndpoint;
    }
}

use sealed::SyncOutcome;

include!(concat!(env!("OUT_DIR"), "/sync_endpoints.rs"));

mod push;
mod report;
mod steps;
mod store;

pub use push::{PushHandle, Pusher};
pub use report::{PushError, PushEvent, PushSummary, ResourceCounts};
pub use store::{Commit, PendingUpload, PushStore, Resource, SetAside, SetAsideReason};

#[cfg(feature = "sqlite-store")]
mod sqlite;
#[cfg(feature = "sqlite-store")]
pub use sqlite::{SetAsideRecord, SqliteStore, SqliteStoreError, StateCounts};

/// What one sync request of a compound operation did, reported to a
/// [`Client::sync_with_progress`] callback after each batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct SyncProgress {
    /// Leading records applied so far (`records[..applied]` can be marked synced now).
    pub applied: usize,
    /// How many records the sync was given.
    pub total: usize,
    /// Rows accepted so far.
    pub accepted: u32,
    /// Rows skipped so far (see [`SyncResponse::skipped`] for what that means per resource).
    pub skipped: u32,
}

/// Every record of `records` the platform would refuse, with every refused field.
pub(crate) fn invalid_records<E: SyncEndpoint>(records: &[E::Record]) -> Vec<InvalidRecord> {
    records
        .iter()
        .enumerate()
        .filter_map(|(index, record)| {
            let fields = record.invalid_fields();
            (!fields.is_empty()).then(|| InvalidRecord {
                index,
                source_id: E::source_id(record).to_owned(),
                fields,
            })
        })
        .collect()
}

/// The body of one `POST …/{R}/sync`, built the one way every path that sends one builds it: at
/// most [`SYNC_BATCH_CAP`] records, every record checked against the spec
/// ([`Error::InvalidRecords`] names each refused one), and `schemaVersion` stamped with the
/// resource's current version where the record leaves it unset. `operation` names the caller in
/// the error for an oversized batch.
pub(crate) fn prepare_batch<E: SyncEndpoint>(
    operation: &str,
    records: &[E::Record],
) -> Result<SyncRequest<E::Record>> {
    if records.len() > SYNC_BATCH_CAP {
        return Err(Error::InvalidInput(format!(
            "{operation} sends one request, and the platform refuses more than {SYNC_BATCH_CAP} \
             records in one (got {}); use Client::sync::<{}>, which sends them in batches",
            records.len(),
            std::any::type_name::<E>()
                .rsplit("::")
                .next()
                .unwrap_or("E"),
        )));
    }
    let invalid = invalid_records::<E>(records);
    if !invalid.is_empty() {
        return Err(Error::InvalidRecords { records: invalid });
    }
    Ok(stamped::<E>(records))
}

/// The batch of already checked `records` (at most the cap), `schemaVersion` stamped where unset.
pub(crate) fn stamped<'a, E: SyncEndpoint>(
    records: impl IntoIterator<Item = &'a E::Record>,
) -> SyncRequest<E::Record> {
    SyncRequest::new(
        records
            .into_iter()
            .map(|record| {
                let mut record = record.clone();
                if record.schema_version().is_none() {
                    record.set_schema_version(E::CURRENT_SCHEMA_VERSION);
                }
                record
            })
            .collect(),
    )
}

/// The index `N` of the first `items[N]` a platform error names, if any: the platform's 400 for
/// a batch says which item it refused that way (`items[80].ringAt: …`).
pub(crate) fn refused_item(error: &Error) -> Option<usize> {
    let Error::Http {
        status: 400, body, ..
    } = error
    else {
        return None;
    };
    let start = body.find("items[")? + "items[".len();
    let digits: &str = body.get(start..)?.split(']').next()?;
    digits.parse().ok()
}

/// Sends one batch that [`prepare_batch`] built.
pub(crate) async fn send_batch<E: SyncEndpoint>(
    client: &Client,
    batch: &SyncRequest<E::Record>,
) -> Result<SyncOutcome> {
    <E as sealed::Dispatch>::sync(client, batch).await
}

impl Client {
    /// Upserts `records` of resource `E`, in order, in batches of at most
    /// [`Client::sync_batch_size`] (the platform refuses more than 100 with 413), stamping
    /// `schemaVersion` on records that leave it unset, and returns the summed counts.
    ///
    /// Each batch is retried per the client's [`crate::RetryPolicy`] (an upsert by `sourceId` is
    /// safe to repeat). Nothing is sent if any record holds a value the platform would refuse
    /// ([`Error::InvalidRecords`] lists every such record). If a batch still fails, the error is
    /// [`Error::SyncIncomplete`]: `records[..applied]` were applied and can be marked synced;
    /// retry only the rest. [`Error::cause`] is the batch's own failure to match on.
    ///
    /// For a daemon that pushes its own store, [`Pusher`] does all of this durably: it commits
    /// each batch's outcome, sets refused records aside instead of stopping, and retries later.
    pub async fn sync<E: SyncEndpoint>(&self, records: &[E::Record]) -> Result<SyncResponse> {
        self.sync_with_progress::<E>(records, |_| {}).await
    }

    /// [`Client::sync`], calling `on_batch` after each applied batch, so a caller can commit
    /// `records[..progress.applied]` as synced as it goes and draw a progress bar.
    pub async fn sync_with_progress<E: SyncEndpoint>(
        &self,
        records: &[E::Record],
        on_batch: impl FnMut(SyncProgress) + Send,
    ) -> Result<SyncResponse> {
        let outcome = self.sync_batches::<E>(records, on_batch).await?;
        Ok(SyncResponse {
            accepted: outcome.accepted,
            skipped: outcome.skipped,
        })
    }

    /// Like [`Client::sync`] for recordings, keeping the per-item results (object-storage key,
    /// whether the bytes already landed) of every batch, in order. A record with no item was
    /// skipped (its call is deleted): it has no bytes to upload. Items are one per applied
    /// record, so match them to records by `sourceId`, not by position.
    pub async fn sync_recordings(
        &self,
        records: &[VoiceRecordingRecord],
    ) -> Result<VoiceRecordingsSyncResponse> {
        let outcome = self
            .sync_batches::<VoiceRecordings>(records, |_| {})
            .await?;
        Ok(VoiceRecordingsSyncResponse {
            accepted: outcome.accepted,
            skipped: outcome.skipped,
            items: outcome.items,
        })
    }

    async fn sync_batches<E: SyncEndpoint>(
        &self,
        records: &[E::Record],
        mut on_batch: impl FnMut(SyncProgress) + Send,
    ) -> Result<SyncOutcome> {
        let invalid = invalid_records::<E>(records);
        if !invalid.is_empty() {
            return Err(Error::InvalidRecords { records: invalid });
        }
        let mut total = SyncOutcome::default();
        let mut applied = 0;
        for chunk in records.chunks(self.sync_batch_size()) {
            let batch = stamped::<E>(chunk);
            match send_batch::<E>(self, &batch).await {
                Ok(outcome) => {
                    total.accepted = total.accepted.saturating_add(outcome.accepted);
                    total.skipped = total.skipped.saturating_add(outcome.skipped);
                    total.items.extend(outcome.items);
                    applied += chunk.len();
                    on_batch(SyncProgress {
                        applied,
                        total: records.len(),
                        accepted: total.accepted,
                        skipped: total.skipped,
                    });
                }
                Err(source) => {
                    let failed_index = refused_item(&source)
                        .filter(|n| *n < chunk.len())
                        .map(|n| applied + n);
                    return Err(Error::SyncIncomplete {
                        applied,
                        total: records.len(),
                        accepted: total.accepted,
                        skipped: total.skipped,
                        items: total.items,
                        failed_index,
                        source: Box::new(source),
                    });
                }
            }
        }
        Ok(total)
    }

    /// Every record from `query` on, as a stream that follows `nextBefore` to the start of
    /// history, holding one page in memory at a time. A failed page ends the stream with its
    /// error (after the client's retries).
    pub fn list_all<E: SyncEndpoint>(
        &self,
        query: E::Query,
    ) -> impl Stream<Item = Result<E::Record>> + Send + 'static {
        struct State<E: SyncEndpoint> {
            client: Client,
            query: Option<E::Query>,
            buffered: std::vec::IntoIter<E::Record>,
            last_cursor: Option<String>,
        }
        let state = State::<E> {
            client: self.clone(),
            query: Some(query),
            buffered: Vec::new().into_iter(),
            last_cursor: None,
        };
        futures_util::stream::try_unfold(state, |mut state| async move {
            loop {
                if let Some(record) = state.buffered.next() {
                    return Ok(Some((record, state)));
                }
                let Some(query) = state.query.take() else {
                    return Ok(None);
                };
                let page = <E as sealed::Dispatch>::list(&state.client, &query).await?;
                if let Some(next) = page.next_before {
                    if state.last_cursor.as_deref() == Some(next.as_str()) {
                        return Err(Error::Decode {
                            url: state
                                .client
                                .operation_url(<E as sealed::Dispatch>::LIST_OPERATION),
                            message: format!("the page cursor did not advance past {next:?}"),
                        });
                    }
                    state.query = <E as sealed::Dispatch>::next_query(&query, next.clone());
                    state.last_cursor = Some(next);
                }
                state.buffered = page.items.into_iter();
            }
        })
    }
}
