//! The emulator's HTTP surface: routes, JSON errors, bearer auth, fault and panic layers, and the
//! identity and install-heartbeat endpoints.

use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::header::{AUTHORIZATION, CONTENT_LENGTH, RETRY_AFTER};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use futures_util::{FutureExt, StreamExt};

use super::faults::{Fault, FaultPlan};
use super::store::{self, InstallReport, Store, StoreError, User};
use super::{hash_secret, login, new_uuid, time, voice};
use crate::signing::ReleaseVerifier;
use crate::wire::{ErrorBody, InstallHeartbeatRequest, InstallHeartbeatResponse, Me};

/// The largest JSON request body accepted (sync batches, heartbeats, code exchanges).
pub(crate) const JSON_BODY_CAP: usize = 8 * 1024 * 1024;

/// The signed path of the install heartbeat.
const HEARTBEAT_PATH: &str = "/api/voice/installs/heartbeat";

/// Everything the handlers share.
pub(crate) struct AppState {
    pub(crate) store: Store,
    pub(crate) verifier: ReleaseVerifier,
    pub(crate) blobs: PathBuf,
    pub(crate) default_user: User,
    pub(crate) auto_approve: bool,
    pub(crate) faults: Option<FaultPlan>,
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

/// The routes, with the fault layer (on `/api/*` only) and the panic safety net.
pub(crate) fn router(state: Shared) -> Router {
    Router::new()
        .route("/api/me", get(me))
        .route("/api/auth/cli/tokens/revoke-current", post(revoke_current))
        .route("/api/auth/cli/codes/exchange", post(login::exchange_code))
        .route("/api/voice/calls", get(voice::list_calls))
        .route("/api/voice/calls/sync", post(voice::sync_calls))
        .route("/api/voice/recordings", get(voice::list_recordings))
        .route("/api/voice/recordings/sync", post(voice::sync_recordings))
        .route(
            "/api/voice/recordings/{source_id}/bytes",
            put(voice::put_recording_bytes),
        )
        .route("/api/voice/transcripts", get(voice::list_transcripts))
        .route("/api/voice/transcripts/sync", post(voice::sync_transcripts))
        .route("/api/voice/accounts", get(voice::list_accounts))
        .route("/api/voice/accounts/sync", post(voice::sync_accounts))
        .route(HEARTBEAT_PATH, post(install_heartbeat))
        .route("/cli-login", get(login::page))
        .route("/cli-login/decision", post(login::decision))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(state.clone(), inject_faults))
        .layer(middleware::from_fn(catch_panic))
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::not_found("no such route")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this route does not accept that method",
    )
}

/// Turns a panic anywhere below into a JSON 500 instead of a dropped connection.
async fn catch_panic(req: Request, next: Next) -> Response {
    match AssertUnwindSafe(next.run(req)).catch_unwind().await {
        Ok(response) => response,
        Err(_) => {
            tracing::error!("dev-platform handler panicked");
            ApiError::internal().into_response()
        }
    }
}

/// Fails `/api/*` requests per the fault plan, before any handler runs or anything is read.
async fn inject_faults(State(state): State<Shared>, req: Request, next: Next) -> Response {
    let is_api = req.uri().path().starts_with("/api/") || req.uri().path() == "/api";
    if let (true, Some(plan)) = (is_api, state.faults.as_ref()) {
        match plan.next() {
            Some(Fault::Unavailable) => {
                return ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "injected fault: service unavailable",
                )
                .into_response();
            }
            Some(Fault::RateLimited) => {
                let mut response = ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "rate_limited",
                    "injected fault: too many requests",
                )
                .into_response();
                response
                    .headers_mut()
                    .insert(RETRY_AFTER, HeaderValue::from(plan.retry_after_secs()));
                return response;
            }
            Some(Fault::Drop) => return dropped_connection(),
            None => {}
        }
    }
    next.run(req).await
}

