//! Secure mode's handshake, sans IO: the Noise keys each end keeps, the prologue, and the two
//! handshake messages (see the module docs of [`super`] for the design).

use std::fmt;
use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use rand_core::{OsRng, RngCore as _};
use sha2::{Digest as _, Sha256};
use snow::params::NoiseParams;
use snow::resolvers::{CryptoResolver, DefaultResolver, FallbackResolver, RingResolver};
use snow::{Builder, HandshakeState};
use zeroize::{Zeroize, Zeroizing};

use super::secure::{SecureError, SessionKeys, CONNECTION_NONCE_LEN};
use crate::mobile::PairingToken;

/// Length of an X25519 key, private or public.
pub const NOISE_KEY_LEN: usize = 32;

/// The Noise protocol of an enrollment: the phone pins the desktop's static key from the QR code
/// and both prove the QR token as the PSK.
pub const NOISE_ENROLL: &str = "Noise_IKpsk2_25519_AESGCM_SHA256";

/// The Noise protocol of a resume: both static keys, learned at enrollment.
pub const NOISE_RESUME: &str = "Noise_IK_25519_AESGCM_SHA256";

/// First bytes of every prologue.
const PROLOGUE_TAG: &[u8] = b"wavekat-mobile-noise/1";

/// Longest handshake message accepted (message 1 is 96 bytes plus its payload of at most a
/// window id or a session id and a tag).
pub(crate) const MAX_HANDSHAKE_MESSAGE: usize = 512;

/// Which handshake a connection runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// [`NOISE_ENROLL`]: a QR scan.
    Enroll,
    /// [`NOISE_RESUME`]: a stored pairing.
    Resume,
}

impl Mode {
    /// The mode's word in the request header.
    pub(crate) fn word(self) -> &'static str {
        match self {
            Mode::Enroll => "enroll",
            Mode::Resume => "resume",
        }
    }

    fn protocol(self) -> &'static str {
        match self {
            Mode::Enroll => NOISE_ENROLL,
            Mode::Resume => NOISE_RESUME,
        }
    }
}

/// An X25519 static private key: the desktop's (persisted by the daemon beside its `did` key) or
/// a phone's (in its [`PhoneNoiseKeys`]). `Debug` is redacted and the bytes are zeroized on drop.
#[derive(Clone)]
pub struct NoiseSecretKey([u8; NOISE_KEY_LEN]);

impl NoiseSecretKey {
    /// A fresh key from the operating system's RNG (any 32 bytes are an X25519 private key; the
    /// DH clamps them).
    pub fn generate() -> Self {
        let mut out = [0u8; NOISE_KEY_LEN];
        OsRng.fill_bytes(&mut out);
        NoiseSecretKey(out)
    }

    /// Wraps stored key bytes.
    pub fn from_bytes(bytes: [u8; NOISE_KEY_LEN]) -> Self {
        NoiseSecretKey(bytes)
    }

    /// The key bytes, for persisting and nothing else.
    pub fn expose_bytes(&self) -> &[u8; NOISE_KEY_LEN] {
        &self.0
    }

    /// The public half (X25519 of the base point).
    pub fn public_key(&self) -> Result<NoisePublicKey, SecureError> {
        let mut dh = resolver()
            .resolve_dh(&snow::params::DHChoice::Curve25519)
            .ok_or(SecureError::Handshake("no X25519 implementation"))?;
        dh.set(&self.0);
        let mut out = [0u8; NOISE_KEY_LEN];
        out.copy_from_slice(dh.pubkey());
        Ok(NoisePublicKey(out))
    }
}

/// Constant-time: compares the key bytes without an early exit.
impl PartialEq for NoiseSecretKey {
    fn eq(&self, other: &Self) -> bool {
        crate::mobile::pairing::ct_eq(&self.0, &other.0)
    }
}

impl Eq for NoiseSecretKey {}

impl Drop for NoiseSecretKey {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl fmt::Debug for NoiseSecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("NoiseSecretKey(***redacted)")
    }
}

