//! The desktop side of pairing: pairing windows (`window.rs`), the state shared across
//! connections (`endpoint.rs`: the paired-device registry and [`DesktopEndpoint`]), and here the
//! sans-IO per-connection handshake ([`DesktopSession`]) and its rejections.

mod endpoint;
mod window;

use ed25519_dalek::VerifyingKey;
use rand_core::CryptoRngCore;

use super::envelope::EnvelopeError;
use super::frames::{ClientFrame, ServerFrame};
use super::keys::KeyError;
use super::pairing::{
    pair_confirm, uuid_v4, verify_pair_proof, PairingError, TranscriptFields, PAIR_NONCE_LEN,
    PAIR_PROTO,
};

pub use endpoint::{DesktopEndpoint, PairedDevice, PairedDevices};
pub use window::{
    PairingWindow, PairingWindowConfig, DEFAULT_MAX_PROOF_ATTEMPTS, DEFAULT_WINDOW_LIFETIME_SECS,
    MAX_WINDOW_LIFETIME_SECS,
};

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
