//! Pairing windows: the single-use enrollment credentials a QR code carries.

use rand_core::CryptoRngCore;

use super::DesktopRejection;
use crate::mobile::pairing::{uuid_v4, PairingOffer, PairingToken};

/// Default pairing-window lifetime in seconds (the deployed daemon's default).
pub const DEFAULT_WINDOW_LIFETIME_SECS: u64 = 120;

/// Longest pairing-window lifetime in seconds; longer requests are cut to this.
pub const MAX_WINDOW_LIFETIME_SECS: u64 = 300;

/// Default number of `hello_proof` attempts a window accepts before it is exhausted.
pub const DEFAULT_MAX_PROOF_ATTEMPTS: u32 = 5;

/// Lifetime and attempt limit of a new pairing window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PairingWindowConfig {
    /// Seconds the window stays open; capped at [`MAX_WINDOW_LIFETIME_SECS`].
    pub lifetime_secs: u64,
    /// Proof attempts (right or wrong) the window accepts.
    pub max_attempts: u32,
}

impl Default for PairingWindowConfig {
    fn default() -> Self {
        PairingWindowConfig {
            lifetime_secs: DEFAULT_WINDOW_LIFETIME_SECS,
            max_attempts: DEFAULT_MAX_PROOF_ATTEMPTS,
        }
    }
}

/// One single-use enrollment window: an id (`wid`), a token, an expiry and an attempt budget.
///
/// Open while `now < expires_at`, unused, and with attempts left. Every `hello_proof` for it uses
/// one attempt; a matching proof closes it for good.
#[derive(Debug)]
pub struct PairingWindow {
    pub(super) wid: String,
    pub(super) token: PairingToken,
    expires_at: u64,
    max_attempts: u32,
    pub(super) attempts: u32,
    pub(super) used: bool,
}

impl PairingWindow {
    /// A window with a fresh UUIDv4 `wid` and token, opened at `now`.
    pub fn open(rng: &mut impl CryptoRngCore, now: u64, config: PairingWindowConfig) -> Self {
        let wid = uuid_v4(rng);
        PairingWindow::with_credentials(wid, PairingToken::generate(rng), now, config)
    }

    /// A window with the given `wid` and token, opened at `now`.
    pub fn with_credentials(
        wid: impl Into<String>,
        token: PairingToken,
        now: u64,
        config: PairingWindowConfig,
    ) -> Self {
        let lifetime = config.lifetime_secs.min(MAX_WINDOW_LIFETIME_SECS);
        PairingWindow {
            wid: wid.into(),
            token,
            expires_at: now.saturating_add(lifetime),
            max_attempts: config.max_attempts,
            attempts: 0,
            used: false,
        }
    }

    /// The window id.
    pub fn wid(&self) -> &str {
        &self.wid
    }

    /// The time (same scale as `now`) from which the window is expired.
    pub fn expires_at(&self) -> u64 {
        self.expires_at
    }

    /// Proof attempts left.
    pub fn attempts_remaining(&self) -> u32 {
        self.max_attempts.saturating_sub(self.attempts)
    }

    /// Whether a device has enrolled through this window.
    pub fn is_used(&self) -> bool {
        self.used
    }

    /// Whether the window has expired at `now`.
    pub fn is_expired(&self, now: u64) -> bool {
        now >= self.expires_at
    }

    /// What the QR code carries: this window's id and token, and the daemon key `did`.
    pub fn offer(&self, did: &str) -> PairingOffer {
        PairingOffer {
            wid: self.wid.clone(),
            token: self.token.clone(),
            did: did.to_owned(),
        }
    }

    /// The window's token, for deriving secure-mode keys in the transport.
    #[cfg_attr(not(feature = "mobile-transport"), allow(dead_code))]
    pub(crate) fn token(&self) -> &PairingToken {
        &self.token
    }

    /// Used, then expired, then exhausted: the first that applies.
    pub(super) fn check_open(&self, now: u64) -> Result<(), DesktopRejection> {
        if self.used {
            Err(DesktopRejection::WindowAlreadyUsed)
        } else if self.is_expired(now) {
            Err(DesktopRejection::WindowExpired)
        } else if self.attempts_remaining() == 0 {
            Err(DesktopRejection::AttemptsExhausted)
        } else {
            Ok(())
        }
    }
}
