//! The emulator's HTTP surface: the route table, fault and panic layers, and the identity and
//! install-heartbeat endpoints.

use std::fmt;
use std::panic::AssertUnwindSafe;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::handler::Handler;
use axum::http::header::RETRY_AFTER;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, MethodFilter, MethodRouter};
use axum::{Json, Router};
use futures_util::FutureExt;

use super::faults::Fault;
use super::http::{authenticate, read_body, ApiError, Shared, JSON_BODY_CAP};
use super::store::{self, InstallReport};
use super::{login, new_uuid, time, voice};
use crate::wire::{InstallHeartbeatRequest, InstallHeartbeatResponse, Me};

/// The signed path of the install heartbeat.
const HEARTBEAT_PATH: &str = "/api/voice/installs/heartbeat";

/// One `/api` operation the emulator serves: its method and its path exactly as
/// `schema/openapi.json` writes it (`{sourceId}` captures included).
///
/// [`served_api_routes`] lists them; the same table builds the emulator's router, so a test can
/// hold the emulator's coverage against the spec in both directions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ServedRoute {
    /// The HTTP method, upper case (`GET`, `POST`, `PUT`).
    pub method: &'static str,
    /// The path template, as in the spec's `paths` (`/api/voice/recordings/{sourceId}/bytes`).
    pub path: &'static str,
}

impl fmt::Display for ServedRoute {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.method, self.path)
    }
}

/// The `/api` operations the emulator serves, in the order its router registers them.
pub fn served_api_routes() -> Vec<ServedRoute> {
    api_routes().into_iter().map(|(route, _)| route).collect()
}

/// An HTTP method an `/api` route of the emulator answers.
#[derive(Debug, Clone, Copy)]
enum Verb {
    Get,
    Post,
    Put,
}

impl Verb {
    fn as_str(self) -> &'static str {
        match self {
            Verb::Get => "GET",
            Verb::Post => "POST",
            Verb::Put => "PUT",
        }
    }

    fn filter(self) -> MethodFilter {
        match self {
            Verb::Get => MethodFilter::GET,
            Verb::Post => MethodFilter::POST,
            Verb::Put => MethodFilter::PUT,
        }
    }
}

/// One row of the route table: what is served, and the handler serving it.
fn api<H, T>(verb: Verb, path: &'static str, handler: H) -> (ServedRoute, MethodRouter<Shared>)
where
    H: Handler<T, Shared>,
    T: 'static,
{
    let route = ServedRoute {
        method: verb.as_str(),
        path,
    };
    (route, MethodRouter::new().on(verb.filter(), handler))
}

/// The route table of the platform's API: the one list of what the emulator serves under `/api`.
/// (The behaviour behind each row is hand-written; `tests/emulator_parity.rs` checks the rows
/// against the spec's operations.)
fn api_routes() -> Vec<(ServedRoute, MethodRouter<Shared>)> {
    vec![
        api(Verb::Get, "/api/me", me),
        api(
            Verb::Post,
            "/api/auth/cli/tokens/revoke-current",
            revoke_current,
        ),
        api(
            Verb::Post,
            "/api/auth/cli/codes/exchange",
            login::exchange_code,
        ),
        api(Verb::Get, "/api/voice/calls", voice::list_calls),
        api(Verb::Post, "/api/voice/calls/sync", voice::sync_calls),
        api(Verb::Get, "/api/voice/recordings", voice::list_recordings),
        api(
            Verb::Post,
            "/api/voice/recordings/sync",
            voice::sync_recordings,
        ),
        api(
            Verb::Put,
            "/api/voice/recordings/{sourceId}/bytes",
            voice::put_recording_bytes,
        ),
        api(Verb::Get, "/api/voice/transcripts", voice::list_transcripts),
        api(
            Verb::Post,
            "/api/voice/transcripts/sync",
            voice::sync_transcripts,
        ),
        api(Verb::Get, "/api/voice/accounts", voice::list_accounts),
        api(Verb::Post, "/api/voice/accounts/sync", voice::sync_accounts),
        api(Verb::Post, HEARTBEAT_PATH, install_heartbeat),
    ]
}

/// The routes (the API table plus the browser sign-in pages, which are not part of the API
/// contract), with the fault layer (on `/api/*` only) and the panic safety net.
pub(crate) fn router(state: Shared) -> Router {
    let api = api_routes()
        .into_iter()
        .fold(Router::new(), |router, (route, handler)| {
            router.route(route.path, handler)
        });
    api.route("/cli-login", get(login::page))
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

/// Fails `/api/*` requests per the fault plan. Most faults answer before any handler runs or
/// anything is read; an applied-then-lost fault runs the handler, consumes its whole answer, and
/// then drops the connection or answers `503` instead.
async fn inject_faults(State(state): State<Shared>, req: Request, next: Next) -> Response {
    let is_api = req.uri().path().starts_with("/api/") || req.uri().path() == "/api";
    let Some(plan) = state.faults.as_ref().filter(|_| is_api) else {
        return next.run(req).await;
    };
    match plan.next() {
        None => next.run(req).await,
        Some(Fault::Unavailable) => injected_unavailable(),
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
            response
        }
        Some(Fault::Drop) => dropped_connection(),
        Some(Fault::AppliedThenDropped) => {
            discard(next.run(req).await).await;
            plan.record_lost();
            dropped_connection()
        }
        Some(Fault::AppliedThenUnavailable) => {
            discard(next.run(req).await).await;
            plan.record_lost();
            injected_unavailable()
        }
    }
}

/// The `503` of an injected fault, the same whether or not the handler ran, so the client cannot
/// tell an applied request from one that never reached the handler.
fn injected_unavailable() -> Response {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "unavailable",
        "injected fault: service unavailable",
    )
    .into_response()
}

/// Reads a handler's answer to its end and throws it away. Every handler here commits its effect
/// (SQLite transaction, blob renamed into place) before it returns, and its body is already
/// produced; reading it through anyway means nothing the answer might still stream can be left
/// undone when the answer is lost.
async fn discard(response: Response) {
    if let Err(e) = axum::body::to_bytes(response.into_body(), usize::MAX).await {
        tracing::debug!(error = %e, "a lost answer's body failed while being discarded");
    }
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
    use crate::wire::ErrorBody;

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
