//! The live phone ↔ desktop link: a WebSocket server for the desktop ([`MobileDesktop`]) and a
//! reconnecting client for the phone ([`connect`]), carrying the [`mobile`](super) frames in plain
//! proto 2 (byte-identical to `mur-common` 2.98) or in the authenticated secure mode below.
//!
//! Feature `mobile-transport`. The stack is `tokio-tungstenite` on both ends, without TLS.
//!
//! ```no_run
//! use ed25519_dalek::SigningKey;
//! use rand_core::OsRng;
//! use wavekat_platform_client::mobile::transport::{
//!     connect, DesktopConfig, DesktopEvent, MobileDesktop, PhoneConfig, PhoneStart,
//! };
//! use wavekat_platform_client::mobile::PairingWindowConfig;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let identity = SigningKey::generate(&mut OsRng);
//! let config = DesktopConfig::new("mur", &identity.verifying_key());
//! let (desktop, mut events) = MobileDesktop::bind("127.0.0.1:0", config).await?;
//! let qr = desktop.open_pairing_window(PairingWindowConfig::default());
//! println!("scan: {}", qr.to_uri());
//!
//! let phone_config = PhoneConfig::new(desktop.url(), "mur");
//! let start = PhoneStart::Pair { qr, device_key: SigningKey::generate(&mut OsRng) };
//! let (phone, _phone_events, _identity) = connect(phone_config, start).await?;
//! phone.send_audio_start(16_000).await?;
//! phone.send_audio(&[0.0; 1600]).await?;
//! let receipt = phone.send_audio_end().await?;
//! while let Some(event) = events.recv().await {
//!     match event {
//!         DesktopEvent::AudioEnd { .. } => break,
//!         // Discard what this connection delivered of the utterance.
//!         DesktopEvent::AudioCut { .. } => {}
//!         _ => {}
//!     }
//! }
//! // Delivered (secure), Written (plain), or Cut / Unknown after a drop.
//! println!("{:?}", receipt.outcome().await);
//! desktop.shutdown().await;
//! # Ok(())
//! # }
//! ```
//!
//! # Secure mode
//!
//! Plain proto 2 authenticates only the handshake: after `paired`, whoever holds the socket can
//! inject `audio_chunk` or `channel_query` frames, and the resume challenge is bound neither to
//! the desktop's identity nor to the connection, so a relay can resume as the phone. Secure mode
//! closes both holes with a session key bound to the handshake, and an AEAD tag and a sequence number on
//! every frame after it. It keeps the proto-2 frames (every frame is still the same JSON) and adds
//! no round trip.
//!
//! * **Negotiation.** The phone sends a fresh 32-byte nonce `Np` (hex) in the [`NONCE_HEADER`]
//!   upgrade request header. A desktop that speaks secure mode answers with its own fresh nonce
//!   `Nd` in the same response header. A deployed desktop ignores the header and the link is plain
//!   proto 2. (A header rather than a WebSocket subprotocol: a client that asks for a subprotocol
//!   must fail the upgrade when the server selects none, which would cost a deployed desktop a
//!   second connection.)
//! * **Downgrade.** The pairing QR ([`PairingQr`]) says whether the desktop offers secure mode,
//!   and a phone that enrolled securely keeps a [`LinkSecret`]; either makes the phone refuse a
//!   plain answer ([`TransportError::SecureModeUnavailable`]). [`PhoneSecurity::RequireSecure`]
//!   refuses plain always; [`DesktopSecurity::RequireSecure`] makes the desktop refuse phones
//!   that do not offer it.
//! * **Link secret.** A secure enrollment derives `L = HMAC-SHA256(token, "wavekat-mobile-sec1/link"
//!   ‖ proto-2 phone→daemon transcript)`: only the phone that scanned the QR and the desktop that
//!   showed it know the token, and the transcript names the desktop's `did`, the window, the
//!   device key and the `pair_challenge` nonce. Both ends keep `L` for resumes.
//! * **Session keys.** Each direction's key is `HMAC-SHA256(K, "wavekat-mobile-sec1/session" ‖ kind
//!   ‖ did ‖ device key ‖ Np ‖ Nd ‖ binding ‖ direction)` (each variable field length-prefixed),
//!   where for an enrollment `K = L` and the binding is the `pair_challenge` nonce, and for a
//!   resume `K` is the stored `L` and the binding is the desktop's `challenge` string. The keys
//!   therefore belong to one desktop identity, one device, one connection (both nonces) and one
//!   handshake.
//! * **Records.** From the phone's `hello_proof` / `resume_proof` on, and from the desktop's
//!   `paired` on, every message is a binary WebSocket message `kind (1) ‖ seq (8, BE) ‖ ack (8,
//!   BE) ‖ ciphertext ‖ tag (16)`: AES-256-GCM under the direction key, with nonce `0⁴ ‖ seq` and
//!   the 17 header bytes as associated data. The plaintext of a frame record is the frame's exact
//!   proto-2 JSON. Sequence numbers start at 0 and must arrive exactly in order (each direction
//!   has its own key, so no nonce repeats under a key; a side that would wrap stops with
//!   [`SecureError::SequenceExhausted`]); `ack` is how many records the sender has opened, so the
//!   phone learns which envelopes the desktop processed. After a resume the desktop reports how
//!   many records of the phone's previous connection it processed, and the phone settles every
//!   envelope sent there as delivered or failed (never silently lost, never sent twice). An AEAD
//!   rather than a MAC alone: on an 8.5 KB audio frame AES-256-GCM costs about a fifth of
//!   HMAC-SHA256, and frames are no longer readable on the LAN.
//! * **What it stops.** A frame injected after pairing has no valid tag (refused,
//!   [`DisconnectReason::Secure`]). A relay that resumes on its own connection presents other
//!   nonces than the phone's, so the phone's proof record fails the desktop's tag check. A
//!   desktop impostor cannot produce `paired` under the link secret. The handshake's own frames
//!   up to the first record stay readable, as in proto 2; they carry proofs, not secrets.
//!
//! Rejections (`rejected`) before the keys exist travel unsealed; a forged one only ends a
//! connection, which anyone on the path can do anyway.
//!
//! # Audio across a drop
//!
//! An utterance (`audio_stream_start`, chunks, `audio_stream_end`) either arrives whole or both
//! ends learn it was cut; the desktop never reports an end without its start, nor a gap.
//!
//! * **Desktop.** Each connection tracks its open utterance. [`DesktopEvent::AudioEnd`] follows
//!   its [`DesktopEvent::AudioStart`] on the same connection, with every chunk between them.
//!   Otherwise the utterance ends as [`DesktopEvent::AudioCut`]: the connection ended first
//!   ([`AudioCutReason::ConnectionEnded`], emitted before `Disconnected`), a new start came first
//!   ([`AudioCutReason::Restarted`]), or audio or an end arrived with no start on this connection
//!   (dropped, [`AudioCutReason::NotStarted`]). In secure mode the desktop acknowledges an end as
//!   it does an envelope.
//! * **Phone: replay.** The phone keeps the open utterance's start and chunks, up to
//!   [`PhoneConfig::audio_replay`] of audio (30 s by default: an utterance is a spoken turn,
//!   rarely over 15 s; 1.9 MB of samples at 16 kHz), until its end is handed to a socket. When the
//!   link drops before that, the resumed connection sends the utterance again from its start,
//!   before anything queued, and skips the queued copies: the desktop reports the dropped
//!   connection's fragment cut and then sees one contiguous utterance, each sample once. This
//!   needs no sequence numbers, so plain proto 2 gets it too, byte-identical on the wire: a start
//!   clears the desktop's accumulator (proto 2), and a desktop cannot have completed an
//!   utterance whose end it never got, so the replay never doubles one.
//! * **Phone: outcome.** [`PhoneHandle::send_audio_end`] returns an [`UtteranceReceipt`]. Once
//!   the end is out, the utterance settles like an envelope: [`UtteranceOutcome::Delivered`]
//!   when the desktop acknowledged the end (secure mode, from a record's `ack`, or after a
//!   resume from the desktop's count of the previous connection's records it processed: an end
//!   it did not process is [`UtteranceCut::ConnectionLost`], which its own `AudioCut` matches);
//!   [`UtteranceOutcome::Written`] when the end was flushed (plain mode: proto 2 has no
//!   acknowledgement, so an end flushed into a connection that was already cut, unnoticed, still
//!   reads `Written` while the desktop reports `AudioCut`); [`UtteranceOutcome::Unknown`] when
//!   the desktop kept no record of the connection.
//! * **Bound.** An utterance longer than the buffer streams as usual, but across a drop it is cut
//!   ([`UtteranceCut::ReplayBufferExceeded`]): its remaining frames are not sent,
//!   [`PhoneHandle::send_audio`] fails with [`TransportError::UtteranceCut`], and its receipt
//!   says so. Never silently truncated.
//! * **Giving up.** When the link closes for good, the senders fail with
//!   [`TransportError::LinkClosed`]; a receipt whose end was not yet written resolves to
//!   [`UtteranceCut::LinkClosed`], one written but never acknowledged to `Unknown` (secure) or
//!   `Written` (plain). The desktop reports whatever fragment it got as cut.

