//! The serde forms of the secrets in the records a daemon and an app persist
//! ([`PairedDeviceRecord`](super::PairedDeviceRecord), [`DeviceIdentity`](super::DeviceIdentity)):
//! each 32-byte secret as 64 lowercase hex digits, the only form in which it leaves the type, and
//! each Noise public key as unpadded base64url (as the QR code carries it). The
//! text is zeroized after use on our side; what the serializer and the storage do with it is the
//! caller's to protect (store it as you would a key).

use ed25519_dalek::SigningKey;
use serde::{Deserialize as _, Deserializer, Serializer};
use zeroize::Zeroizing;

use super::noise::{NoisePublicKey, NoiseSecretKey, PhoneNoiseKeys};

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

/// `Option<NoisePublicKey>` as unpadded base64url, or null/absent (a public key: not secret).
pub(crate) mod noise_public_key {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(
        key: &Option<NoisePublicKey>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match key {
            Some(key) => serializer.serialize_str(&key.to_base64url()),
            None => serializer.serialize_none(),
        }
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<NoisePublicKey>, D::Error> {
        let Some(text) = Option::<String>::deserialize(deserializer)? else {
            return Ok(None);
        };
        parse_public::<D::Error>(&text, "noise_key").map(Some)
    }
}

fn parse_public<E: serde::de::Error>(text: &str, what: &str) -> Result<NoisePublicKey, E> {
    NoisePublicKey::from_base64url(text).ok_or_else(|| {
        E::custom(format!(
            "{what}: expected 43 characters of unpadded base64url (32 bytes)"
        ))
    })
}

/// `Option<PhoneNoiseKeys>` as `{"phone_key": <hex secret>, "desktop_key": <base64url>}`, or
/// null/absent.
pub(crate) mod phone_noise_keys {
    use super::*;

    #[derive(serde::Serialize, serde::Deserialize)]
    struct Form {
        phone_key: String,
        desktop_key: String,
    }

    impl Drop for Form {
        fn drop(&mut self) {
            zeroize::Zeroize::zeroize(&mut self.phone_key);
        }
    }

    pub(crate) fn serialize<S: Serializer>(
        keys: &Option<PhoneNoiseKeys>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match keys {
            Some(keys) => serde::Serialize::serialize(
                &Form {
                    phone_key: hex::encode(keys.phone.expose_bytes()),
                    desktop_key: keys.desktop.to_base64url(),
                },
                serializer,
            ),
            None => serializer.serialize_none(),
        }
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<PhoneNoiseKeys>, D::Error> {
        let Some(form) = Option::<Form>::deserialize(deserializer)? else {
            return Ok(None);
        };
        let phone = parse_secret::<D::Error>(&form.phone_key, "noise.phone_key")?;
        let desktop = parse_public::<D::Error>(&form.desktop_key, "noise.desktop_key")?;
        Ok(Some(PhoneNoiseKeys {
            phone: NoiseSecretKey::from_bytes(*phone),
            desktop,
        }))
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
