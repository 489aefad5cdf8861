//! [`SqliteStore`]: the reference [`PushStore`], over one SQLite file (feature `sqlite-store`).
//!
//! It is meant to be read as a template as much as used. A daemon that already keeps its calls
//! in SQLite does the same with its own tables: a state per record (`pending`, `applied`,
//! `set_aside`, plus a bytes state for recordings), an order column, and one transaction per
//! [`Commit`]. The pusher's guarantees hold for any store that keeps the contract on
//! [`PushStore`].
//!
//! ```no_run
//! # async fn run(client: wavekat_platform_client::Client, calls: Vec<wavekat_platform_client::wire::VoiceCallRecord>) -> Result<(), Box<dyn std::error::Error>> {
//! use wavekat_platform_client::sync::{Pusher, SqliteStore, VoiceCalls};
//!
//! let store = SqliteStore::open("outbox.db").await?;
//! store.add::<VoiceCalls>(&calls).await?;       // queue records as the daemon makes them
//! let summary = Pusher::new(client, store).run_once().await?;
//! println!("{summary}");
//! # Ok(()) }
//! ```

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rusqlite::{params, Connection, OptionalExtension};
use serde::de::DeserializeOwned;

use super::store::{Commit, PendingUpload, PushStore, Resource};
use super::SyncEndpoint;
use crate::upload::RecordingBody;
use crate::wire::{
    VoiceAccountRecord, VoiceCallRecord, VoiceRecordingRecord, VoiceTranscriptRecord,
};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS push_records (
    resource    TEXT    NOT NULL,
    source_id   TEXT    NOT NULL,
    seq         INTEGER NOT NULL,
    record      TEXT    NOT NULL,
    state       TEXT    NOT NULL DEFAULT 'pending',  -- pending | applied | set_aside
    reason      TEXT,
    bytes_path  TEXT,                                 -- recordings: the WAV file
    bytes_state TEXT,                                 -- recordings: pending | done | set_aside
    bytes_reason TEXT,
    PRIMARY KEY (resource, source_id)
);
CREATE INDEX IF NOT EXISTS push_records_pending ON push_records (resource, state, seq);
";

/// A failure of the [`SqliteStore`]: the operation and SQLite's (or the decoder's) reason.
#[derive(Debug, thiserror::Error)]
#[error("sync store {path}: {operation} failed: {detail}")]
pub struct SqliteStoreError {
    path: String,
    operation: &'static str,
    detail: String,
}

impl SqliteStoreError {
    fn new(path: &str, operation: &'static str, detail: impl fmt::Display) -> Self {
        SqliteStoreError {
            path: path.to_owned(),
            operation,
            detail: detail.to_string(),
        }
    }
}

/// How many records of one resource are in each state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct StateCounts {
    /// Waiting to be pushed (for recording bytes: metadata applied, bytes not yet).
    pub pending: usize,
    /// Applied by the platform (for recording bytes: uploaded, already there, or not wanted).
    pub applied: usize,
    /// Set aside.
    pub set_aside: usize,
}

/// One record the pusher set aside, as the store keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SetAsideRecord {
    /// Its resource.
    pub resource: Resource,
    /// Its `sourceId`.
    pub source_id: String,
    /// The reason, as the pusher gave it.
    pub reason: String,
}

/// The reference [`PushStore`]: records queued by [`SqliteStore::add`] in one SQLite file (or in
/// memory), pushed in the order they were added. Cheap to clone; clones share the connection.
///
/// Durability: WAL with `synchronous=NORMAL`, so every commit survives the process being killed
/// at any point; a power loss may roll back the last commits (their records are then pushed
/// again, which the platform's upserts make harmless). Other processes may read the file while
/// the daemon runs.
#[derive(Clone)]
pub struct SqliteStore {
    conn: Arc<Mutex<Connection>>,
    path: Arc<str>,
    /// The queue position (`seq`) of each record as `pending_*` handed it out, by resource and
    /// `sourceId`: a commit marks a record applied only if the daemon has not queued it again
    /// since (an account edited, a call tombstoned while its first version was in flight).
    handed: Arc<Mutex<HashMap<(&'static str, String), i64>>>,
}

impl fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .finish()
    }
}

