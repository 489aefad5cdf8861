//! Realistic wire values shared by the snapshot, interop and client tests.
#![allow(dead_code)]

pub mod raw_http;

use serde_json::json;
use wavekat_platform_client::*;

pub fn full_call() -> VoiceCallRecord {
    VoiceCallRecord {
        source_id: "11111111-1111-4111-8111-111111111111".into(),
        account_id: "22222222-2222-4222-8222-222222222222".into(),
        direction: VoiceCallDirection::Inbound,
        party: "\"Dr. Ana Müller\" <sip:+14155550123@sip.example.com>".into(),
        ring_at: "2026-05-16T10:00:00Z".into(),
        answer_at: Some("2026-05-16T10:00:05Z".into()),
        end_at: "2026-05-16T10:01:00Z".into(),
        duration_ms: Some(55_000),
        disposition: VoiceCallDisposition::Answered,
        end_reason: VoiceCallEndReason::TransferredLocal,
        error: None,
        share_visibility: Some(ShareVisibility::Restricted),
        transfer_target: Some("sip:reception@sip.example.com".into()),
        codec: Some(VoiceCallCodec::Opus),
        flow_id: Some("flow_7f3a".into()),
        flow_name: Some("After-hours receptionist".into()),
        flow_outcome: Some(VoiceCallFlowOutcome::Transferred),
        flow_steps: Some(vec![
            VoiceCallFlowStep {
                at_ms: 0,
                kind: "spoke".into(),
                node: Some("greeting".into()),
                digit: None,
                secs: None,
                target: None,
                open: None,
                answered: None,
                count: None,
                start: None,
            },
            VoiceCallFlowStep {
                at_ms: 1200,
                kind: "hours".into(),
                node: Some("hours".into()),
                digit: None,
                secs: None,
                target: None,
                open: Some(false),
                answered: None,
                count: None,
                start: None,
            },
            VoiceCallFlowStep {
                at_ms: 8400,
                kind: "menu_choice".into(),
                node: Some("main_menu".into()),
                digit: Some("2".into()),
                secs: None,
                target: None,
                open: None,
                answered: None,
                count: None,
                start: None,
            },
            VoiceCallFlowStep {
                at_ms: 9100,
                kind: "book_offered".into(),
                node: Some("booking".into()),
                digit: None,
                secs: None,
                target: None,
                open: None,
                answered: None,
                count: Some(3),
                start: None,
            },
            VoiceCallFlowStep {
                at_ms: 15000,
                kind: "booked".into(),
                node: Some("booking".into()),
                digit: None,
                secs: None,
                target: None,
                open: None,
                answered: None,
                count: None,
                start: Some("2026-05-18T09:30:00+12:00".into()),
            },
            VoiceCallFlowStep {
                at_ms: 21000,
                kind: "ring".into(),
                node: Some("ring_owner".into()),
                digit: None,
                secs: Some(12),
                target: None,
                open: None,
                answered: Some(false),
                count: None,
                start: None,
            },
            VoiceCallFlowStep {
                at_ms: 33000,
                kind: "transferred".into(),
                node: Some("transfer".into()),
                digit: None,
                secs: None,
                target: Some("sip:reception@sip.example.com".into()),
                open: None,
                answered: None,
                count: None,
                start: None,
            },
        ]),
        events: Some(vec![
            VoiceCallEvent {
                at_ms: 0,
                kind: "incoming_call".into(),
                state: None,
                status: None,
                digit: None,
            },
            VoiceCallEvent {
                at_ms: 10,
                kind: "call_state_changed".into(),
                state: Some("ringing".into()),
                status: None,
                digit: None,
            },
            VoiceCallEvent {
                at_ms: 5000,
                kind: "call_flow_answered".into(),
                state: None,
                status: None,
                digit: None,
            },
            VoiceCallEvent {
                at_ms: 13400,
                kind: "dtmf_sent".into(),
                state: None,
                status: None,
                digit: Some("2".into()),
            },
        ]),
        deleted_at: None,
        schema_version: Some(1),
        extras: Some(json!({ "sipCallId": "a84b4c76e66710@pc33.example.com", "mos": 4.2 })),
    }
}

