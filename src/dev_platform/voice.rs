//! The voice endpoints: sync and list for calls, recordings, transcripts and accounts, and the
//! recording-bytes upload.

use std::path::Path as FsPath;

use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use futures_util::StreamExt;
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::io::AsyncWriteExt;

use super::http::{
    authenticate, content_length, drain, read_body, ApiError, Caller, Shared, JSON_BODY_CAP,
};
use super::random_hex;
use super::store::{
    self, AccountRow, CallRow, Cursor, ListedRow, RecordingRow, StoreError, TranscriptRow,
};
use super::time::{parse_rfc3339, Instant};
use crate::sync::SYNC_BATCH_CAP;
use crate::wire::{
    Page, SyncResponse, VoiceAccountRecord, VoiceCallRecord, VoiceRecordingRecord,
    VoiceRecordingSyncItem, VoiceRecordingsSyncResponse, VoiceTranscriptRecord, WireValidate,
};

/// The most `events` a call keeps; the rest are dropped.
const EVENTS_CAP: usize = 200;
/// List page size bounds and default.
const LIMIT_MAX: u32 = 200;
const LIMIT_DEFAULT: u32 = 50;
/// Transports a client that sends no `transports` is assumed to read (a pre-TLS build).
const LEGACY_TRANSPORTS: &[&str] = &["udp", "tcp"];

// ---- request parsing ----------------------------------------------------------------------

/// Parses `{"items":[…]}`: over [`SYNC_BATCH_CAP`] items is 413 (checked before any record is
/// decoded); a record that does not decode, or holds an enum value the platform does not know,
/// refuses the whole batch with 400 naming the item and field.
fn parse_batch<R: DeserializeOwned + WireValidate>(bytes: &[u8]) -> Result<Vec<R>, ApiError> {
    let value: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|e| ApiError::bad_request(format!("body is not valid JSON: {e}")))?;
    let serde_json::Value::Object(mut object) = value else {
        return Err(ApiError::bad_request("body must be a JSON object"));
    };
    let items = match object.remove("items") {
        Some(serde_json::Value::Array(items)) => items,
        Some(_) => return Err(ApiError::bad_request("`items` must be an array")),
        None => return Err(ApiError::bad_request("missing field `items`")),
    };
    if items.len() > SYNC_BATCH_CAP {
        return Err(ApiError::too_large(format!(
            "a sync batch holds at most {SYNC_BATCH_CAP} items; got {}",
            items.len()
        )));
    }
    items
        .into_iter()
        .enumerate()
        .map(|(i, item)| {
            let record: R = serde_json::from_value(item)
                .map_err(|e| ApiError::bad_request(format!("items[{i}]: {e}")))?;
            if let Some(unknown) = record.unknown_value() {
                return Err(ApiError::bad_request(format!(
                    "items[{i}].{}: unknown value {:?}",
                    unknown.field, unknown.value
                )));
            }
            Ok(record)
        })
        .collect()
}

fn require_source_id(i: usize, source_id: &str) -> Result<(), ApiError> {
    if source_id.is_empty() {
        return Err(ApiError::bad_request(format!(
            "items[{i}].sourceId must not be empty"
        )));
    }
    Ok(())
}

fn timestamp(i: usize, field: &str, value: &str) -> Result<Instant, ApiError> {
    parse_rfc3339(value).ok_or_else(|| {
        ApiError::bad_request(format!(
            "items[{i}].{field}: {value:?} is not an RFC 3339 timestamp"
        ))
    })
}

fn optional_timestamp(i: usize, field: &str, value: Option<&String>) -> Result<(), ApiError> {
    match value {
        Some(v) => timestamp(i, field, v).map(|_| ()),
        None => Ok(()),
    }
}

/// The recording id rule of the bytes route, the client's own: 1 to 128 characters from
/// `A-Za-z0-9._:-`, and not a dot segment (`.`, `..`).
fn valid_recording_id(id: &str) -> bool {
    crate::upload::recording_id_problem(id).is_none()
}