/// An X25519 static public key: the desktop's, pinned by a phone from the QR code, or a phone's,
/// kept by the desktop in its [`PairedDeviceRecord`](super::PairedDeviceRecord).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct NoisePublicKey(pub [u8; NOISE_KEY_LEN]);

impl NoisePublicKey {
    /// Unpadded base64url, as the QR code carries it.
    pub fn to_base64url(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.0)
    }

    /// Reads [`NoisePublicKey::to_base64url`]'s form.
    pub fn from_base64url(text: &str) -> Option<Self> {
        let bytes = URL_SAFE_NO_PAD.decode(text).ok()?;
        Some(NoisePublicKey(bytes.try_into().ok()?))
    }
}

impl fmt::Debug for NoisePublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NoisePublicKey({})", self.to_base64url())
    }
}

/// What a phone keeps of a secure pairing: its own static private key and the desktop's pinned
/// static public key. `Debug` shows only the public keys.
#[derive(Clone, PartialEq, Eq)]
pub struct PhoneNoiseKeys {
    /// The phone's static private key, made at enrollment.
    pub phone: NoiseSecretKey,
    /// The desktop's static public key, from the QR code.
    pub desktop: NoisePublicKey,
}

impl fmt::Debug for PhoneNoiseKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let phone = self.phone.public_key().ok();
        f.debug_struct("PhoneNoiseKeys")
            .field("phone_public", &phone)
            .field("desktop", &self.desktop)
            .finish_non_exhaustive()
    }
}

/// ring's AES-GCM and SHA-256 first, snow's own X25519 for what ring lacks.
fn resolver() -> FallbackResolver {
    FallbackResolver::new(Box::new(RingResolver), Box::new(DefaultResolver))
}

fn params(mode: Mode) -> Result<NoiseParams, SecureError> {
    mode.protocol().parse().map_err(handshake_error)
}

fn builder(mode: Mode) -> Result<Builder<'static>, SecureError> {
    Ok(Builder::with_resolver(params(mode)?, Box::new(resolver())))
}

/// The prologue both ends feed the handshake: `wavekat-mobile-noise/1`, then the request
/// header's name, the mode word, the agent and the desktop's `did`, each as a u16 big-endian
/// length and its UTF-8 bytes. A peer that saw another agent, `did`, mode or header fails the
/// first message.
pub(crate) fn prologue(mode: Mode, agent: &str, did: &str) -> Vec<u8> {
    let mut out = PROLOGUE_TAG.to_vec();
    for field in [super::NOISE_HEADER, mode.word(), agent, did] {
        let len = u16::try_from(field.len()).unwrap_or(u16::MAX);
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(field.as_bytes().get(..usize::from(len)).unwrap_or_default());
    }
    out
}

/// The enrollment PSK: SHA-256 of the QR token's UTF-8 bytes (the token is a UUID string; the hash
/// only fits its entropy to Noise's 32-byte PSK).
pub(crate) fn enrollment_psk(token: &PairingToken) -> Zeroizing<[u8; 32]> {
    Zeroizing::new(Sha256::digest(token.expose_secret().as_bytes()).into())
}

/// snow's errors carry no secret but are not `'static`; the handshake step names what failed.
fn handshake_error(_: snow::Error) -> SecureError {
    SecureError::Handshake("a Noise handshake message was refused")
}

/// The handshake's result on either end: the transport keys and the handshake hash, which names
/// the connection (the resume report refers to it).
pub(crate) struct Established {
    pub keys: SessionKeys,
    pub session_id: [u8; CONNECTION_NONCE_LEN],
}

fn establish(state: HandshakeState) -> Result<Established, SecureError> {
    let mut session_id = [0u8; CONNECTION_NONCE_LEN];
    let hash = state.get_handshake_hash();
    if hash.len() != CONNECTION_NONCE_LEN {
        return Err(SecureError::Handshake("unexpected handshake hash"));
    }
    session_id.copy_from_slice(hash);
    let transport = state
        .into_stateless_transport_mode()
        .map_err(handshake_error)?;
    Ok(Established {
        keys: SessionKeys::new(Arc::new(transport)),
        session_id,
    })
}

/// The phone's side, between message 1 (sent) and message 2 (awaited).
pub(crate) struct PhoneHandshake(HandshakeState);

