//! The emulator's SQLite store: schema, and every read and write the endpoints need, each write
//! in one transaction.

use std::path::Path;
use std::sync::{Arc, Mutex};

use rusqlite::{params, Connection, OptionalExtension, Transaction};

use super::time::Instant;

/// Why a store operation failed. Never carries a token (only token hashes reach SQL).
#[derive(Debug, thiserror::Error)]
pub(crate) enum StoreError {
    /// SQLite refused the operation (in the message; not returned from `source()`).
    #[error("database error: {0}")]
    Db(rusqlite::Error),
    /// A stored JSON column did not decode (the database was edited by hand?).
    #[error("stored {what} did not decode: {detail}")]
    Corrupt {
        /// Which column.
        what: &'static str,
        /// The decoder's message.
        detail: String,
    },
    /// The blocking worker running the operation failed.
    #[error("database worker failed: {0}")]
    Worker(String),
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Db(e)
    }
}

/// The one SQLite connection, shared behind a mutex; all work runs on the blocking pool.
#[derive(Clone)]
pub(crate) struct Store {
    conn: Arc<Mutex<Connection>>,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS users (
    id TEXT PRIMARY KEY,
    login TEXT NOT NULL UNIQUE,
    name TEXT,
    email TEXT,
    role TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS tokens (
    token_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id),
    revoked INTEGER NOT NULL DEFAULT 0,
    reauth_required INTEGER NOT NULL DEFAULT 0,
    client TEXT,
    source TEXT,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS calls (
    user_id TEXT NOT NULL,
    source_id TEXT NOT NULL,
    end_at TEXT NOT NULL,
    end_secs INTEGER NOT NULL,
    end_nanos INTEGER NOT NULL,
    deleted_at TEXT,
    record TEXT NOT NULL,
    flow_steps TEXT,
    events TEXT,
    extras TEXT,
    PRIMARY KEY (user_id, source_id)
);
CREATE INDEX IF NOT EXISTS calls_newest ON calls (user_id, end_secs DESC, end_nanos DESC, source_id DESC);
CREATE TABLE IF NOT EXISTS recordings (
    user_id TEXT NOT NULL,
    source_id TEXT NOT NULL,
    call_source_id TEXT NOT NULL,
    created_at TEXT NOT NULL,
    created_secs INTEGER NOT NULL,
    created_nanos INTEGER NOT NULL,
    size_bytes INTEGER NOT NULL,
    bytes_uploaded INTEGER NOT NULL DEFAULT 0,
    r2_key TEXT NOT NULL,
    record TEXT NOT NULL,
    extras TEXT,
    PRIMARY KEY (user_id, source_id)
);
CREATE INDEX IF NOT EXISTS recordings_newest ON recordings (user_id, created_secs DESC, created_nanos DESC, source_id DESC);
CREATE INDEX IF NOT EXISTS recordings_by_call ON recordings (user_id, call_source_id);
CREATE TABLE IF NOT EXISTS transcripts (
    user_id TEXT NOT NULL,
    source_id TEXT NOT NULL,
    call_source_id TEXT NOT NULL,
    ts_ms INTEGER NOT NULL,
    record TEXT NOT NULL,
    extras TEXT,
    PRIMARY KEY (user_id, source_id)
);
CREATE INDEX IF NOT EXISTS transcripts_by_call ON transcripts (user_id, call_source_id, ts_ms DESC, source_id DESC);
CREATE TABLE IF NOT EXISTS accounts (
    user_id TEXT NOT NULL,
    source_id TEXT NOT NULL,
    transport TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    updated_secs INTEGER NOT NULL,
    updated_nanos INTEGER NOT NULL,
    deleted_at TEXT,
    schema_version INTEGER NOT NULL,
    record TEXT NOT NULL,
    extras TEXT,
    PRIMARY KEY (user_id, source_id)
);
CREATE TABLE IF NOT EXISTS installs (
    install_id TEXT PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    app_version TEXT NOT NULL,
    os TEXT NOT NULL,
    os_version TEXT,
    arch TEXT,
    locale TEXT,
    distribution TEXT,
    report TEXT NOT NULL,
    build_version TEXT NOT NULL,
    first_seen_at TEXT NOT NULL,
    last_seen_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS login_codes (
    code_hash TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    user_id TEXT NOT NULL REFERENCES users(id),
    client TEXT,
    source TEXT,
    expires_at INTEGER NOT NULL,
    used INTEGER NOT NULL DEFAULT 0
);
";

impl Store {
    /// Opens (creating if needed) the database at `path`, or an in-memory one, and applies the
    /// schema. File databases use WAL journaling.
    pub(crate) fn open(path: Option<&Path>) -> Result<Store, StoreError> {
        let conn = match path {
            Some(p) => {
                let conn = Connection::open(p)?;
                conn.pragma_update(None, "journal_mode", "WAL")?;
                conn
            }
            None => Connection::open_in_memory()?,
        };
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.execute_batch(SCHEMA)?;
        Ok(Store {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    /// Runs `f` with the connection on the blocking pool.
    pub(crate) async fn call<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
        T: Send + 'static,
    {
        let conn = Arc::clone(&self.conn);
        tokio::task::spawn_blocking(move || {
            // A panic while holding the lock drops any open transaction (rolled back), so the
            // connection is still consistent.
            let mut guard = conn.lock().unwrap_or_else(|p| p.into_inner());
            f(&mut guard)
        })
        .await
        .map_err(|e| StoreError::Worker(e.to_string()))?
    }
}

/// A user row.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct User {
    pub(crate) id: String,
    pub(crate) login: String,
    pub(crate) name: Option<String>,
    pub(crate) email: Option<String>,
    pub(crate) role: String,
}

/// What a bearer token resolves to.
#[derive(Debug, Clone)]
pub(crate) struct TokenOwner {
    pub(crate) user: User,
    pub(crate) revoked: bool,
    pub(crate) reauth_required: bool,
}

fn user_from_row(row: &rusqlite::Row<'_>, at: usize) -> rusqlite::Result<User> {
    Ok(User {
        id: row.get(at)?,
        login: row.get(at + 1)?,
        name: row.get(at + 2)?,
        email: row.get(at + 3)?,
        role: row.get(at + 4)?,
    })
}

/// The user with `login`, if any.
pub(crate) fn user_by_login(conn: &Connection, login: &str) -> Result<Option<User>, StoreError> {
    Ok(conn
        .query_row(
            "SELECT id, login, name, email, role FROM users WHERE login = ?1",
            params![login],
            |r| user_from_row(r, 0),
        )
        .optional()?)
}

/// Inserts a user; `Ok(false)` when the login is taken.
pub(crate) fn insert_user(conn: &Connection, user: &User, now: &str) -> Result<bool, StoreError> {
    let n = conn.execute(
        "INSERT OR IGNORE INTO users (id, login, name, email, role, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![user.id, user.login, user.name, user.email, user.role, now],
    )?;
    Ok(n == 1)
}

/// Records a token (by hash) for `user_id`; an existing hash is left as it is.
pub(crate) fn insert_token(
    conn: &Connection,
    token_hash: &str,
    user_id: &str,
    client: Option<&str>,
    source: Option<&str>,
    now: &str,
) -> Result<(), StoreError> {
    conn.execute(
        "INSERT OR IGNORE INTO tokens (token_hash, user_id, client, source, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![token_hash, user_id, client, source, now],
    )?;
    Ok(())
}

/// Who holds the token with this hash, if anyone.
pub(crate) fn token_owner(
    conn: &Connection,
    token_hash: &str,
) -> Result<Option<TokenOwner>, StoreError> {
    Ok(conn
        .query_row(
            "SELECT t.revoked, t.reauth_required, u.id, u.login, u.name, u.email, u.role
             FROM tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = ?1",
            params![token_hash],
            |r| {
                Ok(TokenOwner {
                    revoked: r.get::<_, i64>(0)? != 0,
                    reauth_required: r.get::<_, i64>(1)? != 0,
                    user: user_from_row(r, 2)?,
                })
            },
        )
        .optional()?)
}

/// Marks a token revoked.
pub(crate) fn revoke_token(conn: &Connection, token_hash: &str) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE tokens SET revoked = 1 WHERE token_hash = ?1",
        params![token_hash],
    )?;
    Ok(())
}

/// Marks a token as too old for destructive actions; `Ok(false)` when no such token exists.
pub(crate) fn require_reauth(conn: &Connection, token_hash: &str) -> Result<bool, StoreError> {
    let n = conn.execute(
        "UPDATE tokens SET reauth_required = 1 WHERE token_hash = ?1",
        params![token_hash],
    )?;
    Ok(n == 1)
}

// ---- voice rows -------------------------------------------------------------------------------

/// A call ready to store: the record JSON (without `deletedAt`, `flowSteps`, `events`, `extras`
/// and `shareVisibility`) plus its keys and side columns.
#[derive(Debug, Clone)]
pub(crate) struct CallRow {
    pub(crate) source_id: String,
    pub(crate) end_at: String,
    pub(crate) end: Instant,
    pub(crate) deleted_at: Option<String>,
    pub(crate) record: String,
    pub(crate) flow_steps: Option<String>,
    pub(crate) events: Option<String>,
    pub(crate) extras: Option<String>,
}

/// A recording ready to store.
#[derive(Debug, Clone)]
pub(crate) struct RecordingRow {
    pub(crate) source_id: String,
    pub(crate) call_source_id: String,
    pub(crate) created_at: String,
    pub(crate) created: Instant,
    pub(crate) size_bytes: i64,
    pub(crate) record: String,
    pub(crate) extras: Option<String>,
}

/// A transcript segment ready to store.
#[derive(Debug, Clone)]
pub(crate) struct TranscriptRow {
    pub(crate) source_id: String,
    pub(crate) call_source_id: String,
    pub(crate) ts_ms: i64,
    pub(crate) record: String,
    pub(crate) extras: Option<String>,
}

/// An account line ready to store (the record JSON keeps its `deletedAt`).
#[derive(Debug, Clone)]
pub(crate) struct AccountRow {
    pub(crate) source_id: String,
    pub(crate) transport: String,
    pub(crate) updated_at: String,
    pub(crate) updated: Instant,
    pub(crate) deleted_at: Option<String>,
    pub(crate) schema_version: u32,
    pub(crate) record: String,
    pub(crate) extras: Option<String>,
}

/// Counts of a sync batch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Counts {
    pub(crate) accepted: u32,
    pub(crate) skipped: u32,
}

/// The object key of a recording's bytes.
pub(crate) fn r2_key(user_id: &str, source_id: &str) -> String {
    format!("voice/recordings/{user_id}/{source_id}.wav")
}

fn call_is_tombstoned(
    tx: &Transaction<'_>,
    user_id: &str,
    call_source_id: &str,
) -> Result<bool, StoreError> {
    Ok(tx
        .query_row(
            "SELECT 1 FROM calls WHERE user_id = ?1 AND source_id = ?2 AND deleted_at IS NOT NULL",
            params![user_id, call_source_id],
            |_| Ok(()),
        )
        .optional()?
        .is_some())
}

/// Drops a deleted call's recordings and transcripts; returns the object keys of bytes to remove.
fn cascade_call_delete(
    tx: &Transaction<'_>,
    user_id: &str,
    call_source_id: &str,
) -> Result<Vec<String>, StoreError> {
    let keys = {
        let mut stmt = tx.prepare(
            "SELECT r2_key FROM recordings
             WHERE user_id = ?1 AND call_source_id = ?2 AND bytes_uploaded = 1",
        )?;
        let rows = stmt.query_map(params![user_id, call_source_id], |r| r.get::<_, String>(0))?;
        rows.collect::<Result<Vec<_>, _>>()?
    };
    tx.execute(
        "DELETE FROM recordings WHERE user_id = ?1 AND call_source_id = ?2",
        params![user_id, call_source_id],
    )?;
    tx.execute(
        "DELETE FROM transcripts WHERE user_id = ?1 AND call_source_id = ?2",
        params![user_id, call_source_id],
    )?;
    Ok(keys)
}

/// Upserts calls: new rows are inserted, existing rows are immutable except that a tombstone
/// sticks (`deleted_at = COALESCE(existing, incoming)`). Returns the counts and the object keys
/// of recording bytes to delete (after the commit).
pub(crate) fn sync_calls(
    conn: &mut Connection,
    user_id: &str,
    rows: &[CallRow],
) -> Result<(Counts, Vec<String>), StoreError> {
    let tx = conn.transaction()?;
    let mut counts = Counts::default();
    let mut doomed = Vec::new();
    for row in rows {
        let existing: Option<Option<String>> = tx
            .query_row(
                "SELECT deleted_at FROM calls WHERE user_id = ?1 AND source_id = ?2",
                params![user_id, row.source_id],
                |r| r.get(0),
            )
            .optional()?;
        let newly_deleted = match existing {
            None => {
                tx.execute(
                    "INSERT INTO calls (user_id, source_id, end_at, end_secs, end_nanos,
                         deleted_at, record, flow_steps, events, extras)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                    params![
                        user_id,
                        row.source_id,
                        row.end_at,
                        row.end.secs,
                        row.end.nanos,
                        row.deleted_at,
                        row.record,
                        row.flow_steps,
                        row.events,
                        row.extras
                    ],
                )?;
                row.deleted_at.is_some()
            }
            Some(None) if row.deleted_at.is_some() => {
                tx.execute(
                    "UPDATE calls SET deleted_at = ?3 WHERE user_id = ?1 AND source_id = ?2",
                    params![user_id, row.source_id, row.deleted_at],
                )?;
                true
            }
            Some(_) => false,
        };
        if newly_deleted {
            doomed.extend(cascade_call_delete(&tx, user_id, &row.source_id)?);
        }
        counts.accepted += 1;
    }
    tx.commit()?;
    Ok((counts, doomed))
}

/// One row of a recordings sync answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RecordingState {
    pub(crate) source_id: String,
    pub(crate) r2_key: String,
    pub(crate) bytes_uploaded: bool,
}

