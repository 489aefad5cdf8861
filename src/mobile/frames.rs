//! The phone's and the desktop's frames, their exact wire form, and their typed decoders.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde::Serialize;
use serde_json::Value;

use super::codec::{parse_strict, Fields};
use super::envelope::{EnvelopeWire, SignedEnvelope};
use super::error::FrameError;
use super::pairing::PairingToken;
use super::{MAX_AUDIO_CHUNK_BYTES, MAX_FRAME_BYTES};

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

/// Decodes one phone→desktop frame from text: as [`decode_client_frame`], without checking
/// UTF-8 again (a WebSocket text message, a `&str`, is already valid UTF-8).
pub fn decode_client_frame_text(text: &str) -> Result<ClientFrame, FrameError> {
    if text.len() <= MAX_FRAME_BYTES {
        if let Some(frame) = audio_chunk_fast(serde_json::Deserializer::from_str(text)) {
            return frame;
        }
    }
    decode_client_frame(text.as_bytes())
}

/// Decodes one phone→desktop frame.
///
/// Checks [`MAX_FRAME_BYTES`] before parsing and [`MAX_AUDIO_CHUNK_BYTES`] for `audio_chunk`.
/// Unknown keys are ignored; an unknown `type` decodes to [`ClientFrame::Unknown`].
pub fn decode_client_frame(bytes: &[u8]) -> Result<ClientFrame, FrameError> {
    if bytes.len() > MAX_FRAME_BYTES {
        return Err(FrameError::TooLarge {
            len: bytes.len(),
            max: MAX_FRAME_BYTES,
        });
    }
    if let Some(frame) = audio_chunk_fast(serde_json::Deserializer::from_slice(bytes)) {
        return frame;
    }
    let (frame_type, map) = open_frame(bytes)?;
    Ok(match frame_type.as_str() {
        "hello" => {
            let mut f = Fields::new("hello", map);
            ClientFrame::Hello {
                pubkey: f.string("pubkey")?,
                token: PairingToken::new(f.string("token")?),
                agent: f.string("agent")?,
            }
        }
        "hello_init" => {
            let mut f = Fields::new("hello_init", map);
            ClientFrame::HelloInit {
                proto: f.u32("proto")?,
                agent: f.string("agent")?,
                pubkey: f.string("pubkey")?,
                wid: f.string("wid")?,
            }
        }
        "hello_proof" => {
            let mut f = Fields::new("hello_proof", map);
            ClientFrame::HelloProof {
                wid: f.string("wid")?,
                proof: f.bytes("proof")?,
            }
        }
        "resume" => {
            let mut f = Fields::new("resume", map);
            ClientFrame::Resume {
                pubkey: f.string("pubkey")?,
                agent: f.string("agent")?,
            }
        }
        "resume_proof" => ClientFrame::ResumeProof {
            envelope: Fields::new("resume_proof", map).envelope()?,
        },
        "envelope" => ClientFrame::Envelope {
            envelope: Fields::new("envelope", map).envelope()?,
        },
        "audio_stream_start" => ClientFrame::AudioStreamStart {
            sample_rate: Fields::new("audio_stream_start", map).u32("sample_rate")?,
        },
        "audio_chunk" => {
            let data = Fields::new("audio_chunk", map).string("data")?;
            check_audio_len("audio_chunk", "data", &data)?;
            ClientFrame::AudioChunk { data }
        }
        "audio_stream_end" => ClientFrame::AudioStreamEnd,
        "channel_query" => {
            let mut f = Fields::new("channel_query", map);
            ClientFrame::ChannelQuery {
                op: f.string("op")?,
                channel_id: f.opt_string("channel_id")?,
                since_seq: f.opt_u64("since_seq")?,
            }
        }
        _ => ClientFrame::Unknown { frame_type },
    })
}

/// The hot frame's fast path: `{"type":"audio_chunk","data":"…"}` exactly (`type` first, no
/// other key, no escapes), read with borrowed strings and no intermediate JSON tree, the audio
/// size checked before its `String` is allocated. Anything else (another frame, another key
/// order, a repeated or unknown key, any syntax error) returns `None`, and the general path
/// decodes the frame or names its error, so both paths accept and refuse the same frames.
fn audio_chunk_fast<'de, R: serde_json::de::Read<'de>>(
    mut deserializer: serde_json::Deserializer<R>,
) -> Option<Result<ClientFrame, FrameError>> {
    use serde::de::{Deserializer as _, MapAccess, Visitor};

    struct Fast;

    impl<'de> Visitor<'de> for Fast {
        type Value = Option<&'de str>;

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("an audio_chunk frame")
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            if map.next_key::<&'de str>()? != Some("type")
                || map.next_value::<&'de str>()? != "audio_chunk"
                || map.next_key::<&'de str>()? != Some("data")
            {
                return Ok(None);
            }
            let data = map.next_value::<&'de str>()?;
            Ok(match map.next_key::<&'de str>()? {
                None => Some(data),
                Some(_) => None,
            })
        }
    }

    let data = deserializer.deserialize_map(Fast).ok()??;
    deserializer.end().ok()?;
    Some(
        check_audio_len("audio_chunk", "data", data).map(|()| ClientFrame::AudioChunk {
            data: data.to_owned(),
        }),
    )
}

