//! The phone end: [`connect`] pairs or resumes, then keeps the link up (pings, dead-peer timeout,
//! reconnect with backoff and resume by key) behind a handle that writes from the caller's task
//! when it can and through a bounded queue when it cannot (see `Shared`).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ed25519_dalek::SigningKey;
use futures_util::stream::SplitSink;
use futures_util::{SinkExt as _, StreamExt as _};
use rand_core::{OsRng, RngCore as _};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot, watch, Notify};
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::{Error as WsError, Message, Utf8Bytes};
use tokio_tungstenite::WebSocketStream;

use super::qr::PairingQr;
use super::read_ahead::ReadAhead;
use super::secure::{
    parse_resume_report, Binding, LinkSecret, OpenKey, RecordKind, SealKey, SecureError,
    SessionContext, SessionKeys, Side, CONNECTION_NONCE_LEN,
};
use super::{
    close_code, lock, nonce_hex, parse_nonce_hex, samples_to_pcm, ws_config, TransportError,
    NONCE_HEADER, PREVIOUS_HEADER,
};
use crate::mobile::frames::encode_audio_chunk;
use crate::mobile::pairing::TranscriptFields;
use crate::mobile::{
    decode_server_frame, encode_pubkey_multibase, ClientFrame, PhoneRejection, PhoneSession,
    PhoneStep, ServerFrame, SignedEnvelope, MAX_AUDIO_CHUNK_BYTES, PAIR_PROTO,
};

type Ws = WebSocketStream<ReadAhead<TcpStream>>;

/// Most queued frames written before one flush.
const WRITE_BATCH: usize = 32;

/// Whether the phone accepts a plain proto-2 desktop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum PhoneSecurity {
    /// Use secure mode whenever the desktop offers it; accept plain only for a desktop that never
    /// offered it (its QR code says so and the device holds no link secret).
    #[default]
    PreferSecure,
    /// Refuse plain mode ([`TransportError::SecureModeUnavailable`]).
    RequireSecure,
    /// Never offer secure mode (talk to a deployed desktop exactly as a proto-2 phone does).
    PlainOnly,
}

/// Reconnect delays: `initial`, doubling up to `max`, each with up to 25 % random jitter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// First delay.
    pub initial: Duration,
    /// Longest delay.
    pub max: Duration,
    /// Attempts after a drop before the link gives up (`None`: never).
    pub max_attempts: Option<u32>,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            initial: Duration::from_millis(10),
            max: Duration::from_secs(10),
            max_attempts: None,
        }
    }
}

impl Backoff {
    fn delay(&self, attempt: u32) -> Duration {
        let base = self
            .initial
            .saturating_mul(1u32.checked_shl(attempt.min(16)).unwrap_or(u32::MAX))
            .min(self.max);
        let jitter_range = u64::try_from(base.as_micros() / 4).unwrap_or(u64::MAX);
        let jitter = if jitter_range == 0 {
            0
        } else {
            OsRng.next_u64() % jitter_range
        };
        base.saturating_add(Duration::from_micros(jitter))
    }
}

/// Configuration of a phone link.
#[derive(Debug, Clone)]
pub struct PhoneConfig {
    /// The desktop endpoint, `ws://host:port/api/v1/mobile/ws`.
    pub url: String,
    /// The agent name (`mur`).
    pub agent: String,
    /// Plain-mode policy.
    pub security: PhoneSecurity,
    /// Interval of WebSocket pings.
    pub ping_interval: Duration,
    /// The link is dropped (and reconnected) when nothing arrives for this long.
    pub dead_peer_timeout: Duration,
    /// Time for TCP connect, upgrade and handshake.
    pub connect_timeout: Duration,
    /// Reconnect delays.
    pub backoff: Backoff,
    /// How long a write may wait for room in the socket (a desktop that stopped reading) before
    /// the link counts as broken and reconnects; the frame is kept for the next connection.
    pub write_timeout: Duration,
    /// Capacity of the send queue: frames waiting while the link reconnects or behind an earlier
    /// frame (a sender writes directly otherwise).
    pub send_queue: usize,
    /// Capacity of the event queue.
    pub event_queue: usize,
}

impl PhoneConfig {
    /// Defaults for the endpoint `url` and `agent`.
    pub fn new(url: impl Into<String>, agent: impl Into<String>) -> Self {
        PhoneConfig {
            url: url.into(),
            agent: agent.into(),
            security: PhoneSecurity::PreferSecure,
            ping_interval: Duration::from_secs(15),
            dead_peer_timeout: Duration::from_secs(45),
            connect_timeout: Duration::from_secs(10),
            backoff: Backoff::default(),
            write_timeout: Duration::from_secs(10),
            send_queue: 256,
            event_queue: 256,
        }
    }
}

/// What the phone stores after pairing, to resume later. `Debug` hides the key and the secret.
#[derive(Clone)]
pub struct DeviceIdentity {
    /// The device's signing key.
    pub device_key: SigningKey,
    /// Key version signed into envelopes and resume proofs.
    pub key_version: u32,
    /// The desktop identity (`did`) paired with, multibase.
    pub did: String,
    /// The link secret, if the pairing was secure; the phone then refuses plain mode.
    pub link_secret: Option<LinkSecret>,
}

impl std::fmt::Debug for DeviceIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceIdentity")
            .field(
                "device",
                &encode_pubkey_multibase(&self.device_key.verifying_key()),
            )
            .field("key_version", &self.key_version)
            .field("did", &self.did)
            .field("secure", &self.link_secret.is_some())
            .finish_non_exhaustive()
    }
}