fn to_json<T: Serialize>(value: &T) -> Result<String, ApiError> {
    serde_json::to_string(value).map_err(|e| {
        tracing::error!(error = %e, "re-serializing a record failed");
        ApiError::internal()
    })
}

fn extras_json(extras: &Option<serde_json::Value>) -> Result<Option<String>, ApiError> {
    extras.as_ref().map(to_json).transpose()
}

/// Decodes stored record JSON rows, in order.
fn decode_all<'a, T: DeserializeOwned>(
    what: &'static str,
    rows: impl IntoIterator<Item = &'a str>,
) -> Result<Vec<T>, ApiError> {
    rows.into_iter().map(|json| decode(what, json)).collect()
}

fn decode<T: DeserializeOwned>(what: &'static str, json: &str) -> Result<T, ApiError> {
    serde_json::from_str(json).map_err(|e| {
        ApiError::from(StoreError::Corrupt {
            what,
            detail: e.to_string(),
        })
    })
}

/// Query parameters, first occurrence of each key.
struct Query(Vec<(String, String)>);

impl Query {
    fn parse(raw: Option<String>) -> Self {
        let pairs = raw
            .map(|q| {
                url::form_urlencoded::parse(q.as_bytes())
                    .into_owned()
                    .collect()
            })
            .unwrap_or_default();
        Query(pairs)
    }

    fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    fn bool(&self, key: &str) -> Result<bool, ApiError> {
        match self.get(key) {
            None => Ok(false),
            Some("true") => Ok(true),
            Some("false") => Ok(false),
            Some(other) => Err(ApiError::bad_request(format!(
                "{key} must be `true` or `false`, not {other:?}"
            ))),
        }
    }

    fn limit(&self) -> Result<u32, ApiError> {
        match self.get("limit") {
            None => Ok(LIMIT_DEFAULT),
            Some(raw) => raw
                .parse::<u32>()
                .ok()
                .filter(|n| (1..=LIMIT_MAX).contains(n))
                .ok_or_else(|| {
                    ApiError::bad_request(format!(
                        "limit must be an integer from 1 to {LIMIT_MAX}, not {raw:?}"
                    ))
                }),
        }
    }

    /// `before`: a plain RFC 3339 timestamp, or the emulator's own `<timestamp>|<sourceId>`.
    fn cursor(&self) -> Result<Option<Cursor>, ApiError> {
        let Some(raw) = self.get("before") else {
            return Ok(None);
        };
        let (ts, source_id) = match raw.split_once('|') {
            Some((ts, sid)) => (ts, Some(sid.to_owned())),
            None => (raw, None),
        };
        let at = parse_rfc3339(ts).ok_or_else(|| {
            ApiError::bad_request(format!("before: {raw:?} is not an RFC 3339 timestamp"))
        })?;
        Ok(Some(Cursor { at, source_id }))
    }
}

/// Cuts `rows` (fetched with one extra) to `limit` and computes `nextBefore`: the last item's
/// timestamp when no unseen row shares it, otherwise `<timestamp>|<sourceId>`.
fn paginate(rows: &mut Vec<ListedRow>, limit: u32) -> Option<String> {
    let limit = limit as usize;
    if rows.len() <= limit {
        return None;
    }
    let next_at = rows.get(limit).map(|r| r.at);
    rows.truncate(limit);
    let last = rows.last()?;
    if next_at == Some(last.at) {
        Some(format!("{}|{}", last.key_text, last.source_id))
    } else {
        Some(last.key_text.clone())
    }
}

// ---- sync -------------------------------------------------------------------------------------

