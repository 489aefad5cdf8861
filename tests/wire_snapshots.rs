//! Every wire type's JSON, pinned by insta snapshots in `snapshots/` at the repo root.
//!
//! Each snapshot is named `<SpecSchemaName>.<variant>` so the TypeScript parity check can match it
//! to its generated TS type and to `schema/wire.schema.json`. A change to the wire shows up here
//! as a snapshot diff in the commit that caused it. Under CI (`INSTA_UPDATE=no`) nothing is ever
//! written or accepted: a missing or changed snapshot fails.

mod support;

use serde::Serialize;
use serde_json::json;
use support::*;
use wavekat_platform_client::*;

fn pin<T: Serialize>(name: &str, value: &T) {
    insta::with_settings!({
        snapshot_path => "../snapshots",
        prepend_module_to_snapshot => false,
        omit_expression => true,
    }, {
        insta::assert_json_snapshot!(name, value);
    });
}

/// Parses wire JSON into `T` (so the minimal shapes are proven to decode) and pins what `T` sends.
fn pin_parsed<T: Serialize + serde::de::DeserializeOwned>(name: &str, wire: serde_json::Value) {
    let value: T = serde_json::from_value(wire).expect("minimal wire JSON decodes");
    pin(name, &value);
}

#[test]
fn me() {
    pin("Me.full", &full_me());
    pin_parsed::<Me>("Me.minimal", json!({"id":"u1","login":"e","role":"user"}));
}

#[test]
fn error_body() {
    pin(
        "ErrorBody.full",
        &ErrorBody {
            error: "reauth_required".into(),
            message: Some("this action needs a recent sign-in".into()),
        },
    );
    pin_parsed::<ErrorBody>("ErrorBody.minimal", json!({"error":"unauthenticated"}));
}

#[test]
fn cli_code_exchange() {
    pin(
        "CliCodeExchangeRequest.full",
        &CliCodeExchangeRequest {
            code: "K7QF-92MX".into(),
            state: "Zr9xvQ2LmT0aBcDeFgHiJkLmNoPqRsTu".into(),
        },
    );
    pin(
        "CliCodeExchangeResponse.full",
        &CliCodeExchangeResponse {
            token: "wk_example_not_a_real_token".into(),
            login: Some("eason".into()),
        },
    );
    pin_parsed::<CliCodeExchangeResponse>(
        "CliCodeExchangeResponse.minimal",
        json!({"token":"wk_example_not_a_real_token"}),
    );
}

#[test]
fn sync_envelope_and_response() {
    pin(
        "SyncEnvelope.full",
        &SyncEnvelope {
            schema_version: Some(2),
            extras: Some(json!({"futureField": [1, 2, 3]})),
        },
    );
    pin("SyncEnvelope.minimal", &SyncEnvelope::default());
    pin(
        "SyncResponse.full",
        &SyncResponse {
            accepted: 3,
            skipped: 1,
        },
    );
}

#[test]
fn calls() {
    pin("VoiceCallRecord.full", &full_call());
    pin("VoiceCallRecord.minimal", &minimal_call());
    pin("VoiceCallRecord.failed", &failed_call());
    let mut tombstone = minimal_call();
    tombstone.deleted_at = Some("2026-07-30T12:00:00Z".into());
    tombstone.schema_version = Some(1);
    pin("VoiceCallRecord.tombstone", &tombstone);
    let call = full_call();
    pin(
        "VoiceCallFlowStep.full",
        &call.flow_steps.as_ref().unwrap()[3],
    );
    pin_parsed::<VoiceCallFlowStep>(
        "VoiceCallFlowStep.minimal",
        json!({"atMs":0,"kind":"spoke","node":"greeting"}),
    );
    pin("VoiceCallEvent.full", &call.events.as_ref().unwrap()[1]);
    pin_parsed::<VoiceCallEvent>(
        "VoiceCallEvent.minimal",
        json!({"atMs":0,"kind":"incoming_call"}),
    );
    pin(
        "VoiceCallsQuery.full",
        &VoiceCallsQuery {
            include_deleted: Some(true),
            before: Some("2026-05-16T10:01:00Z".into()),
            limit: std::num::NonZeroU32::new(50),
        },
    );
    pin("VoiceCallsQuery.minimal", &VoiceCallsQuery::default());
    pin(
        "VoiceCallsPage.full",
        &Page {
            items: vec![minimal_call()],
            next_before: Some("2026-05-16T10:00:20Z".into()),
        },
    );
    pin_parsed::<Page<VoiceCallRecord>>(
        "VoiceCallsPage.minimal",
        json!({"items":[],"nextBefore":null}),
    );
    pin(
        "VoiceCallsSyncRequest.full",
        &SyncRequest {
            items: vec![full_call(), minimal_call()],
        },
    );
}