/// A response whose body fails on its first poll: hyper then aborts the connection without
/// sending anything, so the client sees a connection-level error. (Its status, never sent, is
/// 503 so a half-sent head could never read as success.)
fn dropped_connection() -> Response {
    let body = futures_util::stream::once(async {
        Err::<Bytes, std::io::Error>(std::io::Error::other("injected fault: connection dropped"))
    });
    let mut response = Response::new(Body::from_stream(body));
    *response.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
    response
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

/// `GET /api/me`.
async fn me(State(state): State<Shared>, headers: HeaderMap) -> Result<Json<Me>, ApiError> {
    let caller = authenticate(&state, &headers).await?;
    let user = caller.user;
    Ok(Json(Me {
        id: user.id,
        login: user.login,
        name: user.name,
        email: user.email,
        role: user.role,
    }))
}

/// `POST /api/auth/cli/tokens/revoke-current`: revoking is not destructive, so a token marked
/// `reauth_required` may still revoke itself.
async fn revoke_current(
    State(state): State<Shared>,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    let caller = authenticate(&state, &headers).await?;
    let hash = caller.token_hash;
    state
        .store
        .call(move |conn| store::revoke_token(conn, &hash))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/voice/installs/heartbeat`: release signature first, then the body, then the upsert.
async fn install_heartbeat(
    State(state): State<Shared>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<serde_json::Value>, ApiError> {
    let bytes = read_body(&headers, body, JSON_BODY_CAP).await?;
    let verified = state
        .verifier
        .verify("POST", HEARTBEAT_PATH, &headers, &bytes)
        .map_err(|e| ApiError::new(StatusCode::UNAUTHORIZED, e.code(), e.to_string()))?;
    let request: InstallHeartbeatRequest = serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::bad_request(format!("heartbeat body: {e}")))?;
    for (field, value) in [
        ("installId", &request.install_id),
        ("appVersion", &request.app_version),
        ("os", &request.os),
    ] {
        if value.is_empty() {
            return Err(ApiError::bad_request(format!("{field} must not be empty")));
        }
    }
    let report = serde_json::to_string(&request).map_err(|e| {
        tracing::error!(error = %e, "re-serializing a heartbeat failed");
        ApiError::internal()
    })?;
    let new_id = new_uuid().map_err(|_| ApiError::internal())?;
    let report = InstallReport {
        new_id,
        install_id: request.install_id,
        app_version: request.app_version,
        os: request.os,
        os_version: request.os_version,
        arch: request.arch,
        locale: request.locale,
        distribution: request.distribution,
        report,
        build_version: verified.build_version,
        now: time::now_rfc3339_millis(),
    };
    let row = state
        .store
        .call(move |conn| store::upsert_install(conn, &report))
        .await?;
    let response = InstallHeartbeatResponse {
        id: row.id,
        install_id: row.install_id,
        app_version: row.app_version,
        os: row.os,
        os_version: row.os_version,
        arch: row.arch,
        locale: row.locale,
        distribution: row.distribution,
        first_seen_at: row.first_seen_at,
        last_seen_at: row.last_seen_at,
    };
    // The deployed platform always sends these three keys, `null` when unknown.
    let mut body = serde_json::to_value(&response).map_err(|e| {
        tracing::error!(error = %e, "serializing a heartbeat answer failed");
        ApiError::internal()
    })?;
    if let Some(object) = body.as_object_mut() {
        for key in ["osVersion", "arch", "locale"] {
            object.entry(key).or_insert(serde_json::Value::Null);
        }
    }
    Ok(Json(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn boom() -> &'static str {
        panic!("a deliberate handler panic")
    }

    #[tokio::test]
    async fn a_panicking_handler_answers_a_json_500_and_the_server_keeps_serving() {
        let app = Router::new()
            .route("/boom", get(boom))
            .route("/fine", get(|| async { "fine" }))
            .layer(middleware::from_fn(catch_panic));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        let response = crate::dev_platform::http_client()
            .expect("a client")
            .get(format!("http://{addr}/boom"))
            .send()
            .await
            .expect("an answer");
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body: ErrorBody = response.json().await.expect("a JSON body");
        assert_eq!(body.error, "internal");
        let fine = crate::dev_platform::http_client()
            .expect("a client")
            .get(format!("http://{addr}/fine"))
            .send()
            .await
            .expect("an answer");
        assert_eq!(fine.status(), StatusCode::OK);
    }
}
