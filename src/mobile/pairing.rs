//! The enrollment proof (proto 2): pairing token, transcript, HMAC proof and confirm.

use std::fmt;

use hmac::{Hmac, Mac};
use rand_core::CryptoRngCore;
use sha2::Sha256;
use subtle::ConstantTimeEq;
use zeroize::Zeroize;

/// Enrollment protocol version this module speaks (`hello_init.proto`).
pub const PAIR_PROTO: u32 = 2;

/// Domain tag that opens every enrollment transcript.
pub const PAIR_DOMAIN: &[u8] = b"mur-pair-v2";

/// Length of the `pair_challenge` nonce in bytes.
pub const PAIR_NONCE_LEN: usize = 32;

/// Length of a proof or confirm (full HMAC-SHA256 output) in bytes.
pub const PAIR_PROOF_LEN: usize = 32;

/// The one-time pairing token from the QR code: the HMAC key of the enrollment proof.
///
/// Never sent by the proto-2 handshake. `Debug` prints `PairingToken(***redacted)`, there is no
/// `Display`, equality is constant-time, and the string is zeroized on drop.
#[derive(Clone)]
pub struct PairingToken(String);

impl PairingToken {
    /// Wraps a token string (as read from the QR code).
    pub fn new(token: impl Into<String>) -> Self {
        PairingToken(token.into())
    }

    /// A fresh token: a UUIDv4 string from `rng`, as the desktop daemon mints them.
    pub fn generate(rng: &mut impl CryptoRngCore) -> Self {
        PairingToken(uuid_v4(rng))
    }

    /// The secret value, for putting into the QR code and nothing else.
    pub fn expose_secret(&self) -> &str {
        &self.0
    }

    fn hmac_key(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl fmt::Debug for PairingToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PairingToken(***redacted)")
    }
}

impl PartialEq for PairingToken {
    /// Constant-time in the contents (the length is not secret).
    fn eq(&self, other: &Self) -> bool {
        ct_eq(self.0.as_bytes(), other.0.as_bytes())
    }
}

impl Eq for PairingToken {}

impl Drop for PairingToken {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

/// What the desktop's QR code carries to the phone: window id, token and the daemon's key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PairingOffer {
    /// Pairing-window id.
    pub wid: String,
    /// One-time pairing token.
    pub token: PairingToken,
    /// The daemon agent's Ed25519 identity key, multibase.
    pub did: String,
}

/// Which direction a transcript authenticates; each has its own role tag, so a confirm can never
/// be reflected as a proof.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PairRole {
    /// The phone's proof: role tag `mur-pair-v2/phone->daemon`.
    PhoneToDaemon,
    /// The daemon's confirm: role tag `mur-pair-v2/daemon->phone`.
    DaemonToPhone,
}

impl PairRole {
    /// The role tag bytes.
    pub fn tag(self) -> &'static [u8] {
        match self {
            PairRole::PhoneToDaemon => b"mur-pair-v2/phone->daemon",
            PairRole::DaemonToPhone => b"mur-pair-v2/daemon->phone",
        }
    }
}

/// The fields an enrollment transcript binds, as they travelled on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TranscriptFields<'a> {
    /// `hello_init.proto`.
    pub proto: u32,
    /// `hello_init.agent`.
    pub agent: &'a str,
    /// The pairing-window id.
    pub wid: &'a str,
    /// `pair_challenge.did`, the multibase string as sent.
    pub did: &'a str,
    /// `hello_init.pubkey`, the multibase string as sent.
    pub phone_pubkey: &'a str,
    /// `pair_challenge.nonce`, raw bytes.
    pub nonce: &'a [u8],
}

/// Why a transcript, proof or confirm could not be computed or did not match.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PairingError {
    /// A field is longer than a u32 length prefix can express.
    #[error("transcript field `{field}` is {len} bytes, more than a u32 length prefix allows")]
    FieldTooLong {
        /// The field name.
        field: &'static str,
        /// Its length in bytes.
        len: usize,
    },
    /// The HMAC implementation refused the key (HMAC takes keys of any length, so this is not
    /// expected).
    #[error("the pairing token was refused as an HMAC key")]
    HmacKey,
    /// The proof does not match the token and transcript.
    #[error("enrollment proof does not match")]
    ProofMismatch,
    /// The confirm does not match the token and transcript.
    #[error("enrollment confirm does not match")]
    ConfirmMismatch,
}

