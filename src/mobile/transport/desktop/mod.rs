//! The desktop end: an async WebSocket server for [`MOBILE_WS_PATH`] that drives
//! [`DesktopEndpoint`] / [`DesktopSession`](crate::mobile::DesktopSession) for many phones at
//! once.
//!
//! `accept` holds the accept loop and the connection cap, `handshake` the upgrade and the
//! pairing or resume handshake (plain and secure), `connection` the per-connection task.

mod accept;
mod connection;
mod handshake;

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ed25519_dalek::VerifyingKey;
use rand_core::OsRng;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tokio_tungstenite::tungstenite::Utf8Bytes;

use super::lock;
use super::noise::{NoisePublicKey, NoiseSecretKey};
use super::qr::PairingQr;
use super::secure::{SecureError, CONNECTION_NONCE_LEN};
use crate::mobile::{
    DesktopEndpoint, DesktopRejection, FrameError, PairedDevice, PairingWindowConfig, ServerFrame,
    SignedEnvelope, MOBILE_WS_PATH,
};
use accept::accept_loop;

/// Whether the desktop accepts plain proto-2 phones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum DesktopSecurity {
    /// Offer secure mode; accept plain proto-2 phones too (deployed apps).
    #[default]
    AllowPlain,
    /// Refuse every phone that does not speak secure mode
    /// ([`DisconnectReason::SecureModeRequired`]).
    RequireSecure,
}

/// Default of [`DesktopConfig::max_pre_auth_bytes`]: 8 KiB. A genuine secure handshake sends
/// under 800 bytes after the upgrade and before pairing (a resume; an enrollment under 400), so
/// this leaves ten times that for a larger handshake and a few pings, and bounds what an
/// unauthenticated peer can make the desktop buffer to 8 KiB per connection instead of a 1 MiB
/// frame.
pub const DEFAULT_MAX_PRE_AUTH_BYTES: usize = 8 * 1024;

/// Configuration of a [`MobileDesktop`].
#[derive(Debug, Clone)]
pub struct DesktopConfig {
    /// The agent name served (`mur`).
    pub agent: String,
    /// The desktop identity key, sent as `did`.
    pub identity: VerifyingKey,
    /// The desktop's Noise static key. Persist it beside the identity key and pass it back on
    /// every start: paired phones pin its public half, and resume only with its holder.
    pub noise_key: NoiseSecretKey,
    /// Plain-mode policy (a device paired in secure mode is never served plain, whatever this
    /// says).
    pub security: DesktopSecurity,
    /// Most simultaneous connections (paired or not); more are refused
    /// ([`DisconnectReason::TooManyConnections`]).
    pub max_connections: usize,
    /// Most connections from one address that have not yet paired (IPv4: one address; IPv6: one
    /// `/64`, which one host can fill with addresses); more from it are refused
    /// ([`DisconnectReason::TooManyFromAddress`]), so one host cannot hold every slot of
    /// [`max_connections`](Self::max_connections) for the handshake deadline. A paired
    /// connection no longer counts. Default 64; raise it if phones reach the desktop through a
    /// proxy, where they all share one address.
    pub max_handshakes_per_address: usize,
    /// Most bytes a connection may send after the WebSocket upgrade and before it is paired (the
    /// handshake's messages and their WebSocket framing, together): past it the connection ends
    /// ([`DisconnectReason::FrameTooLarge`]) without more being read. Default
    /// [`DEFAULT_MAX_PRE_AUTH_BYTES`]; once paired, the 1 MiB
    /// [`MAX_FRAME_BYTES`](crate::mobile::MAX_FRAME_BYTES) cap applies per message.
    pub max_pre_auth_bytes: usize,
    /// Most refused connections (past either cap above) answered at once, each with a
    /// [`close_code::BUSY`](super::close_code::BUSY) close within a short deadline; past it a
    /// refused socket is closed at once, unanswered (the phone sees a failed upgrade, which it
    /// also retries), and its [`DesktopEvent::Disconnected`] is dropped if the event queue is
    /// full. Refusals therefore cost bounded work however many sockets a flood opens. Default 32.
    pub max_refusals: usize,
    /// Time a connection has from TCP accept to `paired`.
    pub handshake_timeout: Duration,
    /// Most frames a connection may send before it is paired (the handshake needs two).
    pub max_handshake_frames: u32,
    /// A paired connection from which nothing (not even a ping) arrives for this long is closed.
    pub idle_timeout: Duration,
    /// A write that cannot complete within this time closes the connection
    /// ([`DisconnectReason::SlowReader`]).
    pub write_timeout: Duration,
    /// Capacity of each connection's outgoing queue ([`ConnectionHandle::try_send`] fails when full).
    pub send_queue: usize,
    /// Capacity of the event queue; a full queue makes connections wait (backpressure).
    pub event_queue: usize,
}