/// Inserts new recordings (existing ones are immutable). A recording of a call that is already
/// tombstoned is skipped, so a late device cannot bring back what the user deleted.
pub(crate) fn sync_recordings(
    conn: &mut Connection,
    user_id: &str,
    rows: &[RecordingRow],
) -> Result<(Counts, Vec<RecordingState>), StoreError> {
    let tx = conn.transaction()?;
    let mut counts = Counts::default();
    let mut items = Vec::with_capacity(rows.len());
    for row in rows {
        if call_is_tombstoned(&tx, user_id, &row.call_source_id)? {
            counts.skipped += 1;
            continue;
        }
        let key = r2_key(user_id, &row.source_id);
        tx.execute(
            "INSERT OR IGNORE INTO recordings (user_id, source_id, call_source_id, created_at,
                 created_secs, created_nanos, size_bytes, r2_key, record, extras)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            params![
                user_id,
                row.source_id,
                row.call_source_id,
                row.created_at,
                row.created.secs,
                row.created.nanos,
                row.size_bytes,
                key,
                row.record,
                row.extras
            ],
        )?;
        let (r2_key, uploaded): (String, i64) = tx.query_row(
            "SELECT r2_key, bytes_uploaded FROM recordings WHERE user_id = ?1 AND source_id = ?2",
            params![user_id, row.source_id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        items.push(RecordingState {
            source_id: row.source_id.clone(),
            r2_key,
            bytes_uploaded: uploaded != 0,
        });
        counts.accepted += 1;
    }
    tx.commit()?;
    Ok((counts, items))
}

/// Inserts new transcript segments (existing ones are immutable); segments of a tombstoned call
/// are skipped. The call itself need not exist.
pub(crate) fn sync_transcripts(
    conn: &mut Connection,
    user_id: &str,
    rows: &[TranscriptRow],
) -> Result<Counts, StoreError> {
    let tx = conn.transaction()?;
    let mut counts = Counts::default();
    for row in rows {
        if call_is_tombstoned(&tx, user_id, &row.call_source_id)? {
            counts.skipped += 1;
            continue;
        }
        tx.execute(
            "INSERT OR IGNORE INTO transcripts (user_id, source_id, call_source_id, ts_ms, record, extras)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                user_id,
                row.source_id,
                row.call_source_id,
                row.ts_ms,
                row.record,
                row.extras
            ],
        )?;
        counts.accepted += 1;
    }
    tx.commit()?;
    Ok(counts)
}

