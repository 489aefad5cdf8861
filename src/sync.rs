//! Sync endpoints: batched upserts, single pages, and the all-pages stream.
//!
//! ```no_run
//! # async fn run(client: wavekat_platform_client::Client, calls: Vec<wavekat_platform_client::VoiceCallRecord>) -> wavekat_platform_client::Result<()> {
//! use futures_util::TryStreamExt;
//! use wavekat_platform_client::{VoiceCalls, VoiceCallsQuery};
//!
//! let summary = client.sync::<VoiceCalls>(&calls).await?; // any number of records
//! let all: Vec<_> = client
//!     .list_all::<VoiceCalls>(VoiceCallsQuery::default())
//!     .try_collect()
//!     .await?;
//! # Ok(()) }
//! ```

use std::fmt;
use std::future::Future;
use std::pin::Pin;

use futures_core::Stream;
use serde::{Deserialize, Serialize};

use crate::client::Client;
use crate::error::{Error, Result};
use crate::wire::{
    known_transports, HasSyncEnvelope, Page, SyncRequest, SyncResponse, VoiceAccountRecord,
    VoiceAccountsQuery, VoiceCallRecord, VoiceCallsQuery, VoiceRecordingRecord,
    VoiceRecordingSyncItem, VoiceRecordingsQuery, VoiceRecordingsSyncResponse,
    VoiceTranscriptRecord, VoiceTranscriptsQuery, WireValidate,
};

/// A boxed future used by [`SyncEndpoint`]'s dispatch methods.
#[doc(hidden)]
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What one sync request returned, before it is folded into a caller-facing response.
#[doc(hidden)]
#[derive(Debug, Default)]
pub struct SyncOutcome {
    accepted: u32,
    skipped: u32,
    items: Vec<VoiceRecordingSyncItem>,
}

/// One sync-able platform resource: its path segment `{R}`, current schema version, and record
/// and query types. Implemented by the markers [`VoiceCalls`], [`VoiceRecordings`],
/// [`VoiceTranscripts`] and [`VoiceAccounts`]; sealed.
pub trait SyncEndpoint: sealed::Sealed + Send + Sync + 'static {
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

    #[doc(hidden)]
    fn __sync<'a>(
        client: &'a Client,
        batch: &'a SyncRequest<Self::Record>,
    ) -> BoxFuture<'a, Result<SyncOutcome>>;
    #[doc(hidden)]
    fn __list<'a>(
        client: &'a Client,
        query: &'a Self::Query,
    ) -> BoxFuture<'a, Result<Page<Self::Record>>>;
    /// The query for the page after one whose `nextBefore` was `before`; `None` when the
    /// resource has no cursor.
    #[doc(hidden)]
    fn __next_query(query: &Self::Query, before: String) -> Option<Self::Query>;
}

mod sealed {
    pub trait Sealed {}
}