impl DesktopConfig {
    /// Defaults for `agent` with identity key `identity` and a fresh Noise key (a daemon sets
    /// [`DesktopConfig::noise_key`] to its persisted key; a fresh one after a restart makes every
    /// securely paired phone fail its resume).
    pub fn new(agent: impl Into<String>, identity: &VerifyingKey) -> Self {
        DesktopConfig {
            agent: agent.into(),
            identity: *identity,
            noise_key: NoiseSecretKey::generate(),
            security: DesktopSecurity::AllowPlain,
            max_connections: 4096,
            max_handshakes_per_address: 64,
            max_pre_auth_bytes: DEFAULT_MAX_PRE_AUTH_BYTES,
            max_refusals: 32,
            handshake_timeout: Duration::from_secs(10),
            max_handshake_frames: 8,
            idle_timeout: Duration::from_secs(60),
            write_timeout: Duration::from_secs(5),
            send_queue: 64,
            event_queue: 1024,
        }
    }
}

/// A connection's id, unique for the endpoint's lifetime.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnectionId(pub u64);

/// Why a connection ended.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DisconnectReason {
    /// The phone closed the connection or the socket ended.
    PeerClosed,
    /// The handshake or a frame was rejected (a `rejected` frame was sent).
    Rejected(DesktopRejection),
    /// A frame did not decode (a `rejected` frame was sent).
    BadFrame(FrameError),
    /// A message exceeded the frame limit (1 MiB), or before pairing the connection sent more
    /// than [`DesktopConfig::max_pre_auth_bytes`]; it was not read into memory.
    FrameTooLarge,
    /// A binary message arrived on a plain connection (text on a secure one is
    /// [`DisconnectReason::Secure`] with [`SecureError::Unsealed`]).
    WrongMessageType,
    /// A secure record failed its check (forged, replayed, or from another connection).
    Secure(SecureError),
    /// An audio chunk did not hold whole f32 samples.
    BadAudio,
    /// The handshake did not finish within [`DesktopConfig::handshake_timeout`].
    HandshakeTimeout,
    /// More than [`DesktopConfig::max_handshake_frames`] frames before pairing.
    HandshakeFlood,
    /// A write did not complete within [`DesktopConfig::write_timeout`].
    SlowReader,
    /// Nothing arrived within [`DesktopConfig::idle_timeout`].
    IdleTimeout,
    /// The phone did not offer secure mode and the desktop requires it.
    SecureModeRequired,
    /// The device was unpaired ([`MobileDesktop::unpair`]).
    Unpaired,
    /// A newer connection of the same device replaced this one.
    Replaced,
    /// The endpoint was at [`DesktopConfig::max_connections`].
    TooManyConnections,
    /// The peer's address already had [`DesktopConfig::max_handshakes_per_address`] connections
    /// in handshake.
    TooManyFromAddress,
    /// The WebSocket upgrade failed (wrong path, not a WebSocket request, I/O).
    UpgradeFailed(String),
    /// A read or write failed.
    Io(String),
    /// The endpoint shut down.
    Shutdown,
}

/// Why the desktop reports an utterance cut ([`DesktopEvent::AudioCut`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AudioCutReason {
    /// The connection ended (for this reason) before the utterance's end arrived.
    ConnectionEnded(DisconnectReason),
    /// A new `audio_stream_start` arrived before this utterance's end (proto 2 clears the
    /// accumulator at a start).
    Restarted,
    /// Audio or an end arrived on a connection with no utterance started; it was dropped.
    /// Reported once until the next start.
    NotStarted,
}

