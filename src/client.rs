//! The platform client: bearer auth, batched sync, listing, recording upload, retries.
//!
//! Every call goes through the generated progenitor client in [`crate::generated`]; the
//! cross-cutting behaviour (auth header, user agent, per-request timeout, request signing,
//! retries, tracing) lives once, in the [`ClientHooks`] implementation below.
//!
//! ```no_run
//! # async fn run() -> wavekat_platform_client::Result<()> {
//! use wavekat_platform_client::{Client, Token, VoiceCalls, VoiceCallsQuery};
//!
//! let client = Client::new("https://platform.wavekat.com", Token::new("wk_…"))?;
//! let me = client.whoami().await?;
//! let page = client.list::<VoiceCalls>(&VoiceCallsQuery::default()).await?;
//! println!("{} has {} recent calls", me.login, page.items.len());
//! # Ok(()) }
//! ```

use std::fmt;
use std::future::Future;
use std::sync::Arc;
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
use crate::wire::Me;

/// The default `User-Agent`: `wavekat-platform-client/<crate version>`.
pub const DEFAULT_USER_AGENT: &str = concat!("wavekat-platform-client/", env!("CARGO_PKG_VERSION"));

const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Bytes of an error body read to classify it (the kept part is cut to 500 bytes).
const ERROR_BODY_READ_LIMIT: usize = 64 * 1024;

/// Operations that are safe to send twice: reads, upserts keyed by `sourceId`, and the bytes PUT.
fn is_idempotent(operation_id: &str) -> bool {
    matches!(
        operation_id,
        "get_me"
            | "list_voice_calls"
            | "list_voice_recordings"
            | "list_voice_transcripts"
            | "list_voice_accounts"
            | "sync_voice_calls"
            | "sync_voice_recordings"
            | "sync_voice_transcripts"
            | "sync_voice_accounts"
            | "upload_recording_bytes"
    )
}

/// State the generated client's request hooks read. Cheap to clone.
#[derive(Clone)]
pub struct Hooks(Arc<HookState>);

struct HookState {
    token: Option<HeaderValue>,
    user_agent: Option<HeaderValue>,
    request_timeout: Option<Duration>,
    retry: RetryPolicy,
    signer: Option<ReleaseCredential>,
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

impl ClientHooks<Hooks> for generated::Client {
    async fn pre<E>(
        &self,
        request: &mut reqwest::Request,
        info: &OperationInfo,
    ) -> std::result::Result<(), progenitor_client::Error<E>> {
        let state = &self.inner().0;
        let headers = request.headers_mut();
        // progenitor stamps the spec's info.version on every call; the platform never sent or
        // read it, so it stays off the wire.
        headers.remove("api-version");
        if let Some(token) = &state.token {
            headers.insert(AUTHORIZATION, token.clone());
        }
        if let Some(agent) = &state.user_agent {
            headers.insert(USER_AGENT, agent.clone());
        }
        if info.operation_id == "upload_recording_bytes" {
            headers.insert(CONTENT_TYPE, HeaderValue::from_static("audio/wav"));
        } else if let Some(timeout) = state.request_timeout {
            // Uploads are bounded by the read timeout instead: a 1 GiB body must not hit a
            // whole-request deadline.
            *request.timeout_mut() = Some(timeout);
        }
        if info.operation_id == "install_heartbeat" {
            if let Some(credential) = &state.signer {
                sign(request, credential, &state.base_path)
                    .map_err(progenitor_client::Error::Custom)?;
            }
        }
        Ok(())
    }

