//! Rust client for the WaveKat voice platform.
#![deny(missing_docs)]

mod client;
mod error;
mod generated;
mod token;
pub mod wire;

pub use error::{Error, Result, ERROR_BODY_LIMIT};
pub use token::Token;

/// The platform's sync batch cap: a larger batch is refused with 413.
pub const SYNC_BATCH_CAP: usize = 100;

pub use wire::{
    known_transports, CliCodeExchangeRequest, CliCodeExchangeResponse, ErrorBody, HasSyncEnvelope,
    InstallHeartbeatRequest, InstallHeartbeatRequestUpdaterError, InstallHeartbeatResponse, Me,
    Page, ShareVisibility, SyncEndpoint, SyncEnvelope, SyncRequest, SyncResponse, UnknownWireValue,
    VoiceAccountRecord, VoiceAccounts, VoiceAccountsQuery, VoiceCallCodec, VoiceCallDirection,
    VoiceCallDisposition, VoiceCallEndReason, VoiceCallEvent, VoiceCallFlowOutcome,
    VoiceCallFlowStep, VoiceCallRecord, VoiceCalls, VoiceCallsQuery, VoiceRecordingRecord,
    VoiceRecordingSyncItem, VoiceRecordings, VoiceRecordingsQuery, VoiceRecordingsSyncResponse,
    VoiceTranscriptChannel, VoiceTranscriptRecord, VoiceTranscripts, VoiceTranscriptsQuery,
    VoiceTransport, WireValidate,
};