macro_rules! endpoint {
    (
        $(#[$meta:meta])* $marker:ident, $resource:literal, $version:literal,
        $record:ty, $query:ty, sync: $sync:ident => $fold:expr,
        list: |$c:ident, $q:ident| $list:expr,
        next: |$nq:ident, $before:ident| $next:expr
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
        pub struct $marker;

        impl sealed::Sealed for $marker {}

        impl SyncEndpoint for $marker {
            const RESOURCE: &'static str = $resource;
            const CURRENT_SCHEMA_VERSION: u32 = $version;
            type Record = $record;
            type Query = $query;

            fn source_id(record: &Self::Record) -> &str {
                &record.source_id
            }

            fn __sync<'a>(client: &'a Client, batch: &'a SyncRequest<Self::Record>) -> BoxFuture<'a, Result<SyncOutcome>> {
                Box::pin(async move {
                    let path = concat!("/api/voice/", $resource, "/sync");
                    client.json(path, client.api.$sync(batch)).await.map($fold)
                })
            }

            fn __list<'a>($c: &'a Client, $q: &'a Self::Query) -> BoxFuture<'a, Result<Page<Self::Record>>> {
                Box::pin(async move {
                    $c.json(concat!("/api/voice/", $resource), $list).await
                })
            }

            fn __next_query($nq: &Self::Query, $before: String) -> Option<Self::Query> {
                $next
            }
        }
    };
}

fn generic_outcome(r: SyncResponse) -> SyncOutcome {
    SyncOutcome {
        accepted: r.accepted,
        skipped: r.skipped,
        items: Vec::new(),
    }
}

endpoint!(
    /// Marker for `/api/voice/calls` (sync and list); schema version 1. Lists newest `endAt` first.
    VoiceCalls, "calls", 1, VoiceCallRecord, VoiceCallsQuery,
    sync: sync_voice_calls => generic_outcome,
    list: |c, q| c.api.list_voice_calls(q.before.as_deref(), q.include_deleted, q.limit),
    next: |q, before| Some(VoiceCallsQuery { before: Some(before), ..q.clone() })
);
endpoint!(
    /// Marker for `/api/voice/recordings` (sync and list); schema version 1. Lists newest
    /// `createdAt` first.
    VoiceRecordings, "recordings", 1, VoiceRecordingRecord, VoiceRecordingsQuery,
    sync: sync_voice_recordings => |r: VoiceRecordingsSyncResponse| SyncOutcome { accepted: r.accepted, skipped: r.skipped, items: r.items },
    list: |c, q| c.api.list_voice_recordings(q.before.as_deref(), q.limit),
    next: |q, before| Some(VoiceRecordingsQuery { before: Some(before), ..q.clone() })
);
endpoint!(
    /// Marker for `/api/voice/transcripts` (sync and list); schema version 1. A list needs the
    /// call's `callSourceId`.
    VoiceTranscripts, "transcripts", 1, VoiceTranscriptRecord, VoiceTranscriptsQuery,
    sync: sync_voice_transcripts => generic_outcome,
    list: |c, q| c.api.list_voice_transcripts(&q.call_source_id),
    next: |_q, _before| None
);
endpoint!(
    /// Marker for `/api/voice/accounts` (sync and list); schema version 2 (the sender knows
    /// `tls`). A query that leaves `transports` unset asks for every transport this version
    /// knows (`udp,tcp,tls`), as 0.0.37 did; the platform hides the others.
    VoiceAccounts, "accounts", 2, VoiceAccountRecord, VoiceAccountsQuery,
    sync: sync_voice_accounts => generic_outcome,
    list: |c, q| {
        let transports = q.transports.clone().unwrap_or_else(known_transports);
        async move { c.api.list_voice_accounts(q.include_deleted, Some(&transports)).await }
    },
    next: |_q, _before| None
);

impl Client {
    /// Upserts `records` of resource `E`, in order, in batches of at most
    /// [`Client::sync_batch_size`] (the platform refuses more than 100 with 413), stamping
    /// `schemaVersion` on records that leave it unset, and returns the summed counts.
    ///
    /// Each batch is retried per the client's [`crate::RetryPolicy`] (an upsert by `sourceId` is
    /// safe to repeat). Nothing is sent if a record holds an enum value the platform would refuse
    /// ([`Error::UnsendableRecord`]). If a batch still fails, the error is
    /// [`Error::SyncIncomplete`]: `records[..applied]` were applied and can be marked synced;
    /// retry only the rest.
    pub async fn sync<E: SyncEndpoint>(&self, records: &[E::Record]) -> Result<SyncResponse> {
        let outcome = self.sync_batches::<E>(records).await?;
        Ok(SyncResponse {
            accepted: outcome.accepted,
            skipped: outcome.skipped,
        })
    }

    /// Like [`Client::sync`] for recordings, keeping the per-item results (object-storage key,
    /// whether the bytes already landed) of every batch, in order.
    pub async fn sync_recordings(
        &self,
        records: &[VoiceRecordingRecord],
    ) -> Result<VoiceRecordingsSyncResponse> {
        let outcome = self.sync_batches::<VoiceRecordings>(records).await?;
        Ok(VoiceRecordingsSyncResponse {
            accepted: outcome.accepted,
            skipped: outcome.skipped,
            items: outcome.items,
        })
    }

    async fn sync_batches<E: SyncEndpoint>(&self, records: &[E::Record]) -> Result<SyncOutcome> {
        for (index, record) in records.iter().enumerate() {
            if let Some(unknown) = record.unknown_value() {
                return Err(Error::UnsendableRecord {
                    index,
                    source_id: E::source_id(record).to_owned(),
                    field: unknown.field,
                    value: unknown.value,
                });
            }
        }
        let mut total = SyncOutcome::default();
        let mut applied = 0;
        for chunk in records.chunks(self.sync_batch_size()) {
            let batch = SyncRequest {
                items: chunk
                    .iter()
                    .map(|record| {
                        let mut record = record.clone();
                        if record.schema_version().is_none() {
                            record.set_schema_version(E::CURRENT_SCHEMA_VERSION);
                        }
                        record
                    })
                    .collect(),
            };
            match E::__sync(self, &batch).await {
                Ok(outcome) => {
                    total.accepted = total.accepted.saturating_add(outcome.accepted);
                    total.skipped = total.skipped.saturating_add(outcome.skipped);
                    total.items.extend(outcome.items);
                    applied += chunk.len();
                }
                Err(source) => {
                    return Err(Error::SyncIncomplete {
                        applied,
                        total: records.len(),
                        accepted: total.accepted,
                        skipped: total.skipped,
                        items: total.items,
                        source: Box::new(source),
                    })
                }
            }
        }
        Ok(total)
    }

    /// `GET /api/voice/{R}`: one page, newest first. Pass `next_before` back as `before` for the
    /// next page, or use [`Client::list_all`].
    pub async fn list<E: SyncEndpoint>(&self, query: &E::Query) -> Result<Page<E::Record>> {
        E::__list(self, query).await
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
                let page = E::__list(&state.client, &query).await?;
                if let Some(next) = page.next_before {
                    if state.last_cursor.as_deref() == Some(next.as_str()) {
                        return Err(Error::Decode {
                            url: state.client.url(&format!("/api/voice/{}", E::RESOURCE)),
                            message: format!("the page cursor did not advance past {next:?}"),
                        });
                    }
                    state.query = E::__next_query(&query, next.clone());
                    state.last_cursor = Some(next);
                }
                state.buffered = page.items.into_iter();
            }
        })
    }
}