/// The key under which handed-out uploads are remembered (their metadata is under `recordings`).
const BYTES_KEY: &str = "recording bytes";

fn resource_name(resource: Resource) -> &'static str {
    match resource {
        Resource::Accounts => "accounts",
        Resource::Calls => "calls",
        Resource::Transcripts => "transcripts",
        Resource::Recordings | Resource::RecordingBytes => "recordings",
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the store in the SQLite file at `path`.
    pub async fn open(path: impl AsRef<Path>) -> Result<SqliteStore, SqliteStoreError> {
        let path: PathBuf = path.as_ref().to_owned();
        let shown = path.display().to_string();
        let opened = tokio::task::spawn_blocking(move || Connection::open(path))
            .await
            .map_err(|e| SqliteStoreError::new(&shown, "opening", e))?
            .map_err(|e| SqliteStoreError::new(&shown, "opening", e))?;
        Self::prepare(opened, shown).await
    }

    /// A store in memory, gone when the last clone is dropped (for tests).
    pub async fn in_memory() -> Result<SqliteStore, SqliteStoreError> {
        let conn = Connection::open_in_memory()
            .map_err(|e| SqliteStoreError::new(":memory:", "opening", e))?;
        Self::prepare(conn, ":memory:".to_owned()).await
    }

    async fn prepare(conn: Connection, path: String) -> Result<SqliteStore, SqliteStoreError> {
        let store = SqliteStore {
            conn: Arc::new(Mutex::new(conn)),
            path: path.into(),
            handed: Arc::new(Mutex::new(HashMap::new())),
        };
        store
            .call("creating the schema", |conn| {
                // WAL with NORMAL sync survives a killed process (every commit is in the log
                // before `commit` returns); FULL would add power-loss durability at a cost.
                conn.pragma_update(None, "journal_mode", "WAL")?;
                conn.pragma_update(None, "synchronous", "NORMAL")?;
                conn.execute_batch(SCHEMA)
            })
            .await?;
        Ok(store)
    }

    /// Runs `f` on the blocking pool: for the daemon's own calls, whose work is unbounded
    /// (opening, queueing any number of records).
    async fn call<T: Send + 'static>(
        &self,
        operation: &'static str,
        f: impl FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T, SqliteStoreError> {
        let store = self.clone();
        tokio::task::spawn_blocking(move || store.call_here(operation, f))
            .await
            .map_err(|e| SqliteStoreError::new(&self.path, operation, e))?
    }

    /// Runs `f` on the calling task. For the pusher's own calls, whose work is bounded (at most
    /// one batch read or committed, no fsync beyond the WAL's write): a hop to the blocking
    /// pool and back costs more CPU than the statement itself (it was a third of the pusher's
    /// CPU over a 6,000-record push, `BENCHMARKS.md`), and the runtime is held for well under a
    /// millisecond.
    fn call_here<T>(
        &self,
        operation: &'static str,
        f: impl FnOnce(&mut Connection) -> rusqlite::Result<T>,
    ) -> Result<T, SqliteStoreError> {
        let mut conn = self.conn.lock().map_err(|_| {
            SqliteStoreError::new(&self.path, operation, "the connection lock is poisoned")
        })?;
        f(&mut conn).map_err(|e| SqliteStoreError::new(&self.path, operation, e))
    }

    /// Queues `records` of resource `E` to be pushed after everything queued before. A record
    /// already in the store (same `sourceId`) is replaced and queued again, whatever its state:
    /// that is how a daemon sends an edited account or a call's tombstone.
    pub async fn add<E: SyncEndpoint>(
        &self,
        records: &[E::Record],
    ) -> Result<(), SqliteStoreError> {
        let rows = records
            .iter()
            .map(|r| Ok((E::source_id(r).to_owned(), serde_json::to_string(r)?)))
            .collect::<Result<Vec<_>, serde_json::Error>>()
            .map_err(|e| SqliteStoreError::new(&self.path, "encoding a record", e))?;
        self.insert(E::RESOURCE, rows, None).await
    }

    /// Queues a recording's metadata, and its bytes, the WAV file at `path` (read when the bytes
    /// are pushed).
    pub async fn add_recording(
        &self,
        record: &VoiceRecordingRecord,
        path: impl AsRef<Path>,
    ) -> Result<(), SqliteStoreError> {
        let json = serde_json::to_string(record)
            .map_err(|e| SqliteStoreError::new(&self.path, "encoding a record", e))?;
        let file = path.as_ref().to_string_lossy().into_owned();
        self.insert(
            "recordings",
            vec![(record.source_id.clone(), json)],
            Some(file),
        )
        .await
    }

    async fn insert(
        &self,
        resource: &'static str,
        rows: Vec<(String, String)>,
        bytes_path: Option<String>,
    ) -> Result<(), SqliteStoreError> {
        self.call("queueing records", move |conn| {
            let tx = conn.transaction()?;
            let mut seq: i64 =
                tx.query_row("SELECT COALESCE(MAX(seq), 0) FROM push_records", [], |r| {
                    r.get(0)
                })?;
            for (source_id, record) in &rows {
                seq += 1;
                tx.execute(
                    "INSERT INTO push_records (resource, source_id, seq, record, state, bytes_path, bytes_state)
                     VALUES (?1, ?2, ?3, ?4, 'pending', ?5, CASE WHEN ?5 IS NULL THEN NULL ELSE 'pending' END)
                     ON CONFLICT (resource, source_id) DO UPDATE SET
                         seq = excluded.seq, record = excluded.record, state = 'pending',
                         reason = NULL, bytes_path = COALESCE(excluded.bytes_path, bytes_path),
                         bytes_state = CASE WHEN COALESCE(excluded.bytes_path, bytes_path) IS NULL
                                            THEN NULL ELSE 'pending' END,
                         bytes_reason = NULL",
                    params![resource, source_id, seq, record, bytes_path],
                )?;
            }
            tx.commit()
        })
        .await
    }

    /// How many records of `resource` are in each state.
    pub async fn counts(&self, resource: Resource) -> Result<StateCounts, SqliteStoreError> {
        let name = resource_name(resource);
        let bytes = resource == Resource::RecordingBytes;
        self.call("counting records", move |conn| {
            let sql = if bytes {
                "SELECT bytes_state, COUNT(*) FROM push_records
                 WHERE resource = ?1 AND state = 'applied' AND bytes_state IS NOT NULL
                 GROUP BY bytes_state"
            } else {
                "SELECT state, COUNT(*) FROM push_records WHERE resource = ?1 GROUP BY state"
            };
            let mut counts = StateCounts::default();
            let mut stmt = conn.prepare(sql)?;
            let rows = stmt.query_map(params![name], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
            })?;
            for row in rows {
                let (state, n) = row?;
                let n = usize::try_from(n).unwrap_or(0);
                match state.as_str() {
                    "pending" => counts.pending += n,
                    "applied" | "done" => counts.applied += n,
                    _ => counts.set_aside += n,
                }
            }
            Ok(counts)
        })
        .await
    }

    /// Every record set aside, in queue order.
    pub async fn set_aside(&self) -> Result<Vec<SetAsideRecord>, SqliteStoreError> {
        self.call("listing set-aside records", |conn| {
            let mut stmt = conn.prepare(
                "SELECT resource, source_id, COALESCE(reason, bytes_reason, ''),
                        state = 'set_aside'
                 FROM push_records
                 WHERE state = 'set_aside' OR bytes_state = 'set_aside'
                 ORDER BY seq",
            )?;
            let rows = stmt.query_map([], |r| {
                let resource: String = r.get(0)?;
                let metadata: bool = r.get(3)?;
                let resource = match (resource.as_str(), metadata) {
                    ("accounts", _) => Resource::Accounts,
                    ("calls", _) => Resource::Calls,
                    ("transcripts", _) => Resource::Transcripts,
                    (_, true) => Resource::Recordings,
                    (_, false) => Resource::RecordingBytes,
                };
                Ok(SetAsideRecord {
                    resource,
                    source_id: r.get(1)?,
                    reason: r.get(2)?,
                })
            })?;
            rows.collect()
        })
        .await
    }

    /// Notes the queue position of records handed out, for [`PushStore::commit`].
    fn remember<'a>(&self, key: &'static str, rows: impl Iterator<Item = (&'a str, i64)>) {
        if let Ok(mut handed) = self.handed.lock() {
            for (id, seq) in rows {
                handed.insert((key, id.to_owned()), seq);
            }
        }
    }

    async fn pending<T: DeserializeOwned + Send + 'static>(
        &self,
        resource: &'static str,
        limit: usize,
    ) -> Result<Vec<T>, SqliteStoreError> {
        let path = Arc::clone(&self.path);
        let rows: Vec<(String, String, i64)> =
            self.call_here("reading pending records", move |conn| {
                let mut stmt = conn.prepare_cached(
                    "SELECT source_id, record, seq FROM push_records
                     WHERE resource = ?1 AND state = 'pending' ORDER BY seq LIMIT ?2",
                )?;
                let limit = i64::try_from(limit).unwrap_or(i64::MAX);
                let rows = stmt.query_map(params![resource, limit], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                })?;
                rows.collect()
            })?;
        self.remember(
            resource,
            rows.iter().map(|(id, _, seq)| (id.as_str(), *seq)),
        );
        rows.into_iter()
            .map(|(source_id, json, _)| {
                serde_json::from_str(&json).map_err(|e| {
                    SqliteStoreError::new(
                        &path,
                        "decoding a pending record",
                        format!("{resource} {source_id}: {e}"),
                    )
                })
            })
            .collect()
    }
}

