//! Forward compatibility: the platform ships before its clients update, so responses with unknown
//! keys or unknown enum strings must still decode; absent and `null` read alike; and what we send
//! never contains `null` for an absent optional.

mod support;

use serde::{de::DeserializeOwned, Serialize};
use serde_json::{json, Value};
use support::*;
use wavekat_platform_client::wire::*;

/// Adds an unknown key to every object at every nesting level.
fn inject_unknown_keys(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for child in map.values_mut() {
                inject_unknown_keys(child);
            }
            map.insert("zzFutureField".into(), json!({"nested": [1, "two", null]}));
        }
        Value::Array(items) => items.iter_mut().for_each(inject_unknown_keys),
        _ => {}
    }
}

fn assert_tolerates_unknown_keys<T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>(
    value: &T,
) {
    let mut wire = serde_json::to_value(value).unwrap();
    // `extras` is free-form: an injected key there is data, not an unknown field.
    inject_unknown_keys(&mut wire);
    let decoded: T = serde_json::from_value(wire.clone())
        .unwrap_or_else(|e| panic!("unknown keys broke decoding of {wire}: {e}"));
    let mut expected = serde_json::to_value(value).unwrap();
    let mut got = serde_json::to_value(&decoded).unwrap();
    strip_extras(&mut expected);
    strip_extras(&mut got);
    assert_eq!(got, expected);
}

fn strip_extras(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.remove("extras");
            map.values_mut().for_each(strip_extras);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_extras),
        _ => {}
    }
}

fn contains_null(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Object(map) => map.values().any(contains_null),
        Value::Array(items) => items.iter().any(contains_null),
        _ => false,
    }
}

#[test]
fn unknown_keys_at_every_level_are_ignored() {
    assert_tolerates_unknown_keys(&full_me());
    assert_tolerates_unknown_keys(&full_call());
    assert_tolerates_unknown_keys(&full_recording());
    assert_tolerates_unknown_keys(&full_transcript());
    assert_tolerates_unknown_keys(&full_account());
    assert_tolerates_unknown_keys(&full_heartbeat_response());
    assert_tolerates_unknown_keys(&Page::new(
        vec![full_call(), minimal_call()],
        Some("2026-05-16T10:00:20Z".into()),
    ));
    assert_tolerates_unknown_keys(&VoiceRecordingsSyncResponse::new(
        1,
        0,
        vec![VoiceRecordingSyncItem::new(
            "a".into(),
            "voice/recordings/1/a.wav".into(),
            true,
        )],
    ));
    assert_tolerates_unknown_keys(&SyncResponse::new(1, 2));
}

#[test]
fn unknown_enum_strings_land_in_the_catch_all_and_serialize_back_unchanged() {
    // Values no spec will add (a drill adding `internal` to the spec must not turn this test):
    // what is pinned is the catch-all, not a particular string.
    let mut wire = serde_json::to_value(full_call()).unwrap();
    wire["direction"] = json!("x_future_direction");
    wire["disposition"] = json!("x_future_disposition");
    wire["endReason"] = json!("x_future_end_reason");
    wire["codec"] = json!("x_future_codec");
    wire["flowOutcome"] = json!("x_future_outcome");
    wire["shareVisibility"] = json!("x_future_visibility");
    let call: VoiceCallRecord = serde_json::from_value(wire.clone()).unwrap();
    assert_eq!(
        call.direction,
        VoiceCallDirection::Unknown("x_future_direction".into())
    );
    assert_eq!(
        call.disposition,
        VoiceCallDisposition::Unknown("x_future_disposition".into())
    );
    assert_eq!(
        call.end_reason,
        VoiceCallEndReason::Unknown("x_future_end_reason".into())
    );
    assert_eq!(
        call.codec,
        Some(VoiceCallCodec::Unknown("x_future_codec".into()))
    );
    assert_eq!(
        call.flow_outcome,
        Some(VoiceCallFlowOutcome::Unknown("x_future_outcome".into()))
    );
    assert_eq!(
        call.share_visibility,
        Some(ShareVisibility::Unknown("x_future_visibility".into()))
    );
    assert_eq!(serde_json::to_value(&call).unwrap(), wire);

    let mut t = serde_json::to_value(full_transcript()).unwrap();
    t["channel"] = json!("x_future_channel");
    let transcript: VoiceTranscriptRecord = serde_json::from_value(t.clone()).unwrap();
    assert_eq!(
        transcript.channel,
        VoiceTranscriptChannel::Unknown("x_future_channel".into())
    );
    assert_eq!(serde_json::to_value(&transcript).unwrap(), t);
}