/// A paired device with its phone's Noise static public key: what a daemon persists (from
/// [`DesktopEvent::Paired`] or [`MobileDesktop::devices`]) and hands back to
/// [`MobileDesktop::serve`] after a restart.
///
/// It holds no secret (the desktop's own Noise private key is [`DesktopConfig::noise_key`],
/// persisted apart). The serde form (JSON):
///
/// ```json
/// {"device": {"pubkey": "z6Mk…", "agent": "mur", "paired_at": 1764633600},
///  "noise_key": "3q2-7wAAAAAA…"}
/// ```
///
/// `paired_at` is Unix seconds. `noise_key` (unpadded base64url, 32 bytes) is absent (or `null`)
/// for a device paired in plain mode; a device that has one resumes only in secure mode, proving
/// it. Fields added in later versions are optional with defaults, so a stored record keeps
/// loading; unknown fields are ignored.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct PairedDeviceRecord {
    /// The device.
    pub device: PairedDevice,
    /// The phone's Noise static public key, if the device enrolled in secure mode; such a device
    /// resumes only in secure mode, proving this key.
    #[serde(
        default,
        with = "super::persist::noise_public_key",
        skip_serializing_if = "Option::is_none"
    )]
    pub noise_key: Option<NoisePublicKey>,
}

impl PairedDeviceRecord {
    /// A record of `device`, with its phone's Noise static public key if it enrolled in secure
    /// mode (to restore a pairing kept in another form; records from this crate come from events
    /// and serde).
    pub fn new(device: PairedDevice, noise_key: Option<NoisePublicKey>) -> Self {
        PairedDeviceRecord { device, noise_key }
    }
}

/// What the endpoint reports to the daemon.
// Events are moved once, from a connection to the daemon; boxing the large ones would cost an
// allocation each for nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
#[non_exhaustive]
pub enum DesktopEvent {
    /// A device enrolled through a pairing window; persist `record`.
    Paired {
        /// Handle to send frames to the phone.
        connection: ConnectionHandle,
        /// The new device and its Noise key.
        record: PairedDeviceRecord,
    },
    /// A paired device resumed.
    Resumed {
        /// Handle to send frames to the phone.
        connection: ConnectionHandle,
    },
    /// A signed envelope, verified (strictly) under the device key.
    Envelope {
        /// The connection.
        connection: ConnectionId,
        /// The device key, multibase.
        device: String,
        /// The envelope.
        envelope: SignedEnvelope,
    },
    /// An utterance starts. Until its [`DesktopEvent::AudioEnd`] or [`DesktopEvent::AudioCut`],
    /// the same connection's [`DesktopEvent::AudioChunk`]s are its samples, in order.
    AudioStart {
        /// The connection.
        connection: ConnectionId,
        /// Sample rate in Hz.
        sample_rate: u32,
    },
    /// A chunk of the utterance, as samples.
    AudioChunk {
        /// The connection.
        connection: ConnectionId,
        /// Mono f32 samples.
        samples: Vec<f32>,
    },
    /// The utterance ended whole: every chunk since the connection's [`DesktopEvent::AudioStart`]
    /// is the utterance. Never without that start on the same connection.
    AudioEnd {
        /// The connection.
        connection: ConnectionId,
    },
    /// The connection's utterance did not end whole: discard what it delivered since its
    /// [`DesktopEvent::AudioStart`] (if any). A phone of this crate that still holds the
    /// utterance sends it again, whole, from its start on its next connection.
    AudioCut {
        /// The connection.
        connection: ConnectionId,
        /// The device key, multibase.
        device: String,
        /// Why.
        reason: AudioCutReason,
        /// Samples delivered since the start before the cut (0 for [`AudioCutReason::NotStarted`]).
        samples: u64,
    },
    /// A channel query; answer with [`ServerFrame::ChannelData`].
    ChannelQuery {
        /// The connection.
        connection: ConnectionId,
        /// `list` or `events`.
        op: String,
        /// The channel, for `events`.
        channel_id: Option<String>,
        /// First sequence wanted (inclusive).
        since_seq: Option<u64>,
    },
    /// A connection ended.
    Disconnected {
        /// The connection.
        connection: ConnectionId,
        /// The peer's address.
        peer: SocketAddr,
        /// The device, if the connection had paired.
        device: Option<String>,
        /// Why.
        reason: DisconnectReason,
    },
}

/// Sends [`ServerFrame`]s to one connected phone. Cheap to clone.
#[derive(Debug, Clone)]
pub struct ConnectionHandle {
    id: ConnectionId,
    device: String,
    secure: bool,
    /// Frames already encoded by the sender, so an encoding error is the sender's and the
    /// connection task only seals and writes.
    tx: mpsc::Sender<Utf8Bytes>,
}

