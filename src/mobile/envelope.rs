//! `SignedEnvelope`: an Ed25519-signed payload, signed over a domain tag and the key version.

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::Serialize;

use super::keys::{decode_pubkey_multibase, encode_pubkey_multibase, KeyError};

/// Domain tag that opens the signed bytes of every envelope (22 ASCII bytes, no length prefix).
pub const ENVELOPE_DOMAIN: &[u8] = b"mur-bridge-envelope-v1";

/// Ed25519 signature length in bytes.
const SIGNATURE_LEN: usize = 64;

/// An Ed25519-signed payload, as carried by the `envelope` and `resume_proof` frames.
///
/// For an `envelope` frame, `payload` is the already-canonical JSON of an A2A JSON-RPC request
/// (sorted keys, no whitespace); for a `resume_proof`, it is the UTF-8 bytes of the desktop's
/// challenge nonce. Verifiers use these exact bytes and never re-canonicalize.
///
/// On the wire `payload` and `sig` are JSON arrays of integers 0–255 (a JSON string is also
/// accepted on receive, taken as its UTF-8 bytes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedEnvelope {
    /// The signed bytes after the domain tag and key version.
    pub payload: Vec<u8>,
    /// The Ed25519 signature; verification rejects any length other than 64.
    pub sig: Vec<u8>,
    /// The signer's key version, covered by the signature.
    pub key_version: u32,
    /// The signer's public key in multibase. Informational: verification uses a key the verifier
    /// supplies, never this one on its own.
    pub bridge_pubkey_multibase: String,
}

/// Why an envelope did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EnvelopeError {
    /// `sig` is not 64 bytes.
    #[error("envelope signature is {len} bytes, expected 64")]
    SignatureLength {
        /// Length of `sig` in bytes.
        len: usize,
    },
    /// The expected public key (multibase) could not be decoded (why is in the message; not
    /// returned from `source()`).
    #[error("expected public key is invalid: {0}")]
    ExpectedKey(KeyError),
    /// The signature does not verify (strictly) under the expected key.
    #[error("envelope signature does not verify under the expected key")]
    SignatureMismatch,
}

impl From<KeyError> for EnvelopeError {
    fn from(e: KeyError) -> Self {
        EnvelopeError::ExpectedKey(e)
    }
}

/// The exact bytes an envelope signature covers: [`ENVELOPE_DOMAIN`] ‖ u32le(`key_version`) ‖
/// `payload`.
pub fn envelope_signing_bytes(payload: &[u8], key_version: u32) -> Vec<u8> {
    let mut out = Vec::with_capacity(
        ENVELOPE_DOMAIN
            .len()
            .saturating_add(4)
            .saturating_add(payload.len()),
    );
    out.extend_from_slice(ENVELOPE_DOMAIN);
    out.extend_from_slice(&key_version.to_le_bytes());
    out.extend_from_slice(payload);
    out
}

impl SignedEnvelope {
    /// Signs `payload` (already canonical; it is not re-encoded) with `key` at `key_version`.
    pub fn sign(payload: Vec<u8>, key: &SigningKey, key_version: u32) -> Self {
        let sig = key.sign(&envelope_signing_bytes(&payload, key_version));
        SignedEnvelope {
            payload,
            sig: sig.to_bytes().to_vec(),
            key_version,
            bridge_pubkey_multibase: encode_pubkey_multibase(&key.verifying_key()),
        }
    }

    /// The bytes this envelope's signature covers.
    pub fn signing_bytes(&self) -> Vec<u8> {
        envelope_signing_bytes(&self.payload, self.key_version)
    }

    /// Verifies the signature strictly (`verify_strict`) against `expected`, a key the caller
    /// trusts. The envelope's own `bridge_pubkey_multibase` plays no part.
    pub fn verify(&self, expected: &VerifyingKey) -> Result<(), EnvelopeError> {
        let sig: [u8; SIGNATURE_LEN] =
            self.sig
                .as_slice()
                .try_into()
                .map_err(|_| EnvelopeError::SignatureLength {
                    len: self.sig.len(),
                })?;
        expected
            .verify_strict(&self.signing_bytes(), &Signature::from_bytes(&sig))
            .map_err(|_| EnvelopeError::SignatureMismatch)
    }

    /// Verifies against an expected key given in multibase (see [`SignedEnvelope::verify`]).
    pub fn verify_multibase(&self, expected_multibase: &str) -> Result<(), EnvelopeError> {
        self.verify(&decode_pubkey_multibase(expected_multibase)?)
    }
}

/// The wire form: byte fields as arrays of integers, fields in mur-common's order.
#[derive(Serialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schemars", schemars(rename = "SignedEnvelope"))]
pub(crate) struct EnvelopeWire<'a> {
    payload: &'a [u8],
    sig: &'a [u8],
    key_version: u32,
    bridge_pubkey_multibase: &'a str,
}

impl<'a> From<&'a SignedEnvelope> for EnvelopeWire<'a> {
    fn from(envelope: &'a SignedEnvelope) -> Self {
        EnvelopeWire {
            payload: &envelope.payload,
            sig: &envelope.sig,
            key_version: envelope.key_version,
            bridge_pubkey_multibase: &envelope.bridge_pubkey_multibase,
        }
    }
}

impl Serialize for SignedEnvelope {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        EnvelopeWire::from(self).serialize(serializer)
    }
}
