//! Release signing, scheme version 2: the credential a release build signs anonymous platform
//! requests with, the operator-side issuance of those credentials, and the verifier a server uses
//! to check them.
//!
//! A release master key certifies one per-version key for one build version; the build signs each
//! request with the per-version key; a server holding only the master public key checks both
//! signatures, the freshness window and the nonce. Every signed string and encoding is byte-exact
//! to the published 0.0.37 client (CONTRACT.md §5).
//!
//! ```
//! use std::time::Duration;
//! use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
//! use wavekat_platform_client::signing::{generate_master, issue_release_credential, ReleaseVerifier};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // CI, once: the master keypair. Per release: a credential bound to the build version.
//! let (master_private, master_public) = generate_master()?;
//! let credential = issue_release_credential(master_private.expose(), "0.0.22")?;
//!
//! // The build signs the exact bytes it sends.
//! let body = br#"{"installId":"x"}"#;
//! let signature = credential.sign_request("POST", "/api/voice/installs/heartbeat", body)?;
//! let mut headers = HeaderMap::new();
//! for (name, value) in credential.signature_headers(&signature) {
//!     headers.insert(HeaderName::from_static(name), HeaderValue::from_str(&value)?);
//! }
//!
//! // The server checks it with the master public key alone.
//! let verifier = ReleaseVerifier::new(&master_public)?.with_window(Duration::from_secs(300));
//! let release = verifier.verify("POST", "/api/voice/installs/heartbeat", &headers, body)?;
//! assert_eq!(release.build_version, "0.0.22");
//! # Ok(())
//! # }
//! ```

use std::collections::{BTreeSet, HashMap, HashSet};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use rand_core::{OsRng, RngCore};
use reqwest::header::HeaderMap;
use sha2::{Digest, Sha256};
use zeroize::{Zeroize, Zeroizing};

/// The signature scheme version sent in [`HEADER_SIG_VER`].
pub const SIG_SCHEME_VERSION: &str = "2";

// Header names are lower-case (HTTP names are case-insensitive; the contract spells them
// `X-WK-Sig-Ver` and so on) so each works with `HeaderName::from_static` and `HeaderMap::insert`.

/// Header carrying the scheme version (`2`).
pub const HEADER_SIG_VER: &str = "x-wk-sig-ver";
/// Header carrying the signed unix timestamp in whole seconds.
pub const HEADER_SIG_TS: &str = "x-wk-sig-ts";
/// Header carrying the signed nonce (32 lower-case hex characters).
pub const HEADER_SIG_NONCE: &str = "x-wk-sig-nonce";
/// Header carrying the build version the certificate is bound to.
pub const HEADER_BUILD_VERSION: &str = "x-wk-build-version";
/// Header carrying the per-version public key (64 hex characters).
pub const HEADER_PUB: &str = "x-wk-pub";
/// Header carrying the master's certificate over the per-version key (128 hex characters).
pub const HEADER_CERT: &str = "x-wk-cert";
/// Header carrying the per-version key's signature over the request (128 hex characters).
pub const HEADER_SIG: &str = "x-wk-sig";

/// Environment variable holding the per-version private key (read by
/// [`ReleaseCredential::from_env`], printed by `wk-release-keys issue`).
pub const ENV_RELEASE_PRIVATE_KEY: &str = "WK_RELEASE_PRIV_V";
/// Environment variable holding the per-version public key.
pub const ENV_RELEASE_PUBLIC_KEY: &str = "WK_RELEASE_PUB_V";
/// Environment variable holding the certificate.
pub const ENV_RELEASE_CERT: &str = "WK_RELEASE_CERT";
/// Environment variable holding the build version the certificate is bound to.
///
/// The published 0.0.37 tooling had no such variable (builds sent `CARGO_PKG_VERSION`); this crate
/// names it so the version travels with the key, certificate and private key it belongs to.
pub const ENV_RELEASE_VERSION: &str = "WK_RELEASE_VERSION";
/// Environment variable holding the release master private key (operator tooling only).
pub const ENV_RELEASE_MASTER_PRIVATE: &str = "WK_RELEASE_MASTER_PRIVATE";
/// The platform variable holding the release master public key.
pub const ENV_RELEASE_MASTER_PUBKEY: &str = "RELEASE_MASTER_PUBKEY";

/// The verifier's default freshness window: a request is accepted while its timestamp is at most
/// this old by the verifier's clock.
pub const DEFAULT_FRESHNESS_WINDOW: Duration = Duration::from_secs(300);

/// The verifier's default allowance for a sender's clock running ahead: a timestamp at most this
/// far in the future is accepted. Kept short, because a future-dated nonce must be remembered until
/// its timestamp has aged out of the window.
pub const DEFAULT_FUTURE_SKEW: Duration = Duration::from_secs(30);