#[test]
fn recordings() {
    pin("VoiceRecordingRecord.full", &full_recording());
    pin("VoiceRecordingRecord.minimal", &minimal_recording());
    pin(
        "VoiceRecordingsQuery.full",
        &VoiceRecordingsQuery {
            before: Some("2026-05-16T10:01:01.250Z".into()),
            limit: std::num::NonZeroU32::new(200),
        },
    );
    pin(
        "VoiceRecordingsQuery.minimal",
        &VoiceRecordingsQuery::default(),
    );
    pin(
        "VoiceRecordingsPage.full",
        &Page {
            items: vec![full_recording()],
            next_before: Some("2026-05-16T10:01:01.250Z".into()),
        },
    );
    pin_parsed::<Page<VoiceRecordingRecord>>("VoiceRecordingsPage.minimal", json!({"items":[]}));
    pin(
        "VoiceRecordingsSyncRequest.full",
        &SyncRequest {
            items: vec![full_recording(), minimal_recording()],
        },
    );
    pin(
        "VoiceRecordingSyncItem.full",
        &VoiceRecordingSyncItem {
            source_id: "a".into(),
            r2_key: "voice/recordings/1/a.wav".into(),
            bytes_uploaded: false,
        },
    );
    pin(
        "VoiceRecordingsSyncResponse.full",
        &VoiceRecordingsSyncResponse {
            accepted: 2,
            skipped: 0,
            items: vec![
                VoiceRecordingSyncItem {
                    source_id: "a".into(),
                    r2_key: "voice/recordings/1/a.wav".into(),
                    bytes_uploaded: false,
                },
                VoiceRecordingSyncItem {
                    source_id: "b".into(),
                    r2_key: "voice/recordings/1/b.wav".into(),
                    bytes_uploaded: true,
                },
            ],
        },
    );
}

#[test]
fn transcripts() {
    pin("VoiceTranscriptRecord.full", &full_transcript());
    pin("VoiceTranscriptRecord.minimal", &minimal_transcript());
    pin(
        "VoiceTranscriptsQuery.full",
        &VoiceTranscriptsQuery {
            call_source_id: "11111111-1111-4111-8111-111111111111".into(),
        },
    );
    pin(
        "VoiceTranscriptsPage.full",
        &Page {
            items: vec![full_transcript(), minimal_transcript()],
            next_before: None,
        },
    );
    pin(
        "VoiceTranscriptsSyncRequest.full",
        &SyncRequest {
            items: vec![full_transcript()],
        },
    );
}

#[test]
fn accounts() {
    pin("VoiceAccountRecord.full", &full_account());
    pin("VoiceAccountRecord.minimal", &minimal_account());
    pin(
        "VoiceAccountsQuery.full",
        &VoiceAccountsQuery {
            include_deleted: Some(true),
            transports: Some(known_transports()),
        },
    );
    pin("VoiceAccountsQuery.minimal", &VoiceAccountsQuery::default());
    pin(
        "VoiceAccountsPage.full",
        &Page {
            items: vec![full_account(), minimal_account()],
            next_before: None,
        },
    );
    pin(
        "VoiceAccountsSyncRequest.full",
        &SyncRequest {
            items: vec![full_account()],
        },
    );
}

#[test]
fn install_heartbeat() {
    pin("InstallHeartbeatRequest.full", &full_heartbeat_request());
    pin(
        "InstallHeartbeatRequest.minimal",
        &minimal_heartbeat_request(),
    );
    pin("InstallHeartbeatResponse.full", &full_heartbeat_response());
    pin(
        "InstallHeartbeatResponse.minimal",
        &minimal_heartbeat_response(),
    );
}

#[test]
fn enums_every_known_value() {
    pin("VoiceCallDirection.all", &VoiceCallDirection::KNOWN);
    pin("VoiceCallDisposition.all", &VoiceCallDisposition::KNOWN);
    pin("VoiceCallEndReason.all", &VoiceCallEndReason::KNOWN);
    pin("VoiceCallCodec.all", &VoiceCallCodec::KNOWN);
    pin("VoiceCallFlowOutcome.all", &VoiceCallFlowOutcome::KNOWN);
    pin("ShareVisibility.all", &ShareVisibility::KNOWN);
    pin("VoiceTranscriptChannel.all", &VoiceTranscriptChannel::KNOWN);
    pin("VoiceTransport.all", &VoiceTransport::KNOWN);
}
