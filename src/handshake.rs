//! Browser sign-in: a loopback listener on `127.0.0.1` that catches the platform's redirect, plus
//! the headless helpers (the one-time-code URL and the pasted-redirect fallback).
//!
//! [`loopback_handshake`] binds the listener and builds the `/cli-login` URL; the caller opens the
//! URL however it likes (this crate never opens a browser and never touches disk) and awaits
//! [`PendingHandshake::wait`]. The listener accepts asynchronously, serves every connection in its
//! own task under a read deadline, a header-size cap and a connection cap, and closes as soon as
//! the sign-in has an outcome, times out, is cancelled, or the [`PendingHandshake`] is dropped.
//!
//! When the browser runs on another machine, [`code_login`] builds the one-time-code URL, and
//! [`PendingHandshake::complete_from_redirect`] accepts the final redirect URL pasted by the user;
//! whichever path decides first wins, exactly once.

use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use rand_core::{OsRng, RngCore};
use subtle::ConstantTimeEq;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{oneshot, watch, OwnedSemaphorePermit, Semaphore};
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::token::Token;

/// `client` sent when the caller names none.
const DEFAULT_CLIENT: &str = "wavekat-platform-client";
/// `source` sent when no hostname can be found.
const UNKNOWN_HOST: &str = "unknown-host";
/// The only path whose `GET` counts as the platform's redirect.
const CALLBACK_PATH: &str = "/callback";
/// Bytes of OS randomness in a loopback `state` (base64url without padding: 32 characters).
const STATE_BYTES: usize = 24;
/// Characters in a code-flow `state`.
const CODE_STATE_LEN: usize = 32;
/// After answering, how long a connection keeps reading (and discarding) what the client still
/// sends, so closing with unread input does not reset the connection before the answer is read.
const LINGER: Duration = Duration::from_millis(500);
/// Most bytes discarded while lingering.
const LINGER_BYTES: usize = 1 << 20;
/// Size of one socket read while collecting a request head.
const READ_CHUNK: usize = 1024;

/// Settings for [`loopback_handshake`].
///
/// Start from [`HandshakeOptions::default`] and adjust with the setters (or the public fields).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct HandshakeOptions {
    /// Short app identifier sent as `client`, shown as the consent-screen title and in the user's
    /// "Active sessions" list. Default `wavekat-platform-client`.
    pub client: String,
    /// Origin label sent as `source`, shown as "from <source>". `None` (the default) sends the
    /// machine's hostname (env `HOSTNAME`, else the `hostname` command on Unix or `COMPUTERNAME`
    /// on Windows, else `unknown-host`); `Some("")` omits the parameter.
    pub source: Option<String>,
    /// How long [`PendingHandshake::wait`] waits for an outcome. Default 300 s.
    pub timeout: Duration,
    /// A fixed loopback port to listen on. `None` or `Some(0)` (the default) takes an ephemeral
    /// port from the OS.
    pub port: Option<u16>,
    /// Cap on a request's line plus headers, in bytes. Larger requests are answered 431 and the
    /// sign-in keeps waiting. Default 8192.
    pub max_header_bytes: usize,
    /// Deadline for a connection to deliver its whole request head (not per read). A slower
    /// client is answered 408 and dropped. Default 5 s.
    pub read_timeout: Duration,
    /// Deadline for writing an answer. Default 5 s.
    pub write_timeout: Duration,
    /// Connections served at once; further ones are closed as soon as they are accepted while the
    /// listener keeps accepting. Default 256.
    pub max_connections: usize,
}

impl Default for HandshakeOptions {
    fn default() -> Self {
        HandshakeOptions {
            client: DEFAULT_CLIENT.to_owned(),
            source: None,
            timeout: Duration::from_secs(300),
            port: None,
            max_header_bytes: 8192,
            read_timeout: Duration::from_secs(5),
            write_timeout: Duration::from_secs(5),
            max_connections: 256,
        }
    }
}

impl HandshakeOptions {
    /// Sets the `client` identifier (e.g. `wavekat-voice`).
    pub fn client(mut self, client: impl Into<String>) -> Self {
        self.client = client.into();
        self
    }

    /// Sets the `source` label instead of the hostname; an empty string omits it.
    pub fn source(mut self, source: impl Into<String>) -> Self {
        self.source = Some(source.into());
        self
    }

    /// Sends no `source` at all (the platform then shows no "from" line).
    pub fn without_source(mut self) -> Self {
        self.source = Some(String::new());
        self
    }

    /// Sets how long [`PendingHandshake::wait`] waits.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Listens on this loopback port instead of an ephemeral one.
    pub fn port(mut self, port: u16) -> Self {
        self.port = Some(port);
        self
    }

    /// Sets the cap on a request's line plus headers, in bytes.
    pub fn max_header_bytes(mut self, bytes: usize) -> Self {
        self.max_header_bytes = bytes;
        self
    }

    /// Sets the deadline for a connection's whole request head.
    pub fn read_timeout(mut self, timeout: Duration) -> Self {
        self.read_timeout = timeout;
        self
    }