impl ConnectionHandle {
    /// The connection's id.
    pub fn id(&self) -> ConnectionId {
        self.id
    }

    /// The device key, multibase.
    pub fn device(&self) -> &str {
        &self.device
    }

    /// Whether the link is in secure mode.
    pub fn is_secure(&self) -> bool {
        self.secure
    }

    /// Encodes `frame` and queues it, waiting for space; fails if it does not encode or once the
    /// connection has ended.
    pub async fn send(&self, frame: ServerFrame) -> Result<(), super::TransportError> {
        let text = frame.encode().map_err(super::TransportError::Frame)?;
        self.tx
            .send(text.into())
            .await
            .map_err(|_| super::TransportError::LinkClosed)
    }

    /// Encodes `frame` and queues it if there is space ([`super::TransportError::QueueFull`]
    /// otherwise).
    pub fn try_send(&self, frame: ServerFrame) -> Result<(), super::TransportError> {
        let text = frame.encode().map_err(super::TransportError::Frame)?;
        self.tx.try_send(text.into()).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => super::TransportError::QueueFull,
            mpsc::error::TrySendError::Closed(_) => super::TransportError::LinkClosed,
        })
    }
}

/// The desktop's event stream.
#[derive(Debug)]
pub struct DesktopEvents {
    rx: mpsc::Receiver<DesktopEvent>,
}

impl DesktopEvents {
    /// The next event; `None` once the endpoint has shut down and every connection has ended.
    pub async fn recv(&mut self) -> Option<DesktopEvent> {
        self.rx.recv().await
    }
}

struct LiveConnection {
    device: Option<String>,
    close: watch::Sender<Option<DisconnectReason>>,
    ended: watch::Receiver<bool>,
}

#[derive(Default)]
struct Registry {
    /// Each securely paired device's Noise static public key.
    statics: HashMap<String, NoisePublicKey>,
    live: HashMap<ConnectionId, LiveConnection>,
    /// Connections not yet paired, per address group (see `accept::address_group`).
    handshaking: HashMap<IpAddr, usize>,
    recent: HashMap<String, VecDeque<([u8; CONNECTION_NONCE_LEN], u64)>>,
}

struct Shared {
    config: DesktopConfig,
    endpoint: Mutex<DesktopEndpoint>,
    registry: Mutex<Registry>,
    /// Taken at the end of shutdown, so the event stream ends.
    events: Mutex<Option<mpsc::Sender<DesktopEvent>>>,
    started: Instant,
    /// Unix time (seconds) at `started`.
    started_unix: u64,
    /// Refusals being answered now (at most [`DesktopConfig::max_refusals`]).
    refusals: Arc<tokio::sync::Semaphore>,
    next_id: AtomicU64,
    shutdown: watch::Sender<bool>,
    addr: SocketAddr,
}

impl Shared {
    /// Unix seconds, but steady: the wall clock read once at start plus the monotonic time since,
    /// so a pairing window's lifetime cannot jump with the clock while a device's `paired_at`
    /// still means something after a restart.
    fn now(&self) -> u64 {
        self.started_unix
            .saturating_add(self.started.elapsed().as_secs())
    }
}

/// The desktop's mobile endpoint. Cheap to clone; [`MobileDesktop::shutdown`] stops it.
#[derive(Clone)]
pub struct MobileDesktop {
    shared: Arc<Shared>,
    acceptor: Arc<Mutex<Option<tokio::task::JoinHandle<()>>>>,
}

impl std::fmt::Debug for MobileDesktop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MobileDesktop")
            .field("addr", &self.shared.addr)
            .field("agent", &self.shared.config.agent)
            .finish_non_exhaustive()
    }
}

impl MobileDesktop {
    /// Binds `addr` and starts serving [`MOBILE_WS_PATH`]; returns the endpoint and its events.
    pub async fn bind(
        addr: impl tokio::net::ToSocketAddrs,
        config: DesktopConfig,
    ) -> std::io::Result<(Self, DesktopEvents)> {
        let listener = TcpListener::bind(addr).await?;
        Self::serve(listener, config, Vec::new())
    }