pub fn minimal_call() -> VoiceCallRecord {
    VoiceCallRecord {
        source_id: "33333333-3333-4333-8333-333333333333".into(),
        account_id: "22222222-2222-4222-8222-222222222222".into(),
        direction: VoiceCallDirection::Outbound,
        party: "+1".into(),
        ring_at: "2026-05-16T10:00:00Z".into(),
        answer_at: None,
        end_at: "2026-05-16T10:00:20Z".into(),
        duration_ms: None,
        disposition: VoiceCallDisposition::Cancelled,
        end_reason: VoiceCallEndReason::CancelledLocal,
        error: None,
        share_visibility: None,
        transfer_target: None,
        codec: None,
        flow_id: None,
        flow_name: None,
        flow_outcome: None,
        flow_steps: None,
        events: None,
        deleted_at: None,
        schema_version: None,
        extras: None,
    }
}

pub fn full_recording() -> VoiceRecordingRecord {
    VoiceRecordingRecord {
        source_id: "44444444-4444-4444-8444-444444444444".into(),
        call_source_id: "11111111-1111-4111-8111-111111111111".into(),
        size_bytes: 1_760_044,
        duration_ms: 55_000,
        sample_rate: 16_000,
        channels: 2,
        created_at: "2026-05-16T10:01:01.250Z".into(),
        schema_version: Some(1),
        extras: Some(json!({ "encoder": "wavekat-rec/3" })),
    }
}

pub fn minimal_recording() -> VoiceRecordingRecord {
    VoiceRecordingRecord {
        source_id: "55555555-5555-4555-8555-555555555555".into(),
        call_source_id: "33333333-3333-4333-8333-333333333333".into(),
        size_bytes: 44,
        duration_ms: 0,
        sample_rate: 8_000,
        channels: 1,
        created_at: "2026-05-16T10:00:21Z".into(),
        schema_version: None,
        extras: None,
    }
}

pub fn full_transcript() -> VoiceTranscriptRecord {
    VoiceTranscriptRecord {
        source_id: "1842".into(),
        call_source_id: "11111111-1111-4111-8111-111111111111".into(),
        channel: VoiceTranscriptChannel::Remote,
        ts_ms: 5_120,
        end_ms: 8_030,
        text: "Hi, I'd like to book a cleaning for next Tuesday — morning if possible.".into(),
        schema_version: Some(1),
        extras: Some(json!({ "confidence": 0.93, "model": "whisper-small.en" })),
    }
}

pub fn minimal_transcript() -> VoiceTranscriptRecord {
    VoiceTranscriptRecord {
        source_id: "1".into(),
        call_source_id: "33333333-3333-4333-8333-333333333333".into(),
        channel: VoiceTranscriptChannel::Local,
        ts_ms: 0,
        end_ms: 900,
        text: "Hello?".into(),
        schema_version: None,
        extras: None,
    }
}

pub fn full_account() -> VoiceAccountRecord {
    VoiceAccountRecord {
        source_id: "a1b2c3d4-0000-4000-8000-00000000a001".into(),
        enabled: true,
        display_name: "Front desk".into(),
        username: "1001".into(),
        domain: "sip.example.com".into(),
        auth_username: Some("1001-auth".into()),
        server: Some("edge.sip.example.com".into()),
        port: Some(5061),
        transport: VoiceTransport::Tls,
        register_expires: 300,
        keepalive_secs: Some(25),
        disclosure_enabled: true,
        updated_at: "2026-05-16T10:00:00Z".into(),
        deleted_at: None,
        schema_version: Some(2),
        extras: Some(json!({ "srtp": "optional" })),
    }
}

