//! The borrowed serde mirrors the frames serialize through, in mur-common's field order (also
//! the source of the published schema).

use serde::Serialize;
use serde_json::Value;

use crate::mobile::envelope::EnvelopeWire;
use crate::mobile::error::FrameError;
use crate::mobile::MAX_FRAME_BYTES;

/// Serializes a wire mirror to JSON text within [`MAX_FRAME_BYTES`].
pub(super) fn encode_wire<T: Serialize>(wire: &T) -> Result<String, FrameError> {
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

/// Borrowed wire mirror of [`ClientFrame`]: fields in mur-common's order, bytes as arrays.
#[derive(Serialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(tag = "type", rename_all = "snake_case")]
#[cfg_attr(feature = "schemars", schemars(rename = "ClientFrame"))]
pub(in crate::mobile) enum ClientWire<'a> {
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
pub(in crate::mobile) enum ServerWire<'a> {
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
