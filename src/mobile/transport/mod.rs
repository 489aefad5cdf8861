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
//! inject frames, and nothing authenticates the desktop. Secure mode runs a standard Noise
//! handshake in the WebSocket upgrade and carries every frame as a Noise transport message.
//! Everything below is what a second implementation needs (`.ci/noise_phone/` is one).
//!
//! * **Protocols.** Enrollment: `Noise_IKpsk2_25519_AESGCM_SHA256` ([`NOISE_ENROLL`]); the
//!   phone is the initiator with a fresh static X25519 key, the responder's static key is the
//!   desktop's, pinned from the QR code's `nk` parameter ([`PairingQr`]), and the PSK is
//!   SHA-256 of the QR token's UTF-8 bytes. Resume: `Noise_IK_25519_AESGCM_SHA256`
//!   ([`NOISE_RESUME`]) with the phone's static key from enrollment. IK gives forward secrecy
//!   (`ee`, `se`, `es` with fresh ephemerals), authenticates the desktop to the phone from message
//!   2 (only the holder of the pinned key computes `es`/`se`), and the phone to the desktop by
//!   its static key (`ss`); psk2 makes the enrollment also prove the token. No PSK on resume: a
//!   per-pairing PSK would sit in the same storage as the static keys, so it defends no row of
//!   the threat model. AES-256-GCM and SHA-256 come from ring (snow's ring resolver), the
//!   cipher sec1 streamed audio with; ChaChaPoly would be slower on every CPU with AES
//!   instructions (desktops and ARMv8 phones alike).
//! * **Prologue.** `wavekat-mobile-noise/1`, then `x-wavekat-mobile-noise`, the mode word
//!   (`enroll` / `resume`), the agent and the desktop's `did`, each as a u16 big-endian length
//!   and its UTF-8 bytes: the handshake hash binds the agent, the `did` and the header and mode
//!   negotiated. The window is bound as message 1's payload.
//! * **Where it travels.** Message 1 goes in the upgrade request header [`NOISE_HEADER`] as
//!   `enroll.` or `resume.` then unpadded base64url; its payload is the window id (enrollment)
//!   or, on a resume, the previous connection's id (32 bytes) or nothing. Message 2 (empty
//!   payload) comes back in the same response header. Keys exist once the upgrade completes: no
//!   round trip is added. A desktop that cannot read message 1 (or knows no such open window)
//!   answers HTTP 400 with [`REFUSED_HEADER`]` = handshake`; each enrollment message 1 spends
//!   one of its window's attempts (its `hello_proof` another, as in proto 2). A connection's id is its handshake hash.
//! * **Records.** After the upgrade every message each way is one binary WebSocket message, a
//!   record: its plaintext `kind (1) ‖ ack (8, BE) ‖ payload` (kind 0 a frame whose payload is
//!   the frame's exact proto-2 JSON, 1 an ack, 2 a resume report) is cut into pieces of 65,519
//!   bytes (the last shorter), each encrypted as the next Noise transport message of that
//!   direction (nonce = messages sent before: 0, 1, 2, …), and the ciphertexts concatenated, so
//!   every piece but the last is exactly 65,535 bytes. The bound is the WebSocket message cap,
//!   one sealed [`MAX_FRAME_BYTES`](super::MAX_FRAME_BYTES) frame. Nonces are implicit, so
//!   records are strictly in order: a replayed, dropped or reordered one fails its tag. `ack`
//!   counts the records the sender has opened, so the phone learns which envelopes the desktop
//!   processed.
//! * **Inside the channel** runs proto 2 unchanged and sealed (`hello_init`, `pair_challenge`,
//!   `hello_proof`, `paired` or `resume`, `challenge`, `resume_proof`, `paired`): the state
//!   machines need the device-key (Ed25519) proofs to name the device that signs envelopes, and
//!   the channel binds them to this Noise session. The desktop checks that a secure resume's
//!   device enrolled with the static key message 1 proved, and that `hello_init` names the window
//!   the PSK came from.
//! * **Resume report.** When message 1 named a previous connection, the desktop's first record
//!   after `paired` is a resume report: that id ‖ how many records of it the desktop processed
//!   (u64 BE, `u64::MAX` if unknown). It is asked for inside message 1 and answered sealed; the
//!   phone settles every envelope of that connection from it.
//! * **Persisted.** The desktop keeps its Noise static key ([`DesktopConfig::noise_key`], beside
//!   its `did` key) and each secure device's phone static public key
//!   ([`PairedDeviceRecord::noise_key`]); the phone keeps [`PhoneNoiseKeys`] (its static private
//!   key and the desktop's pinned public key) in its [`DeviceIdentity`]. Private keys are
//!   redacted in `Debug` and zeroized on drop.
//!
//! How each row of the threat model is answered:
//!
//! * *A LAN peer* cannot inject or replay a record (no key; implicit nonces), a relay only
//!   forwards or cuts (it can produce neither message 2 nor records); a replayed message 1 earns
//!   a message 2 it cannot use. Nothing unauthenticated ends a secure link: an unsealed frame
//!   (even `rejected`), a close code, a refusal, a plain answer or a record failing its check are
//!   retryable drops on the phone; toward the desktop they only close that connection, without a
//!   sealed rejection the phone would believe. "Unpaired" and rejections are believed only
//!   sealed.
//! * *Whoever photographed the QR* after its window closed cannot pair (the window is spent or
//!   gone), cannot resume as the phone (no phone static key), cannot pose as the desktop (no
//!   desktop static key: message 2 fails) and cannot read recorded traffic (ephemeral DH).
//! * *Whoever reads one end's storage* gets its static key, which with the other side's public
//!   key still cannot decrypt recorded sessions (their ephemeral keys are gone); it can act as
//!   that end until the device is unpaired ([`MobileDesktop::unpair`]) or re-paired.
//! * *A second desktop the phone paired with* sees its proofs and, at most, the same phone static
//!   public key; it lacks the phone's private static key and the first desktop's key, so it can
//!   neither resume with nor read the first desktop.
//! * *A deployed plain peer* sends no [`NOISE_HEADER`] and gets plain proto 2, byte-identical;
//!   a device that paired securely is refused in plain (`secure mode is required`) whatever
//!   [`DesktopSecurity`] says, and a secure phone never falls back to plain.
//! * *A busy desktop* completes the upgrade with [`REFUSED_HEADER`]` = busy` and closes with
//!   [`close_code::BUSY`]; the phone reads the refusal before it looks for secure mode and
//!   retries ([`TransportError::Refused`]).
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
mod noise;
mod persist;
mod phone;
mod qr;
mod read_ahead;
mod secure;

