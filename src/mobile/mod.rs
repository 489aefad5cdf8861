//! Mobile pairing for the MUR phone ↔ desktop WebSocket endpoint: wire frames, the enrollment and
//! resume proofs, and sans-IO state machines for both ends, wire-compatible with `mur-common` 2.98.
//!
//! Every message is one JSON object in one WebSocket text frame (path [`MOBILE_WS_PATH`]). The
//! phone sends [`ClientFrame`]s, the desktop sends [`ServerFrame`]s; both are read only through
//! [`decode_client_frame`] and [`decode_server_frame`], which enforce [`MAX_FRAME_BYTES`] and
//! [`MAX_AUDIO_CHUNK_BYTES`] and return a typed [`FrameError`] naming the frame and field.
//!
//! The handshakes are sans-IO: [`DesktopSession`] (with the shared [`DesktopEndpoint`] state of
//! pairing windows and paired devices) and [`PhoneSession`] each take one decoded frame and return
//! the frame to send or a typed rejection. They never touch a socket, a clock or an RNG of their
//! own: the caller passes `now` (seconds on any monotonic scale) and a CSPRNG.
//!
//! ```
//! use wavekat_platform_client::mobile::{
//!     DesktopEndpoint, DesktopSession, PairingWindowConfig, PhoneSession, PhoneStep,
//!     encode_pubkey_multibase,
//! };
//! use ed25519_dalek::SigningKey;
//! use rand_core::OsRng;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let daemon_key = SigningKey::generate(&mut OsRng);
//! let mut desktop = DesktopEndpoint::new("mur", &daemon_key.verifying_key());
//! let offer = desktop.open_window(&mut OsRng, 0, PairingWindowConfig::default());
//!
//! // The offer travels to the phone in the QR code.
//! let device_key = SigningKey::generate(&mut OsRng);
//! let (mut phone, hello_init) = PhoneSession::enroll(offer, "mur", device_key.clone());
//! let mut session = DesktopSession::new();
//!
//! let challenge = session.handle(&mut desktop, hello_init, 1, &mut OsRng)?;
//! let PhoneStep::Send(proof) = phone.handle(challenge.into_reply().ok_or("no reply")?)? else {
//!     return Err("expected a proof".into());
//! };
//! let paired = session.handle(&mut desktop, proof, 2, &mut OsRng)?;
//! assert!(matches!(
//!     phone.handle(paired.into_reply().ok_or("no reply")?)?,
//!     PhoneStep::Paired { .. }
//! ));
//! let device = encode_pubkey_multibase(&device_key.verifying_key());
//! assert!(desktop.paired_devices().contains(&device));
//! # Ok(())
//! # }
//! ```

mod codec;
mod desktop;
mod envelope;
mod error;
mod frames;
pub mod keys;
mod pairing;
mod phone;
#[cfg(feature = "schemars")]
mod schema;
#[cfg(feature = "mobile-transport")]
pub mod transport;

pub use desktop::{
    DesktopEndpoint, DesktopRejection, DesktopSession, DesktopStep, PairedDevice, PairedDevices,
    PairingWindow, PairingWindowConfig, DEFAULT_MAX_PROOF_ATTEMPTS, DEFAULT_WINDOW_LIFETIME_SECS,
    MAX_ECHOED_BYTES, MAX_WINDOW_LIFETIME_SECS,
};
pub use envelope::{envelope_signing_bytes, EnvelopeError, SignedEnvelope, ENVELOPE_DOMAIN};
pub use error::FrameError;
pub use frames::{
    decode_client_frame, decode_client_frame_text, decode_server_frame, ClientFrame, ServerFrame,
};
pub use keys::{decode_pubkey_multibase, encode_pubkey_multibase, KeyError};
pub use pairing::{
    pair_confirm, pair_proof, pair_transcript, verify_pair_confirm, verify_pair_proof, PairRole,
    PairingError, PairingOffer, PairingToken, TranscriptFields, PAIR_DOMAIN, PAIR_NONCE_LEN,
    PAIR_PROOF_LEN, PAIR_PROTO,
};
pub use phone::{PhoneRejection, PhoneSession, PhoneStep};

/// WebSocket path the desktop's mobile endpoint serves.
pub const MOBILE_WS_PATH: &str = "/api/v1/mobile/ws";

/// A2A method by which the phone answers a human-in-the-loop gate; it must travel inside a signed
/// `envelope` frame, never as a plain frame.
pub const HITL_RESPOND_METHOD: &str = "channel/hitl_respond";

/// Largest frame, in bytes of JSON text, that [`decode_client_frame`] and
/// [`decode_server_frame`] accept (1 MiB) and that `encode` produces.
///
/// Checked before any parsing, so an oversized frame costs no allocation. It comfortably holds a
/// [`MAX_AUDIO_CHUNK_BYTES`] audio chunk (about 342 KiB of base64) or a large `channel_data` page.
pub const MAX_FRAME_BYTES: usize = 1024 * 1024;

/// Largest audio chunk, in decoded PCM bytes (256 KiB: about 4 s of 16 kHz mono f32), that an
/// `audio_chunk` frame of either direction may carry.
///
/// Decoding checks the base64 length against this before decoding, so an oversized chunk is
/// rejected with [`FrameError::AudioTooLarge`] without allocating its buffer.
pub const MAX_AUDIO_CHUNK_BYTES: usize = 256 * 1024;
