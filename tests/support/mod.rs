//! Realistic wire values shared by the snapshot, interop and client tests.
#![allow(dead_code)]

pub mod raw_http;

use serde_json::json;
use wavekat_platform_client::wire::*;

pub fn full_call() -> VoiceCallRecord {
    VoiceCallRecord::new(
        "11111111-1111-4111-8111-111111111111".into(),
        "22222222-2222-4222-8222-222222222222".into(),
        VoiceCallDirection::Inbound,
        "\"Dr. Ana Müller\" <sip:+14155550123@sip.example.com>".into(),
        "2026-05-16T10:00:00Z".into(),
        "2026-05-16T10:01:00Z".into(),
        VoiceCallDisposition::Answered,
        VoiceCallEndReason::TransferredLocal,
    )
    .with_answer_at("2026-05-16T10:00:05Z".into())
    .with_codec(VoiceCallCodec::Opus)
    .with_duration_ms(55_000)
    .with_events(vec![
        VoiceCallEvent::new(0, "incoming_call".into()),
        VoiceCallEvent::new(10, "call_state_changed".into()).with_state("ringing".into()),
        VoiceCallEvent::new(5000, "call_flow_answered".into()),
        VoiceCallEvent::new(13400, "dtmf_sent".into()).with_digit("2".into()),
    ])
    .with_extras(json!({ "sipCallId": "a84b4c76e66710@pc33.example.com", "mos": 4.2 }))
    .with_flow_id("flow_7f3a".into())
    .with_flow_name("After-hours receptionist".into())
    .with_flow_outcome(VoiceCallFlowOutcome::Transferred)
    .with_flow_steps(vec![
        VoiceCallFlowStep::new(0, "spoke".into()).with_node("greeting".into()),
        VoiceCallFlowStep::new(1200, "hours".into())
            .with_node("hours".into())
            .with_open(false),
        VoiceCallFlowStep::new(8400, "menu_choice".into())
            .with_digit("2".into())
            .with_node("main_menu".into()),
        VoiceCallFlowStep::new(9100, "book_offered".into())
            .with_count(3)
            .with_node("booking".into()),
        VoiceCallFlowStep::new(15000, "booked".into())
            .with_node("booking".into())
            .with_start("2026-05-18T09:30:00+12:00".into()),
        VoiceCallFlowStep::new(21000, "ring".into())
            .with_answered(false)
            .with_node("ring_owner".into())
            .with_secs(12),
        VoiceCallFlowStep::new(33000, "transferred".into())
            .with_node("transfer".into())
            .with_target("sip:reception@sip.example.com".into()),
    ])
    .with_schema_version(1)
    .with_share_visibility(ShareVisibility::Restricted)
    .with_transfer_target("sip:reception@sip.example.com".into())
}

pub fn minimal_call() -> VoiceCallRecord {
    VoiceCallRecord::new(
        "33333333-3333-4333-8333-333333333333".into(),
        "22222222-2222-4222-8222-222222222222".into(),
        VoiceCallDirection::Outbound,
        "+1".into(),
        "2026-05-16T10:00:00Z".into(),
        "2026-05-16T10:00:20Z".into(),
        VoiceCallDisposition::Cancelled,
        VoiceCallEndReason::CancelledLocal,
    )
}

pub fn full_recording() -> VoiceRecordingRecord {
    VoiceRecordingRecord::new(
        "44444444-4444-4444-8444-444444444444".into(),
        "11111111-1111-4111-8111-111111111111".into(),
        1_760_044,
        55_000,
        16_000,
        2,
        "2026-05-16T10:01:01.250Z".into(),
    )
    .with_extras(json!({ "encoder": "wavekat-rec/3" }))
    .with_schema_version(1)
}

pub fn minimal_recording() -> VoiceRecordingRecord {
    VoiceRecordingRecord::new(
        "55555555-5555-4555-8555-555555555555".into(),
        "33333333-3333-4333-8333-333333333333".into(),
        44,
        0,
        8_000,
        1,
        "2026-05-16T10:00:21Z".into(),
    )
}

pub fn full_transcript() -> VoiceTranscriptRecord {
    VoiceTranscriptRecord::new(
        "1842".into(),
        "11111111-1111-4111-8111-111111111111".into(),
        VoiceTranscriptChannel::Remote,
        5_120,
        8_030,
        "Hi, I'd like to book a cleaning for next Tuesday — morning if possible.".into(),
    )
    .with_extras(json!({ "confidence": 0.93, "model": "whisper-small.en" }))
    .with_schema_version(1)
}

pub fn minimal_transcript() -> VoiceTranscriptRecord {
    VoiceTranscriptRecord::new(
        "1".into(),
        "33333333-3333-4333-8333-333333333333".into(),
        VoiceTranscriptChannel::Local,
        0,
        900,
        "Hello?".into(),
    )
}