/// `POST /api/voice/calls/sync`.
pub(crate) async fn sync_calls(
    State(state): State<Shared>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<SyncResponse>, ApiError> {
    let caller = authenticate(&state, &headers).await?;
    let bytes = read_body(&headers, body, JSON_BODY_CAP).await?;
    let records: Vec<VoiceCallRecord> = parse_batch(&bytes)?;
    let mut rows = Vec::with_capacity(records.len());
    for (i, mut r) in records.into_iter().enumerate() {
        require_source_id(i, &r.source_id)?;
        let end = timestamp(i, "endAt", &r.end_at)?;
        timestamp(i, "ringAt", &r.ring_at)?;
        optional_timestamp(i, "answerAt", r.answer_at.as_ref())?;
        optional_timestamp(i, "deletedAt", r.deleted_at.as_ref())?;
        let extras = extras_json(&r.extras)?;
        let flow_steps = r.flow_steps.take().map(|s| to_json(&s)).transpose()?;
        let events = match r.events.take() {
            Some(mut events) => {
                events.truncate(EVENTS_CAP);
                Some(to_json(&events)?)
            }
            None => None,
        };
        let deleted_at = r.deleted_at.take();
        r.extras = None;
        // A read-only decoration the platform sets itself; a client's value is ignored.
        r.share_visibility = None;
        rows.push(CallRow {
            source_id: r.source_id.clone(),
            end_at: r.end_at.clone(),
            end,
            deleted_at,
            record: to_json(&r)?,
            flow_steps,
            events,
            extras,
        });
    }
    if rows.iter().any(|r| r.deleted_at.is_some()) {
        require_fresh(&caller)?;
    }
    let user_id = caller.user.id.clone();
    let (counts, doomed) = state
        .store
        .call(move |conn| store::sync_calls(conn, &user_id, &rows))
        .await?;
    for key in doomed {
        remove_blob(&state.blobs, &key).await;
    }
    Ok(Json(SyncResponse {
        accepted: counts.accepted,
        skipped: counts.skipped,
    }))
}

/// A destructive action needs a token that is not marked `reauth_required`.
fn require_fresh(caller: &Caller) -> Result<(), ApiError> {
    if caller.reauth_required {
        Err(ApiError::reauth_required())
    } else {
        Ok(())
    }
}

async fn remove_blob(blobs: &FsPath, key: &str) {
    match tokio::fs::remove_file(blobs.join(key)).await {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => tracing::warn!(error = %e, "could not remove a deleted call's recording bytes"),
    }
}

/// `POST /api/voice/recordings/sync`.
pub(crate) async fn sync_recordings(
    State(state): State<Shared>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<VoiceRecordingsSyncResponse>, ApiError> {
    let caller = authenticate(&state, &headers).await?;
    let bytes = read_body(&headers, body, JSON_BODY_CAP).await?;
    let records: Vec<VoiceRecordingRecord> = parse_batch(&bytes)?;
    let mut rows = Vec::with_capacity(records.len());
    for (i, mut r) in records.into_iter().enumerate() {
        if !valid_recording_id(&r.source_id) {
            return Err(ApiError::bad_request(format!(
                "items[{i}].sourceId must be 1 to 128 characters from A-Z a-z 0-9 . _ : -"
            )));
        }
        let created = timestamp(i, "createdAt", &r.created_at)?;
        let size_bytes = i64::try_from(r.size_bytes)
            .map_err(|_| ApiError::bad_request(format!("items[{i}].sizeBytes is out of range")))?;
        if i64::try_from(r.duration_ms).is_err() {
            return Err(ApiError::bad_request(format!(
                "items[{i}].durationMs is out of range"
            )));
        }
        let extras = extras_json(&r.extras)?;
        r.extras = None;
        rows.push(RecordingRow {
            source_id: r.source_id.clone(),
            call_source_id: r.call_source_id.clone(),
            created_at: r.created_at.clone(),
            created,
            size_bytes,
            record: to_json(&r)?,
            extras,
        });
    }
    let user_id = caller.user.id.clone();
    let (counts, items) = state
        .store
        .call(move |conn| store::sync_recordings(conn, &user_id, &rows))
        .await?;
    Ok(Json(VoiceRecordingsSyncResponse {
        accepted: counts.accepted,
        skipped: counts.skipped,
        items: items
            .into_iter()
            .map(|s| VoiceRecordingSyncItem {
                source_id: s.source_id,
                r2_key: s.r2_key,
                bytes_uploaded: s.bytes_uploaded,
            })
            .collect(),
    }))
}

/// `POST /api/voice/transcripts/sync`.
pub(crate) async fn sync_transcripts(
    State(state): State<Shared>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<SyncResponse>, ApiError> {
    let caller = authenticate(&state, &headers).await?;
    let bytes = read_body(&headers, body, JSON_BODY_CAP).await?;
    let records: Vec<VoiceTranscriptRecord> = parse_batch(&bytes)?;
    let mut rows = Vec::with_capacity(records.len());
    for (i, mut r) in records.into_iter().enumerate() {
        require_source_id(i, &r.source_id)?;
        let extras = extras_json(&r.extras)?;
        r.extras = None;
        rows.push(TranscriptRow {
            source_id: r.source_id.clone(),
            call_source_id: r.call_source_id.clone(),
            ts_ms: r.ts_ms,
            record: to_json(&r)?,
            extras,
        });
    }
    let user_id = caller.user.id.clone();
    let counts = state
        .store
        .call(move |conn| store::sync_transcripts(conn, &user_id, &rows))
        .await?;
    Ok(Json(SyncResponse {
        accepted: counts.accepted,
        skipped: counts.skipped,
    }))
}

/// `POST /api/voice/accounts/sync`.
pub(crate) async fn sync_accounts(
    State(state): State<Shared>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<SyncResponse>, ApiError> {
    let caller = authenticate(&state, &headers).await?;
    let bytes = read_body(&headers, body, JSON_BODY_CAP).await?;
    let records: Vec<VoiceAccountRecord> = parse_batch(&bytes)?;
    let mut rows = Vec::with_capacity(records.len());
    for (i, mut r) in records.into_iter().enumerate() {
        require_source_id(i, &r.source_id)?;
        let updated = timestamp(i, "updatedAt", &r.updated_at)?;
        optional_timestamp(i, "deletedAt", r.deleted_at.as_ref())?;
        let extras = extras_json(&r.extras)?;
        r.extras = None;
        rows.push(AccountRow {
            source_id: r.source_id.clone(),
            transport: r.transport.as_str().to_owned(),
            updated_at: r.updated_at.clone(),
            updated,
            deleted_at: r.deleted_at.clone(),
            schema_version: r.schema_version.unwrap_or(1),
            record: to_json(&r)?,
            extras,
        });
    }
    if rows.iter().any(|r| r.deleted_at.is_some()) {
        require_fresh(&caller)?;
    }
    let user_id = caller.user.id.clone();
    let counts = state
        .store
        .call(move |conn| store::sync_accounts(conn, &user_id, &rows))
        .await?;
    Ok(Json(SyncResponse {
        accepted: counts.accepted,
        skipped: counts.skipped,
    }))
}

// ---- lists ------------------------------------------------------------------------------------

/// `GET /api/voice/calls`: newest `endAt` first; tombstones only with `includeDeleted=true`;
/// never `flowSteps` or `events`.
pub(crate) async fn list_calls(
    State(state): State<Shared>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Json<Page<VoiceCallRecord>>, ApiError> {
    let caller = authenticate(&state, &headers).await?;
    let query = Query::parse(raw);
    let include_deleted = query.bool("includeDeleted")?;
    let limit = query.limit()?;
    let cursor = query.cursor()?;
    let user_id = caller.user.id;
    let mut rows = state
        .store
        .call(move |conn| {
            store::list_calls(conn, &user_id, include_deleted, cursor.as_ref(), limit + 1)
        })
        .await?;
    let next_before = paginate(&mut rows, limit);
    let items = rows
        .into_iter()
        .map(|row| {
            let mut record: VoiceCallRecord = decode("call record", &row.record)?;
            record.deleted_at = row.deleted_at;
            Ok(record)
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    Ok(Json(Page { items, next_before }))
}

/// `GET /api/voice/recordings`: newest `createdAt` first.
pub(crate) async fn list_recordings(
    State(state): State<Shared>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Json<Page<VoiceRecordingRecord>>, ApiError> {
    let caller = authenticate(&state, &headers).await?;
    let query = Query::parse(raw);
    let limit = query.limit()?;
    let cursor = query.cursor()?;
    let user_id = caller.user.id;
    let mut rows = state
        .store
        .call(move |conn| store::list_recordings(conn, &user_id, cursor.as_ref(), limit + 1))
        .await?;
    let next_before = paginate(&mut rows, limit);
    let items = decode_all(
        "recording record",
        rows.iter().map(|row| row.record.as_str()),
    )?;
    Ok(Json(Page { items, next_before }))
}

/// `GET /api/voice/transcripts?callSourceId=…`: the call's segments, latest `tsMs` first.
pub(crate) async fn list_transcripts(
    State(state): State<Shared>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Json<Page<VoiceTranscriptRecord>>, ApiError> {
    let caller = authenticate(&state, &headers).await?;
    let query = Query::parse(raw);
    let call_source_id = match query.get("callSourceId") {
        Some(id) if !id.is_empty() => id.to_owned(),
        _ => {
            return Err(ApiError::bad_request(
                "callSourceId is required: the transcripts list is per call",
            ))
        }
    };
    let user_id = caller.user.id;
    let rows = state
        .store
        .call(move |conn| store::list_transcripts(conn, &user_id, &call_source_id))
        .await?;
    let items = decode_all("transcript record", rows.iter().map(String::as_str))?;
    Ok(Json(Page {
        items,
        next_before: None,
    }))
}

/// `GET /api/voice/accounts`: lines in the listed `transports` (absent = `udp,tcp`), most
/// recently updated first; tombstones only with `includeDeleted=true`.
pub(crate) async fn list_accounts(
    State(state): State<Shared>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Json<Page<VoiceAccountRecord>>, ApiError> {
    let caller = authenticate(&state, &headers).await?;
    let query = Query::parse(raw);
    let include_deleted = query.bool("includeDeleted")?;
    let transports: Vec<String> = match query.get("transports") {
        Some(list) => list
            .split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_owned)
            .collect(),
        None => LEGACY_TRANSPORTS.iter().map(|t| (*t).to_owned()).collect(),
    };
    let user_id = caller.user.id;
    let rows = state
        .store
        .call(move |conn| store::list_accounts(conn, &user_id, include_deleted, &transports))
        .await?;
    let items = decode_all("account record", rows.iter().map(String::as_str))?;
    Ok(Json(Page {
        items,
        next_before: None,
    }))
}

// ---- bytes ------------------------------------------------------------------------------------

/// `PUT /api/voice/recordings/{sourceId}/bytes`: streams the body to a temporary file, checks
/// its length against the synced `sizeBytes` (413 on mismatch), then moves it into place and
/// flips `bytesUploaded`. Nothing is kept on failure.
pub(crate) async fn put_recording_bytes(
    State(state): State<Shared>,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Body,
) -> Result<StatusCode, ApiError> {
    let caller = authenticate(&state, &headers).await?;
    let Path(source_id) = path.map_err(|_| ApiError::bad_request("malformed sourceId"))?;
    if !valid_recording_id(&source_id) {
        return Err(ApiError::bad_request(
            "sourceId must be 1 to 128 characters from A-Z a-z 0-9 . _ : -, and not . or ..",
        ));
    }
    let user_id = caller.user.id.clone();
    let lookup_id = source_id.clone();
    let (size, key) = state
        .store
        .call(move |conn| store::recording_for_upload(conn, &user_id, &lookup_id))
        .await?
        .ok_or_else(|| ApiError::not_found("no recording metadata with this sourceId"))?;
    let size = u64::try_from(size).map_err(|_| ApiError::internal())?;
    if let Some(len) = content_length(&headers)? {
        if len != size {
            drain(&mut body.into_data_stream()).await;
            return Err(ApiError::too_large(format!(
                "body is {len} bytes but the synced sizeBytes is {size}"
            )));
        }
    }

    let tmp_dir = state.blobs.join(".tmp");
    tokio::fs::create_dir_all(&tmp_dir).await?;
    let tmp = tmp_dir.join(format!(
        "{}.part",
        random_hex(16).map_err(|_| ApiError::internal())?
    ));
    let written = stream_to_file(&tmp, body, size).await;
    if let Err(e) = written {
        let _ = tokio::fs::remove_file(&tmp).await;
        return Err(e);
    }
    let target = state.blobs.join(&key);
    let placed = place(&tmp, &target).await;
    if let Err(e) = placed {
        let _ = tokio::fs::remove_file(&tmp).await;
        return Err(e.into());
    }

    let user_id = caller.user.id;
    let flipped = state
        .store
        .call(move |conn| store::mark_uploaded(conn, &user_id, &source_id))
        .await?;
    if !flipped {
        // The call was deleted while the bytes streamed in.
        let _ = tokio::fs::remove_file(&target).await;
        return Err(ApiError::not_found(
            "no recording metadata with this sourceId",
        ));
    }
    Ok(StatusCode::NO_CONTENT)
}

async fn place(tmp: &FsPath, target: &FsPath) -> std::io::Result<()> {
    if let Some(parent) = target.parent() {
        tokio::fs::create_dir_all(parent).await?;
    }
    tokio::fs::rename(tmp, target).await
}

/// Writes the body chunk by chunk; more or fewer bytes than `size` is 413.
async fn stream_to_file(path: &FsPath, body: Body, size: u64) -> Result<(), ApiError> {
    let mut file = tokio::fs::File::create(path).await?;
    let mut stream = body.into_data_stream();
    let mut written: u64 = 0;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|_| ApiError::bad_request("the upload was interrupted"))?;
        written += chunk.len() as u64;
        if written > size {
            drain(&mut stream).await;
            return Err(ApiError::too_large(format!(
                "body is longer than the synced sizeBytes of {size}"
            )));
        }
        file.write_all(&chunk).await?;
    }
    if written != size {
        return Err(ApiError::too_large(format!(
            "body is {written} bytes but the synced sizeBytes is {size}"
        )));
    }
    file.flush().await?;
    file.sync_all().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recording_ids_follow_the_bytes_route_rule() {
        assert!(valid_recording_id("a"));
        assert!(valid_recording_id("rec-1_2.3:4"));
        assert!(valid_recording_id(&"x".repeat(128)));
        assert!(!valid_recording_id(""));
        assert!(!valid_recording_id(&"x".repeat(129)));
        assert!(!valid_recording_id("a/b"));
        assert!(!valid_recording_id("a b"));
        assert!(!valid_recording_id("é"));
    }

    #[test]
    fn dot_segments_are_not_recording_ids() {
        assert!(!valid_recording_id("."));
        assert!(!valid_recording_id(".."));
        assert!(!valid_recording_id("%2e%2e"));
        assert!(valid_recording_id("..."));
        assert!(valid_recording_id("a..b"));
    }

    fn row(secs: i64, sid: &str) -> ListedRow {
        ListedRow {
            record: String::new(),
            key_text: format!("t{secs}"),
            at: Instant { secs, nanos: 0 },
            source_id: sid.to_owned(),
            deleted_at: None,
        }
    }

    #[test]
    fn a_page_with_no_more_rows_has_no_cursor() {
        let mut rows = vec![row(3, "a"), row(2, "b")];
        assert_eq!(paginate(&mut rows, 2), None);
        assert_eq!(rows.len(), 2);
    }

    #[test]
    fn the_cursor_is_the_plain_timestamp_when_the_next_row_is_older() {
        let mut rows = vec![row(3, "a"), row(2, "b"), row(1, "c")];
        assert_eq!(paginate(&mut rows, 2).as_deref(), Some("t2"));
        assert_eq!(rows.len(), 2);
    }

    #[test]
    fn the_cursor_is_compound_when_the_next_row_shares_the_timestamp() {
        let mut rows = vec![row(3, "c"), row(2, "b"), row(2, "a")];
        assert_eq!(paginate(&mut rows, 2).as_deref(), Some("t2|b"));
    }
}
