//! The tokio side of the loopback sign-in: the listener, its bounded set of connections, and the
//! hand-off of the outcome to [`PendingHandshake::wait`]. Every routing rule lives in the sans-IO
//! [`core`](super::core); this file only moves bytes and enforces deadlines and caps.

use std::collections::VecDeque;
use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{oneshot, Notify};
use tokio::task::AbortHandle;
use zeroize::Zeroizing;

use super::core::{
    callback_query, classify, head_end, Callback, Decision, HandshakeOutcome, Phase, Router,
    Verdict, CALLBACK_PATH,
};
use super::hostname::default_source_async;
use super::options::{checked_base, checked_limits, HandshakeOptions, Limits};
use super::random::random_state;
use super::responder::Reply;
use crate::error::{Error, Result};

/// After answering, how long a connection keeps reading (and discarding) what the client still
/// sends, so closing with unread input does not reset the connection before the answer is read.
const LINGER: Duration = Duration::from_millis(500);
/// Most bytes discarded while lingering.
const LINGER_BYTES: usize = 1 << 20;
/// Size of one socket read while collecting a request head.
const READ_CHUNK: usize = 1024;

/// What the listener, the pasted-redirect path, the timeout and cancellation share.
struct Shared {
    router: Router,
    callback_url: String,
    port: u16,
    /// The right to decide the outcome; whoever takes the sender decides, exactly once.
    decider: Mutex<Option<oneshot::Sender<Verdict>>>,
    /// Set by the connection whose callback signed in, before the outcome is handed over, so
    /// `/done` serves the success page from then on.
    signed_in: AtomicBool,
    /// Notified once `/done` has been served after signing in.
    done_served: Notify,
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

    fn phase(&self) -> Phase {
        if self.signed_in.load(Ordering::Acquire) {
            Phase::SignedIn
        } else {
            Phase::Waiting
        }
    }

