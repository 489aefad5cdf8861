//! The crate's one error type, covering every way a platform call or a sign-in can fail.
//!
//! # How an error reads
//!
//! Every message says what happened, names the thing involved (the request URL, the file path,
//! the recording's `sourceId`, the field) and, where the caller can act, what to do. A message
//! never contains a token.
//!
//! A cause is in the message **or** in `source()`, never in both, so a chain printer (`anyhow`'s
//! `{:#}`, `tracing`'s error fields) shows each fact once:
//!
//! - An error that wraps **another whole error the caller may match on** (one of this crate's,
//!   or the daemon's store error) returns it from `source()` and does not repeat it in its
//!   message: [`Error::SyncIncomplete`] (see [`Error::cause`]),
//!   [`PushError`](crate::sync::PushError).
//! - Every other error is a **leaf**: the lower-level error it came from (an `io::Error`, the HTTP
//!   stack's error, rustls', SQLite's) is summarised in its message (the root cause's text, once)
//!   and kept in a field for code that needs it, and `source()` is `None`. So `{}` alone is a
//!   complete line for a log: [`Error::Network`] names the root cause (`Connection refused (os
//!   error 111)`) and how many attempts were made.

use std::fmt;
use std::path::PathBuf;

/// Result alias used throughout the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Maximum number of body bytes an error keeps (cut back to a UTF-8 boundary).
const ERROR_BODY_LIMIT: usize = 500;