/// How a link starts.
#[derive(Debug)]
#[non_exhaustive]
pub enum PhoneStart {
    /// Enroll `device_key` through a scanned QR code.
    Pair {
        /// The QR payload.
        qr: PairingQr,
        /// The key to enroll.
        device_key: SigningKey,
    },
    /// Resume a stored pairing.
    Resume(DeviceIdentity),
}

/// What the link reports.
#[derive(Debug)]
#[non_exhaustive]
pub enum PhoneEvent {
    /// A reconnect paired again (resume).
    Resumed {
        /// Whether the link is in secure mode.
        secure: bool,
    },
    /// A frame from the desktop (transcript, audio, event, channel data, …).
    Frame(ServerFrame),
    /// The link dropped; the phone reconnects after `retry_in`.
    Disconnected {
        /// Why.
        error: TransportError,
        /// Delay before the next attempt.
        retry_in: Duration,
    },
    /// The link is over for good (fatal error, attempts exhausted or closed); the last event.
    Closed {
        /// Why.
        error: TransportError,
    },
}

/// The phone's event stream.
#[derive(Debug)]
pub struct PhoneEvents {
    rx: mpsc::Receiver<PhoneEvent>,
}

impl PhoneEvents {
    /// The next event; `None` after [`PhoneEvent::Closed`].
    pub async fn recv(&mut self) -> Option<PhoneEvent> {
        self.rx.recv().await
    }
}

/// How an envelope reached the desktop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum EnvelopeDelivery {
    /// Secure mode: the desktop acknowledged processing it.
    Acknowledged,
    /// Plain mode: written to the socket (proto 2 has no acknowledgement).
    Written,
}

/// Why an envelope was not delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DeliveryFailure {
    /// The desktop reported, after a resume, that it never processed it; send it again if needed.
    #[error("the desktop did not receive the envelope")]
    NotDelivered,
    /// The link dropped after it was written and the desktop kept no record of that connection.
    #[error("the link dropped and the desktop could not say whether it received the envelope")]
    Unknown,
    /// The link closed for good before it was written or acknowledged.
    #[error("the link closed before the envelope was delivered")]
    LinkClosed,
}

type Outcome = Result<EnvelopeDelivery, DeliveryFailure>;

/// The pending outcome of one envelope.
#[derive(Debug)]
pub struct EnvelopeReceipt {
    rx: oneshot::Receiver<Outcome>,
}

impl EnvelopeReceipt {
    /// Waits for the envelope's outcome.
    pub async fn outcome(self) -> Outcome {
        self.rx.await.unwrap_or(Err(DeliveryFailure::LinkClosed))
    }
}

/// A frame encoded by the sender, with its envelope's receipt.
struct Outgoing {
    text: Utf8Bytes,
    receipt: Option<oneshot::Sender<Outcome>>,
}

/// The live connection's write half.
struct LiveWriter {
    sink: SplitSink<Ws, Message>,
    /// The sending key in secure mode.
    seal: Option<SealKey>,
}

/// What the handles and the link task share.
///
/// A handle writes its frame straight to the socket, from its own task, when the link is up and
/// nothing waits ahead of it (`backlog` is 0): a stream of audio then costs no hand-off to
/// another task. Otherwise the frame goes through the bounded queue, which the link task drains
/// in order (after a reconnect, or behind a frame still waiting), so a handle's frames never
/// overtake one another.
struct Shared {
    /// The live connection's writer; `None` while connecting, reconnecting or closed.
    writer: tokio::sync::Mutex<Option<LiveWriter>>,
    /// Frames queued or held and not yet written. Raised before a frame enters the queue or
    /// `held`, lowered by the link task after its write.
    backlog: AtomicUsize,
    /// Records opened on the current connection: the `ack` of every record sealed on it.
    opened: AtomicU64,
    /// Secure envelopes written on the current connection, by sequence number, awaiting the
    /// desktop's acknowledgement.
    pending: Mutex<VecDeque<(u64, oneshot::Sender<Outcome>)>>,
    /// Plain frames whose write failed; written first on the next connection.
    held: Mutex<VecDeque<Outgoing>>,
    /// Why a handle's write failed; the link task ends the connection with it.
    broken: Mutex<Option<TransportError>>,
    /// Raised with `broken`.
    broken_signal: Notify,
    /// How long a write may wait for the socket ([`PhoneConfig::write_timeout`]).
    write_timeout: Duration,
}

impl Shared {
    /// Keeps a frame whose write failed for the next connection.
    fn hold(&self, outgoing: Outgoing) {
        self.backlog.fetch_add(1, Ordering::SeqCst);
        lock(&self.held).push_back(outgoing);
    }

    /// The oldest held frame.
    fn take_held(&self) -> Option<Outgoing> {
        lock(&self.held).pop_front()
    }

    /// Tells the link task that the connection broke under a handle's write.
    fn break_link(&self, error: TransportError) {
        *lock(&self.broken) = Some(error);
        self.broken_signal.notify_one();
    }

    /// The error a handle's failed write left, for the link task.
    fn take_broken(&self) -> TransportError {
        lock(&self.broken)
            .take()
            .unwrap_or(TransportError::Closed { code: None })
    }

    /// Stops handles writing to the current connection, closing it politely (bounded).
    async fn close_writer(&self) {
        if let Some(mut live) = self.writer.lock().await.take() {
            let _ = tokio::time::timeout(self.write_timeout, live.sink.close()).await;
        }
    }
}

/// Waits for a socket operation until `deadline` at most.
async fn within(
    deadline: tokio::time::Instant,
    operation: impl std::future::Future<Output = Result<(), WsError>>,
) -> Result<(), TransportError> {
    match tokio::time::timeout_at(deadline, operation).await {
        Ok(result) => result.map_err(|e| TransportError::WebSocket(e.to_string())),
        Err(_) => Err(TransportError::Timeout("writing to the desktop")),
    }
}

