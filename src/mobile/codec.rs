//! JSON reading for frames: a strict parse that rejects duplicate keys, and typed field getters.

use std::cell::Cell;
use std::fmt;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

use super::envelope::SignedEnvelope;
use super::error::FrameError;

/// How many bytes of a duplicate key an error keeps.
const KEY_IN_ERROR_LIMIT: usize = 64;

/// Parses one JSON text into a [`Value`], rejecting duplicate object keys at any depth (serde's
/// derived decoders reject them too, so a frame cannot mean one thing here and another there).
pub(crate) fn parse_strict(bytes: &[u8]) -> Result<Value, FrameError> {
    let duplicate = Cell::new(None);
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let parsed = StrictValue {
        duplicate: &duplicate,
    }
    .deserialize(&mut deserializer)
    .and_then(|value| deserializer.end().map(|()| value));
    parsed.map_err(|error| match duplicate.take() {
        Some(key) => FrameError::DuplicateKey { key },
        None => FrameError::NotJson {
            line: error.line(),
            column: error.column(),
        },
    })
}

/// Keeps at most [`KEY_IN_ERROR_LIMIT`] bytes of `key`, cut at a character boundary.
fn bounded(mut key: String) -> String {
    if key.len() > KEY_IN_ERROR_LIMIT {
        let mut end = KEY_IN_ERROR_LIMIT;
        while !key.is_char_boundary(end) {
            end = end.saturating_sub(1);
        }
        key.truncate(end);
    }
    key
}

/// A [`Value`] decoder that records the first duplicate key it meets and stops there.
#[derive(Clone, Copy)]
struct StrictValue<'c> {
    duplicate: &'c Cell<Option<String>>,
}

impl<'de> DeserializeSeed<'de> for StrictValue<'_> {
    type Value = Value;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for StrictValue<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| E::custom("non-finite number"))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        self.deserialize(deserializer)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(self)? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if object.contains_key(&key) {
                self.duplicate.set(Some(bounded(key)));
                return Err(de::Error::custom("duplicate key"));
            }
            let value = map.next_value_seed(self)?;
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}

const EXPECT_STRING: &str = "expected a string";
const EXPECT_STRING_OR_NULL: &str = "expected a string or null";
const EXPECT_U32: &str = "expected an integer from 0 to 4294967295";
const EXPECT_U64_OR_NULL: &str = "expected an integer from 0 to 18446744073709551615, or null";
const EXPECT_BOOL: &str = "expected true or false";
const EXPECT_BYTES: &str = "expected an array of integers from 0 to 255";
const EXPECT_BYTES_OR_STRING: &str = "expected an array of integers from 0 to 255, or a string";
const EXPECT_OBJECT: &str = "expected an object";

/// The fields of one frame object, taken out one by one with typed errors.
///
/// Field names are given as they appear in errors (`"envelope.sig"`); the key looked up is the
/// part after the last `.`.
pub(crate) struct Fields {
    frame: &'static str,
    map: Map<String, Value>,
}

impl Fields {
    /// Wraps the object of a `frame`-typed frame.
    pub(crate) fn new(frame: &'static str, map: Map<String, Value>) -> Self {
        Fields { frame, map }
    }

    fn invalid(&self, field: &'static str, reason: &'static str) -> FrameError {
        FrameError::InvalidField {
            frame: self.frame,
            field,
            reason,
        }
    }

    fn take(&mut self, field: &'static str) -> Option<Value> {
        let key = field.rsplit('.').next().unwrap_or(field);
        self.map.remove(key)
    }

    fn required(&mut self, field: &'static str) -> Result<Value, FrameError> {
        self.take(field).ok_or(FrameError::MissingField {
            frame: self.frame,
            field,
        })
    }

    /// A required string.
    pub(crate) fn string(&mut self, field: &'static str) -> Result<String, FrameError> {
        match self.required(field)? {
            Value::String(s) => Ok(s),
            _ => Err(self.invalid(field, EXPECT_STRING)),
        }
    }

    /// An optional string: absent and `null` both read as `None`.
    pub(crate) fn opt_string(&mut self, field: &'static str) -> Result<Option<String>, FrameError> {
        match self.take(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(self.invalid(field, EXPECT_STRING_OR_NULL)),
        }
    }

    /// A required integer in `u32` range.
    pub(crate) fn u32(&mut self, field: &'static str) -> Result<u32, FrameError> {
        self.required(field)?
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .ok_or_else(|| self.invalid(field, EXPECT_U32))
    }

    /// An optional integer in `u64` range: absent and `null` both read as `None`.
    pub(crate) fn opt_u64(&mut self, field: &'static str) -> Result<Option<u64>, FrameError> {
        match self.take(field) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v
                .as_u64()
                .map(Some)
                .ok_or_else(|| self.invalid(field, EXPECT_U64_OR_NULL)),
        }
    }

    /// A required boolean.
    pub(crate) fn bool(&mut self, field: &'static str) -> Result<bool, FrameError> {
        match self.required(field)? {
            Value::Bool(b) => Ok(b),
            _ => Err(self.invalid(field, EXPECT_BOOL)),
        }
    }

    /// A required value of any JSON type (`null` included).
    pub(crate) fn any(&mut self, field: &'static str) -> Result<Value, FrameError> {
        self.required(field)
    }

    /// A required byte array (JSON array of integers 0–255).
    pub(crate) fn bytes(&mut self, field: &'static str) -> Result<Vec<u8>, FrameError> {
        let value = self.required(field)?;
        self.byte_array(field, value, EXPECT_BYTES)
    }

    /// A byte array that reads as empty when absent (`null` is still an error).
    pub(crate) fn bytes_or_empty(&mut self, field: &'static str) -> Result<Vec<u8>, FrameError> {
        match self.take(field) {
            None => Ok(Vec::new()),
            Some(value) => self.byte_array(field, value, EXPECT_BYTES),
        }
    }

    /// A required byte array that may also arrive as a JSON string (its UTF-8 bytes).
    pub(crate) fn bytes_or_string(&mut self, field: &'static str) -> Result<Vec<u8>, FrameError> {
        match self.required(field)? {
            Value::String(s) => Ok(s.into_bytes()),
            value => self.byte_array(field, value, EXPECT_BYTES_OR_STRING),
        }
    }

    fn byte_array(
        &self,
        field: &'static str,
        value: Value,
        reason: &'static str,
    ) -> Result<Vec<u8>, FrameError> {
        let Value::Array(items) = value else {
            return Err(self.invalid(field, reason));
        };
        items
            .iter()
            .map(|item| item.as_u64().and_then(|n| u8::try_from(n).ok()))
            .collect::<Option<Vec<u8>>>()
            .ok_or_else(|| self.invalid(field, reason))
    }

    /// A required `SignedEnvelope` object under `envelope`.
    pub(crate) fn envelope(&mut self) -> Result<SignedEnvelope, FrameError> {
        let Value::Object(map) = self.required("envelope")? else {
            return Err(self.invalid("envelope", EXPECT_OBJECT));
        };
        let mut inner = Fields::new(self.frame, map);
        Ok(SignedEnvelope {
            payload: inner.bytes_or_string("envelope.payload")?,
            sig: inner.bytes_or_string("envelope.sig")?,
            key_version: inner.u32("envelope.key_version")?,
            bridge_pubkey_multibase: inner.string("envelope.bridge_pubkey_multibase")?,
        })
    }
}
