//! The platform client: bearer auth, user agent, timeouts, retries, tracing.
//!
//! Every call goes through the generated progenitor client in [`crate::generated`]; the public
//! methods of [`Client`] for the spec's operations are generated too (`src/operations.rs`). The
//! cross-cutting behaviour (auth header, user agent, per-request timeout, request signing,
//! retries, tracing) lives once, in the request hooks below (`prepare` and `send`, behind the
//! [`ClientHooks`] implementation), and every per-operation decision they make comes from the
//! spec's table in `operation_facts.rs`. What every call shares (the call's scope, the error
//! mapping) is in `Client::settle`; both are compiled once in this crate, not per operation.
//!
//! ```no_run
//! # async fn run() -> wavekat_platform_client::Result<()> {
//! use wavekat_platform_client::{Client, Token};
//!
//! let client = Client::new("https://platform.wavekat.com", Token::new("wk_…"))?;
//! let me = client.get_me().await?;
//! let page = client.list_voice_calls(None, None, None).await?;
//! println!("{} has {} recent calls", me.login, page.items.len());
//! # Ok(()) }
//! ```

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use progenitor_client::{ClientHooks, ClientInfo, OperationInfo, ResponseValue};
use reqwest::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE, USER_AGENT};
use serde::de::DeserializeOwned;
use tracing::Instrument;

use crate::error::{truncate_body, Error, Result};
use crate::generated;
use crate::retry::{self, RetryPolicy};
use crate::signing::ReleaseCredential;
use crate::token::Token;

const DEFAULT_USER_AGENT: &str = concat!("wavekat-platform-client/", env!("CARGO_PKG_VERSION"));

const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Bytes of an error body read to classify it (the kept part is cut to 500 bytes).
const ERROR_BODY_READ_LIMIT: usize = 64 * 1024;

/// What the hooks decide per operation, read from the spec by the build script (`build/`).
#[derive(Debug)]
pub(crate) struct OperationFacts {
    /// The operationId, as progenitor names its method (snake_case).
    pub(crate) id: &'static str,
    /// The HTTP method.
    #[allow(dead_code)]
    pub(crate) method: &'static str,
    /// The path template, e.g. `/api/voice/calls`.
    pub(crate) path: &'static str,
    /// Safe to send twice: `x-wavekat-idempotent`, else GET/HEAD/PUT/DELETE yes, POST/PATCH no.
    pub(crate) idempotent: bool,
    /// `x-wavekat-signing: release`: signed with a release credential, no bearer, no user agent,
    /// never retried (a resend would carry a used nonce).
    pub(crate) release_signed: bool,
    /// The spec's `security` requires a credential: a 401 for a request without a token means
    /// none was sent, not that one was refused.
    pub(crate) bearer: bool,
    /// The request body's media type from the spec's `requestBody.content`.
    pub(crate) content_type: Option<&'static str>,
}

include!(concat!(env!("OUT_DIR"), "/operation_facts.rs"));

/// The spec's facts for an operation.
pub(crate) fn operation(id: &str) -> Option<&'static OperationFacts> {
    OPERATIONS.iter().find(|op| op.id == id)
}

/// Whether a request path still has the shape of its operation's template: the same number of
/// segments, the literal ones equal, each `{param}` one segment that is neither empty nor a dot
/// segment. A URL normaliser rewrites a `.` or `..` argument (`/recordings/../bytes` becomes
/// `/bytes`), which would carry the request, token and body, to another route; the shape check
/// catches that for every operation at once.
fn path_fits_template(path: &str, template: &str) -> bool {
    let mut actual = path.split('/');
    let mut expected = template.split('/');
    loop {
        match (actual.next(), expected.next()) {
            (None, None) => return true,
            (Some(got), Some(want)) if want.starts_with('{') && want.ends_with('}') => {
                if got.is_empty() || got == "." || got == ".." {
                    return false;
                }
            }
            (Some(got), Some(want)) if got == want => {}
            _ => return false,
        }
    }
}