impl PushStore for SqliteStore {
    type Error = SqliteStoreError;

    async fn pending_accounts(&self, limit: usize) -> Result<Vec<VoiceAccountRecord>, Self::Error> {
        self.pending("accounts", limit).await
    }

    async fn pending_calls(&self, limit: usize) -> Result<Vec<VoiceCallRecord>, Self::Error> {
        self.pending("calls", limit).await
    }

    async fn pending_transcripts(
        &self,
        limit: usize,
    ) -> Result<Vec<VoiceTranscriptRecord>, Self::Error> {
        self.pending("transcripts", limit).await
    }

    async fn pending_recordings(
        &self,
        limit: usize,
    ) -> Result<Vec<VoiceRecordingRecord>, Self::Error> {
        self.pending("recordings", limit).await
    }

    async fn pending_uploads(&self, limit: usize) -> Result<Vec<PendingUpload>, Self::Error> {
        let path = Arc::clone(&self.path);
        let rows: Vec<(String, String, String, i64)> =
            self.call_here("reading pending uploads", move |conn| {
                let mut stmt = conn.prepare_cached(
                    "SELECT source_id, record, bytes_path, seq FROM push_records
                     WHERE resource = 'recordings' AND state = 'applied' AND bytes_state = 'pending'
                     ORDER BY seq LIMIT ?1",
                )?;
                let limit = i64::try_from(limit).unwrap_or(i64::MAX);
                let rows = stmt.query_map(params![limit], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
                })?;
                rows.collect()
            })?;
        self.remember(
            BYTES_KEY,
            rows.iter().map(|(id, _, _, seq)| (id.as_str(), *seq)),
        );
        rows.into_iter()
            .map(|(source_id, json, file, _)| {
                let record: VoiceRecordingRecord = serde_json::from_str(&json).map_err(|e| {
                    SqliteStoreError::new(
                        &path,
                        "decoding a pending upload",
                        format!("recording {source_id}: {e}"),
                    )
                })?;
                Ok(PendingUpload::new(
                    source_id,
                    record.size_bytes,
                    RecordingBody::file(file),
                ))
            })
            .collect()
    }

    async fn commit(&self, commit: &Commit) -> Result<(), Self::Error> {
        let bytes = commit.resource == Resource::RecordingBytes;
        let name = resource_name(commit.resource);
        let key = if bytes { BYTES_KEY } else { name };
        // The position each record had when it was handed out; `None` (never handed out, e.g. a
        // hand-written loop's commit) matches any.
        let (applied, aside, done) = {
            let mut handed = self.handed.lock().map_err(|_| {
                SqliteStoreError::new(&self.path, "committing a push step", "lock poisoned")
            })?;
            let done: Vec<(&str, Option<i64>)> = commit
                .skipped
                .iter()
                .chain(&commit.bytes_already_uploaded)
                .map(|id| (id.as_str(), handed.get(&(key, id.clone())).copied()))
                .collect();
            let mut take = |id: &String| handed.remove(&(key, id.clone()));
            let applied: Vec<(&str, Option<i64>)> = commit
                .applied
                .iter()
                .map(|id| (id.as_str(), take(id)))
                .collect();
            let aside: Vec<(&str, Option<i64>, String)> = commit
                .set_aside
                .iter()
                .map(|r| {
                    (
                        r.source_id.as_str(),
                        take(&r.source_id),
                        r.reason.to_string(),
                    )
                })
                .collect();
            (applied, aside, done)
        };
        self.call_here("committing a push step", move |conn| {
            let tx = conn.transaction()?;
            {
                let (applied_sql, aside_sql) = if bytes {
                    (
                        "UPDATE push_records SET bytes_state = 'done'
                         WHERE resource = ?1 AND source_id = ?2 AND seq = COALESCE(?3, seq)",
                        "UPDATE push_records SET bytes_state = 'set_aside', bytes_reason = ?4
                         WHERE resource = ?1 AND source_id = ?2 AND seq = COALESCE(?3, seq)",
                    )
                } else {
                    (
                        "UPDATE push_records SET state = 'applied'
                         WHERE resource = ?1 AND source_id = ?2 AND seq = COALESCE(?3, seq)",
                        "UPDATE push_records SET state = 'set_aside', reason = ?4
                         WHERE resource = ?1 AND source_id = ?2 AND seq = COALESCE(?3, seq)",
                    )
                };
                let mut applied_stmt = tx.prepare_cached(applied_sql)?;
                for (id, seq) in &applied {
                    applied_stmt.execute(params![name, id, seq])?;
                }
                let mut done_stmt = tx.prepare_cached(
                    "UPDATE push_records SET bytes_state = 'done'
                     WHERE resource = 'recordings' AND source_id = ?1 AND bytes_state IS NOT NULL
                       AND seq = COALESCE(?2, seq)",
                )?;
                for (id, seq) in &done {
                    done_stmt.execute(params![id, seq])?;
                }
                let mut aside_stmt = tx.prepare_cached(aside_sql)?;
                for (id, seq, reason) in &aside {
                    aside_stmt.execute(params![name, id, seq, reason])?;
                }
            }
            tx.commit()
        })
    }
}