/// Decodes one desktop→phone frame.
///
/// Checks [`MAX_FRAME_BYTES`] before parsing and [`MAX_AUDIO_CHUNK_BYTES`] for `audio_chunk`.
/// Unknown keys are ignored; an unknown `type` decodes to [`ServerFrame::Unknown`].
pub fn decode_server_frame(bytes: &[u8]) -> Result<ServerFrame, FrameError> {
    let (frame_type, map) = open_frame(bytes)?;
    Ok(match frame_type.as_str() {
        "paired" => {
            let mut f = Fields::new("paired", map);
            ServerFrame::Paired {
                agent: f.string("agent")?,
                confirm: f.bytes_or_empty("confirm")?,
            }
        }
        "pair_challenge" => {
            let mut f = Fields::new("pair_challenge", map);
            ServerFrame::PairChallenge {
                wid: f.string("wid")?,
                nonce: f.bytes("nonce")?,
                did: f.string("did")?,
            }
        }
        "rejected" => ServerFrame::Rejected {
            reason: Fields::new("rejected", map).string("reason")?,
        },
        "challenge" => ServerFrame::Challenge {
            nonce: Fields::new("challenge", map).string("nonce")?,
        },
        "event" => {
            let mut f = Fields::new("event", map);
            ServerFrame::Event {
                name: f.string("name")?,
                payload: f.any("payload")?,
            }
        }
        "transcript" => {
            let mut f = Fields::new("transcript", map);
            ServerFrame::Transcript {
                text: f.string("text")?,
                is_final: f.bool("is_final")?,
            }
        }
        "audio_chunk" => {
            let mut f = Fields::new("audio_chunk", map);
            let base64 = f.string("base64")?;
            let sample_rate = f.u32("sample_rate")?;
            let done = f.bool("done")?;
            check_audio_len("audio_chunk", "base64", &base64)?;
            ServerFrame::AudioChunk {
                base64,
                sample_rate,
                done,
            }
        }
        "channel_data" => {
            let mut f = Fields::new("channel_data", map);
            ServerFrame::ChannelData {
                op: f.string("op")?,
                payload: f.any("payload")?,
            }
        }
        _ => ServerFrame::Unknown { frame_type },
    })
}

/// Size check, strict parse, and the `type` string with the rest of the object.
fn open_frame(bytes: &[u8]) -> Result<(String, serde_json::Map<String, Value>), FrameError> {
    if bytes.len() > MAX_FRAME_BYTES {
        return Err(FrameError::TooLarge {
            len: bytes.len(),
            max: MAX_FRAME_BYTES,
        });
    }
    let Value::Object(mut map) = parse_strict(bytes)? else {
        return Err(FrameError::NotObject);
    };
    match map.remove("type") {
        None => Err(FrameError::MissingType),
        Some(Value::String(frame_type)) => Ok((frame_type, map)),
        Some(_) => Err(FrameError::TypeNotString),
    }
}

/// The most bytes a base64 string can decode to (exact for canonical padded input).
fn decoded_len_bound(encoded: &str) -> usize {
    let padding = encoded
        .bytes()
        .rev()
        .take(2)
        .take_while(|&b| b == b'=')
        .count();
    encoded
        .len()
        .div_ceil(4)
        .saturating_mul(3)
        .saturating_sub(padding)
}

/// Rejects an audio field whose decoded size would exceed [`MAX_AUDIO_CHUNK_BYTES`].
fn check_audio_len(
    frame: &'static str,
    field: &'static str,
    encoded: &str,
) -> Result<(), FrameError> {
    let len = decoded_len_bound(encoded);
    if len > MAX_AUDIO_CHUNK_BYTES {
        return Err(FrameError::AudioTooLarge {
            frame,
            field,
            len,
            max: MAX_AUDIO_CHUNK_BYTES,
        });
    }
    Ok(())
}