impl OperationFacts {
    /// A body that is not JSON is a byte stream: bounded by the read timeout, not a whole-request
    /// deadline (a 1 GiB upload must not hit it).
    fn streams_body(&self) -> bool {
        self.content_type
            .is_some_and(|t| t != "application/json" && !t.ends_with("+json"))
    }
}

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
struct CallScope {
    /// What the hooks sent, for errors.
    sent: Mutex<Sent>,
    /// How to rebuild a streamed body for a retry.
    body: Option<Arc<dyn ReplayBody>>,
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
    static CALL: CallScope;
}

/// State the generated client's request hooks read. Cheap to clone.
#[derive(Clone)]
pub struct Hooks(Arc<HookState>);

struct HookState {
    token: Option<HeaderValue>,
    user_agent: Option<HeaderValue>,
    request_timeout: Option<Duration>,
    retry: RetryPolicy,
    signer: Option<Signer>,
    /// The path prefix the base URL carries (e.g. `/platform`); signed paths leave it out.
    base_path: String,
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
struct Signer(Arc<SignFn>);

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Signer(release credential)")
    }
}

/// Signs the exact body bytes about to go on the wire and adds the scheme-2 headers.
fn sign(
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

/// Builds a [`Client`]: token, user agent, timeouts, retry policy.
///
/// ```no_run
/// # fn run() -> wavekat_platform_client::Result<()> {
/// use std::time::Duration;
/// use wavekat_platform_client::{Client, RetryPolicy, Token};
///
/// let client = Client::builder("https://platform.wavekat.com")
///     .token(Token::new("wk_…"))
///     .user_agent("wavekat-cli/0.0.28")
///     .request_timeout(Duration::from_secs(20))
///     .retry_policy(RetryPolicy::none())
///     .build()?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
#[must_use]
pub struct ClientBuilder {
    base_url: String,
    token: Option<Token>,
    user_agent: Option<String>,
    connect_timeout: Duration,
    request_timeout: Option<Duration>,
    read_timeout: Duration,
    retry: RetryPolicy,
    sync_batch_size: usize,
    signer: Option<Signer>,
    allow_insecure_http: bool,
}

impl ClientBuilder {
    fn new(base_url: &str) -> Self {
        ClientBuilder {
            base_url: base_url.trim_end_matches('/').to_owned(),
            token: None,
            user_agent: Some(DEFAULT_USER_AGENT.to_owned()),
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            request_timeout: Some(DEFAULT_REQUEST_TIMEOUT),
            read_timeout: DEFAULT_REQUEST_TIMEOUT,
            retry: RetryPolicy::default(),
            sync_batch_size: crate::sync::SYNC_BATCH_CAP,
            signer: None,
            allow_insecure_http: false,
        }
    }

    /// Allows a plain `http://` base URL to a host that is not loopback, sending the token in
    /// clear across the network. Off by default: `build` refuses such a URL, because anyone on
    /// the path can read and reuse the token. `http://` to `127.0.0.0/8`, `::1` or `localhost`
    /// (a local emulator) needs no opt-in.
    pub fn danger_allow_insecure_http(mut self, allow: bool) -> Self {
        self.allow_insecure_http = allow;
        self
    }

    /// The bearer token sent as `Authorization: Bearer …` on every call. [`build`](Self::build)
    /// refuses an empty token, one with leading or trailing whitespace (trim a token read from a
    /// file or an environment variable: it is not trimmed for you) and one holding a control or
    /// non-ASCII character.
    pub fn token(mut self, token: Token) -> Self {
        self.token = Some(token);
        self
    }

    /// Replaces the default `User-Agent` (`wavekat-platform-client/<version>`), e.g. with
    /// `wavekat-cli/0.0.28`; the platform attributes usage by it.
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.user_agent = Some(user_agent.into());
        self
    }

    /// How long to wait for a TCP/TLS connection (default 10 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Deadline for each API request, response body included (default 30 s). Recording uploads
    /// are exempt and bounded by [`ClientBuilder::read_timeout`] instead.
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = Some(timeout);
        self
    }

    /// Longest wait for any single read from the server (default 30 s); bounds a stalled upload.
    pub fn read_timeout(mut self, timeout: Duration) -> Self {
        self.read_timeout = timeout;
        self
    }

    /// How idempotent calls are retried; [`RetryPolicy::none`] turns retries off.
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// Records per sync request, 1 to [`crate::sync::SYNC_BATCH_CAP`] (default: the cap).
    pub fn sync_batch_size(mut self, size: usize) -> Self {
        self.sync_batch_size = size;
        self
    }

    /// The release credential that signs the spec's release-signed operations (the install
    /// heartbeat). Those carry no bearer token and no user agent, whatever else is set, and are
    /// never retried.
    pub fn release_credential(mut self, credential: ReleaseCredential) -> Self {
        self.signer = Some(Signer(Arc::new(move |request, base_path| {
            sign(request, &credential, base_path)
        })));
        self
    }

    /// Builds the client; fails with [`Error::InvalidInput`], saying what to change, on an
    /// invalid base URL, token (see [`token`](Self::token)) or user agent, on a base URL whose
    /// path ends in `/api` (the base URL is the platform's origin: every route already starts
    /// with `/api/`), and on a plain `http://` URL to a host that is not loopback (see
    /// [`danger_allow_insecure_http`](Self::danger_allow_insecure_http)).
    ///
    /// The client follows no redirects: a 3xx answer is [`Error::Redirect`], naming its target,
    /// so a request (its token, its signed body) is never replayed to a place the caller did
    /// not name, and a redirected `POST` is never reported as done.
    pub fn build(self) -> Result<Client> {
        let url = reqwest::Url::parse(&self.base_url).map_err(|e| {
            Error::InvalidInput(format!("invalid base URL {:?}: {e}", self.base_url))
        })?;
        if !matches!(url.scheme(), "http" | "https") || url.cannot_be_a_base() {
            return Err(Error::InvalidInput(format!(
                "base URL {:?} must be an http(s) URL",
                self.base_url
            )));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(Error::InvalidInput(format!(
                "base URL {:?} must not carry a query or fragment",
                self.base_url
            )));
        }
        refuse_api_suffix(&url, &self.base_url)?;
        crate::plain_http::refuse_plain_http(
            &url,
            self.allow_insecure_http,
            "ClientBuilder::danger_allow_insecure_http",
        )?;
        if !(1..=crate::sync::SYNC_BATCH_CAP).contains(&self.sync_batch_size) {
            return Err(Error::InvalidInput(format!(
                "sync batch size must be 1..={}, got {}",
                crate::sync::SYNC_BATCH_CAP,
                self.sync_batch_size
            )));
        }
        let token = match &self.token {
            Some(token) => Some(bearer_header(token)?),
            None => None,
        };
        let user_agent = match &self.user_agent {
            Some(agent) => Some(HeaderValue::from_str(agent).map_err(|_| {
                Error::InvalidInput(format!("user agent {agent:?} is not a valid header value"))
            })?),
            None => None,
        };
        let http = crate::tls::http_client_builder()?
            .connect_timeout(self.connect_timeout)
            .read_timeout(self.read_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(Error::HttpClient)?;
        let base_path = url.path().trim_end_matches('/').to_owned();
        let hooks = Hooks(Arc::new(HookState {
            token,
            user_agent,
            request_timeout: self.request_timeout,
            retry: self.retry.clone(),
            signer: self.signer,
            base_path,
        }));
        Ok(Client {
            api: generated::Client::new_with_client(&self.base_url, http, hooks),
            sync_batch_size: self.sync_batch_size,
        })
    }
}