/// The verifier's default cap on remembered nonces **per per-version key** (about 10 MB at the
/// cap for one key).
pub const DEFAULT_NONCE_CAPACITY: usize = 100_000;

/// Field names used in [`KeyError`].
const FIELD_PRIVATE_KEY: &str = "private key";
const FIELD_PUBLIC_KEY: &str = "public key";
const FIELD_CERTIFICATE: &str = "certificate";
const FIELD_SIGNATURE: &str = "signature";
const FIELD_NONCE: &str = "nonce";
const FIELD_MASTER_PRIVATE_KEY: &str = "master private key";
const FIELD_MASTER_PUBLIC_KEY: &str = "master public key";

/// A key, certificate, signature or version that could not be used. No variant carries the
/// offending value, so a secret never reaches a message or a log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The value is not hexadecimal.
    #[error("{field}: not valid hex")]
    InvalidHex {
        /// Which value: `"private key"`, `"public key"`, `"certificate"`, `"signature"`,
        /// `"nonce"`, `"master private key"` or `"master public key"`.
        field: &'static str,
    },
    /// The value (after trimming surrounding whitespace) has the wrong number of hex characters.
    #[error("{field}: expected {expected} hex characters, got {actual}")]
    InvalidLength {
        /// Which value (see [`KeyError::InvalidHex`]).
        field: &'static str,
        /// The required number of hex characters.
        expected: usize,
        /// The number of characters received.
        actual: usize,
    },
    /// The 32 bytes are not a usable Ed25519 public key (not a curve point, or of small order).
    #[error("{field}: not a valid Ed25519 public key")]
    InvalidPublicKey {
        /// Which value (see [`KeyError::InvalidHex`]).
        field: &'static str,
    },
    /// The private key does not derive the public key it was paired with.
    #[error("private key does not match the public key")]
    KeyMismatch,
    /// The build version is empty or has a character outside visible ASCII (`!` to `~`); it must
    /// fit in an HTTP header and on one line of the certificate payload.
    #[error("version: must be non-empty visible ASCII with no spaces")]
    InvalidVersion,
    /// A required environment variable is not set.
    #[error("environment variable {name} is not set")]
    MissingEnv {
        /// The variable's name.
        name: &'static str,
    },
    /// An environment variable is set but is not valid Unicode.
    #[error("environment variable {name} is not valid Unicode")]
    EnvNotUnicode {
        /// The variable's name.
        name: &'static str,
    },
    /// The operating system's random number generator failed; no key was made.
    #[error("the operating system's random number generator failed")]
    RandomnessUnavailable,
}

/// Why a signing or standalone verification call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SigningError {
    /// An input key, certificate, signature or nonce could not be decoded.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// The certificate is not the master's signature over this version and public key.
    #[error("the certificate is not a valid master signature for this version and public key")]
    BadCertificate,
    /// The request signature is not the per-version key's signature over this request.
    #[error("the request signature does not match the request")]
    BadSignature,
    /// The operating system's random number generator failed; nothing was signed.
    #[error("the operating system's random number generator failed")]
    RandomnessUnavailable,
}

/// Why [`ReleaseVerifier::verify`] refused a request. Each variant has a stable
/// [`code`](VerifyError::code) for a JSON error body; no variant echoes a header's value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// A required signature header is absent.
    #[error("missing header {name}")]
    MissingHeader {
        /// The header's name (lower-case).
        name: &'static str,
    },
    /// A signature header is repeated, not ASCII, or not in its required format.
    #[error("malformed header {name}")]
    MalformedHeader {
        /// The header's name (lower-case).
        name: &'static str,
    },
    /// `X-WK-Sig-Ver` is not `2`.
    #[error("unsupported signature scheme (only version {SIG_SCHEME_VERSION} is accepted)")]
    UnsupportedScheme,
    /// The timestamp is further from the verifier's clock than the freshness window allows.
    #[error("stale request: timestamp {timestamp} is outside the window around {now}")]
    Stale {
        /// The request's signed timestamp.
        timestamp: u64,
        /// The verifier's clock when it checked.
        now: u64,
    },
    /// The certificate is not the master's signature over the claimed build version and key.
    #[error("the certificate does not bind this public key to this build version")]
    BadCertificate,
    /// The request signature does not cover this method, path, body, timestamp and nonce.
    #[error("the request signature does not match the request")]
    BadSignature,
    /// The nonce was already accepted within the freshness window.
    #[error("replayed request: this nonce was already used")]
    Replayed,
    /// This per-version key's nonce memory is at its cap; the request was not accepted (retry
    /// later). Other versions' keys have budgets of their own and are unaffected.
    #[error("nonce memory is full; try again later")]
    NonceMemoryFull,
    /// The claimed build version is on the verifier's deny-list
    /// ([`ReleaseVerifier::deny_version`]), e.g. because its key leaked.
    #[error("this build version is no longer accepted")]
    DeniedVersion,
}

