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
        if let Some(data) = audio_chunk_span(text.as_bytes()).and_then(|span| text.get(span)) {
            return audio_chunk(data);
        }
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
    // The span is ASCII (checked by the scan), so this validation cannot fail; it only turns the
    // bytes into a `&str` without `unsafe`.
    let plain = audio_chunk_span(bytes)
        .and_then(|span| bytes.get(span))
        .and_then(|data| std::str::from_utf8(data).ok());
    if let Some(data) = plain {
        return audio_chunk(data);
    }
    if let Some(frame) = audio_chunk_fast(serde_json::Deserializer::from_slice(bytes)) {
        return frame;
    }
    decode_client_frame_general(bytes)
}

/// The general decoder behind both fast paths: strict parse into a JSON tree, then typed fields.
/// The caller has checked [`MAX_FRAME_BYTES`].
fn decode_client_frame_general(bytes: &[u8]) -> Result<ClientFrame, FrameError> {
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
            check_audio_len("audio_chunk", "data", data.as_bytes())?;
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

/// The hot frame as the phone sends it, up to the opening quote of its `data`.
const AUDIO_CHUNK_HEAD: &str = r#"{"type":"audio_chunk","data":""#;

/// The hot frame's fastest path, without a JSON parser: where `data` lies in a frame that is
/// exactly `{"type":"audio_chunk","data":"…"}` (no whitespace inside; JSON whitespace allowed
/// after it) whose `data` is ASCII from 0x20 up without `"` or `\`, as base64 is. Such a frame is
/// valid JSON with one `type` and one `data`, so the general path would decode it to the same
/// `data`; anything else (whitespace inside, another key, an escape, a control or non-ASCII
/// character, a truncated frame) returns `None` and goes to the parsing paths, which accept or
/// refuse it as before.
fn audio_chunk_span(frame: &[u8]) -> Option<std::ops::Range<usize>> {
    let start = AUDIO_CHUNK_HEAD.len();
    let rest = frame.strip_prefix(AUDIO_CHUNK_HEAD.as_bytes())?;
    let end = start + plain_ascii_len(rest);
    let tail = frame.get(end..)?.strip_prefix(br#""}"#)?;
    tail.iter()
        .all(|&b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
        .then_some(start..end)
}

/// Whether a byte may not stand as itself inside a JSON string (`"`, `\`, a control character),
/// or is not ASCII.
fn ends_plain_ascii(b: u8) -> bool {
    // As `i8`, the controls (0x00..0x20) and every non-ASCII byte (0x80..) are below 0x20.
    (b.cast_signed() < 0x20) | (b == b'"') | (b == b'\\')
}

/// How many leading bytes are ASCII from 0x20 up (DEL included) other than `"` and `\`: the
/// unescaped body of a JSON string that is base64 text.
///
/// Whole 64-byte blocks are tested with a branch-free fold that the compiler turns into a few
/// SIMD compares per block (serde_json tests 8 bytes at a time); the block that holds the stop,
/// and the tail, are searched byte by byte.
fn plain_ascii_len(bytes: &[u8]) -> usize {
    const BLOCK: usize = 64;
    let mut clean = 0;
    for block in bytes.chunks_exact(BLOCK) {
        let stops = block
            .iter()
            .fold(0u8, |acc, &b| acc | u8::from(ends_plain_ascii(b)));
        if stops != 0 {
            break;
        }
        clean += BLOCK;
    }
    let rest = bytes.get(clean..).unwrap_or_default();
    clean
        + rest
            .iter()
            .position(|&b| ends_plain_ascii(b))
            .unwrap_or(rest.len())
}

/// The PCM of a phone `audio_chunk` frame in its canonical form (see [`audio_chunk_span`]),
/// decoded from the frame straight into `pcm` (cleared first), with no [`ClientFrame`] and no
/// copy of the base64. `None` if the frame is not in that form: decode it with
/// [`decode_client_frame`], which refuses or accepts it as it would anyway. For a frame in that
/// form the outcome is the one `decode_client_frame` then [`ClientFrame::audio_pcm`] give.
#[cfg_attr(not(feature = "mobile-transport"), allow(dead_code))]
pub(crate) fn audio_chunk_pcm_into(
    frame: &[u8],
    pcm: &mut Vec<u8>,
) -> Option<Result<(), FrameError>> {
    if frame.len() > MAX_FRAME_BYTES {
        return None;
    }
    let data = frame.get(audio_chunk_span(frame)?)?;
    Some(decode_audio_into("audio_chunk", "data", data, pcm))
}

/// The text of a phone `audio_chunk` frame whose `data` (`data_len` bytes, needing no escape)
/// `write_data` appends: the same bytes as [`ClientFrame::encode`] gives, checked against
/// [`MAX_FRAME_BYTES`].
fn audio_chunk_text(
    data_len: usize,
    write_data: impl FnOnce(&mut String),
) -> Result<String, FrameError> {
    const TAIL: &str = "\"}";
    let len = AUDIO_CHUNK_HEAD.len() + data_len + TAIL.len();
    if len > MAX_FRAME_BYTES {
        return Err(FrameError::TooLarge {
            len,
            max: MAX_FRAME_BYTES,
        });
    }
    let mut out = String::with_capacity(len);
    out.push_str(AUDIO_CHUNK_HEAD);
    write_data(&mut out);
    out.push_str(TAIL);
    Ok(out)
}

/// The encoded `audio_chunk` frame for `pcm`, as `ClientFrame::audio_chunk_from_pcm(pcm)?.encode()`
/// gives it, with the base64 written straight into the frame text (no intermediate `String`, no
/// escape pass).
#[cfg_attr(not(feature = "mobile-transport"), allow(dead_code))]
pub(crate) fn encode_audio_chunk(pcm: &[u8]) -> Result<String, FrameError> {
    check_pcm_len("audio_chunk", "data", pcm.len())?;
    let data_len = base64::encoded_len(pcm.len(), true).unwrap_or(usize::MAX);
    audio_chunk_text(data_len, |out| STANDARD.encode_string(pcm, out))
}

/// An `audio_chunk` frame around its `data`, the audio size checked before the `String` is
/// allocated.
fn audio_chunk(data: &str) -> Result<ClientFrame, FrameError> {
    check_audio_len("audio_chunk", "data", data.as_bytes())?;
    Ok(ClientFrame::AudioChunk {
        data: data.to_owned(),
    })
}

/// The hot frame's second fast path, for what [`audio_chunk_span`] passed on:
/// `{"type":"audio_chunk","data":"…"}` with any JSON whitespace or escapes (`type` first, no
/// other key), read with borrowed strings and no intermediate JSON tree, the audio
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
    Some(audio_chunk(data))
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
            check_audio_len("audio_chunk", "base64", base64.as_bytes())?;
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
fn decoded_len_bound(encoded: &[u8]) -> usize {
    let padding = encoded
        .iter()
        .rev()
        .take(2)
        .take_while(|&&b| b == b'=')
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
    encoded: &[u8],
) -> Result<(), FrameError> {
    check_pcm_len(frame, field, decoded_len_bound(encoded))
}

/// Rejects `len` bytes of PCM for an audio field if over [`MAX_AUDIO_CHUNK_BYTES`].
fn check_pcm_len(frame: &'static str, field: &'static str, len: usize) -> Result<(), FrameError> {
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
    let mut pcm = Vec::new();
    decode_audio_into(frame, field, encoded.as_bytes(), &mut pcm)?;
    Ok(pcm)
}

/// Decodes an audio field into `pcm` (cleared first), size-checked before it grows.
fn decode_audio_into(
    frame: &'static str,
    field: &'static str,
    encoded: &[u8],
    pcm: &mut Vec<u8>,
) -> Result<(), FrameError> {
    pcm.clear();
    check_audio_len(frame, field, encoded)?;
    STANDARD
        .decode_vec(encoded, pcm)
        .map_err(|_| FrameError::InvalidBase64 { frame, field })
}

/// Encodes PCM for an audio field, refusing more than [`MAX_AUDIO_CHUNK_BYTES`].
fn encode_audio(
    frame: &'static str,
    field: &'static str,
    pcm: &[u8],
) -> Result<String, FrameError> {
    check_pcm_len(frame, field, pcm.len())?;
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
        if let ClientFrame::AudioChunk { data } = self {
            // Base64 needs no JSON escape: the text is the frame's fixed head, `data`, and `"}`,
            // byte for byte what the serializer writes, without its per-byte escape check.
            if plain_ascii_len(data.as_bytes()) == data.len() {
                return audio_chunk_text(data.len(), |out| out.push_str(data));
            }
        }
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

#[cfg(test)]
mod tests {
    //! The parser-free `audio_chunk` path against the strict general decoder: for every input,
    //! the same frame or the same error, from bytes and from text.

    use super::*;

    /// What the strict path alone says: the size check, then the JSON-tree decoder.
    fn strict(wire: &[u8]) -> Result<ClientFrame, FrameError> {
        if wire.len() > MAX_FRAME_BYTES {
            return Err(FrameError::TooLarge {
                len: wire.len(),
                max: MAX_FRAME_BYTES,
            });
        }
        decode_client_frame_general(wire)
    }

    /// Asserts both public decoders agree with the strict path; returns whether the parser-free
    /// path took the frame.
    fn agrees(wire: &[u8]) -> bool {
        let expected = strict(wire);
        assert_eq!(decode_client_frame(wire), expected, "bytes: {wire:?}");
        if let Ok(text) = std::str::from_utf8(wire) {
            assert_eq!(decode_client_frame_text(text), expected, "text: {text:?}");
        }
        audio_chunk_span(wire).is_some()
    }

    fn frame(data: &[u8]) -> Vec<u8> {
        [AUDIO_CHUNK_HEAD.as_bytes(), data, br#""}"#].concat()
    }

    fn b64(len: usize) -> Vec<u8> {
        let pcm: Vec<u8> = (0..len).map(|i| (i.wrapping_mul(31) >> 3) as u8).collect();
        STANDARD.encode(pcm).into_bytes()
    }

    #[test]
    fn audio_chunks_encode_byte_for_byte_as_the_serializer_writes_them() {
        let serialized =
            |frame: &ClientFrame| -> Result<String, FrameError> { encode_wire(&frame.wire()?) };
        for len in (0..200).chain([MAX_AUDIO_CHUNK_BYTES - 1, MAX_AUDIO_CHUNK_BYTES]) {
            let pcm: Vec<u8> = (0..len).map(|i| (i.wrapping_mul(131) >> 2) as u8).collect();
            let frame = ClientFrame::audio_chunk_from_pcm(&pcm).expect("fits");
            let expected = serialized(&frame);
            assert_eq!(frame.encode(), expected, "{len}");
            assert_eq!(encode_audio_chunk(&pcm), expected, "{len}");
        }
        // Data that needs escaping (not base64) still encodes through the serializer.
        for data in ["a\"b", "tab\there", "\u{7f}", "é", "back\\slash", ""] {
            let frame = ClientFrame::AudioChunk { data: data.into() };
            assert_eq!(frame.encode(), serialized(&frame), "{data:?}");
        }
        assert!(matches!(
            encode_audio_chunk(&vec![0; MAX_AUDIO_CHUNK_BYTES + 1]),
            Err(FrameError::AudioTooLarge { .. })
        ));
        let huge = ClientFrame::AudioChunk {
            data: "A".repeat(MAX_FRAME_BYTES),
        };
        assert_eq!(huge.encode(), serialized(&huge));
        assert!(matches!(huge.encode(), Err(FrameError::TooLarge { .. })));
    }

    #[test]
    fn audio_straight_to_pcm_gives_what_decoding_the_frame_then_its_pcm_gives() {
        let mut pcm = vec![9u8; 3];
        let mut cases: Vec<Vec<u8>> = (0..40).map(|len| frame(&b64(len * 7))).collect();
        cases.push(frame(b"not base64!"));
        cases.push(frame(b"AAA"));
        cases.push(frame(
            &STANDARD
                .encode(vec![0u8; MAX_AUDIO_CHUNK_BYTES + 1])
                .into_bytes(),
        ));
        cases.push(frame(
            &STANDARD
                .encode(vec![1u8; MAX_AUDIO_CHUNK_BYTES])
                .into_bytes(),
        ));
        for wire in cases {
            let expected = decode_client_frame(&wire).and_then(|f| match f.audio_pcm() {
                Some(pcm) => pcm,
                None => Ok(Vec::new()),
            });
            let got = audio_chunk_pcm_into(&wire, &mut pcm).expect("canonical form");
            assert_eq!(got.map(|()| pcm.clone()), expected);
        }
        // Not the canonical form: left to the full decoder.
        for wire in [
            &br#"{"data":"AAAA","type":"audio_chunk"}"#[..],
            br#"{"type":"audio_chunk", "data":"AAAA"}"#,
            br#"{"type":"audio_chunk","data":"AA\/A"}"#,
            br#"{"type":"audio_stream_end"}"#,
        ] {
            assert!(audio_chunk_pcm_into(wire, &mut pcm).is_none(), "{wire:?}");
        }
    }

    #[test]
    fn canonical_frames_of_every_length_take_the_plain_path_and_decode_the_same() {
        for len in 0..300 {
            let data = b64(len);
            assert!(agrees(&frame(&data)), "{len}");
            // The same text without padding: still a plain string (base64 fails later).
            let trimmed = data.strip_suffix(b"=").unwrap_or(&data);
            assert!(agrees(&frame(trimmed)), "{len}");
        }
    }

    #[test]
    fn trailing_json_whitespace_is_taken_and_anything_else_after_the_object_is_refused() {
        let data = b64(96);
        for tail in [&b" "[..], b"\n", b"\r\n", b"\t \t", b"    \n"] {
            assert!(
                agrees(&[frame(&data).as_slice(), tail].concat()),
                "{tail:?}"
            );
        }
        for tail in [
            &b"x"[..],
            b"}",
            b" }",
            b",",
            b"\x00",
            b"\x0c",
            b"\xff",
            b" \xc3",
        ] {
            let wire = [frame(&data).as_slice(), tail].concat();
            assert!(!agrees(&wire), "{tail:?}");
            assert!(
                matches!(decode_client_frame(&wire), Err(FrameError::NotJson { .. })),
                "{tail:?}"
            );
        }
    }

    #[test]
    fn a_stop_byte_at_any_position_in_data_leaves_the_frame_to_the_strict_path() {
        // `"` ends the string early, `\` starts an escape (here `\q`, invalid, or `\/`, valid),
        // controls are refused by JSON, DEL is allowed, non-ASCII must be valid UTF-8.
        let stops: [&[u8]; 12] = [
            b"\"",
            b"\\q",
            b"\\/",
            b"\\u0041",
            b"\\\\",
            b"\x00",
            b"\t",
            b"\x1f",
            b"\x80",
            b"\xff",
            b"\xc3\xa9",
            b"\xed\xa0\x80",
        ];
        let data = b64(150);
        for stop in stops {
            for at in 0..=data.len() {
                let (head, tail) = data.split_at(at);
                let wire = frame(&[head, stop, tail].concat());
                assert!(!agrees(&wire), "{stop:?} at {at}");
            }
        }
        for at in [0, 63, 64, 65, 128, data.len()] {
            let (head, tail) = data.split_at(at);
            assert!(
                agrees(&frame(&[head, b"\x7f", tail].concat())),
                "DEL at {at}"
            );
        }
    }

    #[test]
    fn escaped_data_decodes_to_the_unescaped_string() {
        let wire = frame(br"AA\/A");
        assert!(!agrees(&wire));
        assert_eq!(
            decode_client_frame(&wire),
            Ok(ClientFrame::AudioChunk {
                data: "AA/A".into()
            })
        );
    }

    #[test]
    fn truncated_frames_are_refused_as_the_strict_path_refuses_them() {
        let whole = frame(&b64(200));
        for len in 0..whole.len() {
            let wire = whole.get(..len).unwrap_or_default();
            assert!(!agrees(wire), "{len}");
            assert!(decode_client_frame(wire).is_err(), "{len}");
        }
    }

    #[test]
    fn other_shapes_of_the_frame_go_to_the_parsing_paths_with_the_same_result() {
        for wire in [
            &br#"{"type":"audio_chunk","data":"AAAA","data":"AAAA"}"#[..],
            br#"{"type":"audio_chunk","data":"AAAA","type":"audio_chunk"}"#,
            br#"{"type":"audio_chunk","type":"audio_chunk","data":"AAAA"}"#,
            br#"{"data":"AAAA","type":"audio_chunk"}"#,
            br#"{"type":"audio_chunk","data":"AAAA","seq":7}"#,
            br#"{"type":"audio_chunk","data":"AA","x":"}"#,
            br#"{"type":"audio_chunk","data":"AA"},"x":1}"#,
            br#" {"type":"audio_chunk","data":"AAAA"}"#,
            br#"{ "type":"audio_chunk","data":"AAAA"}"#,
            br#"{"type":"audio_chunk","data":"AAAA" }"#,
            br#"{"type":"audio_chunk", "data":"AAAA"}"#,
            br#"{"type":"audio_chunk","data":7}"#,
            br#"{"type":"audio_chunk","data":null}"#,
            br#"{"type":"audio_chunk"}"#,
            br#"{"type":"audio_chunk","Data":"AAAA"}"#,
            br#"{"type":"audio_chunkx","data":"AAAA"}"#,
            br#"{"type":"audio_chunk","data":"AAAA"}{"type":"audio_chunk","data":"AAAA"}"#,
            br#"{"type":"audio_stream_start","sample_rate":16000}"#,
            b"{\"type\":\"audio_chunk\",\"data\":\"AA\xffAA\"}",
            b"\xef\xbb\xbf{\"type\":\"audio_chunk\",\"data\":\"AAAA\"}",
        ] {
            assert!(!agrees(wire), "{wire:?}");
        }
    }

    #[test]
    fn audio_limits_hold_on_the_plain_path() {
        // Exactly MAX_AUDIO_CHUNK_BYTES decodes; one more byte is refused before allocating.
        let at_limit = frame(&b64(MAX_AUDIO_CHUNK_BYTES));
        assert!(agrees(&at_limit));
        assert!(decode_client_frame(&at_limit).is_ok());
        let over = frame(&b64(MAX_AUDIO_CHUNK_BYTES + 1));
        assert!(agrees(&over));
        assert!(matches!(
            decode_client_frame(&over),
            Err(FrameError::AudioTooLarge { field: "data", .. })
        ));
        // A frame over MAX_FRAME_BYTES is refused unscanned, whatever its shape.
        let huge = frame(&vec![b'A'; MAX_FRAME_BYTES]);
        assert!(agrees(&huge));
        assert!(matches!(
            decode_client_frame(&huge),
            Err(FrameError::TooLarge { .. })
        ));
    }

    #[test]
    fn the_block_scan_finds_the_first_stop_as_a_byte_by_byte_search_does() {
        let mut bytes = b64(400);
        let naive = |bytes: &[u8]| {
            bytes
                .iter()
                .position(|&b| !(0x20..0x80).contains(&b) || b == b'"' || b == b'\\')
                .unwrap_or(bytes.len())
        };
        assert_eq!(plain_ascii_len(&bytes), naive(&bytes));
        for at in (0..bytes.len()).rev().step_by(7) {
            for stop in [b'"', b'\\', 0x00, 0x1f, 0x80, 0xff] {
                let mut probe = bytes.clone();
                if let Some(b) = probe.get_mut(at) {
                    *b = stop;
                }
                assert_eq!(plain_ascii_len(&probe), naive(&probe), "{stop} at {at}");
            }
        }
        for b in 0..=u8::MAX {
            bytes.clear();
            bytes.push(b);
            assert_eq!(plain_ascii_len(&bytes), naive(&bytes), "{b}");
        }
    }
}