/// Upserts account lines, whole-row last-write-wins on `updatedAt` (as instants; an equal
/// instant is an idempotent retry and is written). A stale revision, or a record with schema
/// version below 2 aimed at a stored `tls` line, is skipped.
pub(crate) fn sync_accounts(
    conn: &mut Connection,
    user_id: &str,
    rows: &[AccountRow],
) -> Result<Counts, StoreError> {
    let tx = conn.transaction()?;
    let mut counts = Counts::default();
    for row in rows {
        let existing: Option<(String, i64, i64)> = tx
            .query_row(
                "SELECT transport, updated_secs, updated_nanos FROM accounts
                 WHERE user_id = ?1 AND source_id = ?2",
                params![user_id, row.source_id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        if let Some((transport, secs, nanos)) = existing {
            let stored = Instant { secs, nanos };
            if row.updated < stored || (transport == "tls" && row.schema_version < 2) {
                counts.skipped += 1;
                continue;
            }
        }
        tx.execute(
            "INSERT INTO accounts (user_id, source_id, transport, updated_at, updated_secs,
                 updated_nanos, deleted_at, schema_version, record, extras)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
             ON CONFLICT (user_id, source_id) DO UPDATE SET
                 transport = excluded.transport, updated_at = excluded.updated_at,
                 updated_secs = excluded.updated_secs, updated_nanos = excluded.updated_nanos,
                 deleted_at = excluded.deleted_at, schema_version = excluded.schema_version,
                 record = excluded.record, extras = excluded.extras",
            params![
                user_id,
                row.source_id,
                row.transport,
                row.updated_at,
                row.updated.secs,
                row.updated.nanos,
                row.deleted_at,
                row.schema_version,
                row.record,
                row.extras
            ],
        )?;
        counts.accepted += 1;
    }
    tx.commit()?;
    Ok(counts)
}

/// A list position: rows strictly older than `at`, or as old with a smaller source id when
/// `source_id` is set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Cursor {
    pub(crate) at: Instant,
    pub(crate) source_id: Option<String>,
}