impl VerifyError {
    /// A short, stable snake_case code for this rejection, for a server's JSON error body.
    pub fn code(&self) -> &'static str {
        match self {
            VerifyError::MissingHeader { .. } => "missing_header",
            VerifyError::MalformedHeader { .. } => "malformed_header",
            VerifyError::UnsupportedScheme => "unsupported_scheme",
            VerifyError::Stale { .. } => "stale",
            VerifyError::BadCertificate => "bad_certificate",
            VerifyError::BadSignature => "bad_signature",
            VerifyError::Replayed => "replayed",
            VerifyError::NonceMemoryFull => "nonce_memory_full",
            VerifyError::DeniedVersion => "denied_version",
        }
    }
}

/// A private key as 64 lower-case hex characters.
///
/// `Debug` is redacted, there is no `Display`, and the string is zeroized on drop. Use
/// [`SecretKeyHex::expose`] only to hand the value to a secret store.
pub struct SecretKeyHex(String);

impl SecretKeyHex {
    /// Encodes 32 secret bytes without leaving an unzeroized copy of the text behind.
    fn from_bytes(bytes: &[u8; 32]) -> Self {
        let mut buf = Zeroizing::new([0u8; 64]);
        let mut text = String::with_capacity(64);
        if hex::encode_to_slice(bytes, buf.as_mut_slice()).is_ok() {
            text.push_str(std::str::from_utf8(buf.as_slice()).unwrap_or_default());
        }
        SecretKeyHex(text)
    }

    /// The secret value, for the caller to store (CI secret, keychain, …).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretKeyHex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKeyHex(***redacted)")
    }
}

impl Drop for SecretKeyHex {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

/// What [`ReleaseCredential::sign_request`] produced: the values the request carries in
/// `X-WK-Sig-Ts`, `X-WK-Sig-Nonce` and `X-WK-Sig`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestSignature {
    /// Unix time in whole seconds that the signature covers.
    pub timestamp: u64,
    /// The nonce the signature covers, 32 lower-case hex characters.
    pub nonce: String,
    /// The Ed25519 signature, 128 lower-case hex characters.
    pub signature: String,
}

/// Everything a release build needs to sign requests: the build version, the per-version key
/// pair and the master's certificate binding the public key to that version.
///
/// The private key is zeroized on drop and never appears in `Debug`, `Display` or an error.
#[derive(Clone)]
pub struct ReleaseCredential {
    version: String,
    signing_key: SigningKey,
    public_key_hex: String,
    cert_hex: String,
}

impl fmt::Debug for ReleaseCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReleaseCredential")
            .field("version", &self.version)
            .field("public_key_hex", &self.public_key_hex)
            .field("cert_hex", &self.cert_hex)
            .field("private_key", &"***redacted")
            .finish()
    }
}

impl ReleaseCredential {
    /// Builds a credential from the hex values CI issued.
    ///
    /// Hex input is trimmed and case-insensitive. Fails if a value has the wrong length or is not
    /// hex (the error names the field), if the version is unusable, or if the private key does
    /// not derive the public key. The certificate is checked for shape only; only a holder of the
    /// master public key can check it ([`verify_cert`]).
    pub fn new(
        version: &str,
        private_key_hex: &str,
        public_key_hex: &str,
        cert_hex: &str,
    ) -> Result<Self, KeyError> {
        check_version(version)?;
        let seed = Zeroizing::new(decode_hex::<32>(private_key_hex, FIELD_PRIVATE_KEY)?);
        let public = decode_public_key(public_key_hex, FIELD_PUBLIC_KEY)?;
        let cert = decode_hex::<64>(cert_hex, FIELD_CERTIFICATE)?;
        let signing_key = SigningKey::from_bytes(&seed);
        if signing_key.verifying_key() != public {
            return Err(KeyError::KeyMismatch);
        }
        Ok(ReleaseCredential {
            version: version.to_owned(),
            signing_key,
            public_key_hex: hex::encode(public.as_bytes()),
            cert_hex: hex::encode(cert),
        })
    }

    /// Builds a credential from the process environment: [`ENV_RELEASE_VERSION`]
    /// (`WK_RELEASE_VERSION`), [`ENV_RELEASE_PRIVATE_KEY`] (`WK_RELEASE_PRIV_V`),
    /// [`ENV_RELEASE_PUBLIC_KEY`] (`WK_RELEASE_PUB_V`) and [`ENV_RELEASE_CERT`]
    /// (`WK_RELEASE_CERT`). Surrounding whitespace is trimmed from every value.
    pub fn from_env() -> Result<Self, KeyError> {
        Self::from_lookup(|name| match std::env::var(name) {
            Ok(value) => Ok(Zeroizing::new(value)),
            Err(std::env::VarError::NotPresent) => Err(KeyError::MissingEnv { name }),
            Err(std::env::VarError::NotUnicode(_)) => Err(KeyError::EnvNotUnicode { name }),
        })
    }