#[test]
fn one_unknown_transport_does_not_fail_the_rest_of_the_page() {
    let mut odd = serde_json::to_value(full_account()).unwrap();
    odd["transport"] = json!("wss");
    let page = json!({ "items": [serde_json::to_value(minimal_account()).unwrap(), odd] });
    let page: Page<VoiceAccountRecord> = serde_json::from_value(page).unwrap();
    assert_eq!(page.items.len(), 2);
    assert_eq!(page.items[0], minimal_account());
    assert_eq!(
        page.items[1].transport,
        VoiceTransport::Unknown("wss".into())
    );
}

#[test]
fn records_with_unknown_enum_values_are_flagged_before_sending() {
    let mut account = full_account();
    assert_eq!(account.unknown_value(), None);
    account.transport = VoiceTransport::Unknown("wss".into());
    assert_eq!(
        account.unknown_value(),
        Some(UnknownWireValue {
            field: "transport",
            value: "wss".into()
        })
    );
    let mut call = full_call();
    assert_eq!(call.unknown_value(), None);
    call.codec = Some(VoiceCallCodec::Unknown("g722".into()));
    assert_eq!(call.unknown_value().map(|u| u.field), Some("codec"));
}

#[test]
fn absent_and_null_optionals_both_read_as_none() {
    let absent = serde_json::to_value(minimal_call()).unwrap();
    let mut nulls = absent.clone();
    for key in [
        "answerAt",
        "durationMs",
        "error",
        "shareVisibility",
        "transferTarget",
        "codec",
        "flowId",
        "flowName",
        "flowOutcome",
        "flowSteps",
        "events",
        "deletedAt",
        "schemaVersion",
        "extras",
    ] {
        nulls[key] = Value::Null;
    }
    let from_absent: VoiceCallRecord = serde_json::from_value(absent).unwrap();
    let from_nulls: VoiceCallRecord = serde_json::from_value(nulls).unwrap();
    assert_eq!(from_absent, from_nulls);
    assert_eq!(from_nulls, minimal_call());

    let me: Me = serde_json::from_str(
        r#"{"id":"u1","login":"eason","name":"Eason","email":null,"role":"user"}"#,
    )
    .unwrap();
    assert_eq!(me.email, None);
    let page: Page<VoiceCallRecord> =
        serde_json::from_str(r#"{"items":[],"nextBefore":null}"#).unwrap();
    assert_eq!(page.next_before, None);
}

#[test]
fn what_we_send_never_contains_null() {
    let bodies = [
        serde_json::to_value(SyncRequest::new(vec![full_call(), minimal_call()])),
        serde_json::to_value(SyncRequest::new(vec![
            full_recording(),
            minimal_recording(),
        ])),
        serde_json::to_value(SyncRequest::new(vec![
            full_transcript(),
            minimal_transcript(),
        ])),
        serde_json::to_value(SyncRequest::new(vec![full_account(), minimal_account()])),
        serde_json::to_value(full_heartbeat_request()),
        serde_json::to_value(minimal_heartbeat_request()),
        serde_json::to_value(VoiceCallsQuery::default()),
        serde_json::to_value(VoiceAccountsQuery::default()),
    ];
    for body in bodies {
        let body = body.unwrap();
        assert!(!contains_null(&body), "a sent body contains null: {body}");
    }
}

#[test]
fn an_all_unset_fleet_adds_no_keys_to_the_heartbeat() {
    let wire = serde_json::to_value(minimal_heartbeat_request()).unwrap();
    let keys: Vec<&str> = wire
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, ["appVersion", "installId", "os"]);
}

#[test]
fn updater_error_longer_than_256_characters_is_refused() {
    let long = "e".repeat(257);
    assert!(InstallHeartbeatRequestUpdaterError::try_from(long.as_str()).is_err());
    let ok = "é".repeat(256);
    assert!(InstallHeartbeatRequestUpdaterError::try_from(ok.as_str()).is_ok());
}

#[test]
fn user_ids_are_strings_even_when_they_look_numeric() {
    let me: Me = serde_json::from_str(r#"{"id":"42","login":"e","role":"user"}"#).unwrap();
    assert_eq!(me.id, "42");
}
