//! What the desktop shares across connections: the paired-device registry and the endpoint
//! (identity, open windows, paired devices).

use std::collections::{BTreeMap, HashMap};

use ed25519_dalek::VerifyingKey;
use rand_core::CryptoRngCore;

use super::{DesktopRejection, PairingWindow, PairingWindowConfig};
use crate::mobile::keys::{decode_pubkey_bytes, encode_pubkey_multibase, KeyError};
use crate::mobile::pairing::PairingOffer;

/// A device enrolled with the desktop.
///
/// Serde form: `{"pubkey": "z…", "agent": "mur", "paired_at": 1764633600}` (`key` is decoded
/// from `pubkey`, which must be a valid multibase Ed25519 key).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "PairedDeviceForm", into = "PairedDeviceForm")]
pub struct PairedDevice {
    /// The device key, multibase, exactly as it was announced.
    pub pubkey: String,
    /// The device key.
    pub key: VerifyingKey,
    /// The agent it paired with.
    pub agent: String,
    /// When it paired, on the scale of the `now` the caller passes; the transport's
    /// `MobileDesktop` passes Unix seconds, so a persisted record keeps its meaning after a
    /// restart.
    pub paired_at: u64,
}

/// The serde form of [`PairedDevice`].
#[derive(serde::Serialize, serde::Deserialize)]
struct PairedDeviceForm {
    pubkey: String,
    agent: String,
    paired_at: u64,
}

impl TryFrom<PairedDeviceForm> for PairedDevice {
    type Error = KeyError;

    fn try_from(form: PairedDeviceForm) -> Result<Self, KeyError> {
        Ok(PairedDevice {
            key: crate::mobile::keys::decode_pubkey_multibase(&form.pubkey)?,
            pubkey: form.pubkey,
            agent: form.agent,
            paired_at: form.paired_at,
        })
    }
}

impl From<PairedDevice> for PairedDeviceForm {
    fn from(device: PairedDevice) -> Self {
        PairedDeviceForm {
            pubkey: device.pubkey,
            agent: device.agent,
            paired_at: device.paired_at,
        }
    }
}

/// The desktop's registry of paired device keys, keyed by the raw 32-byte key.
#[derive(Debug, Clone, Default)]
pub struct PairedDevices {
    by_key: BTreeMap<[u8; 32], PairedDevice>,
}

impl PairedDevices {
    /// An empty registry.
    pub fn new() -> Self {
        PairedDevices::default()
    }

    /// Records `key` as paired with `agent` at `now`, replacing an earlier entry for it.
    pub fn insert(&mut self, key: VerifyingKey, agent: impl Into<String>, now: u64) {
        let device = PairedDevice {
            pubkey: encode_pubkey_multibase(&key),
            key,
            agent: agent.into(),
            paired_at: now,
        };
        self.by_key.insert(key.to_bytes(), device);
    }

    /// The device whose multibase key is `pubkey`, if paired.
    pub fn get(&self, pubkey: &str) -> Option<&PairedDevice> {
        self.by_key.get(&decode_pubkey_bytes(pubkey).ok()?)
    }

    /// Whether the device whose multibase key is `pubkey` is paired.
    pub fn contains(&self, pubkey: &str) -> bool {
        self.get(pubkey).is_some()
    }

    /// Unpairs the device whose multibase key is `pubkey`.
    pub fn remove(&mut self, pubkey: &str) -> Option<PairedDevice> {
        self.by_key.remove(&decode_pubkey_bytes(pubkey).ok()?)
    }

    /// Number of paired devices.
    pub fn len(&self) -> usize {
        self.by_key.len()
    }

    /// Whether no device is paired.
    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }

    /// The paired devices.
    pub fn iter(&self) -> impl Iterator<Item = &PairedDevice> {
        self.by_key.values()
    }
}

/// State the desktop shares across connections: its identity, open windows, paired devices.
#[derive(Debug)]
pub struct DesktopEndpoint {
    pub(super) agent: String,
    pub(super) did: String,
    pub(super) windows: HashMap<String, PairingWindow>,
    pub(super) devices: PairedDevices,
}

impl DesktopEndpoint {
    /// An endpoint for `agent` whose daemon identity key is `identity` (sent as `did`).
    pub fn new(agent: impl Into<String>, identity: &VerifyingKey) -> Self {
        DesktopEndpoint {
            agent: agent.into(),
            did: encode_pubkey_multibase(identity),
            windows: HashMap::new(),
            devices: PairedDevices::new(),
        }
    }

    /// The agent name this endpoint serves.
    pub fn agent(&self) -> &str {
        &self.agent
    }

    /// The daemon identity key, multibase.
    pub fn did(&self) -> &str {
        &self.did
    }

    /// Opens a window with fresh credentials and returns what the QR code should carry.
    pub fn open_window(
        &mut self,
        rng: &mut impl CryptoRngCore,
        now: u64,
        config: PairingWindowConfig,
    ) -> PairingOffer {
        self.add_window(PairingWindow::open(rng, now, config))
    }

    /// Adds a window (replacing one with the same `wid`) and returns its QR offer.
    pub fn add_window(&mut self, window: PairingWindow) -> PairingOffer {
        let offer = window.offer(&self.did);
        self.windows.insert(window.wid.clone(), window);
        offer
    }

    /// The pairing windows, in no particular order.
    pub fn windows(&self) -> impl Iterator<Item = &PairingWindow> {
        self.windows.values()
    }

    /// The window with id `wid`.
    pub fn window(&self, wid: &str) -> Option<&PairingWindow> {
        self.windows.get(wid)
    }

    /// Spends one proof attempt of window `wid` at `now` without a proof to check (a secure-mode
    /// Noise message 1, whose answer tells the sender whether its PSK, the token, was right: a
    /// guess like any other). Returns the window's state error if it is not open.
    #[cfg_attr(not(feature = "mobile-transport"), allow(dead_code))]
    pub(crate) fn spend_attempt(&mut self, wid: &str, now: u64) -> Result<(), DesktopRejection> {
        let window = self
            .windows
            .get_mut(wid)
            .ok_or(DesktopRejection::UnknownWindow)?;
        window.check_open(now)?;
        window.attempts = window.attempts.saturating_add(1);
        Ok(())
    }

    /// Forgets windows that can no longer enroll anyone (used, expired or exhausted at `now`).
    /// A `hello_init` for a forgotten window is then rejected as
    /// [`DesktopRejection::UnknownWindow`].
    pub fn prune_windows(&mut self, now: u64) {
        self.windows.retain(|_, w| w.check_open(now).is_ok());
    }

    /// The paired devices.
    pub fn paired_devices(&self) -> &PairedDevices {
        &self.devices
    }

    /// The paired devices, to add or remove entries.
    pub fn paired_devices_mut(&mut self) -> &mut PairedDevices {
        &mut self.devices
    }
}
