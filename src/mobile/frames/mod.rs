//! The phone's and the desktop's frames, their exact wire form, and their typed decoders: the
//! frame types and their encoding here, the decoders in `decode.rs`, the `audio_chunk` hot path
//! (parser-free decode, direct encode, audio size checks) in `audio.rs`, and the serde wire
//! mirrors in `wire.rs`.

mod audio;
mod decode;
mod wire;

use serde::Serialize;
use serde_json::Value;

use super::envelope::SignedEnvelope;
use super::error::FrameError;
use super::pairing::PairingToken;
use audio::{audio_chunk_text, decode_audio, encode_audio, plain_ascii_len};
use wire::encode_wire;

#[cfg(feature = "mobile-transport")]
pub(crate) use audio::{audio_chunk_pcm_into, encode_audio_chunk};
pub use decode::{decode_client_frame, decode_client_frame_text, decode_server_frame};
pub(super) use wire::{ClientWire, ServerWire};

/// Frames the phone sends to the desktop.
///
/// Wire form: one JSON object with a snake_case `type` and the variant's snake_case fields beside
/// it. Decode with [`decode_client_frame`]; encode with [`ClientFrame::encode`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientFrame {
    /// Legacy pairing (`hello`): carries the QR's one-time token in clear. Decoded for
    /// completeness; [`DesktopSession`](super::DesktopSession) refuses it.
    Hello {
        /// The phone's Ed25519 public key, multibase.
        pubkey: String,
        /// The one-time pairing token, in clear.
        token: PairingToken,
        /// The agent name the phone wants (e.g. `mur`).
        agent: String,
    },
    /// Enrollment step 1 (`hello_init`): announce intent to pair, without the token.
    HelloInit {
        /// Protocol version, at least 2.
        proto: u32,
        /// The agent name the phone wants (e.g. `mur`).
        agent: String,
        /// The phone's Ed25519 public key to enroll, multibase.
        pubkey: String,
        /// The pairing-window id from the QR code.
        wid: String,
    },
    /// Enrollment step 3 (`hello_proof`): proof of token possession.
    HelloProof {
        /// The pairing-window id.
        wid: String,
        /// HMAC-SHA256(token, phone→daemon transcript), 32 bytes.
        proof: Vec<u8>,
    },
    /// Reconnect by paired key (`resume`), no token.
    Resume {
        /// The paired device key, multibase.
        pubkey: String,
        /// The agent name.
        agent: String,
    },
    /// Proof for a `resume` (`resume_proof`): the challenge nonce, signed by the device key.
    ResumeProof {
        /// Envelope whose payload is the challenge nonce's UTF-8 bytes.
        envelope: SignedEnvelope,
    },
    /// A signed A2A request for the agent (`envelope`).
    Envelope {
        /// Envelope whose payload is canonical JSON-RPC.
        envelope: SignedEnvelope,
    },
    /// Start of a voice utterance (`audio_stream_start`).
    AudioStreamStart {
        /// Sample rate in Hz of the mono f32 PCM to follow.
        sample_rate: u32,
    },
    /// One chunk of PCM (`audio_chunk`), f32 little-endian mono.
    ///
    /// Build with [`ClientFrame::audio_chunk_from_pcm`]; read with [`ClientFrame::audio_pcm`].
    AudioChunk {
        /// The PCM bytes in standard base64, as on the wire.
        data: String,
    },
    /// End of the utterance (`audio_stream_end`).
    AudioStreamEnd,
    /// Pull channel data (`channel_query`). Absent optionals are sent as `null`.
    ChannelQuery {
        /// `list` or `events`.
        op: String,
        /// The channel, required for `events`.
        channel_id: Option<String>,
        /// First event sequence number wanted (inclusive).
        since_seq: Option<u64>,
    },
    /// A frame whose `type` this version does not know. Its other fields are dropped; it never
    /// fails a connection and cannot be encoded.
    Unknown {
        /// The frame's `type` string.
        frame_type: String,
    },
}