pub fn minimal_account() -> VoiceAccountRecord {
    VoiceAccountRecord {
        source_id: "a1".into(),
        enabled: false,
        display_name: "Desk".into(),
        username: "1001".into(),
        domain: "sip.example.com".into(),
        auth_username: None,
        server: None,
        port: None,
        transport: VoiceTransport::Udp,
        register_expires: 60,
        keepalive_secs: None,
        disclosure_enabled: false,
        updated_at: "2026-05-16T10:00:00Z".into(),
        deleted_at: None,
        schema_version: None,
        extras: None,
    }
}

pub fn full_me() -> Me {
    Me {
        id: "0b9c6a51-6f7e-4f43-9d2e-3f6f5b0f2a11".into(),
        login: "eason".into(),
        name: Some("Eason".into()),
        email: Some("eason@example.com".into()),
        role: "user".into(),
    }
}

pub fn full_heartbeat_request() -> InstallHeartbeatRequest {
    InstallHeartbeatRequest {
        install_id: "6f1c2b9e-8a41-4d6e-9b0f-1d2c3e4f5a6b".into(),
        app_version: "1.4.2".into(),
        os: "macos".into(),
        os_version: Some("15.5.0".into()),
        arch: Some("aarch64".into()),
        locale: Some("en-NZ".into()),
        distribution: Some("direct".into()),
        build_sha: Some("3f9d2c1a7b".into()),
        install_source: Some("dmg".into()),
        update_channel: Some("stable".into()),
        updater_enabled: Some(true),
        updater_status: Some("error".into()),
        updater_version: Some("1.4.3".into()),
        updater_checked_at: Some("2026-09-07T10:00:00.000Z".into()),
        updater_error: Some("signature check failed for 1.4.3".try_into().unwrap()),
        native_arch: Some("arm64".into()),
        started_at: Some("2026-09-07T09:58:12.345Z".into()),
        flow_armed: Some(true),
        timezone: Some("Pacific/Auckland".into()),
        app_language: Some("zh-Hans".into()),
        sip_accounts_total: Some(3),
        sip_accounts_registered: Some(2),
        sip_accounts_failed: Some(1),
        recording_enabled: Some(true),
        automation_enabled: Some(false),
        transcription_ready: Some(true),
        signed_in: Some(true),
        cpu_cores: Some(10),
        memory_gb: Some(16),
    }
}

pub fn minimal_heartbeat_request() -> InstallHeartbeatRequest {
    serde_json::from_value(json!({"installId": "x", "appVersion": "0.0.1", "os": "linux"})).unwrap()
}

pub fn full_heartbeat_response() -> InstallHeartbeatResponse {
    InstallHeartbeatResponse {
        id: "inst_01J9ZK3Q".into(),
        install_id: "6f1c2b9e-8a41-4d6e-9b0f-1d2c3e4f5a6b".into(),
        app_version: "1.4.2".into(),
        os: "macos".into(),
        os_version: Some("15.5.0".into()),
        arch: Some("aarch64".into()),
        locale: Some("en-NZ".into()),
        distribution: Some("msstore".into()),
        first_seen_at: "2026-06-01T08:00:00.000Z".into(),
        last_seen_at: "2026-09-07T10:00:00.000Z".into(),
    }
}

pub fn minimal_heartbeat_response() -> InstallHeartbeatResponse {
    InstallHeartbeatResponse {
        id: "1".into(),
        install_id: "x".into(),
        app_version: "0.0.1".into(),
        os: "linux".into(),
        os_version: None,
        arch: None,
        locale: None,
        distribution: None,
        first_seen_at: "2026-09-07T10:00:00.000Z".into(),
        last_seen_at: "2026-09-07T10:00:00.000Z".into(),
    }
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
        VoiceCallEvent {
            at_ms: 0,
            kind: "outgoing_call".into(),
            state: None,
            status: None,
            digit: None,
        },
        VoiceCallEvent {
            at_ms: 900,
            kind: "call_rejected".into(),
            state: None,
            status: Some(486),
            digit: None,
        },
        VoiceCallEvent {
            at_ms: 950,
            kind: "call_parked".into(),
            state: None,
            status: None,
            digit: None,
        },
    ]);
    call.schema_version = Some(1);
    call
}