/// Every error the crate surfaces.
///
/// No variant, message or `Debug` output ever contains the bearer token: bodies are the
/// platform's, URLs never carry credentials, and tokens live only in [`crate::Token`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The platform answered with a status this call does not treat as success. The message
    /// ends with what the status asks of the caller (fix the request, check the id or the base
    /// URL, wait for `Retry-After`, try again later).
    #[error("HTTP {status} {url}: {body}; {}", http_hint(*status, *retry_after))]
    Http {
        /// The HTTP status code.
        status: u16,
        /// The request URL.
        url: String,
        /// The response body, cut to [`Error::BODY_LIMIT`] bytes.
        body: String,
        /// The platform's `Retry-After`, if it sent one.
        retry_after: Option<std::time::Duration>,
    },
    /// The platform (or something in front of it) answered with a redirect. The client follows
    /// none: the request was not repeated at `location`, so a call such as a token revoke did
    /// **not** happen. Check the base URL (an `http://` → `https://` or moved-host redirect
    /// means the configured URL is wrong) rather than following it blindly.
    #[error("HTTP {status} redirect from {url} to {}; redirects are not followed", location.as_deref().unwrap_or("(no Location)"))]
    Redirect {
        /// The 3xx status code.
        status: u16,
        /// The request URL.
        url: String,
        /// The `Location` the answer named, cut to [`Error::BODY_LIMIT`] bytes; `None` when absent.
        location: Option<String>,
    },
    /// 401: the token is finished (revoked, expired or unknown). Sign in again for a new one.
    /// The message quotes the platform's reason when its body gives one (`unknown token`).
    #[error(
        "unauthorized: {url} refused the token{}; sign in again to get a new one",
        platform_reason(body).map(|r| format!(" ({r})")).unwrap_or_default()
    )]
    Unauthorized {
        /// The request URL.
        url: String,
        /// The response body, cut to [`Error::BODY_LIMIT`] bytes.
        body: String,
    },
    /// 401 on an operation that needs a token, and none reached the platform: the client was
    /// built without one, or (`stripped`) it sent one and the platform's answer says no
    /// `Authorization` header arrived, so something between them drops it. Build the client with
    /// a token ([`Client::new`](crate::Client::new) or
    /// [`ClientBuilder::token`](crate::ClientBuilder::token)); a new sign-in alone does not help
    /// a stripped header.
    #[error("{}", token_missing_message(url, *stripped))]
    TokenMissing {
        /// The request URL.
        url: String,
        /// The client sent a token, and the platform says it received none.
        stripped: bool,
    },
    /// 401 on a release-signed operation (the install heartbeat): the platform refused the
    /// release signature, which carries no token, so signing in does not help. The release
    /// credential may be for another version or from another release master, revoked, or the
    /// machine's clock may be off.
    #[error(
        "{url} refused the release signature{}; check that the release credential was issued for \
         this app version by the platform's release master and is not revoked, and that this \
         machine's clock is right (signing in again does not help)",
        platform_reason(body).map(|r| format!(" ({r})")).unwrap_or_default()
    )]
    SignatureRefused {
        /// The request URL.
        url: String,
        /// The response body, cut to [`Error::BODY_LIMIT`] bytes.
        body: String,
    },
    /// 401 with `reauth_required`: the token is valid but not fresh enough for this action. Sign
    /// in again and retry; do not drop the session.
    #[error("re-authentication required by {url}: sign in again, then retry")]
    ReauthRequired {
        /// The request URL.
        url: String,
    },
    /// The request never got an HTTP answer, or its answer broke off (DNS, connect, TLS,
    /// reset), in every one of `attempts`. The message names the root cause (the innermost
    /// error of `transport`, e.g. `Connection refused (os error 111)`).
    #[error(
        "network error talking to {url} ({}): {}; check that the platform at {} is running and \
         reachable from this machine",
        attempts_text(*attempts),
        root_cause(transport),
        origin_of(url)
    )]
    Network {
        /// The request URL.
        url: String,
        /// How many times the request was sent (1 when it is not retried).
        attempts: u32,
        /// The HTTP stack's error, for code that needs more than the message (`is_connect()`,
        /// its `source()` chain). Not returned from `source()`: its root cause is in the
        /// message.
        transport: reqwest::Error,
    },
    /// The HTTP client could not be built (reqwest refused its configuration).
    #[error("could not build the HTTP client: {}", root_cause(.0))]
    HttpClient(reqwest::Error),
    /// The TLS configuration could not be built (for example, the system's root certificates
    /// could not be loaded).
    #[error(
        "could not set up TLS: {0}; check that the operating system's root certificates are \
         installed and readable"
    )]
    Tls(rustls::Error),
    /// The connect, read or request timeout elapsed, in every one of `attempts`.
    #[error(
        "timed out waiting for {url} ({}); the platform at {} is slow or unreachable: try again \
         later, or raise ClientBuilder::request_timeout / connect_timeout",
        attempts_text(*attempts),
        origin_of(url)
    )]
    Timeout {
        /// The request URL.
        url: String,
        /// How many times the request was sent (1 when it is not retried).
        attempts: u32,
    },
    /// A success response whose body did not decode as the expected type.
    #[error(
        "could not decode the response from {url}: {message}; check that the base URL is the \
         WaveKat platform (not a proxy's or a login page), and that this client is up to date"
    )]
    Decode {
        /// The request URL.
        url: String,
        /// What the decoder said.
        message: String,
    },
    /// A sync was refused before anything was sent: these records hold values the platform
    /// would refuse (an unknown enum value, a timestamp that is not RFC 3339), which would
    /// bounce the whole batch with 400. Fix or drop them and sync again; every invalid record
    /// is listed, not only the first.
    #[error(
        "{} of the records would be refused by the platform, so nothing was sent: {}; fix or drop \
         them and sync again",
        .records.len(),
        InvalidRecord::list(.records)
    )]
    InvalidRecords {
        /// Every invalid record, in slice order.
        records: Vec<InvalidRecord>,
    },
    /// A sync failed part-way. `records[..applied]` were applied (in order) and can be marked
    /// synced; send the rest again. [`Error::cause`] (or `source()`) is why the next batch
    /// failed; match on it to decide (retry later, sign in again, fix a record).
    #[error(
        "sync stopped after {applied} of {total} records were applied{}; send the other {} \
         again once the cause is fixed",
        failed_index.map(|i| format!(" (the platform refused record {i})")).unwrap_or_default(),
        total.saturating_sub(*applied)
    )]
    SyncIncomplete {
        /// How many leading records were applied.
        applied: usize,
        /// How many records the sync was given.
        total: usize,
        /// Rows accepted by the applied batches.
        accepted: u32,
        /// Rows skipped by the applied batches.
        skipped: u32,
        /// Per-item results of the applied batches (recordings only; empty otherwise).
        items: Vec<crate::wire::VoiceRecordingSyncItem>,
        /// When the platform's 400 named one item of the failed batch (`items[N]…`), that
        /// record's index in the caller's slice.
        failed_index: Option<usize>,
        /// Why the next batch failed.
        #[source]
        source: Box<Error>,
    },
    /// The caller's input was refused before anything was sent.
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// A recording's bytes could not be read for its upload: the file is missing or unreadable,
    /// or the body ended before the length it declared. `path` is the file, when the body is
    /// one.
    #[error("{}", upload_body_message(source_id, path.as_ref(), io))]
    UploadBody {
        /// The recording's `sourceId`.
        source_id: String,
        /// The file the body was read from (`None` for bytes or a reader).
        path: Option<PathBuf>,
        /// What reading it said. Not returned from `source()`: it is in the message.
        io: std::io::Error,
    },
    /// A local I/O operation failed: `action` says what the crate was doing (binding the sign-in
    /// listener on a named port, drawing OS randomness), `fix` what to do about it.
    #[error("{action} failed: {io}; {fix}")]
    Io {
        /// What the crate was doing, naming the thing involved.
        action: String,
        /// What the operating system said. Not returned from `source()`: it is in the message.
        io: std::io::Error,
        /// What to do about it.
        fix: &'static str,
    },
    /// The sign-in did not complete within its timeout.
    #[error("sign-in timed out before the browser came back")]
    HandshakeTimeout,
    /// The user (or the platform) cancelled the sign-in; `reason` is the platform's `error` value.
    #[error("sign-in cancelled: {reason}")]
    HandshakeCancelled {
        /// The `error` value the platform sent back.
        reason: String,
    },
    /// The callback's `state` did not match the one this sign-in generated; its token was refused.
    #[error("sign-in state mismatch: the callback did not come from this sign-in; run it again")]
    HandshakeStateMismatch,
    /// The one-time sign-in code was wrong, already used, or older than 10 minutes.
    #[error("the sign-in code did not work: it may be mistyped, used, or older than 10 minutes")]
    CodeRejected,
    /// The sign-in was cancelled by the caller before it completed.
    #[error("sign-in aborted by the caller")]
    HandshakeAborted,
}