    async fn exec(
        &self,
        request: reqwest::Request,
        info: &OperationInfo,
    ) -> reqwest::Result<reqwest::Response> {
        let policy = &self.inner().0.retry;
        let span = tracing::debug_span!(
            "wavekat.request",
            method = %request.method(),
            path = %request.url().path(),
            operation = info.operation_id,
            status = tracing::field::Empty,
            attempt = tracing::field::Empty,
        );
        execute_with_retries(self.client(), request, info.operation_id, policy, &span)
            .instrument(span.clone())
            .await
    }
}

/// Sends `request`, retrying idempotent operations as `policy` allows. Requests whose body cannot
/// be replayed (streams) are sent once; their callers retry with a fresh body.
async fn execute_with_retries(
    client: &reqwest::Client,
    mut request: reqwest::Request,
    operation_id: &str,
    policy: &RetryPolicy,
    span: &tracing::Span,
) -> reqwest::Result<reqwest::Response> {
    let started = Instant::now();
    let idempotent = is_idempotent(operation_id);
    let mut attempt: u32 = 1;
    loop {
        span.record("attempt", attempt);
        let replay = if idempotent && attempt < policy.max_attempts {
            request.try_clone()
        } else {
            None
        };
        let result = client.execute(request).await;
        let retry_after = match &result {
            Ok(response) => {
                let status = response.status().as_u16();
                span.record("status", status);
                if !retry::is_retryable_status(status) {
                    return result;
                }
                retry::retry_after(response.headers())
            }
            Err(err) if retry::is_retryable_transport(err) => None,
            Err(_) => return result,
        };
        let Some(next) = replay else {
            return result;
        };
        let wait = policy.delay(attempt, retry_after);
        if started.elapsed() + wait > policy.max_elapsed {
            return result;
        }
        match &result {
            Ok(response) => tracing::debug!(status = response.status().as_u16(), ?wait, "retrying"),
            Err(err) => tracing::debug!(error = %err, ?wait, "retrying"),
        }
        tokio::time::sleep(wait).await;
        request = next;
        attempt += 1;
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
    signer: Option<ReleaseCredential>,
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
            sync_batch_size: crate::SYNC_BATCH_CAP,
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

    /// The bearer token sent as `Authorization: Bearer …` on every call.
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

    /// Records per sync request, 1 to [`crate::SYNC_BATCH_CAP`] (default: the cap).
    pub fn sync_batch_size(mut self, size: usize) -> Self {
        self.sync_batch_size = size;
        self
    }

    pub(crate) fn signer(mut self, credential: ReleaseCredential) -> Self {
        self.signer = Some(credential);
        self
    }

    pub(crate) fn without_user_agent(mut self) -> Self {
        self.user_agent = None;
        self
    }

    /// Builds the client; fails on an invalid base URL, token or user agent, and on a plain
    /// `http://` URL to a host that is not loopback (see
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
        crate::plain_http::refuse_plain_http(
            &url,
            self.allow_insecure_http,
            "ClientBuilder::danger_allow_insecure_http",
        )?;
        if !(1..=crate::SYNC_BATCH_CAP).contains(&self.sync_batch_size) {
            return Err(Error::InvalidInput(format!(
                "sync batch size must be 1..={}, got {}",
                crate::SYNC_BATCH_CAP,
                self.sync_batch_size
            )));
        }
        let token = match &self.token {
            Some(token) => {
                let mut value = HeaderValue::from_str(&format!("Bearer {}", token.expose()))
                    .map_err(|_| {
                        Error::InvalidInput(
                            "the token contains bytes not allowed in an HTTP header".into(),
                        )
                    })?;
                value.set_sensitive(true);
                Some(value)
            }
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
            .map_err(|source| Error::Network {
                url: self.base_url.clone(),
                source,
            })?;
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
            retry: self.retry,
            sync_batch_size: self.sync_batch_size,
        })
    }
}

/// The WaveKat platform client. Cheap to clone: clones share one connection pool.
#[derive(Debug, Clone)]
pub struct Client {
    pub(crate) api: generated::Client,
    pub(crate) retry: RetryPolicy,
    pub(crate) sync_batch_size: usize,
}

impl Client {
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

    /// `GET /api/me`: the signed-in user. The canonical "is this token alive" check.
    pub async fn whoami(&self) -> Result<Me> {
        self.json("/api/me", self.api.get_me()).await
    }

