//! The sign-in `state` values, from the operating system's random source.

use base64::Engine as _;
use rand_core::{OsRng, RngCore};
use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// Bytes of OS randomness in a loopback `state` (base64url without padding: 32 characters).
const STATE_BYTES: usize = 24;

fn fill_random(bytes: &mut [u8]) -> Result<()> {
    OsRng.try_fill_bytes(bytes).map_err(|error| Error::Io {
        action: "drawing the sign-in state from the operating system's random source".to_owned(),
        io: std::io::Error::other(error.to_string()),
        fix: "check the system's random source (getrandom), then start the sign-in again",
    })
}

/// 24 OS-random bytes as URL-safe base64 without padding: 32 characters of `A–Z a–z 0–9 - _`.
pub(super) fn random_state() -> Result<String> {
    let mut bytes = Zeroizing::new([0u8; STATE_BYTES]);
    fill_random(&mut bytes[..])?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&bytes[..]))
}

/// `len` OS-random characters from `A–Z a–z 0–9`, without modulo bias.
pub(super) fn random_alphanumeric(len: usize) -> Result<String> {
    const ALPHABET: &[u8; 62] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    // 248 = 4 * 62: bytes at or above it are dropped so every character is equally likely.
    const ACCEPT_BELOW: u8 = 248;
    let mut out = String::with_capacity(len);
    let mut bytes = [0u8; 64];
    while out.len() < len {
        fill_random(&mut bytes)?;
        for &byte in bytes.iter().filter(|&&b| b < ACCEPT_BELOW) {
            if out.len() == len {
                break;
            }
            if let Some(&c) = ALPHABET.get(usize::from(byte % 62)) {
                out.push(char::from(c));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_state_is_32_alphanumerics() {
        let state = random_alphanumeric(32).unwrap_or_default();
        assert_eq!(state.len(), 32);
        assert!(state.bytes().all(|b| b.is_ascii_alphanumeric()));
    }

    #[test]
    fn loopback_state_is_32_url_safe_characters() {
        let state = random_state().unwrap_or_default();
        assert_eq!(state.len(), 32);
        assert!(state
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
    }
}
