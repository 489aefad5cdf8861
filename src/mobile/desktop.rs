//! The desktop side of pairing: pairing windows, the paired-device registry, and the sans-IO
//! per-connection handshake ([`DesktopSession`]).

use std::collections::{BTreeMap, HashMap};

use ed25519_dalek::VerifyingKey;
use rand_core::CryptoRngCore;

use super::envelope::EnvelopeError;
use super::frames::{ClientFrame, ServerFrame};
use super::keys::{decode_pubkey_bytes, encode_pubkey_multibase, KeyError};
use super::pairing::{
    pair_confirm, uuid_v4, verify_pair_proof, PairingError, PairingOffer, PairingToken,
    TranscriptFields, PAIR_NONCE_LEN, PAIR_PROTO,
};

/// Default pairing-window lifetime in seconds (the deployed daemon's default).
pub const DEFAULT_WINDOW_LIFETIME_SECS: u64 = 120;

/// Longest pairing-window lifetime in seconds; longer requests are cut to this.
pub const MAX_WINDOW_LIFETIME_SECS: u64 = 300;

/// Default number of `hello_proof` attempts a window accepts before it is exhausted.
pub const DEFAULT_MAX_PROOF_ATTEMPTS: u32 = 5;

/// Most bytes of a phone-chosen string that a [`DesktopRejection`] (and so a `rejected` frame or a
/// log line) repeats.
pub const MAX_ECHOED_BYTES: usize = 64;

/// At most [`MAX_ECHOED_BYTES`] of `text`, cut at a character boundary, with `…` when cut.
fn echo_bounded(text: &str) -> String {
    if text.len() <= MAX_ECHOED_BYTES {
        return text.to_owned();
    }
    let mut end = MAX_ECHOED_BYTES;
    while !text.is_char_boundary(end) {
        end = end.saturating_sub(1);
    }
    let mut out = String::with_capacity(end.saturating_add(3));
    out.push_str(&text[..end]);
    out.push('…');
    out
}

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
    wid: String,
    token: PairingToken,
    expires_at: u64,
    max_attempts: u32,
    attempts: u32,
    used: bool,
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
    fn check_open(&self, now: u64) -> Result<(), DesktopRejection> {
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
            key: super::keys::decode_pubkey_multibase(&form.pubkey)?,
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
    agent: String,
    did: String,
    windows: HashMap<String, PairingWindow>,
    devices: PairedDevices,
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

/// Why the desktop refused a frame. Send [`DesktopRejection::to_frame`] and close the connection;
/// the session refuses everything after a rejection.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DesktopRejection {
    /// The frame does not belong in the session's current state.
    #[error("unexpected `{frame_type}` frame while {state}")]
    UnexpectedFrame {
        /// What the session was waiting for.
        state: &'static str,
        /// The frame's `type`.
        frame_type: String,
    },
    /// A legacy `hello` (token in clear) was refused; proto-2 enrollment is required.
    #[error("legacy `hello` pairing is refused; use hello_init (proto 2)")]
    LegacyHelloRefused,
    /// `hello_init.proto` is below 2.
    #[error("enrollment protocol {proto} is not supported (need at least 2)")]
    UnsupportedProto {
        /// The proto the phone sent.
        proto: u32,
    },
    /// The phone asked for another agent than this endpoint serves.
    #[error("agent `{requested}` is not served here")]
    AgentMismatch {
        /// The agent the phone asked for, cut to at most [`MAX_ECHOED_BYTES`] bytes (the phone
        /// chooses it, up to a whole frame, and it is echoed in the `rejected` frame and in logs).
        requested: String,
    },
    /// The announced device key is not a valid multibase Ed25519 key.
    #[error("device public key is invalid: {0}")]
    InvalidDeviceKey(KeyError),
    /// No open window has this `wid`.
    #[error("no pairing window with this id")]
    UnknownWindow,
    /// The window's lifetime is over.
    #[error("the pairing window has expired")]
    WindowExpired,
    /// The window has used all its proof attempts.
    #[error("the pairing window has no proof attempts left")]
    AttemptsExhausted,
    /// A device has already enrolled through this window.
    #[error("the pairing window has already been used")]
    WindowAlreadyUsed,
    /// `hello_proof.wid` differs from the `hello_init` one.
    #[error("hello_proof names another pairing window than hello_init")]
    WidMismatch,
    /// The proof does not match (wrong token, or a proof from another connection or challenge).
    #[error("enrollment proof does not match")]
    BadProof,
    /// The transcript could not be built.
    #[error("enrollment transcript: {0}")]
    Transcript(PairingError),
    /// `resume` named a key that is not paired.
    #[error("device is not paired")]
    UnknownDevice,
    /// The resume envelope's `bridge_pubkey_multibase` differs from the `resume` pubkey.
    #[error("resume proof is signed for another key than the one announced")]
    ResumeKeyMismatch,
    /// The resume envelope's payload is not this connection's challenge nonce (a replay).
    #[error("resume proof does not answer this connection's challenge")]
    ResumeNonceMismatch,
    /// The resume envelope does not verify under the paired key.
    #[error("resume proof signature is invalid: {0}")]
    BadResumeSignature(EnvelopeError),
    /// An `envelope` on a paired connection does not verify under the device key.
    #[error("envelope signature is invalid: {0}")]
    BadEnvelopeSignature(EnvelopeError),
    /// The session already ended (after a rejection).
    #[error("the session is closed")]
    SessionClosed,
}

