//! Interop with the deployed clients: every record, query and response type round-trips through
//! the published `wavekat-platform-client` 0.0.37 (`wpc`). JSON we produce parses in theirs, the
//! JSON their serializer produces parses in ours, and the values agree.

#[path = "../../tests/support/mod.rs"]
mod support;

use std::fmt::Debug;

use serde::{de::DeserializeOwned, Serialize};
use support::*;
use wavekat_platform_client as ours;

/// ours → JSON → theirs → JSON → ours, asserting nothing is lost or changed on the way.
fn round_trip<O, T>(value: &O)
where
    O: Serialize + DeserializeOwned + PartialEq + Debug,
    T: Serialize + DeserializeOwned,
{
    let ours_json = serde_json::to_value(value).unwrap();
    let theirs: T = serde_json::from_value(ours_json.clone())
        .unwrap_or_else(|e| panic!("0.0.37 refused our JSON {ours_json}: {e}"));
    let theirs_json = serde_json::to_value(&theirs).unwrap();
    assert_eq!(
        theirs_json, ours_json,
        "0.0.37 re-serialized our value differently"
    );
    let back: O = serde_json::from_value(theirs_json.clone())
        .unwrap_or_else(|e| panic!("we refused 0.0.37's JSON {theirs_json}: {e}"));
    assert_eq!(&back, value);
}

