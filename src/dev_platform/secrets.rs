//! Secrets and ids the emulator mints: random bytes, bearer tokens, the hashes the store keeps
//! instead of secrets, and UUIDs.

use base64::Engine as _;
use rand_core::{OsRng, RngCore};
use sha2::{Digest, Sha256};

use super::Error;
use crate::Token;

/// `N` bytes from the operating system's random generator.
pub(super) fn random_bytes<const N: usize>() -> Result<[u8; N], Error> {
    let mut buf = [0u8; N];
    OsRng
        .try_fill_bytes(&mut buf)
        .map_err(|_| Error::Randomness)?;
    Ok(buf)
}

/// `n` random bytes as lower-case hex.
pub(super) fn random_hex(n: usize) -> Result<String, Error> {
    let mut buf = vec![0u8; n];
    OsRng
        .try_fill_bytes(&mut buf)
        .map_err(|_| Error::Randomness)?;
    Ok(hex::encode(buf))
}

/// A new bearer token: `wk_` and 32 URL-safe base64 characters (24 random bytes).
pub(super) fn mint_token() -> Result<Token, Error> {
    let bytes: [u8; 24] = random_bytes()?;
    let mut token = String::with_capacity(35);
    token.push_str("wk_");
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode_string(bytes, &mut token);
    Ok(Token::new(token))
}

/// Lower-case hex SHA-256 of a secret: what the store keeps instead of the secret.
pub(super) fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// A random (version 4) UUID string.
pub(super) fn new_uuid() -> Result<String, Error> {
    let mut b: [u8; 16] = random_bytes()?;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    Ok(format!(
        "{}-{}-{}-{}-{}",
        h.get(0..8).unwrap_or_default(),
        h.get(8..12).unwrap_or_default(),
        h.get(12..16).unwrap_or_default(),
        h.get(16..20).unwrap_or_default(),
        h.get(20..32).unwrap_or_default()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minted_tokens_are_wk_and_32_url_safe_characters() {
        let token = mint_token().unwrap_or_else(|_| Token::new(""));
        let t = token.expose();
        assert_eq!(t.len(), 35);
        assert!(t.starts_with("wk_"));
        assert!(t[3..]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
    }

    #[test]
    fn uuids_have_the_version_4_shape() {
        let id = new_uuid().unwrap_or_default();
        let parts: Vec<&str> = id.split('-').collect();
        assert_eq!(
            parts.iter().map(|p| p.len()).collect::<Vec<_>>(),
            [8, 4, 4, 4, 12]
        );
        assert!(parts[2].starts_with('4'));
    }
}