    /// Sets the deadline for writing an answer.
    pub fn write_timeout(mut self, timeout: Duration) -> Self {
        self.write_timeout = timeout;
        self
    }

    /// Sets how many connections are served at once.
    pub fn max_connections(mut self, connections: usize) -> Self {
        self.max_connections = connections;
        self
    }
}

/// A completed sign-in.
///
/// `Debug` never shows the token (see [`Token`]).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct HandshakeOutcome {
    /// The bearer token the platform minted.
    pub token: Token,
    /// The user's login as echoed by the platform, so a caller can skip a `/api/me` round-trip;
    /// `None` when the platform did not send it (older platforms).
    pub login: Option<String>,
}

/// How a sign-in ended, as delivered to [`PendingHandshake::wait`].
type Verdict = Result<HandshakeOutcome>;

/// Per-connection limits copied out of [`HandshakeOptions`].
#[derive(Debug, Clone, Copy)]
struct Limits {
    max_header_bytes: usize,
    read_timeout: Duration,
    write_timeout: Duration,
    max_connections: usize,
}

/// What the listener, the pasted-redirect path, the timeout and cancellation share.
struct Shared {
    state: String,
    callback_url: String,
    port: u16,
    /// The right to decide the outcome; whoever takes the sender decides, exactly once.
    decider: Mutex<Option<oneshot::Sender<Verdict>>>,
}

impl Shared {
    /// Takes the right to decide the outcome; `None` when another path already decided.
    fn claim(&self) -> Option<oneshot::Sender<Verdict>> {
        match self.decider.lock() {
            Ok(mut decider) => decider.take(),
            Err(poisoned) => poisoned.into_inner().take(),
        }
    }

    /// Decides the outcome if no other path has; returns whether this call decided it.
    fn finish(&self, verdict: Verdict) -> bool {
        match self.claim() {
            Some(decider) => {
                // A send error means nobody waits any more (the handshake was dropped): the
                // verdict has no one to go to.
                let _ = decider.send(verdict);
                true
            }
            None => false,
        }
    }

    fn complete_from_redirect(&self, pasted_url: &str) -> Result<HandshakeOutcome> {
        let query = callback_query(pasted_url.trim(), self.port, &self.callback_url)?;
        let (for_wait, for_caller) = match classify(&query, &self.state) {
            Callback::MissingToken => {
                return Err(Error::InvalidInput(
                    "the pasted callback URL has no `token` parameter".to_owned(),
                ))
            }
            Callback::Signed(outcome) => (Ok(outcome.clone()), Ok(outcome)),
            Callback::Cancelled(reason) => (
                Err(Error::HandshakeCancelled {
                    reason: reason.clone(),
                }),
                Err(Error::HandshakeCancelled { reason }),
            ),
            Callback::StateMismatch => (
                Err(Error::HandshakeStateMismatch),
                Err(Error::HandshakeStateMismatch),
            ),
        };
        let Some(decider) = self.claim() else {
            return Err(already_finished());
        };
        // A send error means nobody waits any more; the caller still gets the outcome.
        let _ = decider.send(for_wait);
        for_caller
    }
}

/// A sign-in in progress: the URL to open, and the loopback listener waiting for the redirect.
///
/// The listener is bound when this is created; connections are served while
/// [`wait`](Self::wait) runs (a redirect that arrives earlier waits in the OS backlog). Dropping
/// this value (or the `wait` future) closes the listener at once and ends the sign-in.
pub struct PendingHandshake {
    url: String,
    shared: Arc<Shared>,
    listener: Option<TcpListener>,
    verdict: Option<oneshot::Receiver<Verdict>>,
    timeout: Duration,
    limits: Limits,
}

impl fmt::Debug for PendingHandshake {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PendingHandshake")
            .field("url", &self.url)
            .field("callback_url", &self.shared.callback_url)
            .field("listening", &self.listener.is_some())
            .finish_non_exhaustive()
    }
}

impl PendingHandshake {
    /// The sign-in URL to open in the user's browser.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The CSRF `state` this sign-in generated (32 URL-safe base64 characters).
    pub fn state(&self) -> &str {
        &self.shared.state
    }

    /// The loopback URL the platform redirects to: `http://127.0.0.1:<port>/callback`.
    pub fn callback_url(&self) -> &str {
        &self.shared.callback_url
    }

    /// A cloneable handle that can cancel or complete this sign-in while [`wait`](Self::wait)
    /// runs.
    pub fn handle(&self) -> HandshakeHandle {
        HandshakeHandle {
            shared: Arc::clone(&self.shared),
        }
    }

    /// Cancels the sign-in and closes the listener now; [`wait`](Self::wait) then returns
    /// [`Error::HandshakeAborted`]. Does nothing to an outcome already decided.
    pub fn cancel(&mut self) {
        self.shared.finish(Err(Error::HandshakeAborted));
        self.listener = None;
    }