#[test]
fn me_parses_in_0_0_37_with_equal_values() {
    // 0.0.37's `Me` is receive-only (no Serialize): check our JSON parses there, field by field.
    for me in [
        full_me(),
        serde_json::from_str(r#"{"id":"u1","login":"e","role":"user"}"#).unwrap(),
    ] {
        let theirs: wpc::Me = serde_json::from_value(serde_json::to_value(&me).unwrap()).unwrap();
        assert_eq!(theirs.id, me.id);
        assert_eq!(theirs.login, me.login);
        assert_eq!(theirs.name, me.name);
        assert_eq!(theirs.email, me.email);
        assert_eq!(theirs.role, me.role);
    }
}

#[test]
fn call_records_round_trip() {
    round_trip::<ours::wire::VoiceCallRecord, wpc::VoiceCallRecord>(&full_call());
    round_trip::<ours::wire::VoiceCallRecord, wpc::VoiceCallRecord>(&minimal_call());
    round_trip::<ours::wire::VoiceCallRecord, wpc::VoiceCallRecord>(&failed_call());
    let mut tombstone = minimal_call();
    tombstone.deleted_at = Some("2026-07-30T12:00:00Z".into());
    round_trip::<ours::wire::VoiceCallRecord, wpc::VoiceCallRecord>(&tombstone);
}

#[test]
fn every_call_enum_value_round_trips() {
    for direction in ours::wire::VoiceCallDirection::KNOWN {
        for disposition in ours::wire::VoiceCallDisposition::KNOWN {
            let mut call = minimal_call();
            call.direction = direction.clone();
            call.disposition = disposition.clone();
            round_trip::<ours::wire::VoiceCallRecord, wpc::VoiceCallRecord>(&call);
        }
    }
    for reason in ours::wire::VoiceCallEndReason::KNOWN {
        let mut call = minimal_call();
        call.end_reason = reason.clone();
        round_trip::<ours::wire::VoiceCallRecord, wpc::VoiceCallRecord>(&call);
    }
    for codec in ours::wire::VoiceCallCodec::KNOWN {
        for outcome in ours::wire::VoiceCallFlowOutcome::KNOWN {
            let mut call = full_call();
            call.codec = Some(codec.clone());
            call.flow_outcome = Some(outcome.clone());
            round_trip::<ours::wire::VoiceCallRecord, wpc::VoiceCallRecord>(&call);
        }
    }
    for visibility in ours::wire::ShareVisibility::KNOWN {
        let mut call = full_call();
        call.share_visibility = Some(visibility.clone());
        round_trip::<ours::wire::VoiceCallRecord, wpc::VoiceCallRecord>(&call);
    }
}

#[test]
fn recording_types_round_trip() {
    round_trip::<ours::wire::VoiceRecordingRecord, wpc::VoiceRecordingRecord>(&full_recording());
    round_trip::<ours::wire::VoiceRecordingRecord, wpc::VoiceRecordingRecord>(&minimal_recording());
    let response: ours::wire::VoiceRecordingsSyncResponse = serde_json::from_str(
        r#"{"accepted":2,"skipped":0,"items":[{"sourceId":"a","r2Key":"voice/recordings/1/a.wav","bytesUploaded":false},{"sourceId":"b","r2Key":"voice/recordings/1/b.wav","bytesUploaded":true}]}"#,
    )
    .unwrap();
    round_trip::<ours::wire::VoiceRecordingsSyncResponse, wpc::VoiceRecordingsSyncResponse>(
        &response,
    );
    round_trip::<ours::wire::VoiceRecordingSyncItem, wpc::VoiceRecordingSyncItem>(
        &response.items[1],
    );
}

#[test]
fn transcript_records_round_trip() {
    for channel in ours::wire::VoiceTranscriptChannel::KNOWN {
        let mut t = full_transcript();
        t.channel = channel.clone();
        round_trip::<ours::wire::VoiceTranscriptRecord, wpc::VoiceTranscriptRecord>(&t);
    }
    round_trip::<ours::wire::VoiceTranscriptRecord, wpc::VoiceTranscriptRecord>(
        &minimal_transcript(),
    );
}

#[test]
fn account_records_round_trip() {
    for transport in ours::wire::VoiceTransport::KNOWN {
        let mut a = full_account();
        a.transport = transport.clone();
        round_trip::<ours::wire::VoiceAccountRecord, wpc::VoiceAccountRecord>(&a);
    }
    let mut tombstone = minimal_account();
    tombstone.deleted_at = Some("2026-06-01T00:00:00Z".into());
    round_trip::<ours::wire::VoiceAccountRecord, wpc::VoiceAccountRecord>(&tombstone);
}

#[test]
fn an_unknown_transport_decodes_in_both_and_only_we_keep_the_string() {
    let json = r#"{"sourceId":"a1","enabled":true,"displayName":"Desk","username":"1001","domain":"sip.example.com","transport":"wss","registerExpires":300,"disclosureEnabled":true,"updatedAt":"2026-05-16T10:00:00Z"}"#;
    let theirs: wpc::VoiceAccountRecord = serde_json::from_str(json).unwrap();
    assert_eq!(theirs.transport, wpc::VoiceTransport::Unknown);
    let ours: ours::wire::VoiceAccountRecord = serde_json::from_str(json).unwrap();
    assert_eq!(
        ours.transport,
        ours::wire::VoiceTransport::Unknown("wss".into())
    );
}

#[test]
fn queries_round_trip() {
    let calls = {
        let mut r = ours::wire::VoiceCallsQuery::new()
            .with_before("2026-05-16T10:01:00Z".into())
            .with_include_deleted(true);
        r.limit = std::num::NonZeroU32::new(50);
        r
    };
    round_trip::<ours::wire::VoiceCallsQuery, wpc::VoiceCallsQuery>(&calls);
    round_trip::<ours::wire::VoiceCallsQuery, wpc::VoiceCallsQuery>(&Default::default());
    let recordings = {
        let mut r =
            ours::wire::VoiceRecordingsQuery::new().with_before("2026-05-16T10:01:00Z".into());
        r.limit = std::num::NonZeroU32::new(200);
        r
    };
    round_trip::<ours::wire::VoiceRecordingsQuery, wpc::VoiceRecordingsQuery>(&recordings);
    let transcripts = ours::wire::VoiceTranscriptsQuery::new("c1".into());
    round_trip::<ours::wire::VoiceTranscriptsQuery, wpc::VoiceTranscriptsQuery>(&transcripts);
    let accounts = ours::wire::VoiceAccountsQuery::new()
        .with_include_deleted(false)
        .with_transports(ours::wire::VoiceTransport::known_comma_separated());
    round_trip::<ours::wire::VoiceAccountsQuery, wpc::VoiceAccountsQuery>(&accounts);
}

#[test]
fn the_default_accounts_transports_match_0_0_37() {
    let theirs = serde_json::to_value(wpc::VoiceAccountsQuery::default()).unwrap();
    assert_eq!(
        theirs["transports"],
        ours::wire::VoiceTransport::known_comma_separated()
    );
}

#[test]
fn pages_and_sync_bodies_round_trip() {
    let page = ours::wire::Page::new(
        vec![full_call(), minimal_call()],
        Some("2026-05-16T10:00:20Z".into()),
    );
    round_trip::<ours::wire::Page<ours::wire::VoiceCallRecord>, wpc::Page<wpc::VoiceCallRecord>>(
        &page,
    );
    let last = ours::wire::Page::<ours::wire::VoiceAccountRecord>::new(vec![full_account()], None);
    round_trip::<
        ours::wire::Page<ours::wire::VoiceAccountRecord>,
        wpc::Page<wpc::VoiceAccountRecord>,
    >(&last);
    let body = ours::wire::SyncRequest::new(vec![full_recording(), minimal_recording()]);
    round_trip::<
        ours::wire::SyncRequest<ours::wire::VoiceRecordingRecord>,
        wpc::SyncRequest<wpc::VoiceRecordingRecord>,
    >(&body);
    let response = ours::wire::SyncResponse::new(3, 1);
    round_trip::<ours::wire::SyncResponse, wpc::SyncResponse>(&response);
}

#[test]
fn heartbeat_types_round_trip() {
    round_trip::<ours::wire::InstallHeartbeatRequest, wpc::InstallHeartbeatRequest>(
        &full_heartbeat_request(),
    );
    round_trip::<ours::wire::InstallHeartbeatRequest, wpc::InstallHeartbeatRequest>(
        &minimal_heartbeat_request(),
    );
    round_trip::<ours::wire::InstallHeartbeatResponse, wpc::InstallHeartbeatResponse>(
        &full_heartbeat_response(),
    );
}

#[test]
fn a_heartbeat_response_without_nullable_keys_decodes_in_both() {
    // Platforms deployed before `distribution` omit it; the nullable echoes may be absent too.
    let json = r#"{"id":"1","installId":"x","appVersion":"0.0.1","os":"linux","firstSeenAt":"2026-09-07T10:00:00.000Z","lastSeenAt":"2026-09-07T10:00:00.000Z"}"#;
    let ours: ours::wire::InstallHeartbeatResponse = serde_json::from_str(json).unwrap();
    let theirs: wpc::InstallHeartbeatResponse = serde_json::from_str(json).unwrap();
    assert_eq!(ours.os_version, None);
    assert_eq!(ours.distribution, None);
    assert_eq!(theirs.install_id, ours.install_id);
}

#[test]
fn sync_stamps_the_same_schema_versions_as_0_0_37() {
    use ours::sync::SyncEndpoint;
    assert_eq!(
        <ours::sync::VoiceCalls as SyncEndpoint>::CURRENT_SCHEMA_VERSION,
        <wpc::VoiceCalls as wpc::SyncEndpoint>::CURRENT_SCHEMA_VERSION
    );
    assert_eq!(
        <ours::sync::VoiceRecordings as SyncEndpoint>::CURRENT_SCHEMA_VERSION,
        <wpc::VoiceRecordings as wpc::SyncEndpoint>::CURRENT_SCHEMA_VERSION
    );
    assert_eq!(
        <ours::sync::VoiceTranscripts as SyncEndpoint>::CURRENT_SCHEMA_VERSION,
        <wpc::VoiceTranscripts as wpc::SyncEndpoint>::CURRENT_SCHEMA_VERSION
    );
    assert_eq!(
        <ours::sync::VoiceAccounts as SyncEndpoint>::CURRENT_SCHEMA_VERSION,
        <wpc::VoiceAccounts as wpc::SyncEndpoint>::CURRENT_SCHEMA_VERSION
    );
}

/// The round trips above only prove what the fixtures exercise; this pins that together they set
/// every property the spec defines, so every wire name is compared against 0.0.37.
#[test]
fn the_round_tripped_fixtures_cover_every_spec_property() {
    use std::collections::BTreeSet;
    let spec: serde_json::Value =
        serde_json::from_str(include_str!("../../schema/openapi.json")).unwrap();
    let properties = |schema: &str| -> BTreeSet<String> {
        spec["components"]["schemas"][schema]["properties"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect()
    };
    let keys = |values: Vec<serde_json::Value>| -> BTreeSet<String> {
        values
            .iter()
            .flat_map(|v| v.as_object().unwrap().keys().cloned())
            .collect()
    };
    let mut tombstone = minimal_call();
    tombstone.deleted_at = Some("2026-07-30T12:00:00Z".into());
    let calls = [full_call(), failed_call(), tombstone];
    assert_eq!(
        keys(calls.iter().map(json).collect()),
        properties("VoiceCallRecord")
    );
    let steps: Vec<_> = full_call().flow_steps.unwrap().iter().map(json).collect();
    assert_eq!(keys(steps), properties("VoiceCallFlowStep"));
    let events: Vec<_> = full_call()
        .events
        .unwrap()
        .iter()
        .chain(failed_call().events.unwrap().iter())
        .map(json)
        .collect();
    assert_eq!(keys(events), properties("VoiceCallEvent"));
    assert_eq!(
        keys(vec![json(&full_recording())]),
        properties("VoiceRecordingRecord")
    );
    assert_eq!(
        keys(vec![json(&full_transcript())]),
        properties("VoiceTranscriptRecord")
    );
    let mut deleted = full_account();
    deleted.deleted_at = Some("2026-06-01T00:00:00Z".into());
    assert_eq!(keys(vec![json(&deleted)]), properties("VoiceAccountRecord"));
    assert_eq!(
        keys(vec![json(&full_heartbeat_request())]),
        properties("InstallHeartbeatRequest")
    );
    assert_eq!(
        keys(vec![json(&full_heartbeat_response())]),
        properties("InstallHeartbeatResponse")
    );
    assert_eq!(keys(vec![json(&full_me())]), properties("Me"));
}

fn json<T: Serialize>(value: &T) -> serde_json::Value {
    serde_json::to_value(value).unwrap()
}
