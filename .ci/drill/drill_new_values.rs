//! Contract drill (added to a copy of the repo by `.ci/drill.sh`, never to the repo itself): the
//! enum value and the optional property that the drill added to the spec are known to the Rust
//! types after a rebuild, with no Rust edit.

use serde_json::json;
use wavekat_platform_client::wire::{VoiceCallDirection, VoiceCallRecord};

#[test]
fn the_direction_added_to_the_spec_is_a_known_value() {
    let direction: VoiceCallDirection = serde_json::from_str("\"internal\"").unwrap();
    assert!(
        direction.is_known(),
        "\"internal\" was added to VoiceCallDirection in the spec but reads as {direction:?}"
    );
    assert_eq!(serde_json::to_string(&direction).unwrap(), "\"internal\"");
}

#[test]
fn the_property_added_to_the_spec_is_a_field_of_the_record() {
    let record: VoiceCallRecord = serde_json::from_value(json!({
        "sourceId": "x",
        "accountId": "22222222-2222-4222-8222-222222222222",
        "direction": "internal",
        "party": "+1",
        "ringAt": "2026-05-16T10:00:00Z",
        "endAt": "2026-05-16T10:00:20Z",
        "disposition": "cancelled",
        "endReason": "cancelled_local",
        "drillNote": "added by the drill"
    }))
    .unwrap();
    assert_eq!(record.drill_note.as_deref(), Some("added by the drill"));
    let sent = serde_json::to_value(&record).unwrap();
    assert_eq!(sent["drillNote"], "added by the drill");
}
