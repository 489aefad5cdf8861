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
use wavekat_platform_client::wire::*;

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
        &ErrorBody::new("reauth_required".into())
            .with_message("this action needs a recent sign-in".into()),
    );
    pin_parsed::<ErrorBody>("ErrorBody.minimal", json!({"error":"unauthenticated"}));
}

#[test]
fn cli_code_exchange() {
    pin(
        "CliCodeExchangeRequest.full",
        &CliCodeExchangeRequest::new(
            "K7QF-92MX".into(),
            "Zr9xvQ2LmT0aBcDeFgHiJkLmNoPqRsTu".into(),
        ),
    );
    pin(
        "CliCodeExchangeResponse.full",
        &CliCodeExchangeResponse::new("wk_example_not_a_real_token".into())
            .with_login("eason".into()),
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
        &SyncEnvelope::new()
            .with_extras(json!({"futureField": [1, 2, 3]}))
            .with_schema_version(2),
    );
    pin("SyncEnvelope.minimal", &SyncEnvelope::default());
    pin("SyncResponse.full", &SyncResponse::new(3, 1));
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
    pin("VoiceCallsQuery.full", &{
        let mut r = VoiceCallsQuery::new()
            .with_before("2026-05-16T10:01:00Z".into())
            .with_include_deleted(true);
        r.limit = std::num::NonZeroU32::new(50);
        r
    });
    pin("VoiceCallsQuery.minimal", &VoiceCallsQuery::default());
    pin(
        "VoiceCallsPage.full",
        &Page::new(vec![minimal_call()], Some("2026-05-16T10:00:20Z".into())),
    );
    pin_parsed::<Page<VoiceCallRecord>>(
        "VoiceCallsPage.minimal",
        json!({"items":[],"nextBefore":null}),
    );
    pin(
        "VoiceCallsSyncRequest.full",
        &SyncRequest::new(vec![full_call(), minimal_call()]),
    );
}

#[test]
fn recordings() {
    pin("VoiceRecordingRecord.full", &full_recording());
    pin("VoiceRecordingRecord.minimal", &minimal_recording());
    pin("VoiceRecordingsQuery.full", &{
        let mut r = VoiceRecordingsQuery::new().with_before("2026-05-16T10:01:01.250Z".into());
        r.limit = std::num::NonZeroU32::new(200);
        r
    });
    pin(
        "VoiceRecordingsQuery.minimal",
        &VoiceRecordingsQuery::default(),
    );
    pin(
        "VoiceRecordingsPage.full",
        &Page::new(
            vec![full_recording()],
            Some("2026-05-16T10:01:01.250Z".into()),
        ),
    );
    pin_parsed::<Page<VoiceRecordingRecord>>("VoiceRecordingsPage.minimal", json!({"items":[]}));
    pin(
        "VoiceRecordingsSyncRequest.full",
        &SyncRequest::new(vec![full_recording(), minimal_recording()]),
    );
    pin(
        "VoiceRecordingSyncItem.full",
        &VoiceRecordingSyncItem::new("a".into(), "voice/recordings/1/a.wav".into(), false),
    );
    pin(
        "VoiceRecordingsSyncResponse.full",
        &VoiceRecordingsSyncResponse::new(
            2,
            0,
            vec![
                VoiceRecordingSyncItem::new("a".into(), "voice/recordings/1/a.wav".into(), false),
                VoiceRecordingSyncItem::new("b".into(), "voice/recordings/1/b.wav".into(), true),
            ],
        ),
    );
}

#[test]
fn transcripts() {
    pin("VoiceTranscriptRecord.full", &full_transcript());
    pin("VoiceTranscriptRecord.minimal", &minimal_transcript());
    pin(
        "VoiceTranscriptsQuery.full",
        &VoiceTranscriptsQuery::new("11111111-1111-4111-8111-111111111111".into()),
    );
    pin(
        "VoiceTranscriptsPage.full",
        &Page::new(vec![full_transcript(), minimal_transcript()], None),
    );
    pin(
        "VoiceTranscriptsSyncRequest.full",
        &SyncRequest::new(vec![full_transcript()]),
    );
}

#[test]
fn accounts() {
    pin("VoiceAccountRecord.full", &full_account());
    pin("VoiceAccountRecord.minimal", &minimal_account());
    pin(
        "VoiceAccountsQuery.full",
        &VoiceAccountsQuery::new()
            .with_include_deleted(true)
            .with_transports(VoiceTransport::known_comma_separated()),
    );
    pin("VoiceAccountsQuery.minimal", &VoiceAccountsQuery::default());
    pin(
        "VoiceAccountsPage.full",
        &Page::new(vec![full_account(), minimal_account()], None),
    );
    pin(
        "VoiceAccountsSyncRequest.full",
        &SyncRequest::new(vec![full_account()]),
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