/// Frames the desktop sends to the phone.
///
/// Wire form as for [`ClientFrame`]. Decode with [`decode_server_frame`]; encode with
/// [`ServerFrame::encode`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerFrame {
    /// Handshake accepted (`paired`).
    Paired {
        /// The agent the phone is now paired with.
        agent: String,
        /// For enrollment, HMAC-SHA256(token, daemon→phone transcript); empty for `resume` and
        /// legacy `hello`. Always sent, as `[]` when empty; absent on receive reads as empty.
        confirm: Vec<u8>,
    },
    /// Enrollment step 2 (`pair_challenge`).
    PairChallenge {
        /// The pairing-window id, echoed.
        wid: String,
        /// Fresh 32-byte nonce.
        nonce: Vec<u8>,
        /// The desktop agent's Ed25519 identity key, multibase; the phone checks it against the QR.
        did: String,
    },
    /// The handshake or a later frame was rejected (`rejected`).
    Rejected {
        /// Human-readable reason.
        reason: String,
    },
    /// Resume challenge (`challenge`): a fresh per-connection nonce for the phone to sign.
    Challenge {
        /// The nonce string (a UUIDv4 from the desktop).
        nonce: String,
    },
    /// An asynchronous event (`event`), e.g. `mobile.transcript`.
    Event {
        /// Dot-namespaced event name.
        name: String,
        /// Event payload, any JSON.
        payload: Value,
    },
    /// The desktop's transcript of the utterance (`transcript`).
    Transcript {
        /// Transcript text.
        text: String,
        /// Whether this is the definitive text for the turn.
        is_final: bool,
    },
    /// TTS audio (`audio_chunk`): f32 LE PCM, 24 kHz mono.
    ///
    /// Build with [`ServerFrame::audio_chunk_from_pcm`]; read with [`ServerFrame::audio_pcm`].
    AudioChunk {
        /// The PCM bytes in standard base64, as on the wire.
        base64: String,
        /// Sample rate in Hz.
        sample_rate: u32,
        /// Whether this is the last chunk of the reply.
        done: bool,
    },
    /// Answer to a `channel_query` (`channel_data`).
    ChannelData {
        /// The query's `op`, echoed.
        op: String,
        /// Channel summaries (`list`) or events (`events`); a JSON array in practice.
        payload: Value,
    },
    /// A frame whose `type` this version does not know. Its other fields are dropped; it never
    /// fails a connection and cannot be encoded.
    Unknown {
        /// The frame's `type` string.
        frame_type: String,
    },
}

impl ClientFrame {
    /// The frame's wire `type` string.
    pub fn frame_type(&self) -> &str {
        match self {
            ClientFrame::Hello { .. } => "hello",
            ClientFrame::HelloInit { .. } => "hello_init",
            ClientFrame::HelloProof { .. } => "hello_proof",
            ClientFrame::Resume { .. } => "resume",
            ClientFrame::ResumeProof { .. } => "resume_proof",
            ClientFrame::Envelope { .. } => "envelope",
            ClientFrame::AudioStreamStart { .. } => "audio_stream_start",
            ClientFrame::AudioChunk { .. } => "audio_chunk",
            ClientFrame::AudioStreamEnd => "audio_stream_end",
            ClientFrame::ChannelQuery { .. } => "channel_query",
            ClientFrame::Unknown { frame_type } => frame_type,
        }
    }

    /// Encodes the frame as its JSON text (one WebSocket text frame).
    ///
    /// Fails for [`ClientFrame::Unknown`] and for text over [`MAX_FRAME_BYTES`](super::MAX_FRAME_BYTES).
    pub fn encode(&self) -> Result<String, FrameError> {
        if let ClientFrame::AudioChunk { data } = self {
            // Base64 needs no JSON escape: the text is the frame's fixed head, `data`, and `"}`,
            // byte for byte what the serializer writes, without its per-byte escape check.
            if plain_ascii_len(data.as_bytes()) == data.len() {
                return audio_chunk_text(data.len(), |out| out.push_str(data));
            }
        }
        encode_wire(&self.wire()?)
    }

    /// Builds an `audio_chunk` frame from raw PCM bytes (at most [`MAX_AUDIO_CHUNK_BYTES`](super::MAX_AUDIO_CHUNK_BYTES)).
    pub fn audio_chunk_from_pcm(pcm: &[u8]) -> Result<Self, FrameError> {
        Ok(ClientFrame::AudioChunk {
            data: encode_audio("audio_chunk", "data", pcm)?,
        })
    }

    /// The decoded PCM of an `audio_chunk` frame; `None` for any other frame.
    pub fn audio_pcm(&self) -> Option<Result<Vec<u8>, FrameError>> {
        match self {
            ClientFrame::AudioChunk { data } => Some(decode_audio("audio_chunk", "data", data)),
            _ => None,
        }
    }