impl DesktopRejection {
    /// The `rejected` frame to send for this rejection.
    pub fn to_frame(&self) -> ServerFrame {
        ServerFrame::Rejected {
            reason: self.to_string(),
        }
    }
}

/// What the session did with a frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DesktopStep {
    /// Send this frame; the handshake goes on.
    Reply(ServerFrame),
    /// Handshake complete: send `reply` (`paired`); the connection now belongs to `device`.
    Paired {
        /// The `paired` frame to send.
        reply: ServerFrame,
        /// The device key, multibase.
        device: String,
        /// `true` for a new enrollment, `false` for a resume.
        enrolled: bool,
    },
    /// An authenticated application frame (audio, channel query, or an `envelope` whose signature
    /// was verified under the device key) for the caller to act on.
    Application(ClientFrame),
    /// A frame of a type this version does not know; nothing to do, the connection stays up.
    Ignored {
        /// The frame's `type`.
        frame_type: String,
    },
}

impl DesktopStep {
    /// The frame to send, if the step has one.
    pub fn into_reply(self) -> Option<ServerFrame> {
        match self {
            DesktopStep::Reply(frame) | DesktopStep::Paired { reply: frame, .. } => Some(frame),
            DesktopStep::Application(_) | DesktopStep::Ignored { .. } => None,
        }
    }
}

#[derive(Debug)]
enum State {
    AwaitingHello,
    AwaitingProof {
        wid: String,
        proto: u32,
        phone_pubkey: String,
        device_key: VerifyingKey,
        nonce: [u8; PAIR_NONCE_LEN],
    },
    AwaitingResumeProof {
        pubkey: String,
        device_key: VerifyingKey,
        nonce: String,
    },
    Paired {
        device_key: VerifyingKey,
    },
    Closed,
}

impl State {
    fn waiting_for(&self) -> &'static str {
        match self {
            State::AwaitingHello => "awaiting hello_init or resume",
            State::AwaitingProof { .. } => "awaiting hello_proof",
            State::AwaitingResumeProof { .. } => "awaiting resume_proof",
            State::Paired { .. } => "paired",
            State::Closed => "closed",
        }
    }
}

/// One connection's handshake on the desktop side, sans IO.
///
/// Feed every decoded [`ClientFrame`] to [`DesktopSession::handle`] with the shared
/// [`DesktopEndpoint`], the current time and a CSPRNG; send what it returns. A rejection closes the
/// session. Nonces are fresh per session, so a proof captured on one connection fails on another.
#[derive(Debug)]
pub struct DesktopSession {
    state: State,
}

impl Default for DesktopSession {
    fn default() -> Self {
        DesktopSession::new()
    }
}

impl DesktopSession {
    /// A session for a new connection, waiting for `hello_init` or `resume`.
    pub fn new() -> Self {
        DesktopSession {
            state: State::AwaitingHello,
        }
    }

