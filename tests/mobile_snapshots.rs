//! The exact wire text of every mobile frame variant (and a bare envelope), pinned by insta
//! snapshots in `snapshots/mobile/`. A wire change shows up as a snapshot diff; under
//! `INSTA_UPDATE=no` a missing or changed snapshot fails.

use ed25519_dalek::SigningKey;
use serde_json::json;
use wavekat_platform_client::mobile::*;

fn pin(name: &str, wire: String) {
    insta::with_settings!({
        snapshot_path => "../snapshots/mobile",
        prepend_module_to_snapshot => false,
        omit_expression => true,
    }, {
        insta::assert_snapshot!(name, wire);
    });
}

fn device_key() -> SigningKey {
    SigningKey::from_bytes(&[1; 32])
}

fn device_pubkey() -> String {
    encode_pubkey_multibase(&device_key().verifying_key())
}

fn envelope(payload: &[u8]) -> SignedEnvelope {
    SignedEnvelope::sign(payload.to_vec(), &device_key(), 1)
}

fn client(name: &str, frame: ClientFrame) {
    pin(&format!("client.{name}"), frame.encode().expect("encodes"));
}

fn server(name: &str, frame: ServerFrame) {
    pin(&format!("server.{name}"), frame.encode().expect("encodes"));
}

#[test]
fn client_hello() {
    client(
        "hello",
        ClientFrame::Hello {
            pubkey: device_pubkey(),
            token: PairingToken::new("4e0b7c1a-5f27-4d8e-9a3b-2c6d1e0f9a8b"),
            agent: "mur".into(),
        },
    );
}

#[test]
fn client_hello_init() {
    client(
        "hello_init",
        ClientFrame::HelloInit {
            proto: 2,
            agent: "mur".into(),
            pubkey: device_pubkey(),
            wid: "w1".into(),
        },
    );
}

#[test]
fn client_hello_proof() {
    client(
        "hello_proof",
        ClientFrame::HelloProof {
            wid: "w1".into(),
            proof: (0..32).collect(),
        },
    );
}

#[test]
fn client_resume() {
    client(
        "resume",
        ClientFrame::Resume {
            pubkey: device_pubkey(),
            agent: "mur".into(),
        },
    );
}

#[test]
fn client_resume_proof() {
    client(
        "resume_proof",
        ClientFrame::ResumeProof {
            envelope: envelope(b"0f8fad5b-d9cb-469f-a165-70867728950e"),
        },
    );
}

#[test]
fn client_envelope() {
    client(
        "envelope",
        ClientFrame::Envelope {
            envelope: envelope(br#"{"id":1,"jsonrpc":"2.0","method":"message/send"}"#),
        },
    );
}

#[test]
fn client_audio_stream_start() {
    client(
        "audio_stream_start",
        ClientFrame::AudioStreamStart {
            sample_rate: 16_000,
        },
    );
}

#[test]
fn client_audio_chunk() {
    let pcm: Vec<u8> = [0.0f32, 0.5, -0.5, 1.0]
        .iter()
        .flat_map(|s| s.to_le_bytes())
        .collect();
    client(
        "audio_chunk",
        ClientFrame::audio_chunk_from_pcm(&pcm).expect("small chunk"),
    );
}

#[test]
fn client_audio_stream_end() {
    client("audio_stream_end", ClientFrame::AudioStreamEnd);
}

#[test]
fn client_channel_query_events() {
    client(
        "channel_query.events",
        ClientFrame::ChannelQuery {
            op: "events".into(),
            channel_id: Some("c1".into()),
            since_seq: Some(42),
        },
    );
}

#[test]
fn client_channel_query_list() {
    client(
        "channel_query.list",
        ClientFrame::ChannelQuery {
            op: "list".into(),
            channel_id: None,
            since_seq: None,
        },
    );
}

#[test]
fn server_paired_enrollment() {
    server(
        "paired.enrollment",
        ServerFrame::Paired {
            agent: "mur".into(),
            confirm: (100..132).collect(),
        },
    );
}

#[test]
fn server_paired_resume() {
    server(
        "paired.resume",
        ServerFrame::Paired {
            agent: "mur".into(),
            confirm: vec![],
        },
    );
}

#[test]
fn server_pair_challenge() {
    server(
        "pair_challenge",
        ServerFrame::PairChallenge {
            wid: "w1".into(),
            nonce: vec![7; 32],
            did: encode_pubkey_multibase(&SigningKey::from_bytes(&[2; 32]).verifying_key()),
        },
    );
}

#[test]
fn server_rejected() {
    server(
        "rejected",
        ServerFrame::Rejected {
            reason: "the pairing window has expired".into(),
        },
    );
}

#[test]
fn server_challenge() {
    server(
        "challenge",
        ServerFrame::Challenge {
            nonce: "0f8fad5b-d9cb-469f-a165-70867728950e".into(),
        },
    );
}

#[test]
fn server_event() {
    server(
        "event",
        ServerFrame::Event {
            name: "mobile.reply".into(),
            payload: json!({"text": "Done.", "turn": 3}),
        },
    );
}

#[test]
fn server_transcript() {
    server(
        "transcript",
        ServerFrame::Transcript {
            text: "turn on the lights".into(),
            is_final: true,
        },
    );
}

#[test]
fn server_audio_chunk() {
    let pcm: Vec<u8> = [0.25f32, -0.25]
        .iter()
        .flat_map(|s| s.to_le_bytes())
        .collect();
    server(
        "audio_chunk",
        ServerFrame::audio_chunk_from_pcm(&pcm, 24_000, true).expect("small chunk"),
    );
}

#[test]
fn server_channel_data() {
    server(
        "channel_data",
        ServerFrame::ChannelData {
            op: "list".into(),
            payload: json!([{"channel_id": "c1", "last_seq": 42}]),
        },
    );
}

#[test]
fn signed_envelope() {
    pin(
        "envelope",
        serde_json::to_string(&envelope(b"hi")).expect("encodes"),
    );
}