/// The `Authorization: Bearer …` value for `token` (marked sensitive), or why the token cannot
/// be one: it is empty, has leading or trailing whitespace, or holds a control or non-ASCII
/// character. Surrounding whitespace is refused, not trimmed: such a token was usually read from
/// a file or an environment variable with its newline, and a silent trim would also hide a file
/// that holds something else. The token is otherwise opaque, and no message shows it.
fn bearer_header(token: &Token) -> Result<HeaderValue> {
    let text = token.expose();
    let problem = if text.is_empty() {
        Some("the token is empty".to_owned())
    } else if text.trim() != text {
        let (end, what) = if text.starts_with(char::is_whitespace) {
            ("starts", "whitespace")
        } else if text.ends_with(['\n', '\r']) {
            ("ends", "a newline")
        } else {
            ("ends", "whitespace")
        };
        Some(format!(
            "the token {end} with {what} (read from a file or an environment variable with its \
             line ending?); trim it before building the client, e.g. Token::new(text.trim())"
        ))
    } else {
        text.char_indices()
            .find(|(_, c)| c.is_control() || !c.is_ascii())
            .map(|(at, _)| {
                format!(
                    "the token holds a control or non-ASCII character (at byte {at} of {}), \
                     which an Authorization header cannot carry as text; pass the token exactly \
                     as the platform issued it",
                    text.len()
                )
            })
    };
    if let Some(problem) = problem {
        return Err(Error::InvalidInput(problem));
    }
    let mut value = HeaderValue::from_str(&format!("Bearer {text}")).map_err(|_| {
        Error::InvalidInput(
            "the token holds bytes not allowed in an HTTP header; pass the token exactly as the \
             platform issued it"
                .into(),
        )
    })?;
    value.set_sensitive(true);
    Ok(value)
}