impl LiveWriter {
    /// Seals (secure mode) and feeds one frame, without flushing; waits for room in the socket
    /// until `deadline` at most. A plain envelope's receipt goes to `written`, settled after the
    /// flush; a sealed envelope waits in `pending` for the desktop's acknowledgement. A frame not
    /// handed to the socket (no room in time, or a failed write) is held for the next connection;
    /// a sealed one already handed over counts as sent (whether any byte left is unknown) and the
    /// resume report settles it.
    async fn feed(
        &mut self,
        shared: &Shared,
        outgoing: Outgoing,
        written: &mut Vec<oneshot::Sender<Outcome>>,
        deadline: tokio::time::Instant,
    ) -> Result<(), TransportError> {
        let room = within(
            deadline,
            std::future::poll_fn(|cx| self.sink.poll_ready_unpin(cx)),
        )
        .await;
        if let Err(error) = room {
            shared.hold(outgoing);
            return Err(error);
        }
        let Some(seal) = self.seal.as_mut() else {
            return match self
                .sink
                .start_send_unpin(Message::Text(outgoing.text.clone()))
            {
                Ok(()) => {
                    written.extend(outgoing.receipt);
                    Ok(())
                }
                Err(e) => {
                    shared.hold(outgoing);
                    Err(TransportError::WebSocket(e.to_string()))
                }
            };
        };
        let seq = seal.next_seq();
        let ack = shared.opened.load(Ordering::SeqCst);
        let record = match seal.seal(RecordKind::Frame, ack, outgoing.text.as_bytes()) {
            Ok(record) => record,
            Err(e) => {
                // Never sealed: the frame goes out first on the next connection.
                shared.hold(outgoing);
                return Err(TransportError::Secure(e));
            }
        };
        if let Some(receipt) = outgoing.receipt {
            lock(&shared.pending).push_back((seq, receipt));
        }
        self.sink
            .start_send_unpin(Message::binary(record))
            .map_err(|e| TransportError::WebSocket(e.to_string()))
    }

    /// Writes `first` and what `next` yields (up to [`WRITE_BATCH`] frames in all), flushes
    /// once, and settles the plain envelopes: written if the flush succeeded, unknown otherwise.
    /// Returns how many frames it took, and how the write went.
    async fn write_batch(
        &mut self,
        shared: &Shared,
        first: Outgoing,
        mut next: impl FnMut() -> Option<Outgoing>,
    ) -> (usize, Result<(), TransportError>) {
        let deadline = tokio::time::Instant::now() + shared.write_timeout;
        let mut written = Vec::new();
        let mut result = self.feed(shared, first, &mut written, deadline).await;
        let mut taken = 1;
        while result.is_ok() && taken < WRITE_BATCH {
            let Some(outgoing) = next() else { break };
            taken += 1;
            result = self.feed(shared, outgoing, &mut written, deadline).await;
        }
        if result.is_ok() {
            result = within(deadline, self.sink.flush()).await;
        }
        let outcome = match result {
            Ok(()) => Ok(EnvelopeDelivery::Written),
            Err(_) => Err(DeliveryFailure::Unknown),
        };
        for receipt in written {
            let _ = receipt.send(outcome);
        }
        (taken, result)
    }

    /// Sends a ping, until the write timeout at most.
    async fn ping(&mut self, write_timeout: Duration) -> Result<(), TransportError> {
        let deadline = tokio::time::Instant::now() + write_timeout;
        within(deadline, self.sink.send(Message::Ping(Default::default()))).await
    }
}

/// Sends frames over the link. Cheap to clone; the link closes when every handle is dropped or
/// [`PhoneHandle::close`] is called.
#[derive(Clone)]
pub struct PhoneHandle {
    tx: mpsc::Sender<Outgoing>,
    shared: Arc<Shared>,
    close: Arc<watch::Sender<bool>>,
    device_key: SigningKey,
    key_version: u32,
}

impl std::fmt::Debug for PhoneHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PhoneHandle")
            .field(
                "device",
                &encode_pubkey_multibase(&self.device_key.verifying_key()),
            )
            .field("key_version", &self.key_version)
            .field("closed", &*self.close.borrow())
            .finish_non_exhaustive()
    }
}

impl PhoneHandle {
    /// Signs `payload` (canonical JSON-RPC) with the device key and sends it: written at once
    /// when the link is up and nothing waits ahead of it, otherwise queued, waiting for space.
    pub async fn send_envelope(&self, payload: Vec<u8>) -> Result<EnvelopeReceipt, TransportError> {
        let (outgoing, receipt) = self.envelope(payload)?;
        self.submit(outgoing).await?;
        Ok(receipt)
    }

    /// As [`PhoneHandle::send_envelope`], but always through the queue, failing with
    /// [`TransportError::QueueFull`] at once when it is full.
    pub fn try_send_envelope(&self, payload: Vec<u8>) -> Result<EnvelopeReceipt, TransportError> {
        let (outgoing, receipt) = self.envelope(payload)?;
        let permit = self.tx.try_reserve().map_err(|e| match e {
            mpsc::error::TrySendError::Full(()) => TransportError::QueueFull,
            mpsc::error::TrySendError::Closed(()) => TransportError::LinkClosed,
        })?;
        self.shared.backlog.fetch_add(1, Ordering::SeqCst);
        permit.send(outgoing);
        Ok(receipt)
    }

    fn envelope(&self, payload: Vec<u8>) -> Result<(Outgoing, EnvelopeReceipt), TransportError> {
        let envelope = SignedEnvelope::sign(payload, &self.device_key, self.key_version);
        let text = ClientFrame::Envelope { envelope }
            .encode()
            .map_err(TransportError::Frame)?;
        let (tx, rx) = oneshot::channel();
        Ok((
            Outgoing {
                text: text.into(),
                receipt: Some(tx),
            },
            EnvelopeReceipt { rx },
        ))
    }