pub fn full_account() -> VoiceAccountRecord {
    VoiceAccountRecord::new(
        "a1b2c3d4-0000-4000-8000-00000000a001".into(),
        true,
        "Front desk".into(),
        "1001".into(),
        "sip.example.com".into(),
        VoiceTransport::Tls,
        300,
        true,
        "2026-05-16T10:00:00Z".into(),
    )
    .with_auth_username("1001-auth".into())
    .with_extras(json!({ "srtp": "optional" }))
    .with_keepalive_secs(25)
    .with_port(5061)
    .with_schema_version(2)
    .with_server("edge.sip.example.com".into())
}

pub fn minimal_account() -> VoiceAccountRecord {
    VoiceAccountRecord::new(
        "a1".into(),
        false,
        "Desk".into(),
        "1001".into(),
        "sip.example.com".into(),
        VoiceTransport::Udp,
        60,
        false,
        "2026-05-16T10:00:00Z".into(),
    )
}

pub fn full_me() -> Me {
    Me::new(
        "0b9c6a51-6f7e-4f43-9d2e-3f6f5b0f2a11".into(),
        "eason".into(),
        "user".into(),
    )
    .with_email("eason@example.com".into())
    .with_name("Eason".into())
}

pub fn full_heartbeat_request() -> InstallHeartbeatRequest {
    InstallHeartbeatRequest::new(
        "6f1c2b9e-8a41-4d6e-9b0f-1d2c3e4f5a6b".into(),
        "1.4.2".into(),
        "macos".into(),
    )
    .with_app_language("zh-Hans".into())
    .with_arch("aarch64".into())
    .with_automation_enabled(false)
    .with_build_sha("3f9d2c1a7b".into())
    .with_cpu_cores(10)
    .with_distribution("direct".into())
    .with_flow_armed(true)
    .with_install_source("dmg".into())
    .with_locale("en-NZ".into())
    .with_memory_gb(16)
    .with_native_arch("arm64".into())
    .with_os_version("15.5.0".into())
    .with_recording_enabled(true)
    .with_signed_in(true)
    .with_sip_accounts_failed(1)
    .with_sip_accounts_registered(2)
    .with_sip_accounts_total(3)
    .with_started_at("2026-09-07T09:58:12.345Z".into())
    .with_timezone("Pacific/Auckland".into())
    .with_transcription_ready(true)
    .with_update_channel("stable".into())
    .with_updater_checked_at("2026-09-07T10:00:00.000Z".into())
    .with_updater_enabled(true)
    .with_updater_error("signature check failed for 1.4.3".try_into().unwrap())
    .with_updater_status("error".into())
    .with_updater_version("1.4.3".into())
}

pub fn minimal_heartbeat_request() -> InstallHeartbeatRequest {
    serde_json::from_value(json!({"installId": "x", "appVersion": "0.0.1", "os": "linux"})).unwrap()
}

pub fn full_heartbeat_response() -> InstallHeartbeatResponse {
    InstallHeartbeatResponse::new(
        "inst_01J9ZK3Q".into(),
        "6f1c2b9e-8a41-4d6e-9b0f-1d2c3e4f5a6b".into(),
        "1.4.2".into(),
        "macos".into(),
        "2026-06-01T08:00:00.000Z".into(),
        "2026-09-07T10:00:00.000Z".into(),
    )
    .with_arch("aarch64".into())
    .with_distribution("msstore".into())
    .with_locale("en-NZ".into())
    .with_os_version("15.5.0".into())
}

pub fn minimal_heartbeat_response() -> InstallHeartbeatResponse {
    InstallHeartbeatResponse::new(
        "1".into(),
        "x".into(),
        "0.0.1".into(),
        "linux".into(),
        "2026-09-07T10:00:00.000Z".into(),
        "2026-09-07T10:00:00.000Z".into(),
    )
}

/// A declined-then-failed outbound call: carries `error` and a `call_rejected` event's `status`,
/// the two fields the other fixtures leave unset.
pub fn failed_call() -> VoiceCallRecord {
    let mut call = minimal_call();
    call.source_id = "66666666-6666-4666-8666-666666666666".into();
    call.disposition = VoiceCallDisposition::Failed;
    call.end_reason = VoiceCallEndReason::Failed;
    call.error = Some("488 Not Acceptable Here: no common codec".into());
    call.events = Some(vec![
        VoiceCallEvent::new(0, "outgoing_call".into()),
        VoiceCallEvent::new(900, "call_rejected".into()).with_status(486),
        VoiceCallEvent::new(950, "call_parked".into()),
    ]);
    call.schema_version = Some(1);
    call
}