impl PhoneHandshake {
    /// Writes message 1 with `payload` (an enrollment's window id, a resume's previous session
    /// id or nothing).
    pub(crate) fn start(
        mode: Mode,
        agent: &str,
        did: &str,
        keys: &PhoneNoiseKeys,
        psk: Option<&[u8; 32]>,
        payload: &[u8],
    ) -> Result<(Self, Vec<u8>), SecureError> {
        let prologue = prologue(mode, agent, did);
        let mut b = builder(mode)?
            .local_private_key(keys.phone.expose_bytes())
            .and_then(|b| b.remote_public_key(&keys.desktop.0))
            .and_then(|b| b.prologue(&prologue))
            .map_err(handshake_error)?;
        if let Some(psk) = psk {
            b = b.psk(2, psk).map_err(handshake_error)?;
        }
        let mut state = b.build_initiator().map_err(handshake_error)?;
        let mut msg = vec![0u8; MAX_HANDSHAKE_MESSAGE];
        let len = state
            .write_message(payload, &mut msg)
            .map_err(handshake_error)?;
        msg.truncate(len);
        Ok((PhoneHandshake(state), msg))
    }

    /// Reads message 2: the desktop proved its static key (and the PSK at enrollment).
    pub(crate) fn finish(mut self, msg2: &[u8]) -> Result<Established, SecureError> {
        let mut payload = vec![0u8; MAX_HANDSHAKE_MESSAGE];
        self.0
            .read_message(msg2, &mut payload)
            .map_err(handshake_error)?;
        establish(self.0)
    }
}

/// The desktop's side after reading message 1.
pub(crate) struct DesktopHandshake {
    state: HandshakeState,
    /// Message 1's payload.
    pub payload: Vec<u8>,
    /// The phone's static public key, from message 1.
    pub phone: NoisePublicKey,
}

impl DesktopHandshake {
    /// Reads message 1 under the desktop's static `key`.
    pub(crate) fn read(
        mode: Mode,
        agent: &str,
        did: &str,
        key: &NoiseSecretKey,
        msg1: &[u8],
    ) -> Result<Self, SecureError> {
        let prologue = prologue(mode, agent, did);
        let mut state = builder(mode)?
            .local_private_key(key.expose_bytes())
            .and_then(|b| b.prologue(&prologue))
            .map_err(handshake_error)?
            .build_responder()
            .map_err(handshake_error)?;
        let mut payload = vec![0u8; MAX_HANDSHAKE_MESSAGE];
        let len = state
            .read_message(msg1, &mut payload)
            .map_err(handshake_error)?;
        payload.truncate(len);
        let phone = state
            .get_remote_static()
            .and_then(|rs| <[u8; NOISE_KEY_LEN]>::try_from(rs).ok())
            .map(NoisePublicKey)
            .ok_or(SecureError::Handshake("no phone static key"))?;
        Ok(DesktopHandshake {
            state,
            payload,
            phone,
        })
    }

    /// Writes message 2 (empty payload), mixing `psk` at an enrollment.
    pub(crate) fn respond(
        mut self,
        psk: Option<&[u8; 32]>,
    ) -> Result<(Vec<u8>, Established), SecureError> {
        if let Some(psk) = psk {
            self.state.set_psk(2, psk).map_err(handshake_error)?;
        }
        let mut msg = vec![0u8; MAX_HANDSHAKE_MESSAGE];
        let len = self
            .state
            .write_message(&[], &mut msg)
            .map_err(handshake_error)?;
        msg.truncate(len);
        Ok((msg, establish(self.state)?))
    }
}

/// Base64url (unpadded) of a handshake message, for a header.
pub(crate) fn encode_message(msg: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(msg)
}

/// A header's handshake message; `None` if it is not base64url or too long.
pub(crate) fn decode_message(text: &str) -> Option<Vec<u8>> {
    if text.len() > MAX_HANDSHAKE_MESSAGE * 2 {
        return None;
    }
    URL_SAFE_NO_PAD
        .decode(text)
        .ok()
        .filter(|m| m.len() <= MAX_HANDSHAKE_MESSAGE)
}
