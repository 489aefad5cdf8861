//! The request hooks every generated operation runs (`prepare`, `send`), the retry loop and the
//! release signer, with the call scope they report into.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use progenitor_client::{ClientHooks, ClientInfo, OperationInfo};
use reqwest::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE, USER_AGENT};
use tracing::Instrument;

use super::{operation, path_fits_template, OperationFacts};
use crate::generated;
use crate::retry::{self, RetryPolicy};
use crate::signing::ReleaseCredential;

/// A boxed future.
pub(crate) type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A request body that can be produced again for a retry (a file re-opened, bytes re-sent).
pub(crate) trait ReplayBody: Send + Sync {
    /// A fresh body for the next attempt; `None` when it cannot be sent again.
    fn again(&self) -> BoxFuture<'_, Option<reqwest::Body>>;
    /// Whether the last attempt failed reading the body locally (then it is not retried).
    fn failed_locally(&self) -> bool;
}

/// What one public call shares with the hooks that run inside it.
pub(super) struct CallScope {
    /// What the hooks sent, for errors.
    pub(super) sent: Mutex<Sent>,
    /// How to rebuild a streamed body for a retry.
    pub(super) body: Option<Arc<dyn ReplayBody>>,
}

/// What a call's (last) request was, as its error reports it.
#[derive(Debug, Clone, Default)]
pub(crate) struct Sent {
    /// The request URL (the base URL until the hooks saw a request).
    pub(crate) url: String,
    /// How many times the request went out.
    pub(crate) attempts: u32,
    /// The operation needs a bearer token (the spec's `security`).
    pub(crate) needs_token: bool,
    /// The request carried an `Authorization` header.
    pub(crate) token_sent: bool,
    /// The operation is release-signed (`x-wavekat-signing: release`): no token, a signature.
    pub(crate) release_signed: bool,
}

/// Records into the current call's [`Sent`], if the call runs in a scope.
fn note_sent(update: impl FnOnce(&mut Sent)) {
    let _ = CALL.try_with(|scope| {
        if let Ok(mut sent) = scope.sent.lock() {
            update(&mut sent);
        }
    });
}

tokio::task_local! {
    pub(super) static CALL: CallScope;
}

/// State the generated client's request hooks read. Cheap to clone.
#[derive(Clone)]
pub struct Hooks(pub(super) Arc<HookState>);

pub(super) struct HookState {
    pub(super) token: Option<HeaderValue>,
    pub(super) user_agent: Option<HeaderValue>,
    pub(super) request_timeout: Option<Duration>,
    pub(super) retry: RetryPolicy,
    pub(super) signer: Option<Signer>,
    /// The path prefix the base URL carries (e.g. `/platform`); signed paths leave it out.
    pub(super) base_path: String,
}

impl fmt::Debug for Hooks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hooks")
            .field("authenticated", &self.0.token.is_some())
            .field("user_agent", &self.0.user_agent)
            .field("request_timeout", &self.0.request_timeout)
            .field("retry", &self.0.retry)
            .field("signs_requests", &self.0.signer.is_some())
            .finish()
    }
}

// The hooks only hand over to `prepare` and `send`: progenitor awaits `pre` and `exec` inside
// every operation's future, so whatever their bodies hold is copied into each operation that is
// compiled (in this crate, and again in a program for each operation it calls). The work itself
// is non-generic and `#[inline(never)]`, compiled once here.
impl ClientHooks<Hooks> for generated::Client {
    async fn pre<E>(
        &self,
        request: &mut reqwest::Request,
        info: &OperationInfo,
    ) -> std::result::Result<(), progenitor_client::Error<E>> {
        prepare(&self.inner().0, request, info.operation_id)
            .map_err(progenitor_client::Error::Custom)
    }

    async fn exec(
        &self,
        request: reqwest::Request,
        info: &OperationInfo,
    ) -> reqwest::Result<reqwest::Response> {
        send(self.client(), &self.inner().0, request, info.operation_id).await
    }
}

/// The request hook: checks the path against its template and sets auth, user agent, content
/// type, timeout and the release signature as the spec's facts for `operation_id` say.
#[inline(never)]
fn prepare(
    state: &HookState,
    request: &mut reqwest::Request,
    operation_id: &str,
) -> std::result::Result<(), String> {
    let facts = operation(operation_id);
    if let Some(facts) = facts {
        let path = request.url().path();
        let path = path.strip_prefix(state.base_path.as_str()).unwrap_or(path);
        if !path_fits_template(path, facts.path) {
            return Err(format!(
                "{operation_id}: a path argument is a dot segment or empty (the URL became \
                 {path:?}, not {}); refused before sending",
                facts.path
            ));
        }
    }
    let headers = request.headers_mut();
    let release_signed = facts.is_some_and(|f| f.release_signed);
    if !release_signed {
        // Only where the spec's `security` asks for a bearer: an unauthenticated operation
        // (`security: []`, the code exchange) never carries the token.
        let bearer = facts.is_none_or(|f| f.bearer);
        if let Some(token) = state.token.as_ref().filter(|_| bearer) {
            headers.insert(AUTHORIZATION, token.clone());
        }
        if let Some(agent) = &state.user_agent {
            headers.insert(USER_AGENT, agent.clone());
        }
    }
    let streams_body = facts.is_some_and(OperationFacts::streams_body);
    if let Some(media) = facts.and_then(|f| f.content_type).filter(|_| streams_body) {
        let value = HeaderValue::from_str(media)
            .map_err(|_| format!("the spec's media type {media:?} is not a header value"))?;
        headers.insert(CONTENT_TYPE, value);
    } else if let Some(timeout) = state.request_timeout {
        *request.timeout_mut() = Some(timeout);
    }
    if release_signed {
        let signer = state.signer.as_ref().ok_or_else(|| {
            format!(
                "{operation_id} is release-signed: build the client with \
                 ClientBuilder::release_credential"
            )
        })?;
        (signer.0)(request, &state.base_path)?;
    }
    Ok(())
}

