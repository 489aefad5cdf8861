//! Keys: multibase encoding of Ed25519 public keys (base58btc, `z` prefix, of the raw 32 key
//! bytes), and the key and RNG types this crate's API takes, re-exported so a consumer needs no
//! dependency of its own on the matching `ed25519-dalek` and `rand_core` versions.
//!
//! ```
//! use wavekat_platform_client::mobile::keys::{OsRng, SigningKey};
//!
//! let device_key = SigningKey::generate(&mut OsRng);
//! let _public = device_key.verifying_key();
//! ```

/// An Ed25519 signature (`ed25519-dalek` 2).
pub use ed25519_dalek::Signature;
/// An Ed25519 signing key (`ed25519-dalek` 2): a device key, or a desktop identity.
pub use ed25519_dalek::SigningKey;
/// An Ed25519 public key (`ed25519-dalek` 2).
pub use ed25519_dalek::VerifyingKey;
/// The RNG bound this crate's API takes (`rand_core` 0.6): a cryptographically secure RNG.
pub use rand_core::CryptoRngCore;
/// The operating system's CSPRNG (`rand_core` 0.6), for [`SigningKey::generate`] and pairing
/// windows.
pub use rand_core::OsRng;
/// The RNG traits behind [`CryptoRngCore`] (`rand_core` 0.6), for implementing your own RNG.
pub use rand_core::{CryptoRng, RngCore};

/// Why a multibase public key could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The string is empty, so it has no multibase prefix.
    #[error("multibase public key is empty")]
    Empty,
    /// The multibase prefix is not `z` (base58btc), the only base MUR emits.
    #[error("multibase prefix {prefix:?} is not supported; only `z` (base58btc) is")]
    UnsupportedBase {
        /// The prefix character found.
        prefix: char,
    },
    /// The string is longer than any base58btc encoding of 32 bytes (checked before decoding,
    /// since base58 decoding costs time quadratic in the length).
    #[error("multibase public key is {len} bytes long, more than a 32-byte key can encode to")]
    TooLong {
        /// Length of the string in bytes.
        len: usize,
    },
    /// The characters after `z` are not valid base58btc.
    #[error("multibase public key is not valid base58btc")]
    InvalidBase58,
    /// The decoded key is not exactly 32 bytes.
    #[error("multibase public key decodes to {len} bytes, expected 32")]
    WrongLength {
        /// Decoded length in bytes.
        len: usize,
    },
    /// The 32 bytes are not a valid Ed25519 point.
    #[error("multibase public key is not a valid Ed25519 point")]
    InvalidPoint,
}

/// `z` plus the longest base58 encoding of 32 bytes (44 characters): any longer string decodes to
/// more than 32 bytes.
const MAX_MULTIBASE_KEY_LEN: usize = 45;

/// Encodes an Ed25519 public key as multibase base58btc (`z` followed by 44 or so characters).
pub fn encode_pubkey_multibase(key: &VerifyingKey) -> String {
    let mut out = String::with_capacity(46);
    out.push('z');
    out.push_str(&bs58::encode(key.as_bytes()).into_string());
    out
}

/// Decodes a multibase base58btc Ed25519 public key, requiring exactly 32 decoded bytes that form
/// a valid point.
pub fn decode_pubkey_multibase(text: &str) -> Result<VerifyingKey, KeyError> {
    let bytes = decode_pubkey_bytes(text)?;
    VerifyingKey::from_bytes(&bytes).map_err(|_| KeyError::InvalidPoint)
}

/// Decodes a multibase base58btc string to its 32 raw bytes, without the point check.
pub(crate) fn decode_pubkey_bytes(text: &str) -> Result<[u8; 32], KeyError> {
    let mut chars = text.chars();
    let prefix = chars.next().ok_or(KeyError::Empty)?;
    if prefix != 'z' {
        return Err(KeyError::UnsupportedBase { prefix });
    }
    if text.len() > MAX_MULTIBASE_KEY_LEN {
        return Err(KeyError::TooLong { len: text.len() });
    }
    let decoded = bs58::decode(chars.as_str())
        .into_vec()
        .map_err(|_| KeyError::InvalidBase58)?;
    <[u8; 32]>::try_from(decoded.as_slice())
        .map_err(|_| KeyError::WrongLength { len: decoded.len() })
}