    fn wire(&self) -> Result<ClientWire<'_>, FrameError> {
        Ok(match self {
            ClientFrame::Hello {
                pubkey,
                token,
                agent,
            } => ClientWire::Hello {
                pubkey,
                token: token.expose_secret(),
                agent,
            },
            ClientFrame::HelloInit {
                proto,
                agent,
                pubkey,
                wid,
            } => ClientWire::HelloInit {
                proto: *proto,
                agent,
                pubkey,
                wid,
            },
            ClientFrame::HelloProof { wid, proof } => ClientWire::HelloProof { wid, proof },
            ClientFrame::Resume { pubkey, agent } => ClientWire::Resume { pubkey, agent },
            ClientFrame::ResumeProof { envelope } => ClientWire::ResumeProof {
                envelope: envelope.into(),
            },
            ClientFrame::Envelope { envelope } => ClientWire::Envelope {
                envelope: envelope.into(),
            },
            ClientFrame::AudioStreamStart { sample_rate } => ClientWire::AudioStreamStart {
                sample_rate: *sample_rate,
            },
            ClientFrame::AudioChunk { data } => ClientWire::AudioChunk { data },
            ClientFrame::AudioStreamEnd => ClientWire::AudioStreamEnd,
            ClientFrame::ChannelQuery {
                op,
                channel_id,
                since_seq,
            } => ClientWire::ChannelQuery {
                op,
                channel_id: channel_id.as_deref(),
                since_seq: *since_seq,
            },
            ClientFrame::Unknown { frame_type } => {
                return Err(FrameError::EncodeUnknown {
                    frame_type: frame_type.clone(),
                })
            }
        })
    }
}

impl ServerFrame {
    /// The frame's wire `type` string.
    pub fn frame_type(&self) -> &str {
        match self {
            ServerFrame::Paired { .. } => "paired",
            ServerFrame::PairChallenge { .. } => "pair_challenge",
            ServerFrame::Rejected { .. } => "rejected",
            ServerFrame::Challenge { .. } => "challenge",
            ServerFrame::Event { .. } => "event",
            ServerFrame::Transcript { .. } => "transcript",
            ServerFrame::AudioChunk { .. } => "audio_chunk",
            ServerFrame::ChannelData { .. } => "channel_data",
            ServerFrame::Unknown { frame_type } => frame_type,
        }
    }

    /// Encodes the frame as its JSON text (one WebSocket text frame).
    ///
    /// Fails for [`ServerFrame::Unknown`] and for text over [`MAX_FRAME_BYTES`](super::MAX_FRAME_BYTES).
    pub fn encode(&self) -> Result<String, FrameError> {
        encode_wire(&self.wire()?)
    }

    /// Builds an `audio_chunk` frame from raw PCM bytes (at most [`MAX_AUDIO_CHUNK_BYTES`](super::MAX_AUDIO_CHUNK_BYTES)).
    pub fn audio_chunk_from_pcm(
        pcm: &[u8],
        sample_rate: u32,
        done: bool,
    ) -> Result<Self, FrameError> {
        Ok(ServerFrame::AudioChunk {
            base64: encode_audio("audio_chunk", "base64", pcm)?,
            sample_rate,
            done,
        })
    }

    /// The decoded PCM of an `audio_chunk` frame; `None` for any other frame.
    pub fn audio_pcm(&self) -> Option<Result<Vec<u8>, FrameError>> {
        match self {
            ServerFrame::AudioChunk { base64, .. } => {
                Some(decode_audio("audio_chunk", "base64", base64))
            }
            _ => None,
        }
    }

    fn wire(&self) -> Result<ServerWire<'_>, FrameError> {
        Ok(match self {
            ServerFrame::Paired { agent, confirm } => ServerWire::Paired { agent, confirm },
            ServerFrame::PairChallenge { wid, nonce, did } => {
                ServerWire::PairChallenge { wid, nonce, did }
            }
            ServerFrame::Rejected { reason } => ServerWire::Rejected { reason },
            ServerFrame::Challenge { nonce } => ServerWire::Challenge { nonce },
            ServerFrame::Event { name, payload } => ServerWire::Event { name, payload },
            ServerFrame::Transcript { text, is_final } => ServerWire::Transcript {
                text,
                is_final: *is_final,
            },
            ServerFrame::AudioChunk {
                base64,
                sample_rate,
                done,
            } => ServerWire::AudioChunk {
                base64,
                sample_rate: *sample_rate,
                done: *done,
            },
            ServerFrame::ChannelData { op, payload } => ServerWire::ChannelData { op, payload },
            ServerFrame::Unknown { frame_type } => {
                return Err(FrameError::EncodeUnknown {
                    frame_type: frame_type.clone(),
                })
            }
        })
    }
}

impl Serialize for ClientFrame {
    /// Serializes the wire form; an `Unknown` frame is a serialization error.
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.wire()
            .map_err(serde::ser::Error::custom)?
            .serialize(serializer)
    }
}

impl Serialize for ServerFrame {
    /// Serializes the wire form; an `Unknown` frame is a serialization error.
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.wire()
            .map_err(serde::ser::Error::custom)?
            .serialize(serializer)
    }
}