/// Refuses a base URL whose path ends in `/api` (`https://platform.wavekat.com/api`): every
/// operation's path already begins with `/api/`, so each request would go to `/api/api/…` and
/// answer 404. The base URL is the platform's origin, plus the prefix a proxy mounts it under,
/// if any.
pub(crate) fn refuse_api_suffix(url: &url::Url, shown: &str) -> Result<()> {
    let path = url.path().trim_end_matches('/');
    let Some((kept, tail)) = path
        .len()
        .checked_sub("/api".len())
        .and_then(|at| Some((path.get(..at)?, path.get(at..)?)))
        .filter(|(_, tail)| tail.eq_ignore_ascii_case("/api"))
    else {
        return Ok(());
    };
    let mut without = url.clone();
    without.set_path(kept);
    let shown = shown.trim_end_matches('/');
    Err(Error::InvalidInput(format!(
        "base URL {shown:?} ends in {tail}, but every route already starts with /api/ \
         (requests would go to {shown}/api/me and answer 404); drop the {tail} and use {:?}, the \
         platform's origin",
        without.as_str().trim_end_matches('/')
    )))
}

/// The WaveKat platform client. Cheap to clone: clones share one connection pool.
#[derive(Debug, Clone)]
pub struct Client {
    pub(crate) api: generated::Client,
    pub(crate) sync_batch_size: usize,
}

impl Client {
    /// The default `User-Agent`: `wavekat-platform-client/<crate version>`.
    pub const DEFAULT_USER_AGENT: &'static str = DEFAULT_USER_AGENT;

    /// A client for `base_url` (trailing `/` stripped) that authenticates with `token`, with
    /// default timeouts and retries.
    pub fn new(base_url: &str, token: Token) -> Result<Client> {
        Client::builder(base_url).token(token).build()
    }

    /// A builder for `base_url`, to set the token, user agent, timeouts and retry policy.
    pub fn builder(base_url: &str) -> ClientBuilder {
        ClientBuilder::new(base_url)
    }

    /// The base URL requests go to, without a trailing `/`.
    pub fn base_url(&self) -> &str {
        self.api.baseurl()
    }

    /// The URL of an operation's path template, for errors that have no request of their own.
    pub(crate) fn operation_url(&self, operation_id: &str) -> String {
        let path = operation(operation_id).map_or("", |f| f.path);
        format!("{}{path}", self.base_url())
    }