/// One record a sync refused to send, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct InvalidRecord {
    /// Position of the record in the slice passed to the sync.
    pub index: usize,
    /// Its `sourceId`.
    pub source_id: String,
    /// Every field of it the platform would refuse (at least one).
    pub fields: Vec<crate::wire::InvalidField>,
}

impl InvalidRecord {
    fn list(records: &[InvalidRecord]) -> String {
        const SHOWN: usize = 5;
        let mut text = records
            .iter()
            .take(SHOWN)
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; ");
        if records.len() > SHOWN {
            text.push_str(&format!("; and {} more", records.len() - SHOWN));
        }
        text
    }
}

impl fmt::Display for InvalidRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "record {} ({}): ", self.index, self.source_id)?;
        for (i, field) in self.fields.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{field}")?;
        }
        Ok(())
    }
}

impl Error {
    /// The most bytes of an error body kept in [`Error::Http`] and [`Error::Unauthorized`].
    pub const BODY_LIMIT: usize = ERROR_BODY_LIMIT;

    /// The error that decided the outcome: for [`Error::SyncIncomplete`] the failure of the
    /// batch that stopped it, otherwise `self`. Match on this to act on a sync's failure:
    ///
    /// ```no_run
    /// # async fn run(client: wavekat_platform_client::Client, calls: Vec<wavekat_platform_client::wire::VoiceCallRecord>) {
    /// use wavekat_platform_client::{sync::VoiceCalls, Error};
    ///
    /// match client.sync::<VoiceCalls>(&calls).await {
    ///     Ok(summary) => println!("{} accepted", summary.accepted),
    ///     Err(err) => match err.cause() {
    ///         cause if cause.is_unauthorized() || cause.is_reauth_required() => { /* sign in */ }
    ///         cause if cause.is_retryable() => { /* try the rest later */ }
    ///         cause => eprintln!("giving up: {cause}"),
    ///     },
    /// }
    /// # }
    /// ```
    pub fn cause(&self) -> &Error {
        match self {
            Error::SyncIncomplete { source, .. } => source.cause(),
            other => other,
        }
    }