    /// Whether the connection has completed enrollment or resume.
    pub fn is_paired(&self) -> bool {
        matches!(self.state, State::Paired { .. })
    }

    /// Handles a frame on a session that is already paired, as [`DesktopSession::handle`] would,
    /// without the endpoint (so a server need not lock a shared endpoint per audio frame). The
    /// frame comes back as `Err` if the session is not paired.
    #[cfg_attr(not(feature = "mobile-transport"), allow(dead_code))]
    pub(crate) fn handle_paired(
        &mut self,
        frame: ClientFrame,
    ) -> Result<Result<DesktopStep, DesktopRejection>, ClientFrame> {
        let State::Paired { device_key } = &self.state else {
            return Err(frame);
        };
        Ok(match frame {
            ClientFrame::Unknown { frame_type } => Ok(DesktopStep::Ignored { frame_type }),
            frame => {
                let step = paired_step(device_key, frame);
                if step.is_err() {
                    self.state = State::Closed;
                }
                step
            }
        })
    }

    /// Handles one frame from the phone at time `now`.
    pub fn handle(
        &mut self,
        endpoint: &mut DesktopEndpoint,
        frame: ClientFrame,
        now: u64,
        rng: &mut impl CryptoRngCore,
    ) -> Result<DesktopStep, DesktopRejection> {
        let state = std::mem::replace(&mut self.state, State::Closed);
        if let ClientFrame::Unknown { frame_type } = frame {
            let closed = matches!(state, State::Closed);
            self.state = state;
            return if closed {
                Err(DesktopRejection::SessionClosed)
            } else {
                Ok(DesktopStep::Ignored { frame_type })
            };
        }
        let (next, step) = step(state, endpoint, frame, now, rng)?;
        self.state = next;
        Ok(step)
    }
}

fn unexpected(state: &State, frame: &ClientFrame) -> DesktopRejection {
    DesktopRejection::UnexpectedFrame {
        state: state.waiting_for(),
        frame_type: frame.frame_type().to_owned(),
    }
}

fn step(
    state: State,
    endpoint: &mut DesktopEndpoint,
    frame: ClientFrame,
    now: u64,
    rng: &mut impl CryptoRngCore,
) -> Result<(State, DesktopStep), DesktopRejection> {
    match (state, frame) {
        (State::Closed, _) => Err(DesktopRejection::SessionClosed),
        (State::AwaitingHello, ClientFrame::Hello { .. }) => {
            Err(DesktopRejection::LegacyHelloRefused)
        }
        (
            State::AwaitingHello,
            ClientFrame::HelloInit {
                proto,
                agent,
                pubkey,
                wid,
            },
        ) => hello_init(endpoint, proto, agent, pubkey, wid, now, rng),
        (
            State::AwaitingProof {
                wid,
                proto,
                phone_pubkey,
                device_key,
                nonce,
            },
            ClientFrame::HelloProof {
                wid: proof_wid,
                proof,
            },
        ) => {
            if proof_wid != wid {
                return Err(DesktopRejection::WidMismatch);
            }
            let agent = endpoint.agent.clone();
            let did = endpoint.did.clone();
            let window = endpoint
                .windows
                .get_mut(&wid)
                .ok_or(DesktopRejection::UnknownWindow)?;
            window.check_open(now)?;
            window.attempts = window.attempts.saturating_add(1);
            let fields = TranscriptFields {
                proto,
                agent: &agent,
                wid: &wid,
                did: &did,
                phone_pubkey: &phone_pubkey,
                nonce: &nonce,
            };
            verify_pair_proof(&window.token, &fields, &proof).map_err(|e| match e {
                PairingError::ProofMismatch => DesktopRejection::BadProof,
                other => DesktopRejection::Transcript(other),
            })?;
            let confirm =
                pair_confirm(&window.token, &fields).map_err(DesktopRejection::Transcript)?;
            window.used = true;
            endpoint.devices.insert(device_key, agent.clone(), now);
            Ok((
                State::Paired { device_key },
                DesktopStep::Paired {
                    reply: ServerFrame::Paired {
                        agent,
                        confirm: confirm.to_vec(),
                    },
                    device: phone_pubkey,
                    enrolled: true,
                },
            ))
        }
        (State::AwaitingHello, ClientFrame::Resume { pubkey, agent }) => {
            if agent != endpoint.agent {
                return Err(DesktopRejection::AgentMismatch {
                    requested: echo_bounded(&agent),
                });
            }
            let device_key = endpoint
                .devices
                .get(&pubkey)
                .ok_or(DesktopRejection::UnknownDevice)?
                .key;
            let nonce = uuid_v4(rng);
            Ok((
                State::AwaitingResumeProof {
                    pubkey,
                    device_key,
                    nonce: nonce.clone(),
                },
                DesktopStep::Reply(ServerFrame::Challenge { nonce }),
            ))
        }
        (
            State::AwaitingResumeProof {
                pubkey,
                device_key,
                nonce,
            },
            ClientFrame::ResumeProof { envelope },
        ) => {
            if envelope.bridge_pubkey_multibase != pubkey {
                return Err(DesktopRejection::ResumeKeyMismatch);
            }
            if envelope.payload != nonce.as_bytes() {
                return Err(DesktopRejection::ResumeNonceMismatch);
            }
            envelope
                .verify(&device_key)
                .map_err(DesktopRejection::BadResumeSignature)?;
            if endpoint.devices.get(&pubkey).map(|d| d.key) != Some(device_key) {
                return Err(DesktopRejection::UnknownDevice);
            }
            Ok((
                State::Paired { device_key },
                DesktopStep::Paired {
                    reply: ServerFrame::Paired {
                        agent: endpoint.agent.clone(),
                        confirm: Vec::new(),
                    },
                    device: pubkey,
                    enrolled: false,
                },
            ))
        }
        (State::Paired { device_key }, frame) => {
            paired_step(&device_key, frame).map(|step| (State::Paired { device_key }, step))
        }
        (state, frame) => Err(unexpected(&state, &frame)),
    }
}

