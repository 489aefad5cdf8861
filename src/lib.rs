#![doc = include_str!("../README.md")]
#![deny(missing_docs)]
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

mod calendar;
mod client;
mod code_exchange;
#[cfg(feature = "dev-platform")]
pub mod dev_platform;
mod error;
mod generated;
mod heartbeat;
mod html;
pub mod mobile;
mod plain_http;
mod retry;
mod signin;
pub mod signing;
mod sync;
mod tls;
mod token;
mod upload;
pub mod wire;

pub use client::{Client, ClientBuilder, DEFAULT_USER_AGENT};
pub use error::{Error, Result, ERROR_BODY_LIMIT};
pub use heartbeat::SystemInfo;
pub use retry::RetryPolicy;
pub use signin::{
    code_login, loopback_handshake, CodeLogin, CodeLoginOptions, HandshakeHandle, HandshakeOptions,
    HandshakeOutcome, PendingHandshake,
};
pub use signing::{
    cert_payload, generate_keypair, generate_master, issue_release_credential, request_payload,
    verify_cert, verify_ed25519_strict, verify_request, KeyError, ReleaseCredential,
    ReleaseVerifier, RequestSignature, SecretKeyHex, SigningError, VerifiedRelease, VerifyError,
};
pub use sync::{SyncEndpoint, VoiceAccounts, VoiceCalls, VoiceRecordings, VoiceTranscripts};
pub use token::Token;
pub use upload::{RecordingBody, UploadProgress};

/// The platform's sync batch cap: a larger batch is refused with 413.
pub const SYNC_BATCH_CAP: usize = 100;

pub use wire::{
    known_transports, CliCodeExchangeRequest, CliCodeExchangeResponse, ErrorBody, HasSyncEnvelope,
    InstallHeartbeatRequest, InstallHeartbeatRequestUpdaterError, InstallHeartbeatResponse, Me,
    Page, ShareVisibility, SyncEnvelope, SyncRequest, SyncResponse, UnknownWireValue,
    VoiceAccountRecord, VoiceAccountsQuery, VoiceCallCodec, VoiceCallDirection,
    VoiceCallDisposition, VoiceCallEndReason, VoiceCallEvent, VoiceCallFlowOutcome,
    VoiceCallFlowStep, VoiceCallRecord, VoiceCallsQuery, VoiceRecordingRecord,
    VoiceRecordingSyncItem, VoiceRecordingsQuery, VoiceRecordingsSyncResponse,
    VoiceTranscriptChannel, VoiceTranscriptRecord, VoiceTranscriptsQuery, VoiceTransport,
    WireValidate,
};