    /// Completes the sign-in from the final redirect URL the user pasted, for when the browser
    /// ran on another machine and could not reach this listener.
    ///
    /// Expects `http://127.0.0.1:<port>/callback?token=…&state=…[&login=…]` or
    /// `…?error=…&state=…` (surrounding whitespace is ignored). The `state` is checked first, in
    /// constant time. A running or later [`wait`](Self::wait) resolves with the same outcome.
    ///
    /// # Errors
    /// - [`Error::InvalidInput`] when the text is not this sign-in's callback URL or has no
    ///   `token`; the sign-in keeps waiting, so the user may paste again. Also when the sign-in
    ///   already has an outcome.
    /// - [`Error::HandshakeStateMismatch`] when `state` is missing or wrong (the sign-in ends).
    /// - [`Error::HandshakeCancelled`] when the URL carries `error=` (the sign-in ends).
    pub fn complete_from_redirect(&self, pasted_url: &str) -> Result<HandshakeOutcome> {
        self.shared.complete_from_redirect(pasted_url)
    }

    /// Serves the loopback listener until the sign-in has an outcome, then closes it.
    ///
    /// The timeout runs from this call.
    ///
    /// # Errors
    /// [`Error::HandshakeTimeout`], [`Error::HandshakeCancelled`] (with the platform's reason),
    /// [`Error::HandshakeStateMismatch`], [`Error::HandshakeAborted`] (cancelled through
    /// [`cancel`](Self::cancel) or a [`HandshakeHandle`]), or [`Error::Io`] when the listener
    /// itself fails.
    pub async fn wait(mut self) -> Result<HandshakeOutcome> {
        let Some(mut verdict) = self.verdict.take() else {
            return Err(Error::HandshakeAborted);
        };
        let Some(listener) = self.listener.take() else {
            return verdict.await.unwrap_or(Err(Error::HandshakeAborted));
        };
        let shared = Arc::clone(&self.shared);
        let limits = self.limits;
        let permits = Arc::new(Semaphore::new(
            limits.max_connections.min(Semaphore::MAX_PERMITS),
        ));
        // Dropping `_stop` (when this future ends or is dropped) tells connection tasks still
        // reading a request head to give up.
        let (_stop, stop) = watch::channel(());
        let deadline = tokio::time::sleep(self.timeout);
        tokio::pin!(deadline);

        loop {
            tokio::select! {
                biased;
                decided = &mut verdict => {
                    return decided.unwrap_or(Err(Error::HandshakeAborted));
                }
                () = &mut deadline => {
                    shared.finish(Err(Error::HandshakeTimeout));
                    return verdict.await.unwrap_or(Err(Error::HandshakeAborted));
                }
                accepted = listener.accept() => match accepted {
                    Ok((stream, _peer)) => match Arc::clone(&permits).try_acquire_owned() {
                        Ok(permit) => {
                            tokio::spawn(serve_connection(
                                stream,
                                Arc::clone(&shared),
                                limits,
                                stop.clone(),
                                permit,
                            ));
                        }
                        Err(_) => {
                            tracing::debug!(
                                max_connections = limits.max_connections,
                                "sign-in listener at its connection cap; closing a new connection"
                            );
                            drop(stream);
                        }
                    },
                    Err(error) if is_per_connection(&error) => {
                        tracing::debug!(kind = ?error.kind(), "sign-in listener: accept failed for one connection");
                    }
                    Err(error) => {
                        shared.finish(Err(Error::Io(error)));
                        return verdict.await.unwrap_or(Err(Error::HandshakeAborted));
                    }
                },
            }
        }
    }
}

impl Drop for PendingHandshake {
    fn drop(&mut self) {
        self.shared.finish(Err(Error::HandshakeAborted));
    }
}

/// A cloneable handle on a [`PendingHandshake`], usable while its [`wait`](PendingHandshake::wait)
/// runs (from another task, a Ctrl-C handler, a "paste the URL" prompt).
#[derive(Clone)]
pub struct HandshakeHandle {
    shared: Arc<Shared>,
}

impl fmt::Debug for HandshakeHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HandshakeHandle")
            .field("callback_url", &self.shared.callback_url)
            .finish_non_exhaustive()
    }
}

impl HandshakeHandle {
    /// Cancels the sign-in: the running (or next) `wait` returns [`Error::HandshakeAborted`] and
    /// the listener closes. Returns `false` when the sign-in already had an outcome.
    pub fn abort(&self) -> bool {
        self.shared.finish(Err(Error::HandshakeAborted))
    }

    /// Same as [`PendingHandshake::complete_from_redirect`].
    ///
    /// # Errors
    /// As [`PendingHandshake::complete_from_redirect`].
    pub fn complete_from_redirect(&self, pasted_url: &str) -> Result<HandshakeOutcome> {
        self.shared.complete_from_redirect(pasted_url)
    }
}

