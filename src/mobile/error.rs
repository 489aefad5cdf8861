//! The frame error type, a leaf both the JSON reader (`codec`) and the frame decoders (`frames`)
//! import, so neither imports the other's module for it.

/// Why a frame could not be decoded or encoded. No variant carries a field's value, so a secret
/// in a bad frame (a legacy `hello` token) never reaches an error message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    /// The frame is larger than [`MAX_FRAME_BYTES`](super::MAX_FRAME_BYTES); it was not parsed.
    #[error("frame is {len} bytes, over the {max}-byte limit")]
    TooLarge {
        /// Frame length in bytes.
        len: usize,
        /// The limit, [`MAX_FRAME_BYTES`](super::MAX_FRAME_BYTES).
        max: usize,
    },
    /// The frame is not one well-formed JSON text (syntax, bad UTF-8, nesting deeper than 128,
    /// trailing data).
    #[error("frame is not valid JSON (line {line}, column {column})")]
    NotJson {
        /// 1-based line of the error.
        line: usize,
        /// 1-based column of the error.
        column: usize,
    },
    /// The frame is JSON but not an object.
    #[error("frame is not a JSON object")]
    NotObject,
    /// An object in the frame repeats a key.
    #[error("frame repeats the key `{key}`")]
    DuplicateKey {
        /// The repeated key (at most 64 bytes of it).
        key: String,
    },
    /// The frame object has no `type` key.
    #[error("frame has no `type` key")]
    MissingType,
    /// The frame's `type` is not a string.
    #[error("frame `type` is not a string")]
    TypeNotString,
    /// A required field is absent.
    #[error("`{frame}` frame is missing the field `{field}`")]
    MissingField {
        /// The frame's `type`.
        frame: &'static str,
        /// The missing field (`envelope.sig` for a nested one).
        field: &'static str,
    },
    /// A field has the wrong JSON type or is out of range.
    #[error("`{frame}` frame field `{field}` is invalid: {reason}")]
    InvalidField {
        /// The frame's `type`.
        frame: &'static str,
        /// The invalid field (`envelope.sig` for a nested one).
        field: &'static str,
        /// What the field must be.
        reason: &'static str,
    },
    /// An audio field is not canonical standard base64 (with padding).
    #[error("`{frame}` frame field `{field}` is not valid standard base64")]
    InvalidBase64 {
        /// The frame's `type`.
        frame: &'static str,
        /// The audio field.
        field: &'static str,
    },
    /// An audio field carries more than [`MAX_AUDIO_CHUNK_BYTES`](super::MAX_AUDIO_CHUNK_BYTES) of PCM.
    #[error(
        "`{frame}` frame field `{field}` carries {len} audio bytes, over the {max}-byte limit"
    )]
    AudioTooLarge {
        /// The frame's `type`.
        frame: &'static str,
        /// The audio field.
        field: &'static str,
        /// Decoded length in bytes (as implied by the base64 length when decoding).
        len: usize,
        /// The limit, [`MAX_AUDIO_CHUNK_BYTES`](super::MAX_AUDIO_CHUNK_BYTES).
        max: usize,
    },
    /// serde_json refused to serialize the frame (not expected for these types).
    #[error("frame could not be serialized: {reason}")]
    Serialize {
        /// serde_json's message.
        reason: String,
    },
    /// An `Unknown` frame has no known fields, so it cannot be encoded.
    #[error("frame type `{frame_type}` is not known to this version and cannot be encoded")]
    EncodeUnknown {
        /// The unknown `type` string.
        frame_type: String,
    },
}