    async fn send(&self, frame: ClientFrame) -> Result<(), TransportError> {
        self.send_text(frame.encode().map_err(TransportError::Frame)?)
            .await
    }

    /// Sends an encoded frame that has no receipt.
    async fn send_text(&self, text: String) -> Result<(), TransportError> {
        self.submit(Outgoing {
            text: text.into(),
            receipt: None,
        })
        .await
    }

    /// Writes `outgoing` directly if it can, else queues it (waiting for space).
    async fn submit(&self, outgoing: Outgoing) -> Result<(), TransportError> {
        let Some(outgoing) = self.write_direct(outgoing).await else {
            return Ok(());
        };
        let permit = self
            .tx
            .reserve()
            .await
            .map_err(|_| TransportError::LinkClosed)?;
        // Raised before the frame is in the queue, so the link task never lowers it first.
        self.shared.backlog.fetch_add(1, Ordering::SeqCst);
        permit.send(outgoing);
        Ok(())
    }

    /// Writes and flushes `outgoing` from the caller's task when the link is up and nothing is
    /// queued or held ahead of it; gives it back otherwise. A failed write leaves the frame held
    /// (plain) or pending (secure), exactly as a queued one, and has the link reconnect.
    async fn write_direct(&self, outgoing: Outgoing) -> Option<Outgoing> {
        let shared = &*self.shared;
        if shared.backlog.load(Ordering::SeqCst) != 0 {
            return Some(outgoing);
        }
        let mut writer = shared.writer.lock().await;
        // Checked again under the lock: the link task writes queued frames only under it.
        if shared.backlog.load(Ordering::SeqCst) != 0 {
            return Some(outgoing);
        }
        let Some(live) = writer.as_mut() else {
            return Some(outgoing);
        };
        let (_, result) = live.write_batch(shared, outgoing, || None).await;
        if let Err(error) = result {
            *writer = None;
            shared.break_link(error);
        }
        None
    }

    /// Starts an utterance at `sample_rate` Hz.
    pub async fn send_audio_start(&self, sample_rate: u32) -> Result<(), TransportError> {
        self.send(ClientFrame::AudioStreamStart { sample_rate })
            .await
    }

    /// Sends mono f32 samples, split into chunks of at most
    /// [`MAX_AUDIO_CHUNK_BYTES`](crate::mobile::MAX_AUDIO_CHUNK_BYTES).
    pub async fn send_audio(&self, samples: &[f32]) -> Result<(), TransportError> {
        for chunk in samples.chunks(MAX_AUDIO_CHUNK_BYTES / 4) {
            self.send_text(
                encode_audio_chunk(&samples_to_pcm(chunk)).map_err(TransportError::Frame)?,
            )
            .await?;
        }
        Ok(())
    }

    /// Ends the utterance.
    pub async fn send_audio_end(&self) -> Result<(), TransportError> {
        self.send(ClientFrame::AudioStreamEnd).await
    }

    /// Sends a channel query (`list`, or `events` with a channel and an inclusive start).
    pub async fn send_channel_query(
        &self,
        op: impl Into<String>,
        channel_id: Option<String>,
        since_seq: Option<u64>,
    ) -> Result<(), TransportError> {
        self.send(ClientFrame::ChannelQuery {
            op: op.into(),
            channel_id,
            since_seq,
        })
        .await
    }

    /// Closes the link; frames queued and not yet written are dropped (their envelopes fail).
    pub fn close(&self) {
        self.close.send_replace(true);
    }
}

/// One established link.
struct Link {
    ws: Ws,
    keys: Option<SessionKeys>,
    phone_nonce: Option<[u8; CONNECTION_NONCE_LEN]>,
    /// The resume report received with `paired`, if any.
    report: Option<([u8; CONNECTION_NONCE_LEN], u64)>,
    /// Application frames that arrived with the handshake's last flight.
    early: Vec<ServerFrame>,
}

/// Pairs or resumes; returns the link and (after enrollment) the new identity.
///
/// On success the background task keeps the link up. The first connection is not retried: an
/// error here is the caller's to handle.
pub async fn connect(
    config: PhoneConfig,
    start: PhoneStart,
) -> Result<(PhoneHandle, PhoneEvents, DeviceIdentity), TransportError> {
    let (link, identity) = match start {
        PhoneStart::Pair { qr, device_key } => {
            let (link, secret) =
                tokio::time::timeout(config.connect_timeout, enroll(&config, &qr, &device_key))
                    .await
                    .map_err(|_| TransportError::Timeout("pairing"))??;
            let identity = DeviceIdentity {
                device_key,
                key_version: 0,
                did: qr.offer.did.clone(),
                link_secret: secret,
            };
            (link, identity)
        }
        PhoneStart::Resume(identity) => {
            let link =
                tokio::time::timeout(config.connect_timeout, resume(&config, &identity, None))
                    .await
                    .map_err(|_| TransportError::Timeout("resuming"))??;
            (link, identity)
        }
    };
    let (tx, rx) = mpsc::channel(config.send_queue.max(1));
    let (events_tx, events_rx) = mpsc::channel(config.event_queue.max(1));
    let (close, close_rx) = watch::channel(false);
    let shared = Arc::new(Shared {
        writer: tokio::sync::Mutex::new(None),
        backlog: AtomicUsize::new(0),
        opened: AtomicU64::new(0),
        pending: Mutex::new(VecDeque::new()),
        held: Mutex::new(VecDeque::new()),
        broken: Mutex::new(None),
        broken_signal: Notify::new(),
        write_timeout: config.write_timeout,
    });
    let handle = PhoneHandle {
        tx,
        shared: Arc::clone(&shared),
        close: Arc::new(close),
        device_key: identity.device_key.clone(),
        key_version: identity.key_version,
    };
    let runner = Runner {
        config,
        identity: identity.clone(),
        shared,
        queue: rx,
        events: events_tx,
        close: close_rx,
        unsettled: None,
    };
    tokio::spawn(runner.run(link));
    Ok((handle, PhoneEvents { rx: events_rx }, identity))
}