/// Binds the loopback listener on `127.0.0.1` and builds the platform sign-in URL.
///
/// The URL is `<base>/cli-login?callback=…&state=…&client=…[&source=…]`, form-urlencoded, with
/// every trailing `/` of `base_url` stripped. Nothing is served until
/// [`PendingHandshake::wait`] runs.
///
/// ```no_run
/// # async fn sign_in() -> Result<(), wavekat_platform_client::Error> {
/// use wavekat_platform_client::handshake::{loopback_handshake, HandshakeOptions};
///
/// let options = HandshakeOptions::default().client("wavekat-voice");
/// let pending = loopback_handshake("https://platform.wavekat.com", options).await?;
/// println!("Open {} to sign in", pending.url());
/// let outcome = pending.wait().await?;
/// // Store `outcome.token.expose()` wherever the app keeps secrets.
/// # Ok(())
/// # }
/// ```
///
/// # Errors
/// [`Error::InvalidInput`] for a `base_url` that is not an absolute `http(s)` URL or a zero
/// limit in `options`; [`Error::Io`] when the port cannot be bound or the OS random source fails.
pub async fn loopback_handshake(
    base_url: &str,
    options: HandshakeOptions,
) -> Result<PendingHandshake> {
    let base = checked_base(base_url)?;
    let limits = checked_limits(&options)?;
    let state = random_state()?;
    let source = match options.source {
        Some(source) => source,
        None => tokio::task::spawn_blocking(default_source)
            .await
            .unwrap_or_else(|_| UNKNOWN_HOST.to_owned()),
    };

    let listener = TcpListener::bind(SocketAddr::from((
        Ipv4Addr::LOCALHOST,
        options.port.unwrap_or(0),
    )))
    .await?;
    let port = listener.local_addr()?.port();
    let callback_url = format!("http://127.0.0.1:{port}{CALLBACK_PATH}");

    let mut query = url::form_urlencoded::Serializer::new(String::new());
    query
        .append_pair("callback", &callback_url)
        .append_pair("state", &state)
        .append_pair("client", &options.client);
    if !source.is_empty() {
        query.append_pair("source", &source);
    }
    let url = format!("{base}/cli-login?{}", query.finish());

    let (decider, verdict) = oneshot::channel();
    Ok(PendingHandshake {
        url,
        shared: Arc::new(Shared {
            state,
            callback_url,
            port,
            decider: Mutex::new(Some(decider)),
        }),
        listener: Some(listener),
        verdict: Some(verdict),
        timeout: options.timeout,
        limits,
    })
}

/// Settings for [`code_login`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct CodeLoginOptions {
    /// Short app identifier sent as `client`. Default `wavekat-platform-client` (the CLI sends
    /// `wavekat-cli`).
    pub client: String,
    /// Origin label sent as `source`; `None` (the default) sends the hostname as in
    /// [`HandshakeOptions::source`], `Some("")` omits it.
    pub source: Option<String>,
}

impl Default for CodeLoginOptions {
    fn default() -> Self {
        CodeLoginOptions {
            client: DEFAULT_CLIENT.to_owned(),
            source: None,
        }
    }
}

impl CodeLoginOptions {
    /// Sets the `client` identifier.
    pub fn client(mut self, client: impl Into<String>) -> Self {
        self.client = client.into();
        self
    }

    /// Sets the `source` label instead of the hostname; an empty string omits it.
    pub fn source(mut self, source: impl Into<String>) -> Self {
        self.source = Some(source.into());
        self
    }

    /// Sends no `source` at all.
    pub fn without_source(mut self) -> Self {
        self.source = Some(String::new());
        self
    }
}

/// A headless sign-in: the user opens [`url`](Self::url) on any machine, signs in, and is shown a
/// one-time code to type back; the code is exchanged together with [`state`](Self::state).
#[derive(Debug, Clone)]
pub struct CodeLogin {
    base_url: String,
    url: String,
    state: String,
}

impl CodeLogin {
    /// The sign-in URL to show the user.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The 32-character alphanumeric `state` to send with the code.
    pub fn state(&self) -> &str {
        &self.state
    }

    /// The platform base URL, trailing `/` stripped, that the code is exchanged against.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }
}

// ---------------------------------------------------------------------------------------------
// CodeLogin: the code exchange (`POST /api/auth/cli/codes/exchange`, §6.2) is wired here by the
// lead through the generated client, in its own `impl CodeLogin` block. Not written in this file.
// ---------------------------------------------------------------------------------------------

/// Builds the headless one-time-code sign-in URL:
/// `<base>/cli-login?mode=code&state=<32 alphanumerics>&client=<client>[&source=<host>]`.
///
/// No listener is bound. When `source` is unset and `HOSTNAME` is not set, this runs the
/// `hostname` command (a brief blocking call).
///
/// # Errors
/// [`Error::InvalidInput`] for a `base_url` that is not an absolute `http(s)` URL;
/// [`Error::Io`] when the OS random source fails.
pub fn code_login(base_url: &str, options: CodeLoginOptions) -> Result<CodeLogin> {
    let base = checked_base(base_url)?;
    let state = random_alphanumeric(CODE_STATE_LEN)?;
    let source = options.source.unwrap_or_else(default_source);

    let mut query = url::form_urlencoded::Serializer::new(String::new());
    query
        .append_pair("mode", "code")
        .append_pair("state", &state)
        .append_pair("client", &options.client);
    if !source.is_empty() {
        query.append_pair("source", &source);
    }
    let url = format!("{base}/cli-login?{}", query.finish());
    Ok(CodeLogin {
        base_url: base.to_owned(),
        url,
        state,
    })
}