/// A frame on a paired session, which needs nothing but the device key: an envelope is verified
/// under it, audio and channel queries pass, anything else is unexpected.
fn paired_step(
    device_key: &VerifyingKey,
    frame: ClientFrame,
) -> Result<DesktopStep, DesktopRejection> {
    match frame {
        ClientFrame::Envelope { envelope } => {
            envelope
                .verify(device_key)
                .map_err(DesktopRejection::BadEnvelopeSignature)?;
            Ok(DesktopStep::Application(ClientFrame::Envelope { envelope }))
        }
        frame @ (ClientFrame::AudioStreamStart { .. }
        | ClientFrame::AudioChunk { .. }
        | ClientFrame::AudioStreamEnd
        | ClientFrame::ChannelQuery { .. }) => Ok(DesktopStep::Application(frame)),
        frame => Err(unexpected(
            &State::Paired {
                device_key: *device_key,
            },
            &frame,
        )),
    }
}

fn hello_init(
    endpoint: &mut DesktopEndpoint,
    proto: u32,
    agent: String,
    pubkey: String,
    wid: String,
    now: u64,
    rng: &mut impl CryptoRngCore,
) -> Result<(State, DesktopStep), DesktopRejection> {
    if proto < PAIR_PROTO {
        return Err(DesktopRejection::UnsupportedProto { proto });
    }
    if agent != endpoint.agent {
        return Err(DesktopRejection::AgentMismatch {
            requested: echo_bounded(&agent),
        });
    }
    let device_key = super::keys::decode_pubkey_multibase(&pubkey)
        .map_err(DesktopRejection::InvalidDeviceKey)?;
    endpoint
        .windows
        .get(&wid)
        .ok_or(DesktopRejection::UnknownWindow)?
        .check_open(now)?;
    let mut nonce = [0u8; PAIR_NONCE_LEN];
    rng.fill_bytes(&mut nonce);
    let reply = ServerFrame::PairChallenge {
        wid: wid.clone(),
        nonce: nonce.to_vec(),
        did: endpoint.did.clone(),
    };
    Ok((
        State::AwaitingProof {
            wid,
            proto,
            phone_pubkey: pubkey,
            device_key,
            nonce,
        },
        DesktopStep::Reply(reply),
    ))
}