mod desktop;
mod phone;
mod qr;
mod read_ahead;
mod secure;

pub use desktop::{
    AudioCutReason, ConnectionHandle, ConnectionId, DesktopConfig, DesktopEvent, DesktopEvents,
    DesktopSecurity, DisconnectReason, MobileDesktop, PairedDeviceRecord,
};
pub use phone::{
    connect, Backoff, DeliveryFailure, DeviceIdentity, EnvelopeDelivery, EnvelopeReceipt,
    PhoneConfig, PhoneEvent, PhoneEvents, PhoneHandle, PhoneSecurity, PhoneStart, UtteranceCut,
    UtteranceOutcome, UtteranceReceipt,
};
pub use qr::{PairingQr, QrError};
pub use secure::{LinkSecret, SecureError, CONNECTION_NONCE_LEN};

/// The HTTP header by which the phone offers (request) and the desktop accepts (response) secure
/// mode version 1, each carrying its side's per-connection nonce as 64 hex digits.
pub const NONCE_HEADER: &str = "x-wavekat-mobile-sec1-nonce";

/// The request header by which a resuming phone names its previous connection (its own nonce
/// there, hex), so the desktop can report what it received on it.
pub const PREVIOUS_HEADER: &str = "x-wavekat-mobile-previous";

/// WebSocket close codes the desktop sends, so the phone can classify a close.
pub mod close_code {
    /// The handshake was rejected (a `rejected` frame preceded the close); do not retry.
    pub const REJECTED: u16 = 4000;
    /// The device was unpaired; do not retry.
    pub const UNPAIRED: u16 = 4001;
    /// A newer connection of the same device replaced this one.
    pub const REPLACED: u16 = 4002;
    /// The desktop requires secure mode; do not retry in plain mode.
    pub const SECURE_REQUIRED: u16 = 4003;
    /// The peer did not read what was sent to it in time.
    pub const SLOW_READER: u16 = 4004;
    /// Nothing arrived within the idle timeout.
    pub const IDLE: u16 = 4005;
    /// A frame or record was malformed, forged or oversized; do not retry the same input.
    pub const BAD_INPUT: u16 = 4006;
    /// The endpoint has too many connections; retry later.
    pub const BUSY: u16 = 4007;
}