/// `base_url` with every trailing `/` stripped, once it is known to be an absolute http(s) URL.
fn checked_base(base_url: &str) -> Result<&str> {
    let base = base_url.trim_end_matches('/');
    match url::Url::parse(base) {
        Ok(parsed) if matches!(parsed.scheme(), "http" | "https") && parsed.has_host() => Ok(base),
        _ => Err(Error::InvalidInput(
            "base_url must be an absolute http(s) URL such as https://platform.wavekat.com"
                .to_owned(),
        )),
    }
}

fn checked_limits(options: &HandshakeOptions) -> Result<Limits> {
    let zero =
        |field: &str| Error::InvalidInput(format!("HandshakeOptions::{field} must not be 0"));
    if options.max_connections == 0 {
        return Err(zero("max_connections"));
    }
    if options.max_header_bytes == 0 {
        return Err(zero("max_header_bytes"));
    }
    if options.read_timeout.is_zero() {
        return Err(zero("read_timeout"));
    }
    if options.write_timeout.is_zero() {
        return Err(zero("write_timeout"));
    }
    Ok(Limits {
        max_header_bytes: options.max_header_bytes,
        read_timeout: options.read_timeout,
        write_timeout: options.write_timeout,
        max_connections: options.max_connections,
    })
}

fn already_finished() -> Error {
    Error::InvalidInput("this sign-in already has an outcome; start a new one".to_owned())
}

/// Accept errors that concern one connection only; the listener goes on after them.
fn is_per_connection(error: &std::io::Error) -> bool {
    use std::io::ErrorKind;
    matches!(
        error.kind(),
        ErrorKind::ConnectionAborted
            | ErrorKind::ConnectionReset
            | ErrorKind::Interrupted
            | ErrorKind::WouldBlock
            | ErrorKind::TimedOut
    )
}

fn fill_random(bytes: &mut [u8]) -> Result<()> {
    OsRng.try_fill_bytes(bytes).map_err(|error| {
        Error::Io(std::io::Error::other(format!(
            "the OS random source failed: {error}"
        )))
    })
}

/// 24 OS-random bytes as URL-safe base64 without padding: 32 characters of `A–Z a–z 0–9 - _`.
fn random_state() -> Result<String> {
    let mut bytes = Zeroizing::new([0u8; STATE_BYTES]);
    fill_random(&mut bytes[..])?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&bytes[..]))
}

/// `len` OS-random characters from `A–Z a–z 0–9`, without modulo bias.
fn random_alphanumeric(len: usize) -> Result<String> {
    const ALPHABET: &[u8; 62] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    // 248 = 4 * 62: bytes at or above it are dropped so every character is equally likely.
    const ACCEPT_BELOW: u8 = 248;
    let mut out = String::with_capacity(len);
    let mut bytes = [0u8; 64];
    while out.len() < len {
        fill_random(&mut bytes)?;
        for &byte in bytes.iter().filter(|&&b| b < ACCEPT_BELOW) {
            if out.len() == len {
                break;
            }
            if let Some(&c) = ALPHABET.get(usize::from(byte % 62)) {
                out.push(char::from(c));
            }
        }
    }
    Ok(out)
}

/// The machine's hostname: env `HOSTNAME`, else the `hostname` command (Unix) or `COMPUTERNAME`
/// (Windows), else `unknown-host`.
fn default_source() -> String {
    non_empty_env("HOSTNAME")
        .or_else(platform_hostname)
        .unwrap_or_else(|| UNKNOWN_HOST.to_owned())
}

fn non_empty_env(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .map(|value| value.trim().to_owned())
        .filter(|value| !value.is_empty())
}

#[cfg(unix)]
fn platform_hostname() -> Option<String> {
    let output = std::process::Command::new("hostname")
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    if !output.status.success() {
        return None;
    }
    let name = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    (!name.is_empty()).then_some(name)
}

#[cfg(windows)]
fn platform_hostname() -> Option<String> {
    non_empty_env("COMPUTERNAME")
}

#[cfg(not(any(unix, windows)))]
fn platform_hostname() -> Option<String> {
    None
}

