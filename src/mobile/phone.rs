//! The phone side of pairing: enrollment from a QR offer and resume by device key, sans IO.

use ed25519_dalek::SigningKey;

use super::envelope::SignedEnvelope;
use super::frames::{ClientFrame, ServerFrame};
use super::keys::encode_pubkey_multibase;
use super::pairing::{
    ct_eq, is_uuid_shaped, pair_confirm, pair_proof, PairingError, PairingOffer, TranscriptFields,
    PAIR_NONCE_LEN, PAIR_PROOF_LEN, PAIR_PROTO,
};

/// Why the phone gave up on a handshake. The session refuses everything after a rejection.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PhoneRejection {
    /// The frame does not belong in the session's current state.
    #[error("unexpected `{frame_type}` frame while {state}")]
    UnexpectedFrame {
        /// What the session was waiting for.
        state: &'static str,
        /// The frame's `type`.
        frame_type: String,
    },
    /// `pair_challenge.wid` is not the QR's window id.
    #[error("pair_challenge names another pairing window than the QR code")]
    WidMismatch,
    /// `pair_challenge.did` is not the daemon key from the QR code: another endpoint answered.
    #[error("pair_challenge comes from another daemon key than the QR code names")]
    DidMismatch,
    /// `pair_challenge.nonce` is not 32 bytes.
    #[error("pair_challenge nonce is {len} bytes, expected 32")]
    BadNonceLength {
        /// The nonce length.
        len: usize,
    },
    /// `paired.confirm` does not match: the daemon did not prove it holds the token.
    #[error("the daemon's confirm does not match")]
    BadConfirm,
    /// A resume's `paired` carried a non-empty `confirm`.
    #[error("a resume's paired frame carried a confirm")]
    UnexpectedConfirm,
    /// The resume `challenge.nonce` is not a UUID string, so it is not signed (the device key
    /// must not sign arbitrary payloads for the daemon).
    #[error("resume challenge nonce is not a UUID string")]
    MalformedChallenge,
    /// The desktop sent `rejected`.
    #[error("the desktop rejected the handshake: {reason}")]
    RejectedByDesktop {
        /// The desktop's reason.
        reason: String,
    },
    /// The transcript could not be built.
    #[error("enrollment transcript: {0}")]
    Transcript(PairingError),
    /// The session already ended (after a rejection).
    #[error("the session is closed")]
    SessionClosed,
}

/// What the session did with a frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PhoneStep {
    /// Send this frame; the handshake goes on.
    Send(ClientFrame),
    /// The handshake is complete (and, for enrollment, the daemon authenticated).
    Paired {
        /// The agent named in `paired`.
        agent: String,
    },
    /// A frame on the paired connection for the caller to act on.
    Application(ServerFrame),
    /// A frame of a type this version does not know; nothing to do, the connection stays up.
    Ignored {
        /// The frame's `type`.
        frame_type: String,
    },
}

enum State {
    AwaitingChallenge {
        offer: PairingOffer,
    },
    AwaitingEnrollPaired {
        expected_confirm: [u8; PAIR_PROOF_LEN],
    },
    AwaitingResumeChallenge {
        key_version: u32,
    },
    AwaitingResumePaired,
    Paired,
    Closed,
}

impl State {
    fn waiting_for(&self) -> &'static str {
        match self {
            State::AwaitingChallenge { .. } => "awaiting pair_challenge",
            State::AwaitingEnrollPaired { .. } => "awaiting paired",
            State::AwaitingResumeChallenge { .. } => "awaiting challenge",
            State::AwaitingResumePaired => "awaiting paired",
            State::Paired => "paired",
            State::Closed => "closed",
        }
    }
}

/// One connection's handshake on the phone side, sans IO.
///
/// Start with [`PhoneSession::enroll`] (first pairing, from the QR offer) or
/// [`PhoneSession::resume`] (reconnect by device key), send the frame it returns, then feed every
/// decoded [`ServerFrame`] to [`PhoneSession::handle`].
pub struct PhoneSession {
    agent: String,
    device_key: SigningKey,
    pubkey: String,
    state: State,
}

impl std::fmt::Debug for PhoneSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PhoneSession")
            .field("agent", &self.agent)
            .field("pubkey", &self.pubkey)
            .field("state", &self.state.waiting_for())
            .finish_non_exhaustive()
    }
}

impl PhoneSession {
    /// Starts enrollment of `device_key` with `agent` through the QR `offer`; returns the session
    /// and the `hello_init` to send.
    pub fn enroll(
        offer: PairingOffer,
        agent: impl Into<String>,
        device_key: SigningKey,
    ) -> (Self, ClientFrame) {
        let agent = agent.into();
        let pubkey = encode_pubkey_multibase(&device_key.verifying_key());
        let hello = ClientFrame::HelloInit {
            proto: PAIR_PROTO,
            agent: agent.clone(),
            pubkey: pubkey.clone(),
            wid: offer.wid.clone(),
        };
        let session = PhoneSession {
            agent,
            device_key,
            pubkey,
            state: State::AwaitingChallenge { offer },
        };
        (session, hello)
    }