    /// The HTTP status, when the error came from an HTTP answer.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Http { status, .. } | Error::Redirect { status, .. } => Some(*status),
            Error::Unauthorized { .. }
            | Error::TokenMissing { .. }
            | Error::SignatureRefused { .. }
            | Error::ReauthRequired { .. } => Some(401),
            Error::SyncIncomplete { source, .. } => source.status(),
            _ => None,
        }
    }

    /// The request URL, when the error came from a request.
    pub fn url(&self) -> Option<&str> {
        match self {
            Error::Http { url, .. }
            | Error::Redirect { url, .. }
            | Error::Unauthorized { url, .. }
            | Error::TokenMissing { url, .. }
            | Error::SignatureRefused { url, .. }
            | Error::ReauthRequired { url }
            | Error::Network { url, .. }
            | Error::Timeout { url, .. }
            | Error::Decode { url, .. } => Some(url),
            Error::SyncIncomplete { source, .. } => source.url(),
            _ => None,
        }
    }

    /// Whether retrying the same idempotent request later may succeed: network failures,
    /// timeouts, 429, 502, 503 and 504.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Network { .. } | Error::Timeout { .. } => true,
            Error::Http { status, .. } => crate::retry::is_retryable_status(*status),
            Error::SyncIncomplete { source, .. } => source.is_retryable(),
            _ => false,
        }
    }

    /// How many times the request was sent, for a network failure or a timeout (after the
    /// client's retries).
    pub fn attempts(&self) -> Option<u32> {
        match self {
            Error::Network { attempts, .. } | Error::Timeout { attempts, .. } => Some(*attempts),
            Error::SyncIncomplete { source, .. } => source.attempts(),
            _ => None,
        }
    }

    /// Whether the platform answered 401 for want of a usable token: the token is finished
    /// ([`Error::Unauthorized`]) or none arrived ([`Error::TokenMissing`]). Either way the call
    /// cannot succeed until the client has a token the platform accepts.
    pub fn is_unauthorized(&self) -> bool {
        matches!(
            self,
            Error::Unauthorized { .. } | Error::TokenMissing { .. }
        ) || matches!(self, Error::SyncIncomplete { source, .. } if source.is_unauthorized())
    }

    /// Whether the platform asks for a fresh sign-in before retrying.
    pub fn is_reauth_required(&self) -> bool {
        matches!(self, Error::ReauthRequired { .. })
            || matches!(self, Error::SyncIncomplete { source, .. } if source.is_reauth_required())
    }

    /// Whether the error is a timeout.
    pub fn is_timeout(&self) -> bool {
        matches!(self, Error::Timeout { .. } | Error::HandshakeTimeout)
    }

    /// Whether the error never reached an HTTP answer.
    pub fn is_network(&self) -> bool {
        matches!(self, Error::Network { .. })
    }
}