    /// Serves on `listener`, starting with the paired devices in `devices` (as persisted from
    /// [`DesktopEvent::Paired`] and [`MobileDesktop::devices`]).
    pub fn serve(
        listener: TcpListener,
        config: DesktopConfig,
        devices: Vec<PairedDeviceRecord>,
    ) -> std::io::Result<(Self, DesktopEvents)> {
        let addr = listener.local_addr()?;
        let mut endpoint = DesktopEndpoint::new(config.agent.clone(), &config.identity);
        let mut registry = Registry::default();
        for record in devices {
            let device = record.device;
            endpoint.paired_devices_mut().insert(
                device.key,
                device.agent.clone(),
                device.paired_at,
            );
            if let Some(key) = record.noise_key {
                registry.statics.insert(device.pubkey.clone(), key);
            }
        }
        let (events, rx) = mpsc::channel(config.event_queue.max(1));
        let (shutdown, _) = watch::channel(false);
        let refusals = Arc::new(tokio::sync::Semaphore::new(
            config.max_refusals.min(tokio::sync::Semaphore::MAX_PERMITS),
        ));
        let shared = Arc::new(Shared {
            config,
            endpoint: Mutex::new(endpoint),
            registry: Mutex::new(registry),
            events: Mutex::new(Some(events)),
            started: Instant::now(),
            started_unix: super::persist::unix_now(),
            refusals,
            next_id: AtomicU64::new(1),
            shutdown,
            addr,
        });
        let acceptor = tokio::spawn(accept_loop(listener, Arc::clone(&shared)));
        Ok((
            MobileDesktop {
                shared,
                acceptor: Arc::new(Mutex::new(Some(acceptor))),
            },
            DesktopEvents { rx },
        ))
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.shared.addr
    }

    /// The `ws://` URL of the endpoint (for a phone on this machine).
    pub fn url(&self) -> String {
        format!("ws://{}{}", self.shared.addr, MOBILE_WS_PATH)
    }

    /// The identity key, multibase (`did`).
    pub fn did(&self) -> String {
        lock(&self.shared.endpoint).did().to_owned()
    }

    /// Opens a pairing window and returns what its QR code carries.
    pub fn open_pairing_window(&self, config: PairingWindowConfig) -> PairingQr {
        let now = self.shared.now();
        let mut endpoint = lock(&self.shared.endpoint);
        endpoint.prune_windows(now);
        let offer = endpoint.open_window(&mut OsRng, now, config);
        PairingQr {
            offer,
            noise_key: self.shared.config.noise_key.public_key().ok(),
        }
    }

    /// Number of pairing windows still open (unused, unexpired, with attempts left).
    pub fn open_window_count(&self) -> usize {
        let now = self.shared.now();
        let mut endpoint = lock(&self.shared.endpoint);
        endpoint.prune_windows(now);
        endpoint.windows().count()
    }

    /// The paired devices, with their phones' Noise keys (for persisting).
    pub fn devices(&self) -> Vec<PairedDeviceRecord> {
        let endpoint = lock(&self.shared.endpoint);
        let registry = lock(&self.shared.registry);
        endpoint
            .paired_devices()
            .iter()
            .map(|device| PairedDeviceRecord {
                device: device.clone(),
                noise_key: registry.statics.get(&device.pubkey).copied(),
            })
            .collect()
    }

    /// Unpairs `device` (multibase) and closes its live connections
    /// ([`DisconnectReason::Unpaired`]); returns whether it was paired. Its phone's next resume
    /// is rejected as unknown.
    pub async fn unpair(&self, device: &str) -> bool {
        let removed = lock(&self.shared.endpoint)
            .paired_devices_mut()
            .remove(device);
        let Some(removed) = removed else {
            return false;
        };
        let mut waits = Vec::new();
        {
            let mut registry = lock(&self.shared.registry);
            registry.statics.remove(&removed.pubkey);
            registry.recent.remove(&removed.pubkey);
            for live in registry.live.values() {
                if live.device.as_deref() == Some(removed.pubkey.as_str()) {
                    live.close.send_replace(Some(DisconnectReason::Unpaired));
                    waits.push(live.ended.clone());
                }
            }
        }
        for mut ended in waits {
            let _ = ended.wait_for(|done| *done).await;
        }
        true
    }

    /// Number of live connections (paired or in handshake).
    pub fn connection_count(&self) -> usize {
        lock(&self.shared.registry).live.len()
    }

    /// Stops accepting, closes every connection (close code 1001) and waits for them to end.
    pub async fn shutdown(&self) {
        self.shared.shutdown.send_replace(true);
        let acceptor = lock(&self.acceptor).take();
        if let Some(acceptor) = acceptor {
            let _ = acceptor.await;
        }
    }
}
