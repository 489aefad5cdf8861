//! The phone end: [`connect`] pairs or resumes, then keeps the link up (pings, dead-peer timeout,
//! reconnect with backoff and resume by key) behind a handle that writes from the caller's task
//! when it can and through a bounded queue when it cannot (see `queue::Shared`).
//!
//! `handshake` opens the WebSocket and pairs or resumes, `link` is the task that keeps the link
//! up, `queue` holds the handles' direct writes, the bounded queue and envelope receipts, and
//! `audio` the open utterance's replay buffer and utterance receipts.

mod audio;
mod handshake;
mod link;
mod queue;

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, AtomicUsize};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ed25519_dalek::SigningKey;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot, watch, Notify};
use tokio_tungstenite::WebSocketStream;

use super::noise::PhoneNoiseKeys;
use super::qr::PairingQr;
use super::read_ahead::ReadAhead;
use super::TransportError;
use crate::mobile::{encode_pubkey_multibase, ServerFrame};
pub use audio::{UtteranceCut, UtteranceOutcome, UtteranceReceipt};
use handshake::{enroll, resume};
use link::Runner;
use queue::{Outgoing, Shared};

type Ws = WebSocketStream<ReadAhead<TcpStream>>;
/// Whether the phone accepts a plain proto-2 desktop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum PhoneSecurity {
    /// Use secure mode whenever the desktop offers it; accept plain only for a desktop that never
    /// offered it (its QR code carries no Noise key and the device holds no Noise keys).
    #[default]
    PreferSecure,
    /// Refuse plain mode ([`TransportError::SecureModeUnavailable`]).
    RequireSecure,
    /// Never offer secure mode when pairing (talk to a deployed desktop exactly as a proto-2
    /// phone does). A device that holds Noise keys still resumes only in secure mode.
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
    /// Most audio of one utterance the phone keeps to send again, whole, after a drop (at the
    /// utterance's sample rate; 30 s by default, 1.9 MB of samples at 16 kHz). A longer utterance
    /// streams as usual, but a drop before its end cuts it
    /// ([`UtteranceCut::ReplayBufferExceeded`]) instead of truncating it. The buffer holds PCM
    /// and keeps its memory for the next utterance (at most this much audio, for the link's
    /// life); `Duration::ZERO` keeps none and cuts every utterance a drop interrupts.
    pub audio_replay: Duration,
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
            audio_replay: Duration::from_secs(30),
        }
    }
}

/// What the phone stores after pairing, to resume later ([`PhoneStart::Resume`]).
///
/// **It holds secrets**: the device's signing key and the phone's Noise static private key.
/// `Debug` shows neither; the serde form carries both, each as 64 hex digits (the signing key as
/// its 32-byte seed), so store a serialized identity as you would a key (the platform keystore).
/// The form (JSON):
///
/// ```json
/// {"device_key": "4ccd089b28ff96da…", "key_version": 0, "did": "z6Mk…",
///  "noise": {"phone_key": "9f86d081884c7d65…", "desktop_key": "3q2-7wAAAAAA…"},
///  "paired_at": 1764633600}
/// ```
///
/// `paired_at` is Unix seconds (0: unknown). `noise` (the phone's private key as hex, the pinned
/// desktop public key as unpadded base64url) is absent (or `null`) after a plain pairing. Fields added in later versions are optional with defaults, so a stored identity
/// keeps loading; unknown fields are ignored.
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct DeviceIdentity {
    /// The device's signing key.
    #[serde(with = "super::persist::signing_key")]
    pub device_key: SigningKey,
    /// Key version signed into envelopes and resume proofs.
    #[serde(default)]
    pub key_version: u32,
    /// The desktop identity (`did`) paired with, multibase.
    pub did: String,
    /// The Noise keys of a secure pairing (the phone's static private key and the desktop's
    /// pinned public key); the phone then resumes only in secure mode, with that desktop.
    #[serde(
        default,
        with = "super::persist::phone_noise_keys",
        skip_serializing_if = "Option::is_none"
    )]
    pub noise: Option<PhoneNoiseKeys>,
    /// When the device paired, Unix seconds (0 if unknown).
    #[serde(default)]
    pub paired_at: u64,
}

impl DeviceIdentity {
    /// An identity of `device_key` paired in plain mode with the desktop `did` (key version 0, no
    /// Noise keys, pairing time unknown): to resume a pairing kept in another form. Identities
    /// from this crate come from [`connect`] and serde.
    pub fn new(device_key: SigningKey, did: impl Into<String>) -> Self {
        DeviceIdentity {
            device_key,
            key_version: 0,
            did: did.into(),
            noise: None,
            paired_at: 0,
        }
    }
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
            .field("secure", &self.noise.is_some())
            .field("paired_at", &self.paired_at)
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
            let (link, noise) =
                tokio::time::timeout(config.connect_timeout, enroll(&config, &qr, &device_key))
                    .await
                    .map_err(|_| TransportError::Timeout("pairing"))??;
            let identity = DeviceIdentity {
                device_key,
                key_version: 0,
                did: qr.offer.did.clone(),
                noise,
                paired_at: super::persist::unix_now(),
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
        audio: Mutex::new(audio::AudioState::new(config.audio_replay)),
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