/// One listed row: its stored JSON, its cursor key and (calls only) tombstone.
#[derive(Debug, Clone)]
pub(crate) struct ListedRow {
    pub(crate) record: String,
    pub(crate) key_text: String,
    pub(crate) at: Instant,
    pub(crate) source_id: String,
    pub(crate) deleted_at: Option<String>,
}

fn listed(r: &rusqlite::Row<'_>) -> rusqlite::Result<ListedRow> {
    Ok(ListedRow {
        record: r.get(0)?,
        key_text: r.get(1)?,
        at: Instant {
            secs: r.get(2)?,
            nanos: r.get(3)?,
        },
        source_id: r.get(4)?,
        deleted_at: r.get(5)?,
    })
}

/// Newest-first page of a time-keyed table (`calls` or `recordings`), at most `fetch` rows.
fn list_time_keyed(
    conn: &Connection,
    sql_head: &str,
    user_id: &str,
    cursor: Option<&Cursor>,
    fetch: u32,
    cols: (&str, &str),
) -> Result<Vec<ListedRow>, StoreError> {
    let (secs, nanos) = cols;
    let (c_secs, c_nanos, c_sid) = match cursor {
        Some(c) => (Some(c.at.secs), Some(c.at.nanos), c.source_id.clone()),
        None => (None, None, None),
    };
    let sql = format!(
        "{sql_head}
           AND (?2 IS NULL OR {secs} < ?2 OR ({secs} = ?2 AND ({nanos} < ?3
                OR ({nanos} = ?3 AND ?4 IS NOT NULL AND source_id < ?4))))
         ORDER BY {secs} DESC, {nanos} DESC, source_id DESC
         LIMIT ?5"
    );
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map(params![user_id, c_secs, c_nanos, c_sid, fetch], listed)?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// Newest-first calls by `endAt`; tombstones only when `include_deleted`.
pub(crate) fn list_calls(
    conn: &Connection,
    user_id: &str,
    include_deleted: bool,
    cursor: Option<&Cursor>,
    fetch: u32,
) -> Result<Vec<ListedRow>, StoreError> {
    let head = if include_deleted {
        "SELECT record, end_at, end_secs, end_nanos, source_id, deleted_at FROM calls
         WHERE user_id = ?1"
    } else {
        "SELECT record, end_at, end_secs, end_nanos, source_id, deleted_at FROM calls
         WHERE user_id = ?1 AND deleted_at IS NULL"
    };
    list_time_keyed(
        conn,
        head,
        user_id,
        cursor,
        fetch,
        ("end_secs", "end_nanos"),
    )
}

/// Newest-first recordings by `createdAt`.
pub(crate) fn list_recordings(
    conn: &Connection,
    user_id: &str,
    cursor: Option<&Cursor>,
    fetch: u32,
) -> Result<Vec<ListedRow>, StoreError> {
    list_time_keyed(
        conn,
        "SELECT record, created_at, created_secs, created_nanos, source_id, NULL FROM recordings
         WHERE user_id = ?1",
        user_id,
        cursor,
        fetch,
        ("created_secs", "created_nanos"),
    )
}

/// One call's transcript segments, latest `tsMs` first.
pub(crate) fn list_transcripts(
    conn: &Connection,
    user_id: &str,
    call_source_id: &str,
) -> Result<Vec<String>, StoreError> {
    let mut stmt = conn.prepare(
        "SELECT record FROM transcripts WHERE user_id = ?1 AND call_source_id = ?2
         ORDER BY ts_ms DESC, source_id DESC",
    )?;
    let rows = stmt.query_map(params![user_id, call_source_id], |r| r.get::<_, String>(0))?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// The user's account lines in the given transports, most recently updated first.
pub(crate) fn list_accounts(
    conn: &Connection,
    user_id: &str,
    include_deleted: bool,
    transports: &[String],
) -> Result<Vec<String>, StoreError> {
    let mut stmt = conn.prepare(
        "SELECT record, transport FROM accounts
         WHERE user_id = ?1 AND (?2 OR deleted_at IS NULL)
         ORDER BY updated_secs DESC, updated_nanos DESC, source_id DESC",
    )?;
    let rows = stmt.query_map(params![user_id, include_deleted], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (record, transport) = row?;
        if transports.contains(&transport) {
            out.push(record);
        }
    }
    Ok(out)
}

/// A recording's expected size and object key, if this user synced its metadata.
pub(crate) fn recording_for_upload(
    conn: &Connection,
    user_id: &str,
    source_id: &str,
) -> Result<Option<(i64, String)>, StoreError> {
    Ok(conn
        .query_row(
            "SELECT size_bytes, r2_key FROM recordings WHERE user_id = ?1 AND source_id = ?2",
            params![user_id, source_id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?)
}

/// Flips `bytes_uploaded`; `Ok(false)` when the row vanished meanwhile.
pub(crate) fn mark_uploaded(
    conn: &Connection,
    user_id: &str,
    source_id: &str,
) -> Result<bool, StoreError> {
    let n = conn.execute(
        "UPDATE recordings SET bytes_uploaded = 1 WHERE user_id = ?1 AND source_id = ?2",
        params![user_id, source_id],
    )?;
    Ok(n == 1)
}

// ---- installs -------------------------------------------------------------------------------

/// An install row as the heartbeat answers it.
#[derive(Debug, Clone)]
pub(crate) struct InstallRow {
    pub(crate) id: String,
    pub(crate) install_id: String,
    pub(crate) app_version: String,
    pub(crate) os: String,
    pub(crate) os_version: Option<String>,
    pub(crate) arch: Option<String>,
    pub(crate) locale: Option<String>,
    pub(crate) distribution: Option<String>,
    pub(crate) first_seen_at: String,
    pub(crate) last_seen_at: String,
}

/// What one heartbeat reports.
#[derive(Debug, Clone)]
pub(crate) struct InstallReport {
    pub(crate) new_id: String,
    pub(crate) install_id: String,
    pub(crate) app_version: String,
    pub(crate) os: String,
    pub(crate) os_version: Option<String>,
    pub(crate) arch: Option<String>,
    pub(crate) locale: Option<String>,
    pub(crate) distribution: Option<String>,
    pub(crate) report: String,
    pub(crate) build_version: String,
    pub(crate) now: String,
}

/// Upserts an install by `installId`: the first sighting keeps its id and `first_seen_at`;
/// every field and `last_seen_at` are replaced.
pub(crate) fn upsert_install(
    conn: &mut Connection,
    r: &InstallReport,
) -> Result<InstallRow, StoreError> {
    let tx = conn.transaction()?;
    tx.execute(
        "INSERT INTO installs (install_id, id, app_version, os, os_version, arch, locale,
             distribution, report, build_version, first_seen_at, last_seen_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?11)
         ON CONFLICT (install_id) DO UPDATE SET
             app_version = excluded.app_version, os = excluded.os,
             os_version = excluded.os_version, arch = excluded.arch, locale = excluded.locale,
             distribution = excluded.distribution, report = excluded.report,
             build_version = excluded.build_version, last_seen_at = excluded.last_seen_at",
        params![
            r.install_id,
            r.new_id,
            r.app_version,
            r.os,
            r.os_version,
            r.arch,
            r.locale,
            r.distribution,
            r.report,
            r.build_version,
            r.now
        ],
    )?;
    let row = tx.query_row(
        "SELECT id, install_id, app_version, os, os_version, arch, locale, distribution,
             first_seen_at, last_seen_at FROM installs WHERE install_id = ?1",
        params![r.install_id],
        |row| {
            Ok(InstallRow {
                id: row.get(0)?,
                install_id: row.get(1)?,
                app_version: row.get(2)?,
                os: row.get(3)?,
                os_version: row.get(4)?,
                arch: row.get(5)?,
                locale: row.get(6)?,
                distribution: row.get(7)?,
                first_seen_at: row.get(8)?,
                last_seen_at: row.get(9)?,
            })
        },
    )?;
    tx.commit()?;
    Ok(row)
}

// ---- sign-in codes ----------------------------------------------------------------------------

/// Stores a one-time code (by hash) that signs `user_id` in for `state` until `expires_at`.
pub(crate) fn insert_code(
    conn: &Connection,
    code_hash: &str,
    state: &str,
    user_id: &str,
    client: Option<&str>,
    source: Option<&str>,
    expires_at: i64,
) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO login_codes (code_hash, state, user_id, client, source, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![code_hash, state, user_id, client, source, expires_at],
    )?;
    Ok(())
}

/// Trades an unused, unexpired code issued for `state` for a new token (stored by
/// `token_hash`), atomically; `None` when the code does not work.
pub(crate) fn redeem_code(
    conn: &mut Connection,
    code_hash: &str,
    state: &str,
    now_secs: i64,
    token_hash: &str,
    now: &str,
) -> Result<Option<User>, StoreError> {
    let tx = conn.transaction()?;
    let n = tx.execute(
        "UPDATE login_codes SET used = 1
         WHERE code_hash = ?1 AND state = ?2 AND used = 0 AND expires_at > ?3",
        params![code_hash, state, now_secs],
    )?;
    if n != 1 {
        return Ok(None);
    }
    let (user, client, source): (User, Option<String>, Option<String>) = tx.query_row(
        "SELECT u.id, u.login, u.name, u.email, u.role, c.client, c.source
         FROM login_codes c JOIN users u ON u.id = c.user_id WHERE c.code_hash = ?1",
        params![code_hash],
        |r| Ok((user_from_row(r, 0)?, r.get(5)?, r.get(6)?)),
    )?;
    insert_token(
        &tx,
        token_hash,
        &user.id,
        client.as_deref(),
        source.as_deref(),
        now,
    )?;
    tx.commit()?;
    Ok(Some(user))
}