    /// Runs `call` with the scope its hooks report what they sent into, and settles it: the
    /// call's own success, a 2xx progenitor did not expect (its body read whole when `read` is
    /// set, else the response handed back), or every failure mapped to [`Error`]. Not generic and `#[inline(never)]`: the call
    /// wrappers below are instantiated once per operation, so everything that does not depend on
    /// the response type lives here, compiled once.
    #[inline(never)]
    fn settle<'a>(
        &'a self,
        body: Option<Arc<dyn ReplayBody>>,
        call: BoxFuture<'a, std::result::Result<(), progenitor_client::Error<()>>>,
        read: bool,
    ) -> BoxFuture<'a, Result<Settled>> {
        Box::pin(async move {
            let unsent = || Sent {
                url: self.base_url().to_owned(),
                ..Sent::default()
            };
            let scope = CallScope {
                sent: Mutex::new(unsent()),
                body,
            };
            let (output, sent) = CALL
                .scope(scope, async move {
                    let output = call.await;
                    let sent = CALL
                        .try_with(|s| s.sent.lock().ok().map(|sent| sent.clone()))
                        .ok()
                        .flatten();
                    (output, sent)
                })
                .await;
            let sent = sent.unwrap_or_else(unsent);
            match output {
                Ok(()) => Ok(Settled::Done),
                Err(progenitor_client::Error::UnexpectedResponse(response))
                    if response.status().is_success() =>
                {
                    if read {
                        match response.bytes().await {
                            Ok(bytes) => Ok(Settled::Body(bytes, sent.url)),
                            Err(e) => Err(transport_error(&sent, e)),
                        }
                    } else {
                        Ok(Settled::Response(response))
                    }
                }
                Err(err) => Err(map_error(&sent, err).await),
            }
        })
    }

    /// [`Client::settle`] for a call that answers a value: how it settled, and the value when
    /// the generated call returned one.
    async fn settle_value<T: Send>(
        &self,
        call: impl Future<Output = std::result::Result<ResponseValue<T>, progenitor_client::Error<()>>>
            + Send,
        read: bool,
    ) -> Result<(Settled, Option<T>)> {
        let mut value = None;
        let settled = self
            .settle(
                None,
                Box::pin(async {
                    value = Some(call.await?.into_inner());
                    Ok(())
                }),
                read,
            )
            .await?;
        Ok((settled, value))
    }

    /// Awaits a generated call that answers JSON, mapping every failure to [`Error`].
    pub(crate) async fn call_json<T: DeserializeOwned + Send>(
        &self,
        call: impl Future<Output = std::result::Result<ResponseValue<T>, progenitor_client::Error<()>>>
            + Send,
    ) -> Result<T> {
        match self.settle_value(call, true).await? {
            (Settled::Done, Some(value)) => Ok(value),
            (Settled::Body(bytes, url), _) => {
                serde_json::from_slice(&bytes).map_err(|e| Error::Decode {
                    url,
                    message: e.to_string(),
                })
            }
            _ => Err(no_response()),
        }
    }

    /// Awaits a generated call that answers a non-JSON body, handed over as a stream.
    #[allow(dead_code)]
    pub(crate) async fn call_bytes(
        &self,
        call: impl Future<
                Output = std::result::Result<
                    ResponseValue<progenitor_client::ByteStream>,
                    progenitor_client::Error<()>,
                >,
            > + Send,
    ) -> Result<progenitor_client::ByteStream> {
        match self.settle_value(call, false).await? {
            (Settled::Done, Some(value)) => Ok(value),
            (Settled::Response(response), _) => Ok(progenitor_client::ByteStream::new(Box::pin(
                response.bytes_stream(),
            ))),
            _ => Err(no_response()),
        }
    }

    /// Awaits a generated call whose success body is ignored (any 2xx is success).
    pub(crate) async fn call_unit(
        &self,
        call: impl Future<Output = std::result::Result<ResponseValue<()>, progenitor_client::Error<()>>>
            + Send,
    ) -> Result<()> {
        self.call_unit_replaying(None, call).await
    }

    /// [`Client::call_unit`] for a streamed body that `body` can rebuild for a retry.
    pub(crate) async fn call_unit_replaying(
        &self,
        body: Option<Arc<dyn ReplayBody>>,
        call: impl Future<Output = std::result::Result<ResponseValue<()>, progenitor_client::Error<()>>>
            + Send,
    ) -> Result<()> {
        self.settle(body, Box::pin(async { call.await.map(drop) }), false)
            .await
            .map(drop)
    }

    /// The records per sync request this client sends.
    pub fn sync_batch_size(&self) -> usize {
        self.sync_batch_size
    }
}