    /// `POST /api/auth/cli/tokens/revoke-current`: revokes this client's token. Afterwards every
    /// call with it fails with [`Error::Unauthorized`]; discard it.
    pub async fn revoke_current_token(&self) -> Result<()> {
        self.unit(
            "/api/auth/cli/tokens/revoke-current",
            self.api.revoke_current_token(),
        )
        .await
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url())
    }

    /// Awaits a generated call that answers JSON, mapping every failure to [`Error`].
    pub(crate) async fn json<T: DeserializeOwned>(
        &self,
        path: &str,
        call: impl Future<Output = std::result::Result<ResponseValue<T>, progenitor_client::Error<()>>>,
    ) -> Result<T> {
        match call.await {
            Ok(value) => Ok(value.into_inner()),
            Err(progenitor_client::Error::UnexpectedResponse(response))
                if response.status().is_success() =>
            {
                let url = self.url(path);
                let bytes = response
                    .bytes()
                    .await
                    .map_err(|e| transport_error(&url, e))?;
                serde_json::from_slice(&bytes).map_err(|e| Error::Decode {
                    url,
                    message: e.to_string(),
                })
            }
            Err(err) => Err(map_error(&self.url(path), err).await),
        }
    }

    /// Awaits a generated call whose success body is ignored (any 2xx is success).
    pub(crate) async fn unit(
        &self,
        path: &str,
        call: impl Future<Output = std::result::Result<ResponseValue<()>, progenitor_client::Error<()>>>,
    ) -> Result<()> {
        match call.await {
            Ok(_) => Ok(()),
            Err(progenitor_client::Error::UnexpectedResponse(response))
                if response.status().is_success() =>
            {
                Ok(())
            }
            Err(err) => Err(map_error(&self.url(path), err).await),
        }
    }

    /// The records per sync request this client sends.
    pub fn sync_batch_size(&self) -> usize {
        self.sync_batch_size
    }
}

fn transport_error(url: &str, err: reqwest::Error) -> Error {
    if err.is_timeout() {
        Error::Timeout {
            url: url.to_owned(),
        }
    } else {
        Error::Network {
            url: url.to_owned(),
            source: err.without_url(),
        }
    }
}

/// Maps a generated client's error to [`Error`], reading at most 64 KiB of an error body.
pub(crate) async fn map_error(url: &str, err: progenitor_client::Error<()>) -> Error {
    use progenitor_client::Error as E;
    match err {
        E::CommunicationError(e) | E::ResponseBodyError(e) | E::InvalidUpgrade(e) => {
            transport_error(url, e)
        }
        E::InvalidResponsePayload(_, e) => Error::Decode {
            url: url.to_owned(),
            message: e.to_string(),
        },
        E::InvalidRequest(message) | E::Custom(message) => Error::InvalidInput(message),
        E::ErrorResponse(value) => {
            let location = location_of(value.headers());
            status_error(url, value.status().as_u16(), None, location, b"")
        }
        E::UnexpectedResponse(response) => error_from_response(url, response).await,
    }
}

/// Classifies a non-success response: 401 (`reauth_required` matched as a substring, because a
/// proxy may answer in HTML), other statuses with their body cut to 500 bytes.
pub(crate) async fn error_from_response(url: &str, mut response: reqwest::Response) -> Error {
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
    status_error(url, status, retry_after, location, &body)
}

/// A response's `Location`, as text (invalid bytes replaced), cut to [`crate::ERROR_BODY_LIMIT`].
fn location_of(headers: &reqwest::header::HeaderMap) -> Option<String> {
    headers
        .get(reqwest::header::LOCATION)
        .map(|value| truncate_body(value.as_bytes()))
}

fn status_error(
    url: &str,
    status: u16,
    retry_after: Option<Duration>,
    location: Option<String>,
    body: &[u8],
) -> Error {
    let url = url.to_owned();
    if (300..400).contains(&status) {
        return Error::Redirect {
            status,
            url,
            location,
        };
    }
    if status == 401 {
        if body
            .windows(b"reauth_required".len())
            .any(|w| w == b"reauth_required")
        {
            return Error::ReauthRequired { url };
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