    fn complete_from_redirect(&self, pasted_url: &str) -> Result<HandshakeOutcome> {
        let query = callback_query(pasted_url.trim(), self.port, &self.callback_url)?;
        let (for_wait, for_caller) = match classify(&query, self.router.state()) {
            Callback::MissingToken => {
                return Err(Error::InvalidInput(
                    "the pasted callback URL has no `token` parameter".to_owned(),
                ))
            }
            // Not this sign-in's answer: refused, and the sign-in keeps waiting for its own.
            Callback::StateMismatch => return Err(Error::HandshakeStateMismatch),
            Callback::Signed(outcome) => (Ok(outcome.clone()), Ok(outcome)),
            Callback::Cancelled(reason) => (
                Err(Error::HandshakeCancelled {
                    reason: reason.clone(),
                }),
                Err(Error::HandshakeCancelled { reason }),
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
///
/// `Debug` shows the callback URL only: the `state` and the sign-in URL carrying it stay out.
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
        self.shared.router.state()
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
    /// - [`Error::HandshakeStateMismatch`] when `state` is missing or wrong: the URL belongs to
    ///   another sign-in. The sign-in keeps waiting for its own answer.
    /// - [`Error::HandshakeCancelled`] when the URL carries `error=` (the sign-in ends).
    pub fn complete_from_redirect(&self, pasted_url: &str) -> Result<HandshakeOutcome> {
        self.shared.complete_from_redirect(pasted_url)
    }

    /// Serves the loopback listener until the sign-in has an outcome, and returns it.
    ///
    /// The timeout runs from this call. A callback with a wrong or missing `state` (or a foreign
    /// `Host`) is answered with an error page and does not end the wait. When the listener's
    /// callback signed in, the listener stays up in the background for up to
    /// [`HandshakeOptions::done_page_grace`] to serve the token-free `/done` page the browser was
    /// redirected to, and closes once it has; otherwise it closes when this returns.
    ///
    /// # Errors
    /// [`Error::HandshakeTimeout`], [`Error::HandshakeCancelled`] (with the platform's reason),
    /// [`Error::HandshakeStateMismatch`] (never from the listener; see
    /// [`complete_from_redirect`](Self::complete_from_redirect)), [`Error::HandshakeAborted`]
    /// (cancelled through [`cancel`](Self::cancel) or a [`HandshakeHandle`]), or [`Error::Io`]
    /// when the listener itself fails.
    pub async fn wait(mut self) -> Result<HandshakeOutcome> {
        let Some(mut verdict) = self.verdict.take() else {
            return Err(Error::HandshakeAborted);
        };
        let Some(listener) = self.listener.take() else {
            return verdict.await.unwrap_or(Err(Error::HandshakeAborted));
        };
        let shared = Arc::clone(&self.shared);
        let limits = self.limits;
        let mut connections = Connections::new(limits.max_connections);
        let deadline = tokio::time::sleep(self.timeout);
        tokio::pin!(deadline);

        let decided = tokio::select! {
            biased;
            decided = &mut verdict => decided.unwrap_or(Err(Error::HandshakeAborted)),
            () = &mut deadline => {
                shared.finish(Err(Error::HandshakeTimeout));
                verdict.await.unwrap_or(Err(Error::HandshakeAborted))
            }
            failed = accept_until_failure(&listener, &shared, limits, &mut connections) => {
                shared.finish(Err(Error::Io {
                    action: format!(
                        "the sign-in callback listener on 127.0.0.1:{}",
                        shared.port
                    ),
                    io: failed,
                    fix: "start the sign-in again",
                }));
                verdict.await.unwrap_or(Err(Error::HandshakeAborted))
            }
        };
        let serve_done = decided.is_ok()
            && shared.phase() == Phase::SignedIn
            && !limits.done_page_grace.is_zero();
        if serve_done {
            tokio::spawn(serve_done_page(listener, shared, limits, connections));
        }
        decided
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
/// use wavekat_platform_client::signin::{loopback_handshake, HandshakeOptions};
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
/// [`Error::InvalidInput`] for a `base_url` that is not an absolute `http(s)` URL, is `http://`
/// to a host that is not loopback without [`HandshakeOptions::danger_allow_insecure_http`], or a
/// zero limit in `options`; [`Error::Io`] when the port cannot be bound or the OS random source
/// fails.
pub async fn loopback_handshake(
    base_url: &str,
    options: HandshakeOptions,
) -> Result<PendingHandshake> {
    let base = checked_base(base_url, options.allow_insecure_http)?;
    let limits = checked_limits(&options)?;
    let state = random_state()?;
    let source = match options.source {
        Some(source) => source,
        None => default_source_async().await,
    };

    let requested = SocketAddr::from((Ipv4Addr::LOCALHOST, options.port.unwrap_or(0)));
    let cannot_listen = |io| Error::Io {
        action: format!("listening for the sign-in callback on {requested}"),
        io,
        fix: "pick another port with HandshakeOptions::port, or leave it unset to take a free one",
    };
    let listener = TcpListener::bind(requested).await.map_err(cannot_listen)?;
    let port = listener.local_addr().map_err(cannot_listen)?.port();
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
            router: Router::new(state, port),
            callback_url,
            port,
            decider: Mutex::new(Some(decider)),
            signed_in: AtomicBool::new(false),
            done_served: Notify::new(),
        }),
        listener: Some(listener),
        verdict: Some(verdict),
        timeout: options.timeout,
        limits,
    })
}

fn already_finished() -> Error {
    Error::InvalidInput("this sign-in already has an outcome; start a new one".to_owned())
}

/// After the callback signed in: serves `/done` until it has been served once or the grace period
/// ends, then closes the listener.
async fn serve_done_page(
    listener: TcpListener,
    shared: Arc<Shared>,
    limits: Limits,
    mut connections: Connections,
) {
    tokio::select! {
        () = shared.done_served.notified() => {}
        () = tokio::time::sleep(limits.done_page_grace) => {}
        failed = accept_until_failure(&listener, &shared, limits, &mut connections) => {
            tracing::debug!(kind = ?failed.kind(), "sign-in listener failed while serving /done");
        }
    }
}

/// Accepts connections into `connections` until the listener fails.
async fn accept_until_failure(
    listener: &TcpListener,
    shared: &Arc<Shared>,
    limits: Limits,
    connections: &mut Connections,
) -> std::io::Error {
    loop {
        match listener.accept().await {
            Ok((stream, _peer)) => connections.serve(stream, shared, limits),
            Err(error) if is_per_connection(&error) => {
                tracing::debug!(kind = ?error.kind(), "sign-in listener: accept failed for one connection");
            }
            Err(error) => return error,
        }
    }
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

/// A connection's stage. Transitions are compare-and-swap, so a connection is either evicted or
/// answering, never both: an answering connection (which may hold the right to decide) is never
/// cut off.
///
/// Connected, nothing received yet (the first to go at the cap).
const IDLE: u8 = 0;
/// Part of a request head received.
const READING: u8 = 1;
const ANSWERING: u8 = 2;
const LINGERING: u8 = 3;
const EVICTED: u8 = 4;

struct Tracked {
    task: AbortHandle,
    stage: Arc<AtomicU8>,
}

impl Tracked {
    /// Cuts this connection off if it is still at `stage`; returns whether it did.
    fn evict_if(&self, stage: u8) -> bool {
        let evicted = self
            .stage
            .compare_exchange(stage, EVICTED, Ordering::AcqRel, Ordering::Acquire)
            .is_ok();
        if evicted {
            self.task.abort();
        }
        evicted
    }
}

/// The connections being served, oldest first, at most `cap` of them.
struct Connections {
    live: VecDeque<Tracked>,
    cap: usize,
}

impl Connections {
    fn new(cap: usize) -> Connections {
        Connections {
            live: VecDeque::new(),
            cap,
        }
    }

    /// Serves `stream` in its own task, first making room at the cap by evicting the oldest
    /// connection that has sent nothing, else the oldest one lingering after its answer, else the
    /// oldest one still sending its head. A browser sends its request as soon as it connects, so
    /// connect-only floods go first.
    fn serve(&mut self, stream: TcpStream, shared: &Arc<Shared>, limits: Limits) {
        self.live
            .retain(|connection| !connection.task.is_finished());
        if self.live.len() >= self.cap && !self.evict_one() {
            tracing::debug!(
                max_connections = self.cap,
                "sign-in listener at its cap with every connection mid-answer; closing a new one"
            );
            return;
        }
        let stage = Arc::new(AtomicU8::new(IDLE));
        let task = tokio::spawn(serve_connection(
            stream,
            Arc::clone(shared),
            limits,
            Arc::clone(&stage),
        ));
        self.live.push_back(Tracked {
            task: task.abort_handle(),
            stage,
        });
    }

    fn evict_one(&mut self) -> bool {
        for stage in [IDLE, LINGERING, READING] {
            let found = self
                .live
                .iter()
                .position(|connection| connection.evict_if(stage));
            if let Some(index) = found {
                self.live.remove(index);
                tracing::debug!(
                    max_connections = self.cap,
                    "sign-in listener at its cap; closed the oldest idle connection"
                );
                return true;
            }
        }
        false
    }
}

impl Drop for Connections {
    /// The sign-in is over: drop connections still sending their request. Answered ones finish.
    fn drop(&mut self) {
        for connection in &self.live {
            connection.evict_if(IDLE);
            connection.evict_if(READING);
        }
    }
}

/// Why no request head was read.
enum HeadError {
    /// Over the byte cap.
    TooLarge,
    /// The peer closed or the socket failed before a whole head arrived.
    Closed,
}

/// Reads the request line and headers (never the body), at most `max` bytes, moving `stage` from
/// idle to reading at the first byte.
async fn read_head(
    stream: &mut TcpStream,
    max: usize,
    stage: &AtomicU8,
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
        // Evicted while idle: stop here (the task is being aborted anyway).
        if stage
            .compare_exchange(IDLE, READING, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
            && stage.load(Ordering::Acquire) != READING
        {
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
    stage: Arc<AtomicU8>,
) {
    let head = tokio::time::timeout(
        limits.read_timeout,
        read_head(&mut stream, limits.max_header_bytes, &stage),
    )
    .await;
    // A slow client (408) may still be idle; any other is reading.
    let answering = [IDLE, READING].into_iter().any(|from| {
        stage
            .compare_exchange(from, ANSWERING, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    });
    if !answering {
        // Evicted to make room for a newer connection.
        return;
    }
    let reply = match head {
        Err(_elapsed) => Reply::plain(408, "request timeout"),
        Ok(Err(HeadError::TooLarge)) => Reply::plain(431, "request header fields too large"),
        Ok(Err(HeadError::Closed)) => return,
        Ok(Ok(head)) => match shared.router.route(&head, shared.phase()) {
            Decision::Answer(reply) => reply,
            Decision::Farewell(reply) => {
                respond(&mut stream, &reply, limits.write_timeout).await;
                stage.store(LINGERING, Ordering::Release);
                shared.done_served.notify_one();
                linger(&mut stream).await;
                return;
            }
            Decision::Decide(reply, verdict) => match shared.claim() {
                Some(decider) => {
                    // Answer first, so the browser has its page (or its redirect) even if the
                    // app exits as soon as `wait` returns; then decide.
                    respond(&mut stream, &reply, limits.write_timeout).await;
                    if verdict.is_ok() {
                        shared.signed_in.store(true, Ordering::Release);
                    }
                    // A send error means nobody waits any more.
                    let _ = decider.send(verdict);
                    stage.store(LINGERING, Ordering::Release);
                    linger(&mut stream).await;
                    return;
                }
                None => Reply::plain(409, "sign-in already finished"),
            },
        },
    };
    respond(&mut stream, &reply, limits.write_timeout).await;
    stage.store(LINGERING, Ordering::Release);
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
