//! The per-record checks the spec's facts generate (`WireValidate::invalid_fields`): unknown
//! enum values and `format: date-time` strings that are not RFC 3339, all reported at once.

use wavekat_platform_client::wire::{
    InvalidField, InvalidReason, VoiceAccountRecord, VoiceCallRecord, WireValidate,
};

/// A sendable call record, with `overrides` merged in.
fn call(overrides: serde_json::Value) -> VoiceCallRecord {
    let mut record = serde_json::json!({
        "sourceId": "c1", "accountId": "a1", "direction": "inbound", "party": "+1",
        "ringAt": "2026-05-16T10:00:00Z", "endAt": "2026-05-16T10:01:00.250+12:00",
        "disposition": "answered", "endReason": "hangup_local",
    });
    if let (Some(base), Some(extra)) = (record.as_object_mut(), overrides.as_object()) {
        base.extend(extra.clone());
    }
    serde_json::from_value(record).unwrap()
}

fn refused(record: &VoiceCallRecord) -> Vec<(&'static str, InvalidReason)> {
    record
        .invalid_fields()
        .into_iter()
        .map(|f| (f.field, f.reason))
        .collect()
}

#[test]
fn a_sendable_call_record_has_no_invalid_field() {
    assert_eq!(refused(&call(serde_json::json!({}))), vec![]);
}

#[test]
fn an_invalid_ring_at_and_an_unknown_direction_are_both_reported() {
    let record = call(serde_json::json!({"ringAt": "2026-05-16 10:00", "direction": "sideways"}));
    let fields: Vec<(&str, String, InvalidReason)> = record
        .invalid_fields()
        .into_iter()
        .map(|f: InvalidField| (f.field, f.value, f.reason))
        .collect();
    assert!(fields.contains(&(
        "ringAt",
        "2026-05-16 10:00".to_owned(),
        InvalidReason::NotRfc3339
    )));
    assert!(fields.contains(&(
        "direction",
        "sideways".to_owned(),
        InvalidReason::UnknownEnumValue
    )));
    assert_eq!(fields.len(), 2, "{fields:?}");
    // `unknown_value` still names the enum alone (the emulator uses it).
    assert_eq!(record.unknown_value().map(|u| u.field), Some("direction"));
}

#[test]
fn an_unset_optional_answer_at_is_fine_and_a_set_one_is_checked() {
    assert_eq!(call(serde_json::json!({})).answer_at, None);
    assert_eq!(
        refused(&call(serde_json::json!({"answerAt": null}))),
        vec![]
    );
    assert_eq!(
        refused(&call(serde_json::json!({"answerAt": "soon"}))),
        vec![("answerAt", InvalidReason::NotRfc3339)]
    );
}

#[test]
fn a_deleted_at_of_yesterday_is_reported() {
    assert_eq!(
        refused(&call(serde_json::json!({"deletedAt": "yesterday"}))),
        vec![("deletedAt", InvalidReason::NotRfc3339)]
    );
}

#[test]
fn a_flow_step_start_that_is_not_rfc3339_is_reported_under_its_array() {
    let record = call(serde_json::json!({"flowSteps": [
        {"atMs": 0, "kind": "booked", "start": "2026-05-20T14:30:00Z"},
        {"atMs": 1, "kind": "booked", "start": "tomorrow 3pm"},
    ]}));
    assert_eq!(
        refused(&record),
        vec![("flowSteps[].start", InvalidReason::NotRfc3339)]
    );
}

#[test]
fn account_timestamps_are_checked() {
    let account: VoiceAccountRecord = serde_json::from_value(serde_json::json!({
        "sourceId": "a1", "enabled": true, "displayName": "d", "username": "u",
        "domain": "example.com", "transport": "tls", "registerExpires": 300,
        "disclosureEnabled": false, "updatedAt": "2026-13-01T00:00:00Z",
        "deletedAt": "2026-05-16T10:00:00Z",
    }))
    .unwrap();
    let fields = account.invalid_fields();
    assert_eq!(fields.len(), 1, "{fields:?}");
    assert_eq!(fields[0].field, "updatedAt");
}
