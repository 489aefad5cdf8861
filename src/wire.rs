//! Wire types of the platform API: generated from `schema/openapi.json`, plus the few shapes
//! progenitor cannot express (generic pages and sync bodies, enums that keep unknown values).
//!
//! Everything here serializes exactly as the platform expects: camelCase keys, snake_case enum
//! strings, absent optionals omitted (never `null`); it decodes absent and `null` alike and
//! ignores unknown keys.
//!
//! ```
//! use wavekat_platform_client::{VoiceCallDirection, VoiceTransport};
//!
//! let t: VoiceTransport = serde_json::from_str("\"wss\"").unwrap();
//! assert_eq!(t, VoiceTransport::Unknown("wss".into()));
//! assert_eq!(serde_json::to_string(&t).unwrap(), "\"wss\"");
//! assert_eq!(VoiceCallDirection::Inbound.as_str(), "inbound");
//! ```

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

pub use crate::generated::types::{
    CliCodeExchangeRequest, CliCodeExchangeResponse, ErrorBody, InstallHeartbeatRequest,
    InstallHeartbeatRequestUpdaterError, InstallHeartbeatResponse, Me, SyncEnvelope, SyncResponse,
    VoiceAccountRecord, VoiceAccountsQuery, VoiceCallEvent, VoiceCallFlowStep, VoiceCallRecord,
    VoiceCallsQuery, VoiceRecordingRecord, VoiceRecordingSyncItem, VoiceRecordingsQuery,
    VoiceRecordingsSyncResponse, VoiceTranscriptRecord, VoiceTranscriptsQuery,
};

/// One page of `GET /api/voice/{R}`: items newest first, and the cursor for the next page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Page<R> {
    /// The records on this page, newest first.
    pub items: Vec<R>,
    /// Pass back as `before` for the next page; `None` at the start of history.
    #[serde(
        rename = "nextBefore",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub next_before: Option<String>,
}

/// Body of `POST /api/voice/{R}/sync`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SyncRequest<R> {
    /// The batch: at most [`crate::SYNC_BATCH_CAP`] records.
    pub items: Vec<R>,
}

