//! What every emulator handler shares: the state, the JSON error answer, bearer authentication
//! and bounded body reading. A leaf module: the route modules (`server`, `login`, `voice`) import
//! it, and it imports none of them.

use std::path::PathBuf;
use std::sync::Arc;

use axum::body::Body;
use axum::http::header::{AUTHORIZATION, CONTENT_LENGTH};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures_util::StreamExt;

use super::faults::FaultPlan;
use super::hash_secret;
use super::store::{self, Store, StoreError, User};
use crate::signing::ReleaseVerifier;
use crate::wire::ErrorBody;

/// The largest JSON request body accepted (sync batches, heartbeats, code exchanges).
pub(crate) const JSON_BODY_CAP: usize = 8 * 1024 * 1024;

/// Everything the handlers share.
pub(crate) struct AppState {
    pub(crate) store: Store,
    pub(crate) verifier: ReleaseVerifier,
    pub(crate) blobs: PathBuf,
    pub(crate) default_user: User,
    pub(crate) auto_approve: bool,
    /// The fault plan, shared with [`super::DevPlatform`] (its counts and pause switch).
    pub(crate) faults: Option<Arc<FaultPlan>>,
    /// The `/cli-login` pages' `Host` check and CSRF key.
    pub(crate) sign_in_pages: super::page_guard::PageGuard,
}

pub(crate) type Shared = Arc<AppState>;

/// An error answer: a status and the platform's JSON error body.
#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: Option<String>,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: Some(message.into()),
        }
    }

    /// 400 `bad_request`.
    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    /// 401 `unauthenticated`: the token is missing, unknown or revoked.
    pub(crate) fn unauthenticated(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthenticated", message)
    }

    /// 401 `reauth_required`: the token is valid but too old for a destructive action.
    pub(crate) fn reauth_required() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "reauth_required",
            "this action needs a recent sign-in; sign in again and retry",
        )
    }

    /// 404 `not found` (the platform's spelling).
    pub(crate) fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not found", message)
    }

    /// 413 `too_large`.
    pub(crate) fn too_large(message: impl Into<String>) -> Self {
        Self::new(StatusCode::PAYLOAD_TOO_LARGE, "too_large", message)
    }

    /// 500 `internal`: the emulator itself failed (never caused by request content).
    pub(crate) fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the emulator failed; see its log",
        )
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        tracing::error!(error = %e, "dev-platform store failure");
        ApiError::internal()
    }
}

impl From<std::io::Error> for ApiError {
    fn from(e: std::io::Error) -> Self {
        tracing::error!(error = %e, "dev-platform I/O failure");
        ApiError::internal()
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: self.code.to_owned(),
            message: self.message,
        };
        (self.status, Json(body)).into_response()
    }
}

/// The authenticated caller.
#[derive(Debug, Clone)]
pub(crate) struct Caller {
    pub(crate) user: User,
    pub(crate) token_hash: String,
    pub(crate) reauth_required: bool,
}

/// Resolves `Authorization: Bearer <token>`; a missing, unknown or revoked token is
/// `401 unauthenticated`.
pub(crate) async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Caller, ApiError> {
    let mut values = headers.get_all(AUTHORIZATION).iter();
    let value = values
        .next()
        .ok_or_else(|| ApiError::unauthenticated("missing Authorization header"))?;
    if values.next().is_some() {
        return Err(ApiError::unauthenticated(
            "more than one Authorization header",
        ));
    }
    let text = value
        .to_str()
        .map_err(|_| ApiError::unauthenticated("Authorization header is not ASCII"))?;
    let token = match text.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => token.trim(),
        _ => {
            return Err(ApiError::unauthenticated(
                "Authorization is not a Bearer token",
            ))
        }
    };
    if token.is_empty() {
        return Err(ApiError::unauthenticated("empty bearer token"));
    }
    let token_hash = hash_secret(token);
    let lookup = token_hash.clone();
    let owner = state
        .store
        .call(move |conn| store::token_owner(conn, &lookup))
        .await?;
    match owner {
        Some(owner) if !owner.revoked => Ok(Caller {
            user: owner.user,
            token_hash,
            reauth_required: owner.reauth_required,
        }),
        Some(_) => Err(ApiError::unauthenticated("the token was revoked")),
        None => Err(ApiError::unauthenticated("unknown token")),
    }
}

/// How much of a refused body the emulator still reads and discards, so that the client, still
/// sending, reads the error instead of a connection reset.
const DRAIN_LIMIT: u64 = 64 * 1024 * 1024;

/// Reads and discards up to [`DRAIN_LIMIT`] more bytes of a body.
pub(crate) async fn drain(stream: &mut axum::body::BodyDataStream) {
    let mut budget = DRAIN_LIMIT;
    while budget > 0 {
        match stream.next().await {
            Some(Ok(chunk)) => budget = budget.saturating_sub(chunk.len() as u64),
            _ => break,
        }
    }
}

/// Reads a whole body up to `cap` bytes: over the cap (by `Content-Length` or by count) is 413.
pub(crate) async fn read_body(
    headers: &HeaderMap,
    body: Body,
    cap: usize,
) -> Result<Vec<u8>, ApiError> {
    let mut stream = body.into_data_stream();
    if let Some(len) = content_length(headers)? {
        if len > cap as u64 {
            drain(&mut stream).await;
            return Err(ApiError::too_large(format!(
                "request body of {len} bytes exceeds the {cap}-byte limit"
            )));
        }
    }
    let mut buf = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk =
            chunk.map_err(|_| ApiError::bad_request("the request body could not be read"))?;
        if buf.len() + chunk.len() > cap {
            drain(&mut stream).await;
            return Err(ApiError::too_large(format!(
                "request body exceeds the {cap}-byte limit"
            )));
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf)
}

/// The `Content-Length` header as a number, if present; a malformed one is 400.
pub(crate) fn content_length(headers: &HeaderMap) -> Result<Option<u64>, ApiError> {
    match headers.get(CONTENT_LENGTH) {
        None => Ok(None),
        Some(v) => v
            .to_str()
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok())
            .map(Some)
            .ok_or_else(|| ApiError::bad_request("malformed Content-Length")),
    }
}