/// The query of a pasted callback URL, once it is known to point at this sign-in's listener.
fn callback_query(pasted: &str, port: u16, callback_url: &str) -> Result<Zeroizing<String>> {
    // Messages never echo the pasted text: it may carry the token.
    let url = url::Url::parse(pasted).map_err(|_| {
        Error::InvalidInput(format!(
            "the pasted text is not a URL; paste the whole address (starting {callback_url}) \
             from the browser's address bar"
        ))
    })?;
    let ours = url.scheme() == "http"
        && url.host_str() == Some("127.0.0.1")
        && url.port() == Some(port)
        && url.path() == CALLBACK_PATH;
    if !ours {
        return Err(Error::InvalidInput(format!(
            "the pasted URL is not this sign-in's callback; it should start {callback_url}"
        )));
    }
    Ok(Zeroizing::new(url.query().unwrap_or("").to_owned()))
}

/// What a callback query says, once its `state` has been checked.
enum Callback {
    Signed(HandshakeOutcome),
    Cancelled(String),
    StateMismatch,
    MissingToken,
}

/// Reads `token`, `state`, `error` and `login` from a form-urlencoded query (first occurrence of
/// each; other keys ignored) and applies §6.1's order: state first (constant time), then error,
/// then token.
fn classify(query: &str, expected_state: &str) -> Callback {
    let mut state: Option<String> = None;
    let mut token: Option<Zeroizing<String>> = None;
    let mut error: Option<String> = None;
    let mut login: Option<String> = None;
    for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
        match key.as_ref() {
            "state" if state.is_none() => state = Some(value.into_owned()),
            "token" if token.is_none() => token = Some(Zeroizing::new(value.into_owned())),
            "error" if error.is_none() => error = Some(value.into_owned()),
            "login" if login.is_none() => login = Some(value.into_owned()),
            _ => {}
        }
    }

    let state_matches = state
        .as_deref()
        .is_some_and(|got| bool::from(got.as_bytes().ct_eq(expected_state.as_bytes())));
    if !state_matches {
        return Callback::StateMismatch;
    }
    if let Some(reason) = error {
        return Callback::Cancelled(reason);
    }
    match token {
        Some(mut token) if !token.is_empty() => Callback::Signed(HandshakeOutcome {
            token: Token::new(std::mem::take(&mut *token)),
            login: login.filter(|login| !login.is_empty()),
        }),
        _ => Callback::MissingToken,
    }
}

/// An HTTP answer from the listener.
#[derive(Debug)]
struct Reply {
    status: u16,
    reason: &'static str,
    body: String,
    /// `Allow: GET` (on 405).
    allow_get: bool,
    /// Headers only (answering `HEAD`).
    head_only: bool,
}

impl Reply {
    fn plain(status: u16, reason: &'static str) -> Reply {
        Reply {
            status,
            reason,
            body: reason.to_owned(),
            allow_get: false,
            head_only: false,
        }
    }

    fn html(status: u16, reason: &'static str, body: String) -> Reply {
        Reply {
            status,
            reason,
            body,
            allow_get: false,
            head_only: false,
        }
    }

    fn render(&self) -> Vec<u8> {
        let mut out = format!(
            "HTTP/1.1 {} {}\r\n\
             Content-Type: text/html; charset=utf-8\r\n\
             Content-Length: {}\r\n\
             Connection: close\r\n\
             Cache-Control: no-store\r\n\
             Referrer-Policy: no-referrer\r\n\
             X-Content-Type-Options: nosniff\r\n\
             Content-Security-Policy: default-src 'none'\r\n",
            self.status,
            self.reason,
            self.body.len(),
        );
        if self.allow_get {
            out.push_str("Allow: GET\r\n");
        }
        out.push_str("\r\n");
        if !self.head_only {
            out.push_str(&self.body);
        }
        out.into_bytes()
    }
}

fn page(title: &str, heading: &str, paragraphs: &[&str]) -> String {
    let mut body = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width\"><title>{title}</title></head>\
         <body><h1>{heading}</h1>"
    );
    for paragraph in paragraphs {
        body.push_str("<p>");
        body.push_str(paragraph);
        body.push_str("</p>");
    }
    body.push_str("</body></html>\n");
    body
}

fn signed_in_page() -> Reply {
    Reply::html(
        200,
        "OK",
        page(
            "WaveKat sign-in complete",
            "You're signed in.",
            &["You can close this tab and return to the app."],
        ),
    )
}

fn cancelled_page(reason: &str) -> Reply {
    let reason = format!("Reason: {}", crate::html::escape(reason));
    Reply::html(
        200,
        "OK",
        page(
            "WaveKat sign-in cancelled",
            "Login cancelled",
            &[
                "Nothing was signed in. You can close this tab and start the sign-in again.",
                &reason,
            ],
        ),
    )
}

fn state_mismatch_page() -> Reply {
    Reply::html(
        400,
        "bad state",
        page(
            "WaveKat sign-in refused",
            "State mismatch",
            &[
                "This answer does not belong to the sign-in that is waiting, so it was refused. \
               Re-run the sign-in to start over.",
            ],
        ),
    )
}

/// What the listener does with one request head.
enum Routed {
    /// Answer and keep waiting.
    Answer(Reply),
    /// Answer, and this request decides the sign-in.
    Decide(Reply, Verdict),
}

