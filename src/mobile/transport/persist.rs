//! The serde forms of the secrets in the records a daemon and an app persist
//! ([`PairedDeviceRecord`](super::PairedDeviceRecord), [`DeviceIdentity`](super::DeviceIdentity)):
//! each 32-byte secret as 64 lowercase hex digits, the only form in which it leaves the type. The
//! text is zeroized after use on our side; what the serializer and the storage do with it is the
//! caller's to protect (store it as you would a key).

use ed25519_dalek::SigningKey;
use serde::{Deserialize as _, Deserializer, Serializer};
use zeroize::Zeroizing;

use super::secure::LinkSecret;

/// Writes 32 secret bytes as hex.
fn serialize_secret<S: Serializer>(bytes: &[u8; 32], serializer: S) -> Result<S::Ok, S::Error> {
    let text = Zeroizing::new(hex::encode(bytes));
    serializer.serialize_str(&text)
}

/// Reads 32 secret bytes from hex; `what` names the field in the error.
fn parse_secret<E: serde::de::Error>(text: &str, what: &str) -> Result<Zeroizing<[u8; 32]>, E> {
    let mut bytes = Zeroizing::new([0u8; 32]);
    hex::decode_to_slice(text, bytes.as_mut_slice())
        .map_err(|e| E::custom(format!("{what}: expected 64 hex digits ({e})")))?;
    Ok(bytes)
}

/// `Option<LinkSecret>` as hex or null/absent.
pub(crate) mod link_secret {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(
        secret: &Option<LinkSecret>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match secret {
            Some(secret) => serialize_secret(secret.expose_bytes(), serializer),
            None => serializer.serialize_none(),
        }
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<LinkSecret>, D::Error> {
        let Some(text) = Option::<String>::deserialize(deserializer)?.map(Zeroizing::new) else {
            return Ok(None);
        };
        let bytes = parse_secret::<D::Error>(&text, "link_secret")?;
        Ok(Some(LinkSecret::from_bytes(*bytes)))
    }
}

/// A [`SigningKey`] as the hex of its 32-byte seed.
pub(crate) mod signing_key {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(
        key: &SigningKey,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serialize_secret(&Zeroizing::new(key.to_bytes()), serializer)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<SigningKey, D::Error> {
        let text = Zeroizing::new(String::deserialize(deserializer)?);
        let seed = parse_secret::<D::Error>(&text, "device_key")?;
        Ok(SigningKey::from_bytes(&seed))
    }
}

/// Now, in Unix seconds (0 if the clock is before 1970).
pub(crate) fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
