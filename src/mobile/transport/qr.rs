//! What the desktop's pairing QR code carries: the proto-2 offer and, when secure mode is
//! offered, the desktop's Noise static public key.

use super::noise::NoisePublicKey;
use crate::mobile::{PairingOffer, PairingToken};

/// URI scheme of [`PairingQr::to_uri`].
const SCHEME: &str = "wavekat-pair:";

/// The pairing QR payload: the [`PairingOffer`] (window id, one-time token, desktop `did`) and,
/// if the desktop offers secure mode, its Noise static public key, which the phone pins (it then
/// refuses a plain answer, and only the holder of the matching private key can finish the
/// handshake).
///
/// mur-common does not fix a QR format; this one is a URI,
/// `wavekat-pair:?wid=…&token=…&did=…&nk=…` (`nk`: the key, unpadded base64url; absent for a
/// plain-only desktop). It holds the token: show it, never log it (`Debug` redacts the token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PairingQr {
    /// The proto-2 offer.
    pub offer: PairingOffer,
    /// The desktop's Noise static public key; `None` if it offers plain proto 2 only.
    pub noise_key: Option<NoisePublicKey>,
}

/// Why a QR payload could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum QrError {
    /// The text does not start with `wavekat-pair:?`.
    #[error("not a wavekat pairing URI")]
    Scheme,
    /// A required parameter is missing.
    #[error("pairing URI lacks `{0}`")]
    Missing(&'static str),
    /// A parameter is not in the expected form.
    #[error("pairing URI parameter `{0}` is malformed")]
    Malformed(&'static str),
}

fn encode_component(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

impl PairingQr {
    /// The URI to render as a QR code.
    pub fn to_uri(&self) -> String {
        let mut uri = format!(
            "{SCHEME}?wid={}&token={}&did={}",
            encode_component(&self.offer.wid),
            encode_component(self.offer.token.expose_secret()),
            encode_component(&self.offer.did),
        );
        if let Some(key) = &self.noise_key {
            uri.push_str("&nk=");
            uri.push_str(&key.to_base64url());
        }
        uri
    }

    /// Reads a URI made by [`PairingQr::to_uri`]; a missing `nk` reads as plain.
    pub fn parse(uri: &str) -> Result<Self, QrError> {
        let query = uri
            .strip_prefix(SCHEME)
            .and_then(|rest| rest.strip_prefix('?'))
            .ok_or(QrError::Scheme)?;
        let (mut wid, mut token, mut did, mut noise_key) = (None, None, None, None);
        for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
            match key.as_ref() {
                "wid" => wid = Some(value.into_owned()),
                "token" => token = Some(PairingToken::new(value.into_owned())),
                "did" => did = Some(value.into_owned()),
                "nk" => {
                    noise_key = Some(
                        NoisePublicKey::from_base64url(&value).ok_or(QrError::Malformed("nk"))?,
                    )
                }
                _ => {}
            }
        }
        Ok(PairingQr {
            offer: PairingOffer {
                wid: wid.ok_or(QrError::Missing("wid"))?,
                token: token.ok_or(QrError::Missing("token"))?,
                did: did.ok_or(QrError::Missing("did"))?,
            },
            noise_key,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_qr_uri_round_trips_and_its_debug_hides_the_token() {
        let qr = PairingQr {
            offer: PairingOffer {
                wid: "w 1".into(),
                token: PairingToken::new("tok&en"),
                did: "zDid".into(),
            },
            noise_key: Some(NoisePublicKey([7; 32])),
        };
        assert_eq!(PairingQr::parse(&qr.to_uri()), Ok(qr.clone()));
        assert!(!format!("{qr:?}").contains("tok&en"));
        assert_eq!(PairingQr::parse("http://x"), Err(QrError::Scheme));
    }
}
