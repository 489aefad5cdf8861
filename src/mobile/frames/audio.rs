//! The `audio_chunk` hot path: the parser-free span of a canonical phone frame, the borrowed
//! fast parse, the direct encoder, and the audio size checks every decoder applies.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

use super::ClientFrame;
use crate::mobile::error::FrameError;
use crate::mobile::{MAX_AUDIO_CHUNK_BYTES, MAX_FRAME_BYTES};

/// The hot frame as the phone sends it, up to the opening quote of its `data`.
pub(super) const AUDIO_CHUNK_HEAD: &str = r#"{"type":"audio_chunk","data":""#;

/// The hot frame's fastest path, without a JSON parser: where `data` lies in a frame that is
/// exactly `{"type":"audio_chunk","data":"…"}` (no whitespace inside; JSON whitespace allowed
/// after it) whose `data` is ASCII from 0x20 up without `"` or `\`, as base64 is. Such a frame is
/// valid JSON with one `type` and one `data`, so the general path would decode it to the same
/// `data`; anything else (whitespace inside, another key, an escape, a control or non-ASCII
/// character, a truncated frame) returns `None` and goes to the parsing paths, which accept or
/// refuse it as before.
pub(super) fn audio_chunk_span(frame: &[u8]) -> Option<std::ops::Range<usize>> {
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
pub(super) fn plain_ascii_len(bytes: &[u8]) -> usize {
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
pub(super) fn audio_chunk_text(
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
pub(super) fn audio_chunk(data: &str) -> Result<ClientFrame, FrameError> {
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
pub(super) fn audio_chunk_fast<'de, R: serde_json::de::Read<'de>>(
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
pub(super) fn check_audio_len(
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
pub(super) fn decode_audio(
    frame: &'static str,
    field: &'static str,
    encoded: &str,
) -> Result<Vec<u8>, FrameError> {
    let mut pcm = Vec::new();
    decode_audio_into(frame, field, encoded.as_bytes(), &mut pcm)?;
    Ok(pcm)
}

/// Decodes an audio field into `pcm` (its old contents replaced), size-checked before it grows.
///
/// A reused buffer keeps its length from the last chunk, so only growth past it is zero-filled
/// before the decode writes over it (`decode_vec` on a cleared buffer zero-fills every chunk
/// anew: a pass as long as the PCM).
fn decode_audio_into(
    frame: &'static str,
    field: &'static str,
    encoded: &[u8],
    pcm: &mut Vec<u8>,
) -> Result<(), FrameError> {
    if let Err(error) = check_audio_len(frame, field, encoded) {
        pcm.clear();
        return Err(error);
    }
    let room = base64::decoded_len_estimate(encoded.len());
    if pcm.len() < room {
        pcm.resize(room, 0);
    }
    match STANDARD.decode_slice(encoded, pcm) {
        Ok(len) => {
            pcm.truncate(len);
            Ok(())
        }
        Err(_) => {
            pcm.clear();
            Err(FrameError::InvalidBase64 { frame, field })
        }
    }
}

/// Encodes PCM for an audio field, refusing more than [`MAX_AUDIO_CHUNK_BYTES`].
pub(super) fn encode_audio(
    frame: &'static str,
    field: &'static str,
    pcm: &[u8],
) -> Result<String, FrameError> {
    check_pcm_len(frame, field, pcm.len())?;
    Ok(STANDARD.encode(pcm))
}

#[cfg(test)]
#[path = "audio_tests.rs"]
mod tests;