    /// Like [`ReleaseCredential::from_env`], reading each variable through `get` instead (for
    /// values baked in at build time with `option_env!`, or for tests). `None` means unset.
    pub fn from_env_with(get: impl Fn(&str) -> Option<String>) -> Result<Self, KeyError> {
        Self::from_lookup(|name| {
            get(name)
                .map(Zeroizing::new)
                .ok_or(KeyError::MissingEnv { name })
        })
    }

    fn from_lookup(
        mut get: impl FnMut(&'static str) -> Result<Zeroizing<String>, KeyError>,
    ) -> Result<Self, KeyError> {
        let version = get(ENV_RELEASE_VERSION)?;
        let private_key = get(ENV_RELEASE_PRIVATE_KEY)?;
        let public_key = get(ENV_RELEASE_PUBLIC_KEY)?;
        let cert = get(ENV_RELEASE_CERT)?;
        Self::new(version.trim(), &private_key, &public_key, &cert)
    }

    /// The build version the certificate is bound to (sent as `X-WK-Build-Version`).
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The per-version public key, 64 lower-case hex characters.
    pub fn public_key_hex(&self) -> &str {
        &self.public_key_hex
    }

    /// The master's certificate, 128 lower-case hex characters.
    pub fn cert_hex(&self) -> &str {
        &self.cert_hex
    }

    /// The per-version private key as hex, for the operator tool to hand to CI. A build that only
    /// signs never needs this.
    pub fn export_private_key(&self) -> SecretKeyHex {
        let seed = Zeroizing::new(self.signing_key.to_bytes());
        SecretKeyHex::from_bytes(&seed)
    }

    /// Signs a request: `method` (upper-cased before signing), `path` (the API path only: no
    /// host, no query, no base-URL prefix) and `body` (the exact bytes that will be sent). The
    /// timestamp is now in whole unix seconds (0 if the clock is before the epoch, which a
    /// verifier then rejects as stale) and the nonce is 16 bytes from the OS random generator.
    pub fn sign_request(
        &self,
        method: &str,
        path: &str,
        body: &[u8],
    ) -> Result<RequestSignature, SigningError> {
        let mut nonce = [0u8; 16];
        OsRng
            .try_fill_bytes(&mut nonce)
            .map_err(|_| SigningError::RandomnessUnavailable)?;
        Ok(self.sign_request_with(method, path, body, system_unix_secs(), nonce))
    }

    /// [`ReleaseCredential::sign_request`] with the timestamp and nonce given, for known-answer
    /// tests. Never reuse a nonce on the wire: verifiers reject it as a replay.
    pub fn sign_request_with(
        &self,
        method: &str,
        path: &str,
        body: &[u8],
        timestamp: u64,
        nonce: [u8; 16],
    ) -> RequestSignature {
        let nonce = hex::encode(nonce);
        let message = request_message(timestamp, &nonce, method, path, body);
        let signature = self.signing_key.sign(message.as_bytes());
        RequestSignature {
            timestamp,
            nonce,
            signature: hex::encode(signature.to_bytes()),
        }
    }

    /// The seven signature headers for `sig`, in contract order (`Content-Type` is the
    /// caller's): scheme version, timestamp, nonce, build version, public key, certificate and
    /// signature.
    pub fn signature_headers(&self, sig: &RequestSignature) -> [(&'static str, String); 7] {
        [
            (HEADER_SIG_VER, SIG_SCHEME_VERSION.to_owned()),
            (HEADER_SIG_TS, sig.timestamp.to_string()),
            (HEADER_SIG_NONCE, sig.nonce.clone()),
            (HEADER_BUILD_VERSION, self.version.clone()),
            (HEADER_PUB, self.public_key_hex.clone()),
            (HEADER_CERT, self.cert_hex.clone()),
            (HEADER_SIG, sig.signature.clone()),
        ]
    }
}

/// A fresh Ed25519 key pair from the OS random generator: (private key hex, public key hex).
pub fn generate_keypair() -> Result<(SecretKeyHex, String), KeyError> {
    let signing_key = random_signing_key()?;
    let seed = Zeroizing::new(signing_key.to_bytes());
    Ok((
        SecretKeyHex::from_bytes(&seed),
        hex::encode(signing_key.verifying_key().as_bytes()),
    ))
}

/// The release master key pair, generated once by hand: (private key hex for the CI secret
/// `WK_RELEASE_MASTER_PRIVATE`, public key hex for the platform's `RELEASE_MASTER_PUBKEY`).
pub fn generate_master() -> Result<(SecretKeyHex, String), KeyError> {
    generate_keypair()
}

/// Issues a credential for `version`: a fresh per-version key pair and the master's certificate
/// over [`cert_payload`]`(version, public key)`. Run by CI at release time.
pub fn issue_release_credential(
    master_private_key_hex: &str,
    version: &str,
) -> Result<ReleaseCredential, KeyError> {
    check_version(version)?;
    let master_seed = Zeroizing::new(decode_hex::<32>(
        master_private_key_hex,
        FIELD_MASTER_PRIVATE_KEY,
    )?);
    let master = SigningKey::from_bytes(&master_seed);
    let signing_key = random_signing_key()?;
    let public_key_hex = hex::encode(signing_key.verifying_key().as_bytes());
    let cert = master.sign(cert_payload(version, &public_key_hex).as_bytes());
    Ok(ReleaseCredential {
        version: version.to_owned(),
        signing_key,
        public_key_hex,
        cert_hex: hex::encode(cert.to_bytes()),
    })
}

/// The certificate payload the master key signs: `WKCERT2\n<version>\n<public key hex>`, no
/// trailing newline. Both values are used verbatim.
pub fn cert_payload(version: &str, public_key_hex: &str) -> String {
    format!("WKCERT{SIG_SCHEME_VERSION}\n{version}\n{public_key_hex}")
}

/// The request string the per-version key signs:
/// `WKSIG2\n<timestamp>\n<nonce hex>\n<METHOD>\n<path>\n<sha256 hex of body>`, no trailing
/// newline. All values are used verbatim (signing and verifying upper-case the method and
/// lower-case the nonce before calling this).
pub fn request_payload(
    timestamp: u64,
    nonce_hex: &str,
    method: &str,
    path: &str,
    body_sha256_hex: &str,
) -> String {
    format!(
        "WKSIG{SIG_SCHEME_VERSION}\n{timestamp}\n{nonce_hex}\n{method}\n{path}\n{body_sha256_hex}"
    )
}

/// Checks that `cert_hex` is the master's signature over [`cert_payload`]`(version, public key)`,
/// with strict Ed25519 verification. Keys and the certificate are decoded (trimmed,
/// case-insensitive); the payload uses the public key's lower-case encoding.
pub fn verify_cert(
    master_public_hex: &str,
    version: &str,
    public_hex: &str,
    cert_hex: &str,
) -> Result<(), SigningError> {
    let master = decode_public_key(master_public_hex, FIELD_MASTER_PUBLIC_KEY)?;
    let public = decode_hex::<32>(public_hex, FIELD_PUBLIC_KEY)?;
    let cert = decode_hex::<64>(cert_hex, FIELD_CERTIFICATE)?;
    let payload = cert_payload(version, &hex::encode(public));
    if strict_verify(&master, payload.as_bytes(), &cert) {
        Ok(())
    } else {
        Err(SigningError::BadCertificate)
    }
}

/// Checks that `signature_hex` is the signature of `public_hex` over the request string for these
/// values, with strict Ed25519 verification. The nonce must be 32 hex characters; the method is
/// upper-cased; the body is hashed as given.
pub fn verify_request(
    public_hex: &str,
    timestamp: u64,
    nonce: &str,
    method: &str,
    path: &str,
    body: &[u8],
    signature_hex: &str,
) -> Result<(), SigningError> {
    let public = decode_public_key(public_hex, FIELD_PUBLIC_KEY)?;
    let nonce = decode_hex::<16>(nonce, FIELD_NONCE)?;
    let signature = decode_hex::<64>(signature_hex, FIELD_SIGNATURE)?;
    let message = request_message(timestamp, &hex::encode(nonce), method, path, body);
    if strict_verify(&public, message.as_bytes(), &signature) {
        Ok(())
    } else {
        Err(SigningError::BadSignature)
    }
}

/// The Ed25519 check every verification in this module goes through: `verify_strict` (RFC 8032
/// with canonical `S`, canonical `R` encoding, and no small-order `R` or public key). Returns
/// `false` for a public key that is not a curve point or a signature that is not 64 bytes.
pub fn verify_ed25519_strict(public: &[u8; 32], msg: &[u8], sig: &[u8]) -> bool {
    let Ok(key) = VerifyingKey::from_bytes(public) else {
        return false;
    };
    let Ok(signature) = <[u8; 64]>::try_from(sig) else {
        return false;
    };
    strict_verify(&key, msg, &signature)
}

/// What [`ReleaseVerifier::verify`] established about an accepted request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedRelease {
    /// The build version the certificate binds (from `X-WK-Build-Version`).
    pub build_version: String,
    /// The per-version public key, lower-case hex.
    pub public_key_hex: String,
    /// The request's signed timestamp.
    pub timestamp: u64,
    /// The request's nonce, lower-case hex.
    pub nonce: String,
}

type Clock = Arc<dyn Fn() -> u64 + Send + Sync>;

/// A per-version public key, the unit of nonce budgets.
type KeyBytes = [u8; 32];

/// Server-side verification of scheme-2 signed requests, holding only the master public key.
///
/// # What a valid signature proves
/// That the sender holds a copy of the named release build's per-version private key, which
/// every installed copy of that build carries. No more: not that the sender is a genuine
/// install, a particular user or machine, or that the body's facts are true. Anyone who extracts
/// the key from one copy can sign as that version until it is denied with
/// [`deny_version`](Self::deny_version). Treat a verified request as "claims to be build X and
/// was not replayed", and rate-limit or discount it accordingly.
///
/// # Checks, cheapest first
/// [`verify`](ReleaseVerifier::verify) checks, in order: every signature header is present once
/// and well-formed; the scheme is `2`; the timestamp is at most the window old and at most the
/// future skew ahead of the clock; the build version is not denied; the nonce is not a replay and
/// the key's nonce budget has room. Only then does it run the two Ed25519 verifications (the
/// certificate binds the public key to the claimed build version; the signature covers the
/// method, path, exact body bytes, timestamp and nonce), so a flood of forged requests costs a
/// few lookups each. The nonce is remembered only once every check has passed, and only until
/// its timestamp leaves the window.
///
/// # Bounded memory, per version
/// Each per-version key has its own nonce budget ([`with_nonce_capacity`](Self::with_nonce_capacity)).
/// Only keys the master certified get one, so memory is bounded by the released versions times
/// the capacity, and a leaked version's key can exhaust only its own budget: requests from every
/// other version are still accepted.
///
/// It is `Send + Sync`; clones share one nonce memory and one deny-list.
#[derive(Clone)]
pub struct ReleaseVerifier {
    master: VerifyingKey,
    window_secs: u64,
    future_skew_secs: u64,
    clock: Clock,
    nonces: Arc<Mutex<HashMap<KeyBytes, NonceMemory>>>,
    denied: Arc<Mutex<HashSet<String>>>,
    nonce_capacity: usize,
}

impl fmt::Debug for ReleaseVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReleaseVerifier")
            .field("master_public_key", &hex::encode(self.master.as_bytes()))
            .field("window_secs", &self.window_secs)
            .field("future_skew_secs", &self.future_skew_secs)
            .field("nonce_capacity", &self.nonce_capacity)
            .finish_non_exhaustive()
    }
}

