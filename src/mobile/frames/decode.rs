//! The typed decoders of both directions: the size check, the `audio_chunk` fast paths for the
//! phone's hot frame, then a strict parse into a JSON tree and typed fields.

use serde_json::Value;

use super::audio::{audio_chunk, audio_chunk_fast, audio_chunk_span, check_audio_len};
use super::{ClientFrame, ServerFrame};
use crate::mobile::codec::{parse_strict, Fields};
use crate::mobile::error::FrameError;
use crate::mobile::pairing::PairingToken;
use crate::mobile::MAX_FRAME_BYTES;

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
/// Checks [`MAX_FRAME_BYTES`] before parsing and [`MAX_AUDIO_CHUNK_BYTES`](crate::mobile::MAX_AUDIO_CHUNK_BYTES) for `audio_chunk`.
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
pub(super) fn decode_client_frame_general(bytes: &[u8]) -> Result<ClientFrame, FrameError> {
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

/// Decodes one desktop→phone frame.
///
/// Checks [`MAX_FRAME_BYTES`] before parsing and [`MAX_AUDIO_CHUNK_BYTES`](crate::mobile::MAX_AUDIO_CHUNK_BYTES) for `audio_chunk`.
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