/// Why the transport failed or a link ended.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// The TCP connect, the WebSocket upgrade or a read or write failed.
    #[error("websocket: {0}")]
    WebSocket(String),
    /// The connection or handshake did not complete within the configured time.
    #[error("timed out while {0}")]
    Timeout(&'static str),
    /// The peer closed the link, with the close code if it sent one.
    #[error("the peer closed the connection (code {code:?})")]
    Closed {
        /// The WebSocket close code.
        code: Option<u16>,
    },
    /// The desktop rejected the handshake or a frame.
    #[error("the desktop rejected the link: {0}")]
    Rejected(super::PhoneRejection),
    /// The device is no longer paired with the desktop.
    #[error("the device is not paired with this desktop")]
    Unpaired,
    /// Secure mode is required (by policy, the QR code or a secure pairing) but the desktop
    /// answered in plain mode.
    #[error("the desktop did not accept secure mode, which this link requires")]
    SecureModeUnavailable,
    /// The desktop requires secure mode and this phone did not offer it.
    #[error("the desktop requires secure mode")]
    SecureModeRequired,
    /// A secure-mode record failed its check.
    #[error("secure record refused: {0}")]
    Secure(SecureError),
    /// A frame could not be decoded or encoded.
    #[error("frame: {0}")]
    Frame(super::FrameError),
    /// Nothing arrived from the peer within the dead-peer timeout.
    #[error("no traffic from the peer within the dead-peer timeout")]
    DeadPeer,
    /// The send queue is full (from the `try_` senders).
    #[error("the send queue is full")]
    QueueFull,
    /// The link is closed for good; nothing more can be sent.
    #[error("the link is closed")]
    LinkClosed,
    /// The audio could not be framed, or no utterance is open.
    #[error("audio: {0}")]
    Audio(&'static str),
    /// The open utterance was cut (the link dropped and could not send it again); start a new one.
    #[error("utterance cut: {0}")]
    UtteranceCut(UtteranceCut),
}

impl TransportError {
    /// Whether reconnecting may help (`true`) or the link is over for good (`false`): unpaired,
    /// rejected, secure-mode mismatch and bad input are fatal; I/O, timeouts and closes retry.
    pub fn is_retryable(&self) -> bool {
        match self {
            TransportError::WebSocket(_)
            | TransportError::Timeout(_)
            | TransportError::DeadPeer
            | TransportError::QueueFull => true,
            TransportError::Closed { code } => !matches!(
                code,
                Some(
                    close_code::REJECTED
                        | close_code::UNPAIRED
                        | close_code::SECURE_REQUIRED
                        | close_code::BAD_INPUT
                )
            ),
            TransportError::Rejected(_)
            | TransportError::Unpaired
            | TransportError::SecureModeUnavailable
            | TransportError::SecureModeRequired
            | TransportError::Secure(_)
            | TransportError::Frame(_)
            | TransportError::LinkClosed
            | TransportError::Audio(_)
            | TransportError::UtteranceCut(_) => false,
        }
    }
}

/// Converts PCM bytes (f32 little-endian) to samples; `None` if the length is not a multiple of 4.
pub(crate) fn pcm_to_samples(pcm: &[u8]) -> Option<Vec<f32>> {
    let (samples, rest) = pcm.as_chunks::<4>();
    rest.is_empty()
        .then(|| samples.iter().map(|b| f32::from_le_bytes(*b)).collect())
}

/// Converts samples to PCM bytes (f32 little-endian).
pub(crate) fn samples_to_pcm(samples: &[f32]) -> Vec<u8> {
    // Sized once and filled as 4-byte arrays, which vectorizes (a slice copy per sample became a
    // `memcpy` call per sample).
    let mut out = vec![0u8; samples.len().saturating_mul(4)];
    let (bytes, _) = out.as_chunks_mut::<4>();
    for (bytes, sample) in bytes.iter_mut().zip(samples) {
        *bytes = sample.to_le_bytes();
    }
    out
}

/// WebSocket limits shared by both ends: small eager buffers (many idle links stay cheap), and a
/// message cap of one frame plus a record header.
pub(crate) fn ws_config() -> tokio_tungstenite::tungstenite::protocol::WebSocketConfig {
    let max = super::MAX_FRAME_BYTES.saturating_add(secure::RECORD_OVERHEAD);
    tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
        .read_buffer_size(4 * 1024)
        .write_buffer_size(64 * 1024)
        .max_write_buffer_size(max.saturating_mul(2))
        .max_message_size(Some(max))
        .max_frame_size(Some(max))
}

/// Hex of a connection nonce.
pub(crate) fn nonce_hex(nonce: &[u8; CONNECTION_NONCE_LEN]) -> String {
    hex::encode(nonce)
}

/// Parses a header's hex connection nonce.
pub(crate) fn parse_nonce_hex(text: &str) -> Option<[u8; CONNECTION_NONCE_LEN]> {
    let mut out = [0u8; CONNECTION_NONCE_LEN];
    hex::decode_to_slice(text, &mut out).ok()?;
    Some(out)
}

/// Locks `mutex`; a panic elsewhere while it was held leaves the data as it was, which every user
/// here can live with, so poisoning is ignored.
pub(crate) fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Waits until `flag` is `true` (or its sender is gone), holding no borrow across the wait's end.
pub(crate) async fn raised(flag: &mut tokio::sync::watch::Receiver<bool>) {
    let _ = flag.wait_for(|set| *set).await;
}