impl ReleaseVerifier {
    /// A verifier trusting `master_public_key_hex` (64 hex characters), with the default window
    /// ([`DEFAULT_FRESHNESS_WINDOW`]), future skew ([`DEFAULT_FUTURE_SKEW`]), per-key nonce cap
    /// ([`DEFAULT_NONCE_CAPACITY`]), no denied versions and the system clock.
    pub fn new(master_public_key_hex: &str) -> Result<ReleaseVerifier, KeyError> {
        let master = decode_public_key(master_public_key_hex, FIELD_MASTER_PUBLIC_KEY)?;
        Ok(ReleaseVerifier {
            master,
            window_secs: DEFAULT_FRESHNESS_WINDOW.as_secs(),
            future_skew_secs: DEFAULT_FUTURE_SKEW.as_secs(),
            clock: Arc::new(system_unix_secs),
            nonces: Arc::new(Mutex::new(HashMap::new())),
            denied: Arc::new(Mutex::new(HashSet::new())),
            nonce_capacity: DEFAULT_NONCE_CAPACITY,
        })
    }

    /// Sets the freshness window (whole seconds; a fraction of a second is dropped): a request
    /// is fresh while `now - timestamp <= window`. A timestamp ahead of the clock is bounded by
    /// [`with_future_skew`](Self::with_future_skew), and never by more than this window.
    pub fn with_window(mut self, window: Duration) -> Self {
        self.window_secs = window.as_secs();
        self
    }