/// Decodes an audio field, size-checked before the buffer is allocated.
fn decode_audio(
    frame: &'static str,
    field: &'static str,
    encoded: &str,
) -> Result<Vec<u8>, FrameError> {
    check_audio_len(frame, field, encoded)?;
    STANDARD
        .decode(encoded)
        .map_err(|_| FrameError::InvalidBase64 { frame, field })
}

/// Encodes PCM for an audio field, refusing more than [`MAX_AUDIO_CHUNK_BYTES`].
fn encode_audio(
    frame: &'static str,
    field: &'static str,
    pcm: &[u8],
) -> Result<String, FrameError> {
    if pcm.len() > MAX_AUDIO_CHUNK_BYTES {
        return Err(FrameError::AudioTooLarge {
            frame,
            field,
            len: pcm.len(),
            max: MAX_AUDIO_CHUNK_BYTES,
        });
    }
    Ok(STANDARD.encode(pcm))
}

/// Serializes a wire mirror to JSON text within [`MAX_FRAME_BYTES`].
fn encode_wire<T: Serialize>(wire: &T) -> Result<String, FrameError> {
    let text = serde_json::to_string(wire).map_err(|error| FrameError::Serialize {
        reason: error.to_string(),
    })?;
    if text.len() > MAX_FRAME_BYTES {
        return Err(FrameError::TooLarge {
            len: text.len(),
            max: MAX_FRAME_BYTES,
        });
    }
    Ok(text)
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
    /// Fails for [`ClientFrame::Unknown`] and for text over [`MAX_FRAME_BYTES`].
    pub fn encode(&self) -> Result<String, FrameError> {
        encode_wire(&self.wire()?)
    }

    /// Builds an `audio_chunk` frame from raw PCM bytes (at most [`MAX_AUDIO_CHUNK_BYTES`]).
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
    /// Fails for [`ServerFrame::Unknown`] and for text over [`MAX_FRAME_BYTES`].
    pub fn encode(&self) -> Result<String, FrameError> {
        encode_wire(&self.wire()?)
    }

    /// Builds an `audio_chunk` frame from raw PCM bytes (at most [`MAX_AUDIO_CHUNK_BYTES`]).
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

/// Borrowed wire mirror of [`ClientFrame`]: fields in mur-common's order, bytes as arrays.
#[derive(Serialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(tag = "type", rename_all = "snake_case")]
#[cfg_attr(feature = "schemars", schemars(rename = "ClientFrame"))]
pub(super) enum ClientWire<'a> {
    Hello {
        pubkey: &'a str,
        token: &'a str,
        agent: &'a str,
    },
    HelloInit {
        proto: u32,
        agent: &'a str,
        pubkey: &'a str,
        wid: &'a str,
    },
    HelloProof {
        wid: &'a str,
        proof: &'a [u8],
    },
    Resume {
        pubkey: &'a str,
        agent: &'a str,
    },
    ResumeProof {
        envelope: EnvelopeWire<'a>,
    },
    Envelope {
        envelope: EnvelopeWire<'a>,
    },
    AudioStreamStart {
        sample_rate: u32,
    },
    AudioChunk {
        data: &'a str,
    },
    AudioStreamEnd,
    // Both optionals are always sent (as `null` when absent), so the schema requires them.
    #[cfg_attr(feature = "schemars", schemars(extend("required" = ["type", "op", "channel_id", "since_seq"])))]
    ChannelQuery {
        #[cfg_attr(feature = "schemars", schemars(extend("enum" = ["list", "events"])))]
        op: &'a str,
        channel_id: Option<&'a str>,
        since_seq: Option<u64>,
    },
}

/// Borrowed wire mirror of [`ServerFrame`]: fields in mur-common's order, bytes as arrays.
#[derive(Serialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(tag = "type", rename_all = "snake_case")]
#[cfg_attr(feature = "schemars", schemars(rename = "ServerFrame"))]
pub(super) enum ServerWire<'a> {
    Paired {
        agent: &'a str,
        confirm: &'a [u8],
    },
    PairChallenge {
        wid: &'a str,
        nonce: &'a [u8],
        did: &'a str,
    },
    Rejected {
        reason: &'a str,
    },
    Challenge {
        nonce: &'a str,
    },
    Event {
        name: &'a str,
        payload: &'a Value,
    },
    Transcript {
        text: &'a str,
        is_final: bool,
    },
    AudioChunk {
        base64: &'a str,
        sample_rate: u32,
        done: bool,
    },
    ChannelData {
        op: &'a str,
        #[cfg_attr(feature = "schemars", schemars(with = "Vec<Value>"))]
        payload: &'a Value,
    },
}