/// How [`Client::settle`] ended a call that did not fail.
enum Settled {
    /// The generated call returned its value.
    Done,
    /// A 2xx status the spec does not list: its whole body, and the request URL.
    Body(bytes::Bytes, String),
    /// A 2xx status the spec does not list, its body unread.
    Response(reqwest::Response),
}

/// A generated call that settled as done without handing over its value (it cannot: the value
/// is stored before the call returns `Ok`).
fn no_response() -> Error {
    Error::InvalidInput("the generated call ended without a response".into())
}

fn transport_error(sent: &Sent, err: reqwest::Error) -> Error {
    let url = sent.url.clone();
    let attempts = sent.attempts.max(1);
    if err.is_timeout() {
        Error::Timeout { url, attempts }
    } else {
        Error::Network {
            url,
            attempts,
            transport: err.without_url(),
        }
    }
}

/// Maps a generated client's error to [`Error`], reading at most 64 KiB of an error body.
pub(crate) async fn map_error(sent: &Sent, err: progenitor_client::Error<()>) -> Error {
    use progenitor_client::Error as E;
    match err {
        E::CommunicationError(e) | E::ResponseBodyError(e) | E::InvalidUpgrade(e) => {
            transport_error(sent, e)
        }
        E::InvalidResponsePayload(_, e) => Error::Decode {
            url: sent.url.clone(),
            message: e.to_string(),
        },
        E::InvalidRequest(message) | E::Custom(message) => Error::InvalidInput(message),
        E::ErrorResponse(value) => {
            let location = location_of(value.headers());
            status_error(sent, value.status().as_u16(), None, location, b"")
        }
        E::UnexpectedResponse(response) => error_from_response(sent, response).await,
    }
}

/// Classifies a non-success response: 401 (`reauth_required` matched as a substring, because a
/// proxy may answer in HTML), other statuses with their body cut to 500 bytes.
async fn error_from_response(sent: &Sent, mut response: reqwest::Response) -> Error {
    let status = response.status().as_u16();
    let retry_after = retry::retry_after(response.headers());
    let location = location_of(response.headers());
    let mut body = Vec::new();
    while body.len() < ERROR_BODY_READ_LIMIT {
        match response.chunk().await {
            Ok(Some(chunk)) => body.extend_from_slice(&chunk),
            Ok(None) | Err(_) => break,
        }
    }
    status_error(sent, status, retry_after, location, &body)
}

/// A response's `Location`, as text (invalid bytes replaced), cut to [`crate::ERROR_BODY_LIMIT`].
fn location_of(headers: &reqwest::header::HeaderMap) -> Option<String> {
    headers
        .get(reqwest::header::LOCATION)
        .map(|value| truncate_body(value.as_bytes()))
}

/// Whether `body` holds `needle` anywhere (bytes, not parsed: a proxy may answer in HTML).
fn mentions(body: &[u8], needle: &[u8]) -> bool {
    body.windows(needle.len()).any(|w| w == needle)
}

fn status_error(
    sent: &Sent,
    status: u16,
    retry_after: Option<Duration>,
    location: Option<String>,
    body: &[u8],
) -> Error {
    let url = sent.url.clone();
    if (300..400).contains(&status) {
        return Error::Redirect {
            status,
            url,
            location,
        };
    }
    if status == 401 {
        if sent.release_signed {
            return Error::SignatureRefused {
                url,
                body: truncate_body(body),
            };
        }
        if mentions(body, b"reauth_required") {
            return Error::ReauthRequired { url };
        }
        if sent.needs_token && !sent.token_sent {
            return Error::TokenMissing {
                url,
                stripped: false,
            };
        }
        if sent.token_sent && mentions(body, b"missing Authorization header") {
            return Error::TokenMissing {
                url,
                stripped: true,
            };
        }
        return Error::Unauthorized {
            url,
            body: truncate_body(body),
        };
    }
    Error::Http {
        status,
        url,
        body: truncate_body(body),
        retry_after,
    }
}