    /// Sets how far ahead of the clock a timestamp may be (whole seconds; default
    /// [`DEFAULT_FUTURE_SKEW`]). The window caps it.
    pub fn with_future_skew(mut self, skew: Duration) -> Self {
        self.future_skew_secs = skew.as_secs();
        self
    }

    /// Replaces the clock (unix seconds), e.g. to pin time in tests.
    pub fn with_clock(mut self, clock: impl Fn() -> u64 + Send + Sync + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Sets the most nonces remembered at once **for each per-version key**. When a key holds
    /// that many unexpired nonces, its new requests are refused with
    /// [`VerifyError::NonceMemoryFull`] rather than forgotten early; other keys are unaffected.
    pub fn with_nonce_capacity(mut self, capacity: usize) -> Self {
        self.nonce_capacity = capacity;
        self
    }

    /// Denies `version` from now on: its requests are refused with
    /// [`VerifyError::DeniedVersion`] before any signature check. Use it when a build's key has
    /// leaked. Clones share the deny-list.
    pub fn deny_version(&self, version: &str) {
        lock(&self.denied).insert(version.to_owned());
    }

    /// Builder form of [`deny_version`](Self::deny_version) for every version in `versions`.
    pub fn with_denied_versions<I, V>(self, versions: I) -> Self
    where
        I: IntoIterator<Item = V>,
        V: Into<String>,
    {
        lock(&self.denied).extend(versions.into_iter().map(Into::into));
        self
    }

    /// Whether `version` is on the deny-list.
    pub fn is_denied(&self, version: &str) -> bool {
        lock(&self.denied).contains(version)
    }

    /// How many nonces are remembered now, over every key, after dropping those whose
    /// timestamps have left the window.
    pub fn remembered_nonces(&self) -> usize {
        let now = (self.clock)();
        let mut memory = lock(&self.nonces);
        memory.retain(|_, nonces| {
            nonces.expire(now, self.window_secs);
            nonces.len() > 0
        });
        memory.values().map(NonceMemory::len).sum()
    }

    /// Verifies one received request: its `method`, `path` (without query or mount prefix), its
    /// headers and the exact body bytes received.
    pub fn verify(
        &self,
        method: &str,
        path: &str,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<VerifiedRelease, VerifyError> {
        let scheme = header(headers, HEADER_SIG_VER)?;
        if scheme != SIG_SCHEME_VERSION {
            return Err(VerifyError::UnsupportedScheme);
        }
        let timestamp = parse_timestamp(header(headers, HEADER_SIG_TS)?).ok_or(
            VerifyError::MalformedHeader {
                name: HEADER_SIG_TS,
            },
        )?;
        let nonce = decode_header_hex::<16>(headers, HEADER_SIG_NONCE)?;
        let build_version = header(headers, HEADER_BUILD_VERSION)?;
        check_version(build_version).map_err(|_| VerifyError::MalformedHeader {
            name: HEADER_BUILD_VERSION,
        })?;
        let public_bytes = decode_header_hex::<32>(headers, HEADER_PUB)?;
        let cert = decode_header_hex::<64>(headers, HEADER_CERT)?;
        let signature = decode_header_hex::<64>(headers, HEADER_SIG)?;

        let now = (self.clock)();
        let too_old = now.saturating_sub(timestamp) > self.window_secs;
        let ahead = self.future_skew_secs.min(self.window_secs);
        let too_new = timestamp.saturating_sub(now) > ahead;
        if too_old || too_new {
            return Err(VerifyError::Stale { timestamp, now });
        }
        if self.is_denied(build_version) {
            return Err(VerifyError::DeniedVersion);
        }
        self.check_nonce(&public_bytes, nonce, now)?;

        let public = VerifyingKey::from_bytes(&public_bytes)
            .map_err(|_| VerifyError::MalformedHeader { name: HEADER_PUB })?;
        let public_key_hex = hex::encode(public_bytes);
        let payload = cert_payload(build_version, &public_key_hex);
        if !strict_verify(&self.master, payload.as_bytes(), &cert) {
            return Err(VerifyError::BadCertificate);
        }

        let nonce_hex = hex::encode(nonce);
        let message = request_message(timestamp, &nonce_hex, method, path, body);
        if !strict_verify(&public, message.as_bytes(), &signature) {
            return Err(VerifyError::BadSignature);
        }

        // Checked again under the same lock as the insert: another thread may have accepted
        // this nonce, or filled the budget, while the signatures were being verified.
        lock(&self.nonces).entry(public_bytes).or_default().admit(
            nonce,
            timestamp,
            now,
            self.window_secs,
            self.nonce_capacity,
        )?;
        Ok(VerifiedRelease {
            build_version: build_version.to_owned(),
            public_key_hex,
            timestamp,
            nonce: nonce_hex,
        })
    }

    /// The cheap nonce checks, before any signature is verified: a replay, or a full budget for
    /// this key. Nothing is remembered here.
    fn check_nonce(&self, key: &KeyBytes, nonce: [u8; 16], now: u64) -> Result<(), VerifyError> {
        let mut memory = lock(&self.nonces);
        let Some(nonces) = memory.get_mut(key) else {
            return Ok(());
        };
        nonces.expire(now, self.window_secs);
        if nonces.seen.contains(&nonce) {
            return Err(VerifyError::Replayed);
        }
        if nonces.len() >= self.nonce_capacity {
            return Err(VerifyError::NonceMemoryFull);
        }
        Ok(())
    }
}

/// Locks `mutex`; no code panics while holding these locks, so a poisoned one is still
/// consistent.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// One key's accepted nonces, each kept until its signed timestamp leaves the window (after
/// which a replay is refused as stale anyway).
#[derive(Default)]
struct NonceMemory {
    seen: HashSet<[u8; 16]>,
    by_timestamp: BTreeSet<(u64, [u8; 16])>,
}

impl NonceMemory {
    fn len(&self) -> usize {
        self.seen.len()
    }

    fn expire(&mut self, now: u64, window_secs: u64) {
        while let Some(&(timestamp, nonce)) = self.by_timestamp.first() {
            if timestamp.saturating_add(window_secs) >= now {
                break;
            }
            self.by_timestamp.pop_first();
            self.seen.remove(&nonce);
        }
    }

    fn admit(
        &mut self,
        nonce: [u8; 16],
        timestamp: u64,
        now: u64,
        window_secs: u64,
        capacity: usize,
    ) -> Result<(), VerifyError> {
        self.expire(now, window_secs);
        if self.seen.contains(&nonce) {
            return Err(VerifyError::Replayed);
        }
        if self.seen.len() >= capacity {
            return Err(VerifyError::NonceMemoryFull);
        }
        self.seen.insert(nonce);
        self.by_timestamp.insert((timestamp, nonce));
        Ok(())
    }
}

/// The request string for these values, with the method upper-cased and the body hashed.
fn request_message(
    timestamp: u64,
    nonce_hex: &str,
    method: &str,
    path: &str,
    body: &[u8],
) -> String {
    let body_hash = hex::encode(Sha256::digest(body));
    request_payload(
        timestamp,
        nonce_hex,
        &method.to_ascii_uppercase(),
        path,
        &body_hash,
    )
}

fn strict_verify(key: &VerifyingKey, msg: &[u8], sig: &[u8; 64]) -> bool {
    key.verify_strict(msg, &Signature::from_bytes(sig)).is_ok()
}

fn random_signing_key() -> Result<SigningKey, KeyError> {
    let mut seed = Zeroizing::new([0u8; 32]);
    OsRng
        .try_fill_bytes(seed.as_mut_slice())
        .map_err(|_| KeyError::RandomnessUnavailable)?;
    Ok(SigningKey::from_bytes(&seed))
}

/// Decodes `N` bytes from hex: surrounding whitespace trimmed, either letter case, exactly `2N`
/// characters.
fn decode_hex<const N: usize>(text: &str, field: &'static str) -> Result<[u8; N], KeyError> {
    let text = text.trim();
    let expected = N * 2;
    let actual = text.chars().count();
    if actual != expected {
        return Err(KeyError::InvalidLength {
            field,
            expected,
            actual,
        });
    }
    let mut out = [0u8; N];
    hex::decode_to_slice(text, &mut out).map_err(|_| KeyError::InvalidHex { field })?;
    Ok(out)
}

fn decode_public_key(text: &str, field: &'static str) -> Result<VerifyingKey, KeyError> {
    let bytes = decode_hex::<32>(text, field)?;
    let key = VerifyingKey::from_bytes(&bytes).map_err(|_| KeyError::InvalidPublicKey { field })?;
    if key.is_weak() {
        return Err(KeyError::InvalidPublicKey { field });
    }
    Ok(key)
}

fn check_version(version: &str) -> Result<(), KeyError> {
    if !version.is_empty() && version.bytes().all(|b| b.is_ascii_graphic()) {
        Ok(())
    } else {
        Err(KeyError::InvalidVersion)
    }
}

/// The single value of header `name` as text; absent, repeated or non-ASCII values are refused.
fn header<'a>(headers: &'a HeaderMap, name: &'static str) -> Result<&'a str, VerifyError> {
    let mut values = headers.get_all(name).iter();
    let value = values.next().ok_or(VerifyError::MissingHeader { name })?;
    if values.next().is_some() {
        return Err(VerifyError::MalformedHeader { name });
    }
    value
        .to_str()
        .map_err(|_| VerifyError::MalformedHeader { name })
}

/// A header holding exactly `N` bytes as `2N` hex characters, no surrounding whitespace.
fn decode_header_hex<const N: usize>(
    headers: &HeaderMap,
    name: &'static str,
) -> Result<[u8; N], VerifyError> {
    let text = header(headers, name)?;
    let mut out = [0u8; N];
    if text.len() != N * 2 || hex::decode_to_slice(text, &mut out).is_err() {
        return Err(VerifyError::MalformedHeader { name });
    }
    Ok(out)
}

/// Canonical decimal only (no sign, no leading zeros, no spaces), so the signed text is exactly
/// what the number formats back to.
fn parse_timestamp(text: &str) -> Option<u64> {
    let canonical = !text.is_empty()
        && text.bytes().all(|b| b.is_ascii_digit())
        && (text == "0" || !text.starts_with('0'));
    if canonical {
        text.parse().ok()
    } else {
        None
    }
}

fn system_unix_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