impl SqliteStore {
    /// Queues again a record that was set aside (after the daemon fixed what made it fail, or to
    /// try once more), at the end of the queue. `false` when no such record was set aside.
    pub async fn requeue(
        &self,
        resource: Resource,
        source_id: &str,
    ) -> Result<bool, SqliteStoreError> {
        let name = resource_name(resource);
        let id = source_id.to_owned();
        let bytes = resource == Resource::RecordingBytes;
        self.call("requeueing a record", move |conn| {
            let tx = conn.transaction()?;
            let found: Option<i64> = tx
                .query_row(
                    if bytes {
                        "SELECT 1 FROM push_records WHERE resource = ?1 AND source_id = ?2
                         AND bytes_state = 'set_aside'"
                    } else {
                        "SELECT 1 FROM push_records WHERE resource = ?1 AND source_id = ?2
                         AND state = 'set_aside'"
                    },
                    params![name, id],
                    |r| r.get(0),
                )
                .optional()?;
            if found.is_none() {
                return Ok(false);
            }
            tx.execute(
                if bytes {
                    "UPDATE push_records SET bytes_state = 'pending', bytes_reason = NULL,
                     seq = (SELECT MAX(seq) + 1 FROM push_records)
                     WHERE resource = ?1 AND source_id = ?2"
                } else {
                    "UPDATE push_records SET state = 'pending', reason = NULL,
                     seq = (SELECT MAX(seq) + 1 FROM push_records)
                     WHERE resource = ?1 AND source_id = ?2"
                },
                params![name, id],
            )?;
            tx.commit()?;
            Ok(true)
        })
        .await
    }
}