/// The execution hook: sends `request` in its tracing span through the retry loop, with the
/// call's [`ReplayBody`] if it has one, and reports the URL to the call's scope.
#[inline(never)]
fn send<'a>(
    client: &'a reqwest::Client,
    state: &'a HookState,
    request: reqwest::Request,
    operation_id: &'static str,
) -> BoxFuture<'a, reqwest::Result<reqwest::Response>> {
    let span = tracing::debug_span!(
        "wavekat.request",
        method = %request.method(),
        path = %request.url().path(),
        operation = operation_id,
        status = tracing::field::Empty,
        attempt = tracing::field::Empty,
    );
    let facts = operation(operation_id);
    let idempotent = facts.is_some_and(|f| f.idempotent);
    note_sent(|sent| {
        sent.url = request.url().to_string();
        sent.needs_token = facts.is_some_and(|f| f.bearer);
        sent.token_sent = request.headers().contains_key(AUTHORIZATION);
        sent.release_signed = facts.is_some_and(|f| f.release_signed);
    });
    let replay = CALL.try_with(|scope| scope.body.clone()).ok().flatten();
    Box::pin(
        execute_with_retries(
            client,
            request,
            idempotent,
            replay,
            &state.retry,
            span.clone(),
        )
        .instrument(span),
    )
}

/// The one retry loop: sends `request`, retrying idempotent operations as `policy` allows on the
/// failures [`retry::classify`] calls transient. An in-memory body is cloned for the next
/// attempt; a streamed one is rebuilt by the call's [`ReplayBody`], or the request is sent once.
async fn execute_with_retries(
    client: &reqwest::Client,
    mut request: reqwest::Request,
    idempotent: bool,
    replay: Option<Arc<dyn ReplayBody>>,
    policy: &RetryPolicy,
    span: tracing::Span,
) -> reqwest::Result<reqwest::Response> {
    let started = Instant::now();
    let mut attempt: u32 = 1;
    loop {
        span.record("attempt", attempt);
        note_sent(|sent| sent.attempts = attempt);
        let may_retry = idempotent && attempt < policy.max_attempts;
        let copy = if may_retry { request.try_clone() } else { None };
        let shell = (may_retry && copy.is_none() && replay.is_some()).then(|| {
            let mut shell = reqwest::Request::new(request.method().clone(), request.url().clone());
            *shell.headers_mut() = request.headers().clone();
            *shell.timeout_mut() = request.timeout().copied();
            *shell.version_mut() = request.version();
            shell
        });
        let result = client.execute(request).await;
        if let Ok(response) = &result {
            span.record("status", response.status().as_u16());
        }
        let Some(retry_after) = retry::classify(&result) else {
            return result;
        };
        let replayable = copy.is_some() || shell.is_some();
        if !replayable || replay.as_ref().is_some_and(|b| b.failed_locally()) {
            return result;
        }
        let wait = policy.delay(attempt, retry_after);
        if started.elapsed() + wait > policy.max_elapsed {
            return result;
        }
        log_retry(&result, wait);
        tokio::time::sleep(wait).await;
        request = match (copy, shell, &replay) {
            (Some(copy), _, _) => copy,
            (None, Some(mut shell), Some(body)) => match body.again().await {
                Some(body) => {
                    *shell.body_mut() = Some(body);
                    shell
                }
                None => return result,
            },
            _ => return result,
        };
        attempt += 1;
    }
}

fn log_retry(result: &reqwest::Result<reqwest::Response>, wait: Duration) {
    match result {
        Ok(response) => tracing::debug!(status = response.status().as_u16(), ?wait, "retrying"),
        Err(err) => tracing::debug!(error = %err, ?wait, "retrying"),
    }
}

/// Signs one request: the request, and the base URL's path prefix (left out of the signed path).
/// `RefUnwindSafe` keeps `ClientBuilder` and `Client` unwind-safe, as they were in 0.1.
type SignFn = dyn Fn(&mut reqwest::Request, &str) -> std::result::Result<(), String>
    + Send
    + Sync
    + std::panic::RefUnwindSafe;

/// Signs a release-signed request over its exact bytes, behind a trait object: the closure is
/// made only by [`ClientBuilder::release_credential`], so a program that never sets a release
/// credential links none of the signing code (Ed25519, SHA-2) through the request hook.
#[derive(Clone)]
pub(super) struct Signer(pub(super) Arc<SignFn>);

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Signer(release credential)")
    }
}

/// Signs the exact body bytes about to go on the wire and adds the scheme-2 headers.
pub(super) fn sign(
    request: &mut reqwest::Request,
    credential: &ReleaseCredential,
    base_path: &str,
) -> std::result::Result<(), String> {
    let body = match request.body() {
        Some(body) => body
            .as_bytes()
            .ok_or("a signed request needs an in-memory body")?,
        None => &[],
    };
    let full_path = request.url().path();
    let path = full_path.strip_prefix(base_path).unwrap_or(full_path);
    let method = request.method().as_str().to_owned();
    let signature = credential
        .sign_request(&method, path, body)
        .map_err(|e| format!("could not sign the request: {e}"))?;
    let headers = request.headers_mut();
    for (name, value) in credential.signature_headers(&signature) {
        let value = HeaderValue::from_str(&value)
            .map_err(|_| format!("signature header {name} is not a valid header value"))?;
        headers.insert(name, value);
    }
    Ok(())
}
