//! [`ClientBuilder`]: the token, user agent, timeouts, retry policy and release credential, and
//! the checks that refuse a token or base URL which cannot work.

use std::sync::Arc;
use std::time::Duration;

use reqwest::header::HeaderValue;

use super::hooks::sign;
use super::hooks::{HookState, Hooks, Signer};
use super::{Client, DEFAULT_CONNECT_TIMEOUT, DEFAULT_REQUEST_TIMEOUT, DEFAULT_USER_AGENT};
use crate::error::{Error, Result};
use crate::generated;
use crate::retry::RetryPolicy;
use crate::signing::ReleaseCredential;
use crate::token::Token;

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
    pub(super) fn new(base_url: &str) -> Self {
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