fn fresh_nonce() -> [u8; CONNECTION_NONCE_LEN] {
    let mut nonce = [0u8; CONNECTION_NONCE_LEN];
    OsRng.fill_bytes(&mut nonce);
    nonce
}

/// Opens the WebSocket, offering secure mode unless the policy says plain only. Returns the
/// socket and, when the desktop accepted secure mode, both nonces.
async fn open(
    config: &PhoneConfig,
    previous: Option<[u8; CONNECTION_NONCE_LEN]>,
) -> Result<
    (
        Ws,
        Option<([u8; CONNECTION_NONCE_LEN], [u8; CONNECTION_NONCE_LEN])>,
    ),
    TransportError,
> {
    let mut request = config
        .url
        .as_str()
        .into_client_request()
        .map_err(|e| TransportError::WebSocket(e.to_string()))?;
    let phone_nonce = fresh_nonce();
    if config.security != PhoneSecurity::PlainOnly {
        let headers = request.headers_mut();
        if let Ok(v) = HeaderValue::from_str(&nonce_hex(&phone_nonce)) {
            headers.insert(NONCE_HEADER, v);
        }
        if let Some(previous) = previous {
            if let Ok(v) = HeaderValue::from_str(&nonce_hex(&previous)) {
                headers.insert(PREVIOUS_HEADER, v);
            }
        }
    }
    let uri = request.uri();
    if uri.scheme_str() != Some("ws") {
        return Err(TransportError::WebSocket(format!(
            "{} is not a ws:// URL (the transport has no TLS; secure mode seals frames itself)",
            uri
        )));
    }
    let host = uri.host().unwrap_or_default();
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let port = uri.port_u16().unwrap_or(80);
    let stream = TcpStream::connect((host.as_str(), port))
        .await
        .map_err(|e| TransportError::WebSocket(e.to_string()))?;
    let _ = stream.set_nodelay(true);
    let (ws, response) = tokio_tungstenite::client_async_with_config(
        request,
        ReadAhead::new(stream),
        Some(ws_config()),
    )
    .await
    .map_err(|e| TransportError::WebSocket(e.to_string()))?;
    let desktop_nonce = response
        .headers()
        .get(NONCE_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(parse_nonce_hex);
    let nonces = match (config.security, desktop_nonce) {
        (PhoneSecurity::PlainOnly, _) => None,
        (_, Some(desktop_nonce)) => Some((phone_nonce, desktop_nonce)),
        (PhoneSecurity::RequireSecure, None) => return Err(TransportError::SecureModeUnavailable),
        (_, None) => None,
    };
    Ok((ws, nonces))
}

async fn send_text(ws: &mut Ws, frame: &ClientFrame) -> Result<(), TransportError> {
    let text = frame.encode().map_err(TransportError::Frame)?;
    ws.send(Message::text(text))
        .await
        .map_err(|e| TransportError::WebSocket(e.to_string()))
}

/// One received handshake message: a plain frame or an opened record.
enum Received {
    Frame(ServerFrame),
    Record(RecordKind, Vec<u8>),
}

async fn receive(ws: &mut Ws, keys: Option<&mut SessionKeys>) -> Result<Received, TransportError> {
    loop {
        let message = match ws.next().await {
            None => return Err(TransportError::Closed { code: None }),
            Some(Err(e)) => return Err(TransportError::WebSocket(e.to_string())),
            Some(Ok(m)) => m,
        };
        match message {
            Message::Text(text) => {
                // A rejection may arrive unsealed even on a secure link (before keys exist).
                let frame = decode_server_frame(text.as_bytes()).map_err(TransportError::Frame)?;
                return Ok(Received::Frame(frame));
            }
            Message::Binary(bytes) => {
                let Some(keys) = keys else {
                    return Err(TransportError::Secure(SecureError::Unsealed));
                };
                let opened = keys.open(&bytes).map_err(TransportError::Secure)?;
                return Ok(Received::Record(opened.kind, opened.payload));
            }
            Message::Close(frame) => {
                return Err(TransportError::Closed {
                    code: frame.map(|f| u16::from(f.code)),
                })
            }
            _ => {}
        }
    }
}

fn rejection(error: PhoneRejection) -> TransportError {
    match &error {
        PhoneRejection::RejectedByDesktop { reason } if reason == "device is not paired" => {
            TransportError::Unpaired
        }
        PhoneRejection::RejectedByDesktop { reason } if reason == "secure mode is required" => {
            TransportError::SecureModeRequired
        }
        _ => TransportError::Rejected(error),
    }
}

async fn enroll(
    config: &PhoneConfig,
    qr: &PairingQr,
    device_key: &SigningKey,
) -> Result<(Link, Option<LinkSecret>), TransportError> {
    let (mut ws, nonces) = open(config, None).await?;
    if nonces.is_none() && qr.secure && config.security != PhoneSecurity::PlainOnly {
        return Err(TransportError::SecureModeUnavailable);
    }
    let (mut session, hello) =
        PhoneSession::enroll(qr.offer.clone(), config.agent.clone(), device_key.clone());
    let pubkey = session.pubkey().to_owned();
    send_text(&mut ws, &hello).await?;
    let challenge = match receive(&mut ws, None).await? {
        Received::Frame(frame) => frame,
        Received::Record(..) => return Err(TransportError::Secure(SecureError::Unsealed)),
    };
    let pair_nonce = match &challenge {
        ServerFrame::PairChallenge { nonce, .. } => nonce.clone(),
        _ => Vec::new(),
    };
    let proof = match session.handle(challenge).map_err(rejection)? {
        PhoneStep::Send(proof) => proof,
        _ => return Err(TransportError::Rejected(PhoneRejection::SessionClosed)),
    };
    let (mut keys, secret) = match nonces {
        Some((phone_nonce, desktop_nonce)) => {
            let fields = TranscriptFields {
                proto: PAIR_PROTO,
                agent: &config.agent,
                wid: &qr.offer.wid,
                did: &qr.offer.did,
                phone_pubkey: &pubkey,
                nonce: &pair_nonce,
            };
            let secret = LinkSecret::from_enrollment(&qr.offer.token, &fields)
                .map_err(|e| TransportError::Rejected(PhoneRejection::Transcript(e)))?;
            let ctx = SessionContext {
                did: &qr.offer.did,
                device: &pubkey,
                phone_nonce: &phone_nonce,
                desktop_nonce: &desktop_nonce,
                binding: Binding::Enroll {
                    pair_nonce: &pair_nonce,
                },
            };
            (
                Some(
                    SessionKeys::derive(&secret, Side::Phone, &ctx)
                        .map_err(TransportError::Secure)?,
                ),
                Some(secret),
            )
        }
        None => (None, None),
    };
    send_frame(&mut ws, keys.as_mut(), &proof).await?;
    finish_handshake(ws, session, keys, nonces.map(|(p, _)| p), secret).await
}

async fn send_frame(
    ws: &mut Ws,
    keys: Option<&mut SessionKeys>,
    frame: &ClientFrame,
) -> Result<(), TransportError> {
    match keys {
        Some(keys) => {
            let text = frame.encode().map_err(TransportError::Frame)?;
            let record = keys
                .seal(RecordKind::Frame, text.as_bytes())
                .map_err(TransportError::Secure)?;
            ws.send(Message::binary(record))
                .await
                .map_err(|e| TransportError::WebSocket(e.to_string()))
        }
        None => send_text(ws, frame).await,
    }
}

/// Waits for `paired` (sealed in secure mode) and, on a secure resume, the resume report.
async fn finish_handshake(
    mut ws: Ws,
    mut session: PhoneSession,
    mut keys: Option<SessionKeys>,
    phone_nonce: Option<[u8; CONNECTION_NONCE_LEN]>,
    secret: Option<LinkSecret>,
) -> Result<(Link, Option<LinkSecret>), TransportError> {
    let paired = match receive(&mut ws, keys.as_mut()).await? {
        Received::Frame(frame) => {
            if keys.is_some() && !matches!(frame, ServerFrame::Rejected { .. }) {
                return Err(TransportError::Secure(SecureError::Unsealed));
            }
            frame
        }
        Received::Record(RecordKind::Frame, payload) => {
            decode_server_frame(&payload).map_err(TransportError::Frame)?
        }
        Received::Record(..) => {
            return Err(TransportError::Secure(SecureError::UnknownKind { kind: 1 }))
        }
    };
    match session.handle(paired).map_err(rejection)? {
        PhoneStep::Paired { .. } => {}
        _ => return Err(TransportError::Rejected(PhoneRejection::SessionClosed)),
    }
    Ok((
        Link {
            ws,
            keys,
            phone_nonce,
            report: None,
            early: Vec::new(),
        },
        secret,
    ))
}

async fn resume(
    config: &PhoneConfig,
    identity: &DeviceIdentity,
    previous: Option<[u8; CONNECTION_NONCE_LEN]>,
) -> Result<Link, TransportError> {
    let (mut ws, nonces) = open(config, previous).await?;
    if nonces.is_none() && identity.link_secret.is_some() {
        return Err(TransportError::SecureModeUnavailable);
    }
    let (mut session, hello) = PhoneSession::resume(
        config.agent.clone(),
        identity.device_key.clone(),
        identity.key_version,
    );
    let pubkey = session.pubkey().to_owned();
    send_text(&mut ws, &hello).await?;
    let challenge = match receive(&mut ws, None).await? {
        Received::Frame(frame) => frame,
        Received::Record(..) => return Err(TransportError::Secure(SecureError::Unsealed)),
    };
    let challenge_text = match &challenge {
        ServerFrame::Challenge { nonce } => nonce.clone(),
        _ => String::new(),
    };
    let proof = match session.handle(challenge).map_err(rejection)? {
        PhoneStep::Send(proof) => proof,
        _ => return Err(TransportError::Rejected(PhoneRejection::SessionClosed)),
    };
    let mut keys = match (nonces, &identity.link_secret) {
        (Some((phone_nonce, desktop_nonce)), Some(secret)) => {
            let ctx = SessionContext {
                did: &identity.did,
                device: &pubkey,
                phone_nonce: &phone_nonce,
                desktop_nonce: &desktop_nonce,
                binding: Binding::Resume {
                    challenge: &challenge_text,
                },
            };
            Some(SessionKeys::derive(secret, Side::Phone, &ctx).map_err(TransportError::Secure)?)
        }
        // The desktop offers secure mode but this device paired in plain mode: stay plain
        // (unless the policy requires secure).
        (Some(_), None) if config.security == PhoneSecurity::RequireSecure => {
            return Err(TransportError::SecureModeUnavailable)
        }
        _ => None,
    };
    let secure = keys.is_some();
    send_frame(&mut ws, keys.as_mut(), &proof).await?;
    let (mut link, _) = finish_handshake(
        ws,
        session,
        keys.take(),
        nonces.filter(|_| secure).map(|(p, _)| p),
        None,
    )
    .await?;
    if secure && previous.is_some() {
        match receive(&mut link.ws, link.keys.as_mut()).await? {
            Received::Record(RecordKind::ResumeReport, payload) => {
                link.report = parse_resume_report(&payload);
            }
            Received::Record(RecordKind::Frame, payload) => {
                link.early
                    .push(decode_server_frame(&payload).map_err(TransportError::Frame)?);
            }
            Received::Record(RecordKind::Ack, _) => {}
            Received::Frame(_) => return Err(TransportError::Secure(SecureError::Unsealed)),
        }
    }
    Ok(link)
}

/// Envelopes written on a connection that dropped before they were acknowledged.
struct Unsettled {
    phone_nonce: [u8; CONNECTION_NONCE_LEN],
    pending: Vec<(u64, oneshot::Sender<Outcome>)>,
}

struct Runner {
    config: PhoneConfig,
    identity: DeviceIdentity,
    shared: Arc<Shared>,
    queue: mpsc::Receiver<Outgoing>,
    events: mpsc::Sender<PhoneEvent>,
    close: watch::Receiver<bool>,
    unsettled: Option<Unsettled>,
}

enum End {
    /// Closed by the handle (or all handles dropped).
    Local,
    /// The link failed.
    Failed(TransportError),
}

impl Runner {
    async fn run(mut self, first: Link) {
        let mut link = first;
        let error = loop {
            self.settle(&link);
            let previous = link.phone_nonce;
            let error = match self.serve(link).await {
                End::Local => break TransportError::LinkClosed,
                End::Failed(error) => error,
            };
            if !error.is_retryable() {
                break error;
            }
            match self.reconnect(error, previous).await {
                Ok(next) => link = next,
                Err(error) => break error,
            }
        };
        self.fail_all();
        let _ = self.events.send(PhoneEvent::Closed { error }).await;
    }

    /// Settles the previous connection's unacknowledged envelopes from the resume report.
    fn settle(&mut self, link: &Link) {
        let Some(unsettled) = self.unsettled.take() else {
            return;
        };
        let count = match link.report {
            Some((nonce, count)) if nonce == unsettled.phone_nonce && count != u64::MAX => {
                Some(count)
            }
            _ => None,
        };
        for (seq, receipt) in unsettled.pending {
            let outcome = match count {
                Some(count) if seq < count => Ok(EnvelopeDelivery::Acknowledged),
                Some(_) => Err(DeliveryFailure::NotDelivered),
                None => Err(DeliveryFailure::Unknown),
            };
            let _ = receipt.send(outcome);
        }
    }

    fn fail_all(&mut self) {
        if let Some(unsettled) = self.unsettled.take() {
            for (_, receipt) in unsettled.pending {
                let _ = receipt.send(Err(DeliveryFailure::Unknown));
            }
        }
        self.queue.close();
        let held = std::mem::take(&mut *lock(&self.shared.held));
        for outgoing in held {
            if let Some(receipt) = outgoing.receipt {
                let _ = receipt.send(Err(DeliveryFailure::LinkClosed));
            }
        }
        while let Ok(outgoing) = self.queue.try_recv() {
            if let Some(receipt) = outgoing.receipt {
                let _ = receipt.send(Err(DeliveryFailure::LinkClosed));
            }
        }
    }

    async fn reconnect(
        &mut self,
        mut error: TransportError,
        mut previous: Option<[u8; CONNECTION_NONCE_LEN]>,
    ) -> Result<Link, TransportError> {
        let mut attempt: u32 = 0;
        loop {
            if let Some(max) = self.config.backoff.max_attempts {
                if attempt >= max {
                    return Err(error);
                }
            }
            let retry_in = self.config.backoff.delay(attempt);
            let _ = self
                .events
                .send(PhoneEvent::Disconnected { error, retry_in })
                .await;
            let mut close = self.close.clone();
            tokio::select! {
                _ = tokio::time::sleep(retry_in) => {}
                _ = super::raised(&mut close) => return Err(TransportError::LinkClosed),
            }
            attempt = attempt.saturating_add(1);
            let ask = self.unsettled.as_ref().map(|u| u.phone_nonce).or(previous);
            match tokio::time::timeout(
                self.config.connect_timeout,
                resume(&self.config, &self.identity, ask),
            )
            .await
            {
                Ok(Ok(link)) => {
                    let _ = self
                        .events
                        .send(PhoneEvent::Resumed {
                            secure: link.keys.is_some(),
                        })
                        .await;
                    return Ok(link);
                }
                Ok(Err(e)) if !e.is_retryable() => return Err(e),
                Ok(Err(e)) => error = e,
                Err(_) => error = TransportError::Timeout("resuming"),
            }
            previous = ask;
        }
    }

    /// Runs one connection until it ends: reads here, writes from the handles (directly) and
    /// from here (the queue, pings, close).
    async fn serve(&mut self, link: Link) -> End {
        let Link {
            ws,
            keys,
            phone_nonce,
            early,
            ..
        } = link;
        for frame in early {
            let _ = self.events.send(PhoneEvent::Frame(frame)).await;
        }
        let (sink, mut stream) = ws.split();
        let (seal, mut open) = match keys.map(SessionKeys::split) {
            Some((seal, open)) => (Some(seal), Some(open)),
            None => (None, None),
        };
        let shared = Arc::clone(&self.shared);
        // The handshake may already have opened records (`paired`, the resume report).
        shared
            .opened
            .store(open.as_ref().map_or(0, OpenKey::opened), Ordering::SeqCst);
        *lock(&shared.broken) = None;
        *shared.writer.lock().await = Some(LiveWriter { sink, seal });
        let mut ping = tokio::time::interval(self.config.ping_interval);
        ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ping.tick().await;
        let mut last_seen = tokio::time::Instant::now();
        let mut close = self.close.clone();
        // One dead-peer timer, re-armed only when it fires early (not one per message).
        let dead = tokio::time::sleep_until(last_seen + self.config.dead_peer_timeout);
        tokio::pin!(dead);
        let end = loop {
            tokio::select! {
                biased;
                _ = super::raised(&mut close) => {
                    shared.close_writer().await;
                    break End::Local;
                }
                _ = shared.broken_signal.notified() => {
                    if let Some(error) = lock(&shared.broken).take() {
                        break End::Failed(error);
                    }
                }
                message = stream.next() => {
                    last_seen = tokio::time::Instant::now();
                    if let Err(error) = self.on_message(open.as_mut(), message).await {
                        break End::Failed(error);
                    }
                }
                outgoing = next_outgoing(&shared, &mut self.queue) => {
                    let Some(outgoing) = outgoing else {
                        shared.close_writer().await;
                        break End::Local;
                    };
                    if let Err(error) = self.write_backlog(outgoing).await {
                        break End::Failed(error);
                    }
                }
                _ = ping.tick() => {
                    let mut writer = shared.writer.lock().await;
                    let sent = match writer.as_mut() {
                        Some(live) => live.ping(shared.write_timeout).await,
                        None => Err(shared.take_broken()),
                    };
                    if let Err(error) = sent {
                        break End::Failed(error);
                    }
                }
                _ = &mut dead => {
                    let dead_at = last_seen + self.config.dead_peer_timeout;
                    if dead_at <= tokio::time::Instant::now() {
                        break End::Failed(TransportError::DeadPeer);
                    }
                    dead.as_mut().reset(dead_at);
                }
            }
        };
        // Handles write to this connection no more.
        *shared.writer.lock().await = None;
        let pending = std::mem::take(&mut *lock(&shared.pending));
        match (&end, phone_nonce) {
            (End::Failed(_), Some(phone_nonce)) if !pending.is_empty() => {
                self.unsettled = Some(Unsettled {
                    phone_nonce,
                    pending: pending.into_iter().collect(),
                });
            }
            _ => {
                for (_, receipt) in pending {
                    let _ = receipt.send(Err(DeliveryFailure::Unknown));
                }
            }
        }
        end
    }

    /// Writes `first` and what else is queued (up to a batch) under the writer lock, and flushes
    /// once.
    async fn write_backlog(&mut self, first: Outgoing) -> Result<(), TransportError> {
        let shared = Arc::clone(&self.shared);
        let mut writer = shared.writer.lock().await;
        let Some(live) = writer.as_mut() else {
            // A handle's write broke the connection: keep the frame for the next one.
            shared.hold(first);
            shared.backlog.fetch_sub(1, Ordering::SeqCst);
            return Err(shared.take_broken());
        };
        let queue = &mut self.queue;
        let (taken, result) = live
            .write_batch(&shared, first, || {
                shared.take_held().or_else(|| queue.try_recv().ok())
            })
            .await;
        shared.backlog.fetch_sub(taken, Ordering::SeqCst);
        if result.is_err() {
            *writer = None;
        }
        result
    }

    async fn on_message(
        &mut self,
        open: Option<&mut OpenKey>,
        message: Option<Result<Message, WsError>>,
    ) -> Result<(), TransportError> {
        let message = match message {
            None => return Err(TransportError::Closed { code: None }),
            Some(Err(e)) => return Err(TransportError::WebSocket(e.to_string())),
            Some(Ok(message)) => message,
        };
        let frame = match message {
            Message::Text(text) => {
                let frame = decode_server_frame(text.as_bytes()).map_err(TransportError::Frame)?;
                if open.is_some() && !matches!(frame, ServerFrame::Rejected { .. }) {
                    return Err(TransportError::Secure(SecureError::Unsealed));
                }
                frame
            }
            Message::Binary(bytes) => {
                let Some(open) = open else {
                    return Err(TransportError::Secure(SecureError::Unsealed));
                };
                let opened = open.open(&bytes).map_err(TransportError::Secure)?;
                self.shared.opened.store(open.opened(), Ordering::SeqCst);
                {
                    let mut pending = lock(&self.shared.pending);
                    while pending.front().is_some_and(|(seq, _)| *seq < opened.ack) {
                        if let Some((_, receipt)) = pending.pop_front() {
                            let _ = receipt.send(Ok(EnvelopeDelivery::Acknowledged));
                        }
                    }
                }
                match opened.kind {
                    RecordKind::Frame => {
                        decode_server_frame(&opened.payload).map_err(TransportError::Frame)?
                    }
                    RecordKind::Ack | RecordKind::ResumeReport => return Ok(()),
                }
            }
            Message::Close(frame) => {
                let code = frame.map(|f| u16::from(f.code));
                return Err(match code {
                    Some(close_code::UNPAIRED) => TransportError::Unpaired,
                    Some(close_code::SECURE_REQUIRED) => TransportError::SecureModeRequired,
                    code => TransportError::Closed { code },
                });
            }
            _ => return Ok(()),
        };
        match frame {
            ServerFrame::Rejected { reason } => {
                Err(rejection(PhoneRejection::RejectedByDesktop { reason }))
            }
            frame => {
                let _ = self.events.send(PhoneEvent::Frame(frame)).await;
                Ok(())
            }
        }
    }
}

/// The next frame to write from the link task: a held one first, then the queue's.
async fn next_outgoing(shared: &Shared, queue: &mut mpsc::Receiver<Outgoing>) -> Option<Outgoing> {
    if let Some(outgoing) = shared.take_held() {
        return Some(outgoing);
    }
    queue.recv().await
}