/// Routes a request head (request line and headers, terminator included) per §6.1.
fn route(head: &[u8], expected_state: &str) -> Routed {
    let bad_request = || Routed::Answer(Reply::plain(400, "bad request"));
    let line_end = head.iter().position(|&b| b == b'\n').unwrap_or(head.len());
    let Some(Ok(line)) = head.get(..line_end).map(std::str::from_utf8) else {
        return bad_request();
    };
    let mut parts = line.trim_end_matches('\r').split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return bad_request();
    };
    if method.is_empty() || target.is_empty() || !version.starts_with("HTTP/") {
        return bad_request();
    }
    if method != "GET" {
        let mut reply = Reply::plain(405, "method not allowed");
        reply.allow_get = true;
        reply.head_only = method == "HEAD";
        return Routed::Answer(reply);
    }
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    if path != CALLBACK_PATH {
        return Routed::Answer(Reply::plain(404, "not found"));
    }
    let query = query.split_once('#').map_or(query, |(query, _)| query);
    match classify(query, expected_state) {
        Callback::StateMismatch => {
            Routed::Decide(state_mismatch_page(), Err(Error::HandshakeStateMismatch))
        }
        Callback::Cancelled(reason) => Routed::Decide(
            cancelled_page(&reason),
            Err(Error::HandshakeCancelled { reason }),
        ),
        Callback::MissingToken => Routed::Answer(Reply::plain(400, "missing token")),
        Callback::Signed(outcome) => Routed::Decide(signed_in_page(), Ok(outcome)),
    }
}

/// Why no request head was read.
enum HeadError {
    /// Over the byte cap.
    TooLarge,
    /// The peer closed or the socket failed before a whole head arrived.
    Closed,
}

/// Index just past the blank line ending a request head (`\n\n` or `\n\r\n`), searching from
/// `from`.
fn head_end(buf: &[u8], from: usize) -> Option<usize> {
    (from..buf.len()).find_map(|i| match (buf.get(i), buf.get(i + 1), buf.get(i + 2)) {
        (Some(b'\n'), Some(b'\n'), _) => Some(i + 2),
        (Some(b'\n'), Some(b'\r'), Some(b'\n')) => Some(i + 3),
        _ => None,
    })
}

/// Reads the request line and headers (never the body), at most `max` bytes.
async fn read_head(
    stream: &mut TcpStream,
    max: usize,
) -> std::result::Result<Zeroizing<Vec<u8>>, HeadError> {
    let mut head = Zeroizing::new(Vec::with_capacity(max.min(64 * 1024) + READ_CHUNK));
    let mut chunk = Zeroizing::new([0u8; READ_CHUNK]);
    loop {
        let read = stream
            .read(&mut chunk[..])
            .await
            .map_err(|_| HeadError::Closed)?;
        if read == 0 {
            return Err(HeadError::Closed);
        }
        let from = head.len().saturating_sub(2);
        head.extend_from_slice(chunk.get(..read).unwrap_or_default());
        if let Some(end) = head_end(&head, from) {
            if end > max {
                return Err(HeadError::TooLarge);
            }
            head.truncate(end);
            return Ok(head);
        }
        if head.len() >= max {
            return Err(HeadError::TooLarge);
        }
    }
}

/// Serves one connection: read the head under the deadline, answer, and (for a deciding request
/// that wins) hand the verdict to `wait` after the answer is written.
async fn serve_connection(
    mut stream: TcpStream,
    shared: Arc<Shared>,
    limits: Limits,
    mut stop: watch::Receiver<()>,
    _permit: OwnedSemaphorePermit,
) {
    let head = tokio::select! {
        head = tokio::time::timeout(
            limits.read_timeout,
            read_head(&mut stream, limits.max_header_bytes),
        ) => head,
        // The sign-in is over: drop connections still sending their request.
        _ = stop.changed() => return,
    };
    let reply = match head {
        Err(_elapsed) => Reply::plain(408, "request timeout"),
        Ok(Err(HeadError::TooLarge)) => Reply::plain(431, "request header fields too large"),
        Ok(Err(HeadError::Closed)) => return,
        Ok(Ok(head)) => match route(&head, &shared.state) {
            Routed::Answer(reply) => reply,
            Routed::Decide(reply, verdict) => match shared.claim() {
                Some(decider) => {
                    // Answer first, so the browser shows the page even if the app exits as
                    // soon as `wait` returns; then decide.
                    respond(&mut stream, &reply, limits.write_timeout).await;
                    // A send error means nobody waits any more.
                    let _ = decider.send(verdict);
                    linger(&mut stream).await;
                    return;
                }
                None => Reply::plain(409, "sign-in already finished"),
            },
        },
    };
    respond(&mut stream, &reply, limits.write_timeout).await;
    linger(&mut stream).await;
}