/// Builds the byte-exact transcript for `role`: length-prefixed (u32 little-endian) domain tag and
/// role tag, `proto` as u32le without prefix, then length-prefixed agent, wid, did, phone pubkey
/// and nonce.
pub fn pair_transcript(
    role: PairRole,
    fields: &TranscriptFields<'_>,
) -> Result<Vec<u8>, PairingError> {
    fn put(out: &mut Vec<u8>, field: &'static str, bytes: &[u8]) -> Result<(), PairingError> {
        let len = u32::try_from(bytes.len()).map_err(|_| PairingError::FieldTooLong {
            field,
            len: bytes.len(),
        })?;
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(bytes);
        Ok(())
    }
    let capacity = [
        PAIR_DOMAIN.len(),
        role.tag().len(),
        fields.agent.len(),
        fields.wid.len(),
        fields.did.len(),
        fields.phone_pubkey.len(),
        fields.nonce.len(),
    ]
    .iter()
    .fold(8 * 4, |total: usize, len| total.saturating_add(*len));
    let mut out = Vec::with_capacity(capacity);
    put(&mut out, "domain", PAIR_DOMAIN)?;
    put(&mut out, "role", role.tag())?;
    out.extend_from_slice(&fields.proto.to_le_bytes());
    put(&mut out, "agent", fields.agent.as_bytes())?;
    put(&mut out, "wid", fields.wid.as_bytes())?;
    put(&mut out, "did", fields.did.as_bytes())?;
    put(&mut out, "pubkey", fields.phone_pubkey.as_bytes())?;
    put(&mut out, "nonce", fields.nonce)?;
    Ok(out)
}

fn hmac(
    token: &PairingToken,
    role: PairRole,
    fields: &TranscriptFields<'_>,
) -> Result<[u8; PAIR_PROOF_LEN], PairingError> {
    let transcript = pair_transcript(role, fields)?;
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(token.hmac_key())
        .map_err(|_| PairingError::HmacKey)?;
    mac.update(&transcript);
    Ok(mac.finalize().into_bytes().into())
}

/// The phone's proof: HMAC-SHA256(token, phone→daemon transcript), full 32 bytes.
pub fn pair_proof(
    token: &PairingToken,
    fields: &TranscriptFields<'_>,
) -> Result<[u8; PAIR_PROOF_LEN], PairingError> {
    hmac(token, PairRole::PhoneToDaemon, fields)
}

/// The daemon's confirm: HMAC-SHA256(token, daemon→phone transcript), full 32 bytes.
pub fn pair_confirm(
    token: &PairingToken,
    fields: &TranscriptFields<'_>,
) -> Result<[u8; PAIR_PROOF_LEN], PairingError> {
    hmac(token, PairRole::DaemonToPhone, fields)
}

/// Checks a received proof in constant time (a wrong length fails without comparing).
pub fn verify_pair_proof(
    token: &PairingToken,
    fields: &TranscriptFields<'_>,
    proof: &[u8],
) -> Result<(), PairingError> {
    if ct_eq(&pair_proof(token, fields)?, proof) {
        Ok(())
    } else {
        Err(PairingError::ProofMismatch)
    }
}

/// Checks a received confirm in constant time (a wrong length, `[]` included, fails).
pub fn verify_pair_confirm(
    token: &PairingToken,
    fields: &TranscriptFields<'_>,
    confirm: &[u8],
) -> Result<(), PairingError> {
    if ct_eq(&pair_confirm(token, fields)?, confirm) {
        Ok(())
    } else {
        Err(PairingError::ConfirmMismatch)
    }
}

/// Length-first, then constant-time content equality.
pub(crate) fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

/// A random (version 4, RFC 9562 variant) UUID in lowercase hyphenated form.
pub(crate) fn uuid_v4(rng: &mut impl CryptoRngCore) -> String {
    let mut bytes = [0u8; 16];
    rng.fill_bytes(&mut bytes);
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let mut hex = hex::encode(bytes);
    let mut out = String::with_capacity(36);
    for (i, c) in hex.chars().enumerate() {
        if matches!(i, 8 | 12 | 16 | 20) {
            out.push('-');
        }
        out.push(c);
    }
    bytes.zeroize();
    hex.zeroize();
    out
}

/// Whether `s` has the hyphenated UUID shape (8-4-4-4-12 hex digits).
pub(crate) fn is_uuid_shaped(s: &str) -> bool {
    s.len() == 36
        && s.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}