pub use desktop::{
    AudioCutReason, ConnectionHandle, ConnectionId, DesktopConfig, DesktopEvent, DesktopEvents,
    DesktopSecurity, DisconnectReason, MobileDesktop, PairedDeviceRecord,
    DEFAULT_MAX_PRE_AUTH_BYTES,
};
pub use noise::{
    NoisePublicKey, NoiseSecretKey, PhoneNoiseKeys, NOISE_ENROLL, NOISE_KEY_LEN, NOISE_RESUME,
};
pub use phone::{
    connect, Backoff, DeliveryFailure, DeviceIdentity, EnvelopeDelivery, EnvelopeReceipt,
    PhoneConfig, PhoneEvent, PhoneEvents, PhoneHandle, PhoneSecurity, PhoneStart, UtteranceCut,
    UtteranceOutcome, UtteranceReceipt,
};
pub use qr::{PairingQr, QrError};
pub use secure::SecureError;

/// The HTTP header that carries Noise message 1 in the upgrade request (`enroll.` or `resume.`
/// then base64url) and message 2 in the upgrade response (base64url).
pub const NOISE_HEADER: &str = "x-wavekat-mobile-noise";

/// The upgrade response header by which the desktop refuses a connection it will not serve now
/// (`busy`) or a handshake message it could not read (`handshake`). Unauthenticated, so the phone
/// reads it only as "retry later", never as plain mode.
pub const REFUSED_HEADER: &str = "x-wavekat-mobile-refused";

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
    /// answered in plain mode: a desktop that lost secure mode, or someone on the path stripping
    /// the handshake. Retryable: nothing unauthenticated ends a link for good.
    #[error("the desktop did not accept secure mode, which this link requires")]
    SecureModeUnavailable,
    /// The desktop refused the connection before any key existed (the [`REFUSED_HEADER`]: busy,
    /// or a handshake message it could not read). Retryable.
    #[error("the desktop refused the connection ({0}); retry later")]
    Refused(String),
    /// A secure link was closed by a close frame, which is not authenticated (anyone on the path
    /// can forge one), so its code is only reported, never obeyed. Retryable.
    #[error("the secure link was closed (unauthenticated code {code:?})")]
    UnauthenticatedClose {
        /// The WebSocket close code.
        code: Option<u16>,
    },
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
    /// Whether reconnecting may help (`true`) or the link is over for good (`false`): a sealed
    /// rejection or unpairing, a desktop that requires secure mode of a plain phone, and local
    /// errors are fatal; everything an attacker on the path could produce (I/O, timeouts, closes,
    /// refusals, a plain answer to a secure phone, a record that fails its check) retries.
    pub fn is_retryable(&self) -> bool {
        match self {
            TransportError::WebSocket(_)
            | TransportError::Timeout(_)
            | TransportError::DeadPeer
            | TransportError::QueueFull
            | TransportError::SecureModeUnavailable
            | TransportError::Refused(_)
            | TransportError::UnauthenticatedClose { .. }
            | TransportError::Secure(_) => true,
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
            | TransportError::SecureModeRequired
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
    let max = secure::sealed_len(super::MAX_FRAME_BYTES);
    tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
        .read_buffer_size(4 * 1024)
        .write_buffer_size(64 * 1024)
        .max_write_buffer_size(max.saturating_mul(2))
        .max_message_size(Some(max))
        .max_frame_size(Some(max))
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