/// Declares a wire enum whose unknown strings land in `Unknown(String)` and serialize back
/// unchanged, so a newer platform never breaks an older client.
macro_rules! wire_enum {
    (
        $(#[$meta:meta])*
        $name:ident { $( $(#[$vmeta:meta])* $variant:ident = $wire:literal, )+ }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )+
            /// A value this version does not know; keeps the platform's string verbatim.
            Unknown(String),
        }

        impl $name {
            /// Every value this version knows, in the spec's order.
            pub const KNOWN: &'static [$name] = &[$($name::$variant),+];

            /// The wire string.
            pub fn as_str(&self) -> &str {
                match self {
                    $( $name::$variant => $wire, )+
                    $name::Unknown(other) => other,
                }
            }

            /// Whether this version knows the value (the platform refuses unknown values on sync).
            pub fn is_known(&self) -> bool {
                !matches!(self, $name::Unknown(_))
            }

            fn from_wire(s: Cow<'_, str>) -> Self {
                match s.as_ref() {
                    $( $wire => $name::$variant, )+
                    _ => $name::Unknown(s.into_owned()),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = std::convert::Infallible;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Ok(Self::from_wire(Cow::Borrowed(s)))
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                Cow::<'de, str>::deserialize(deserializer).map(Self::from_wire)
            }
        }
    };
}

wire_enum! {
    /// Inbound or outbound.
    VoiceCallDirection {
        /// The call came in.
        Inbound = "inbound",
        /// The user dialled out.
        Outbound = "outbound",
    }
}

wire_enum! {
    /// User-visible outcome of a call, derived by the daemon from its [`VoiceCallEndReason`].
    VoiceCallDisposition {
        /// Someone answered.
        Answered = "answered",
        /// Nobody answered an inbound call.
        Missed = "missed",
        /// The call was declined.
        Rejected = "rejected",
        /// The caller gave up before an answer.
        Cancelled = "cancelled",
        /// The call failed; see the record's `error`.
        Failed = "failed",
    }
}

wire_enum! {
    /// Finer terminal reason of a call; keeps who hung up.
    VoiceCallEndReason {
        /// The user hung up.
        HangupLocal = "hangup_local",
        /// The other party hung up.
        HangupRemote = "hangup_remote",
        /// The user declined.
        RejectedLocal = "rejected_local",
        /// The other party declined.
        RejectedRemote = "rejected_remote",
        /// Nobody answered.
        Missed = "missed",
        /// The user cancelled an outgoing call.
        CancelledLocal = "cancelled_local",
        /// The call failed.
        Failed = "failed",
        /// The connection dropped.
        ConnectionLost = "connection_lost",
        /// The user transferred the call (see `transferTarget`).
        TransferredLocal = "transferred_local",
    }
}

wire_enum! {
    /// Negotiated audio codec.
    VoiceCallCodec {
        /// Opus wideband 16 kHz ("HD").
        Opus = "opus",
        /// G.711 µ-law ("Standard").
        Pcmu = "pcmu",
        /// G.711 A-law ("Standard").
        Pcma = "pcma",
    }
}

wire_enum! {
    /// How a call flow ("receptionist") run ended.
    VoiceCallFlowOutcome {
        /// The flow handed the call to a person who answered.
        Answered = "answered",
        /// The caller left a message.
        MessageLeft = "message_left",
        /// The flow transferred the call.
        Transferred = "transferred",
        /// The flow hung up.
        HungUp = "hung_up",
        /// The run was aborted.
        Aborted = "aborted",
        /// The flow definition was defective.
        Defect = "defect",
    }
}

wire_enum! {
    /// Tier of a recording share; only `restricted` and `public` appear on call records.
    ShareVisibility {
        /// Not shared.
        Private = "private",
        /// Shared with restrictions.
        Restricted = "restricted",
        /// Shared publicly.
        Public = "public",
    }
}

wire_enum! {
    /// Which side of the call a transcript segment came from.
    VoiceTranscriptChannel {
        /// The user's microphone.
        Local = "local",
        /// The received audio.
        Remote = "remote",
    }
}

wire_enum! {
    /// SIP transport of an account line.
    VoiceTransport {
        /// SIP over UDP.
        Udp = "udp",
        /// SIP over TCP.
        Tcp = "tcp",
        /// SIP over TLS (schema version 2 and later).
        Tls = "tls",
    }
}

/// Records that carry the sync envelope (`schemaVersion`, `extras`) at their top level.
///
/// A sync stamps the resource's current schema version on every record that leaves it unset.
pub trait HasSyncEnvelope {
    /// The record's `schemaVersion`, if set.
    fn schema_version(&self) -> Option<u32>;
    /// Sets `schemaVersion`.
    fn set_schema_version(&mut self, version: u32);
    /// The record's free-form `extras`, if set.
    fn extras(&self) -> Option<&serde_json::Value>;
    /// The two envelope keys as a [`SyncEnvelope`].
    fn envelope(&self) -> SyncEnvelope {
        SyncEnvelope {
            schema_version: self.schema_version(),
            extras: self.extras().cloned(),
        }
    }
}

macro_rules! has_sync_envelope {
    ($($record:ty),+) => {$(
        impl HasSyncEnvelope for $record {
            fn schema_version(&self) -> Option<u32> {
                self.schema_version
            }
            fn set_schema_version(&mut self, version: u32) {
                self.schema_version = Some(version);
            }
            fn extras(&self) -> Option<&serde_json::Value> {
                self.extras.as_ref()
            }
        }
    )+};
}

has_sync_envelope!(
    VoiceCallRecord,
    VoiceRecordingRecord,
    VoiceTranscriptRecord,
    VoiceAccountRecord
);

/// Where a record holds an enum value this version does not know (the platform would bounce the
/// whole batch with 400, so such a record is refused before sending).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownWireValue {
    /// The wire field name, e.g. `transport`.
    pub field: &'static str,
    /// The unknown string.
    pub value: String,
}

/// Checks a record for enum values the platform would refuse.
pub trait WireValidate {
    /// The first field holding an unknown enum value, if any.
    fn unknown_value(&self) -> Option<UnknownWireValue>;
}

fn unknown<T: AsRef<str>>(field: &'static str, known: bool, value: T) -> Option<UnknownWireValue> {
    (!known).then(|| UnknownWireValue {
        field,
        value: value.as_ref().to_owned(),
    })
}

impl WireValidate for VoiceCallRecord {
    fn unknown_value(&self) -> Option<UnknownWireValue> {
        unknown(
            "direction",
            self.direction.is_known(),
            self.direction.as_str(),
        )
        .or_else(|| {
            unknown(
                "disposition",
                self.disposition.is_known(),
                self.disposition.as_str(),
            )
        })
        .or_else(|| {
            unknown(
                "endReason",
                self.end_reason.is_known(),
                self.end_reason.as_str(),
            )
        })
        .or_else(|| {
            self.codec
                .as_ref()
                .and_then(|c| unknown("codec", c.is_known(), c.as_str()))
        })
        .or_else(|| {
            self.flow_outcome
                .as_ref()
                .and_then(|o| unknown("flowOutcome", o.is_known(), o.as_str()))
        })
        .or_else(|| {
            self.share_visibility
                .as_ref()
                .and_then(|v| unknown("shareVisibility", v.is_known(), v.as_str()))
        })
    }
}

impl WireValidate for VoiceRecordingRecord {
    fn unknown_value(&self) -> Option<UnknownWireValue> {
        None
    }
}

impl WireValidate for VoiceTranscriptRecord {
    fn unknown_value(&self) -> Option<UnknownWireValue> {
        unknown("channel", self.channel.is_known(), self.channel.as_str())
    }
}

impl WireValidate for VoiceAccountRecord {
    fn unknown_value(&self) -> Option<UnknownWireValue> {
        unknown(
            "transport",
            self.transport.is_known(),
            self.transport.as_str(),
        )
    }
}

/// The transports this client can read, as sent in `GET /api/voice/accounts?transports=`.
pub fn known_transports() -> String {
    VoiceTransport::KNOWN
        .iter()
        .map(VoiceTransport::as_str)
        .collect::<Vec<_>>()
        .join(",")
}