/// The innermost error of `error`'s `source()` chain, as text: the root cause (for a refused
/// connection `Connection refused (os error 111)`, not the HTTP stack's `error sending request`).
fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut inner = error;
    while let Some(next) = inner.source() {
        inner = next;
    }
    inner.to_string()
}

fn attempts_text(attempts: u32) -> String {
    match attempts {
        1 => "1 attempt".to_owned(),
        n => format!("{n} attempts"),
    }
}

/// `scheme://host[:port]` of `url`, or `url` itself when it does not parse.
fn origin_of(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(parsed) if parsed.has_host() => parsed.origin().ascii_serialization(),
        _ => url.to_owned(),
    }
}

/// The platform's own reason in a JSON error body (`{"error":"unauthenticated","message":"unknown
/// token"}` gives `unknown token`), cut to one short line; `None` for any other body.
fn platform_reason(body: &str) -> Option<String> {
    const SHOWN: usize = 120;
    let value: serde_json::Value = serde_json::from_str(body).ok()?;
    let reason = ["message", "error"]
        .iter()
        .find_map(|key| value.get(key)?.as_str().filter(|s| !s.trim().is_empty()))?;
    let line: String = reason
        .chars()
        .filter(|c| !c.is_control())
        .take(SHOWN)
        .collect();
    Some(line)
}

/// What an error status asks of the caller, from the statuses the platform is known to answer
/// (CONTRACT.md § errors): the part of [`Error::Http`]'s message after the body.
fn http_hint(status: u16, retry_after: Option<std::time::Duration>) -> String {
    match status {
        400 => "the platform refused the request as invalid (the body says which field); fix it \
                before sending it again"
            .to_owned(),
        403 => "the signed-in user may not do this; sign in as a user who may".to_owned(),
        404 => "no such route or record: check the id (a recording's metadata must be synced \
                before its bytes) and that the base URL is the platform's origin"
            .to_owned(),
        410 => "the record is gone for good (deleted); do not retry".to_owned(),
        413 => "the request is too large: at most 100 records per sync batch, and a recording's \
                bytes must be exactly its synced sizeBytes"
            .to_owned(),
        429 => match retry_after {
            Some(wait) => format!(
                "rate limited: wait {}s (the platform's Retry-After) before trying again",
                wait.as_secs()
            ),
            None => "rate limited: wait before trying again".to_owned(),
        },
        500..=599 => "the platform failed to answer; try again later (retried calls already \
                      were, as the client's RetryPolicy allows)"
            .to_owned(),
        _ => "the platform did not accept the request; its body above says why".to_owned(),
    }
}

fn token_missing_message(url: &str, stripped: bool) -> String {
    if stripped {
        format!(
            "no token reached {url}, though this client sent one: something between them (a \
             proxy?) drops the Authorization header; fix that (signing in again will not help)"
        )
    } else {
        format!(
            "no token was sent to {url}, which needs one: build the client with a token \
             (Client::new(base_url, token) or ClientBuilder::token), such as the one a sign-in \
             returns"
        )
    }
}

fn upload_body_message(source_id: &str, path: Option<&PathBuf>, io: &std::io::Error) -> String {
    match path {
        Some(path) => format!(
            "recording {source_id}: cannot read {}: {io}; check that the file exists, is readable \
             and holds the recording's sizeBytes, or set the recording aside",
            path.display()
        ),
        None => format!(
            "recording {source_id}: its body could not be read: {io}; a reader must yield exactly \
             the length it was given"
        ),
    }
}

/// Cuts `body` to at most [`Error::BODY_LIMIT`] bytes, backing up to a UTF-8 character boundary,
/// and replaces invalid UTF-8.
pub(crate) fn truncate_body(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let mut end = text.len().min(ERROR_BODY_LIMIT);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.get(..end).unwrap_or_default().to_owned()
}

/// A value shown as `<redacted>`; used where a secret's presence matters but its value must not show.
#[allow(dead_code)]
pub(crate) struct Redacted;

impl fmt::Debug for Redacted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}