async fn respond(stream: &mut TcpStream, reply: &Reply, write_timeout: Duration) {
    let bytes = reply.render();
    let written = tokio::time::timeout(write_timeout, async {
        stream.write_all(&bytes).await?;
        stream.shutdown().await
    })
    .await;
    match written {
        Ok(Ok(())) => tracing::debug!(status = reply.status, "sign-in listener answered"),
        Ok(Err(error)) => tracing::debug!(
            status = reply.status,
            kind = ?error.kind(),
            "sign-in listener could not write its answer"
        ),
        Err(_elapsed) => tracing::debug!(
            status = reply.status,
            "sign-in listener gave up writing its answer at the write timeout"
        ),
    }
}

/// Reads and discards what the client still sends (bounded), so closing does not reset the
/// connection before the client has read the answer.
async fn linger(stream: &mut TcpStream) {
    let _ = tokio::time::timeout(LINGER, async {
        let mut sink = [0u8; READ_CHUNK];
        let mut discarded = 0usize;
        while discarded < LINGER_BYTES {
            match stream.read(&mut sink).await {
                Ok(0) | Err(_) => break,
                Ok(read) => discarded += read,
            }
        }
    })
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(text: &str) -> Vec<u8> {
        text.as_bytes().to_vec()
    }

    fn status_of(routed: &Routed) -> u16 {
        match routed {
            Routed::Answer(reply) | Routed::Decide(reply, _) => reply.status,
        }
    }

    #[test]
    fn head_end_finds_crlf_and_bare_lf_blank_lines() {
        assert_eq!(head_end(b"GET / HTTP/1.1\r\nA: b\r\n\r\nbody", 0), Some(24));
        assert_eq!(head_end(b"GET / HTTP/1.1\n\nbody", 0), Some(16));
        assert_eq!(head_end(b"GET / HTTP/1.1\r\nA: b\r\n", 0), None);
    }

    #[test]
    fn request_line_with_two_parts_is_a_bad_request() {
        assert_eq!(status_of(&route(&head("GET /callback\r\n\r\n"), "s")), 400);
    }

    #[test]
    fn request_line_that_is_not_utf8_is_a_bad_request() {
        assert_eq!(status_of(&route(b"GET /\xff HTTP/1.1\r\n\r\n", "s")), 400);
    }

    #[test]
    fn lowercase_get_is_not_get() {
        assert_eq!(
            status_of(&route(&head("get /callback HTTP/1.1\r\n\r\n"), "s")),
            405
        );
    }

    #[test]
    fn callback_path_with_a_suffix_is_not_the_callback() {
        let routed = route(
            &head("GET /callback/x?state=s&token=t HTTP/1.1\r\n\r\n"),
            "s",
        );
        assert_eq!(status_of(&routed), 404);
    }

    #[test]
    fn first_state_parameter_is_the_one_checked() {
        assert!(matches!(
            classify("state=wrong&state=s&token=t", "s"),
            Callback::StateMismatch
        ));
    }

    #[test]
    fn state_of_a_different_length_does_not_match() {
        assert!(matches!(
            classify("state=ss&token=t", "s"),
            Callback::StateMismatch
        ));
    }

    #[test]
    fn empty_token_counts_as_missing() {
        assert!(matches!(
            classify("state=s&token=", "s"),
            Callback::MissingToken
        ));
    }

    #[test]
    fn percent_encoded_values_are_decoded() {
        let Callback::Signed(outcome) = classify("state=s&token=wk_a%2Bb&login=a+b", "s") else {
            panic!("expected a signed-in callback");
        };
        assert_eq!(outcome.token.expose(), "wk_a+b");
        assert_eq!(outcome.login.as_deref(), Some("a b"));
    }

    #[test]
    fn html_escape_escapes_every_metacharacter() {
        assert_eq!(
            crate::html::escape("<a href=\"x\">it's & ok</a>"),
            "&lt;a href=&quot;x&quot;&gt;it&#39;s &amp; ok&lt;/a&gt;"
        );
    }

    #[test]
    fn head_reply_has_content_length_but_no_body() {
        let Routed::Answer(reply) = route(&head("HEAD /callback HTTP/1.1\r\n\r\n"), "s") else {
            panic!("HEAD must not decide the sign-in");
        };
        let text = String::from_utf8(reply.render()).unwrap_or_default();
        assert!(text.starts_with("HTTP/1.1 405 method not allowed\r\n"));
        assert!(text.contains("Content-Length: 18\r\n"));
        assert!(text.contains("Allow: GET\r\n"));
        assert!(text.ends_with("\r\n\r\n"));
    }

    #[test]
    fn code_state_is_32_alphanumerics() {
        let state = random_alphanumeric(CODE_STATE_LEN).unwrap_or_default();
        assert_eq!(state.len(), 32);
        assert!(state.bytes().all(|b| b.is_ascii_alphanumeric()));
    }

    #[test]
    fn zero_connection_cap_is_refused() {
        let options = HandshakeOptions::default().max_connections(0);
        assert!(matches!(
            checked_limits(&options),
            Err(Error::InvalidInput(message)) if message.contains("max_connections")
        ));
    }
}