    /// Starts a resume of the paired `device_key` with `agent`, signing the challenge at
    /// `key_version`; returns the session and the `resume` to send.
    pub fn resume(
        agent: impl Into<String>,
        device_key: SigningKey,
        key_version: u32,
    ) -> (Self, ClientFrame) {
        let agent = agent.into();
        let pubkey = encode_pubkey_multibase(&device_key.verifying_key());
        let resume = ClientFrame::Resume {
            pubkey: pubkey.clone(),
            agent: agent.clone(),
        };
        let session = PhoneSession {
            agent,
            device_key,
            pubkey,
            state: State::AwaitingResumeChallenge { key_version },
        };
        (session, resume)
    }

    /// The device key, multibase, as announced.
    pub fn pubkey(&self) -> &str {
        &self.pubkey
    }

    /// Whether the handshake has completed.
    pub fn is_paired(&self) -> bool {
        matches!(self.state, State::Paired)
    }

    /// Handles one frame from the desktop.
    pub fn handle(&mut self, frame: ServerFrame) -> Result<PhoneStep, PhoneRejection> {
        let state = std::mem::replace(&mut self.state, State::Closed);
        if matches!(state, State::Closed) {
            return Err(PhoneRejection::SessionClosed);
        }
        if let ServerFrame::Unknown { frame_type } = frame {
            self.state = state;
            return Ok(PhoneStep::Ignored { frame_type });
        }
        let (next, step) = self.step(state, frame)?;
        self.state = next;
        Ok(step)
    }

    fn step(&self, state: State, frame: ServerFrame) -> Result<(State, PhoneStep), PhoneRejection> {
        match (state, frame) {
            (State::Paired, frame) => match frame {
                ServerFrame::Paired { .. }
                | ServerFrame::PairChallenge { .. }
                | ServerFrame::Challenge { .. } => Err(PhoneRejection::UnexpectedFrame {
                    state: State::Paired.waiting_for(),
                    frame_type: frame.frame_type().to_owned(),
                }),
                frame => Ok((State::Paired, PhoneStep::Application(frame))),
            },
            (_, ServerFrame::Rejected { reason }) => {
                Err(PhoneRejection::RejectedByDesktop { reason })
            }
            (
                State::AwaitingChallenge { offer },
                ServerFrame::PairChallenge { wid, nonce, did },
            ) => {
                if wid != offer.wid {
                    return Err(PhoneRejection::WidMismatch);
                }
                if !ct_eq(did.as_bytes(), offer.did.as_bytes()) {
                    return Err(PhoneRejection::DidMismatch);
                }
                if nonce.len() != PAIR_NONCE_LEN {
                    return Err(PhoneRejection::BadNonceLength { len: nonce.len() });
                }
                let fields = TranscriptFields {
                    proto: PAIR_PROTO,
                    agent: &self.agent,
                    wid: &offer.wid,
                    did: &offer.did,
                    phone_pubkey: &self.pubkey,
                    nonce: &nonce,
                };
                let proof =
                    pair_proof(&offer.token, &fields).map_err(PhoneRejection::Transcript)?;
                let expected_confirm =
                    pair_confirm(&offer.token, &fields).map_err(PhoneRejection::Transcript)?;
                Ok((
                    State::AwaitingEnrollPaired { expected_confirm },
                    PhoneStep::Send(ClientFrame::HelloProof {
                        wid: offer.wid.clone(),
                        proof: proof.to_vec(),
                    }),
                ))
            }
            (
                State::AwaitingEnrollPaired { expected_confirm },
                ServerFrame::Paired { agent, confirm },
            ) => {
                if !ct_eq(&expected_confirm, &confirm) {
                    return Err(PhoneRejection::BadConfirm);
                }
                Ok((State::Paired, PhoneStep::Paired { agent }))
            }
            (State::AwaitingResumeChallenge { key_version }, ServerFrame::Challenge { nonce }) => {
                if !is_uuid_shaped(&nonce) {
                    return Err(PhoneRejection::MalformedChallenge);
                }
                let envelope =
                    SignedEnvelope::sign(nonce.into_bytes(), &self.device_key, key_version);
                Ok((
                    State::AwaitingResumePaired,
                    PhoneStep::Send(ClientFrame::ResumeProof { envelope }),
                ))
            }
            (State::AwaitingResumePaired, ServerFrame::Paired { agent, confirm }) => {
                if !confirm.is_empty() {
                    return Err(PhoneRejection::UnexpectedConfirm);
                }
                Ok((State::Paired, PhoneStep::Paired { agent }))
            }
            (state, frame) => Err(PhoneRejection::UnexpectedFrame {
                state: state.waiting_for(),
                frame_type: frame.frame_type().to_owned(),
            }),
        }
    }
}
