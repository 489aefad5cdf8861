//! Prints, as JSON, fresh release certificates, request signatures (including one captured off
//! the wire from a real `Client::install_heartbeat`), pairing transcripts/proofs/confirms and
//! signed envelopes made by this crate. `.ci/parity.sh` feeds them to the independent Node
//! verifier in `schema/parity/verify.mjs`, which checks them the way the platform would.
//!
//! Run: `cargo run --example parity_vectors`

use base64::Engine as _;
use ed25519_dalek::SigningKey;
use rand_core::{OsRng, RngCore};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use wavekat_platform_client::mobile::{
    encode_pubkey_multibase, pair_confirm, pair_proof, pair_transcript, PairRole, PairingToken,
    SignedEnvelope, TranscriptFields,
};
use wavekat_platform_client::{
    signing::{generate_master, issue_release_credential},
    Client,
};

const HEARTBEAT_PATH: &str = "/api/voice/installs/heartbeat";

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn random_bytes<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    OsRng.fill_bytes(&mut out);
    out
}

/// Sends a real heartbeat to a one-shot local server and returns what went over the wire.
async fn captured_heartbeat(
    credential: &wavekat_platform_client::signing::ReleaseCredential,
) -> Value {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/prefix", listener.local_addr().expect("addr"));
    let server = tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.expect("accept");
        let mut data = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            let n = socket.read(&mut buf).await.expect("read");
            data.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&data).into_owned();
            if let Some(end) = text.find("\r\n\r\n") {
                let len: usize = text
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length:")
                            .map(|v| v.trim().parse().expect("len"))
                    })
                    .unwrap_or(0);
                if data.len() >= end + 4 + len {
                    let head = text[..end].to_owned();
                    let body = data[end + 4..end + 4 + len].to_vec();
                    let reply = r#"{"id":"1","installId":"parity","appVersion":"1.0.0","os":"linux","firstSeenAt":"2026-11-21T00:00:00.000Z","lastSeenAt":"2026-11-21T00:00:00.000Z"}"#;
                    let response = format!("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{reply}", reply.len());
                    socket.write_all(response.as_bytes()).await.expect("write");
                    return (head, body);
                }
            }
        }
    });
    Client::send_install_heartbeat(&url, "parity", "1.0.0", Some("direct"), credential)
        .await
        .expect("heartbeat");
    let (head, body) = server.await.expect("server");
    let mut lines = head.lines();
    let request_line = lines.next().unwrap_or_default().to_owned();
    let headers: serde_json::Map<String, Value> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), json!(v.trim())))
        .collect();
    json!({ "requestLine": request_line, "headers": headers, "body": b64(&body), "apiPath": HEARTBEAT_PATH })
}

#[tokio::main]
async fn main() {
    let (master_private, master_public) = generate_master().expect("master");
    let mut certificates = Vec::new();
    let mut requests = Vec::new();
    let bodies: [&[u8]; 3] = [
        br#"{"installId":"x"}"#,
        b"",
        "{\"appVersion\":\"1.0.0\",\"os\":\"linux\",\"locale\":\"zh-Hans\",\"note\":\"首\"}"
            .as_bytes(),
    ];
    let mut credentials = Vec::new();
    for version in ["0.0.22", "1.4.2", "2.0.0-beta.1+build.7"] {
        let credential = issue_release_credential(master_private.expose(), version).expect("issue");
        let headers = credential.signature_headers(
            &credential
                .sign_request("POST", HEARTBEAT_PATH, b"")
                .expect("sign"),
        );
        let header = |name: &str| {
            headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        certificates.push(json!({ "version": version, "publicKey": header("X-WK-Pub"), "certificate": header("X-WK-Cert") }));
        for body in bodies {
            let sig = credential
                .sign_request("POST", HEARTBEAT_PATH, body)
                .expect("sign");
            requests.push(json!({
                "publicKey": header("X-WK-Pub"),
                "timestamp": sig.timestamp,
                "nonce": sig.nonce,
                "method": "POST",
                "path": HEARTBEAT_PATH,
                "body": b64(body),
                "signature": sig.signature,
            }));
        }
        credentials.push(credential);
    }
    let captured = captured_heartbeat(&credentials[1]).await;

    let mut pairings = Vec::new();
    for agent in ["mur", "wavekat-voice"] {
        let token = format!("{:x}-{}", u64::from_le_bytes(random_bytes()), agent);
        let phone = SigningKey::from_bytes(&random_bytes());
        let daemon = SigningKey::from_bytes(&random_bytes());
        let nonce: [u8; 32] = random_bytes();
        let did = encode_pubkey_multibase(&daemon.verifying_key());
        let pubkey = encode_pubkey_multibase(&phone.verifying_key());
        let wid = format!("w-{:x}", u32::from_le_bytes(random_bytes()));
        let fields = TranscriptFields {
            proto: 2,
            agent,
            wid: &wid,
            did: &did,
            phone_pubkey: &pubkey,
            nonce: &nonce,
        };
        let secret = PairingToken::new(token.clone());
        pairings.push(json!({
            "token": token, "proto": 2, "agent": agent, "wid": wid, "did": did, "pubkey": pubkey,
            "nonce": hex::encode(nonce),
            "transcript": hex::encode(pair_transcript(PairRole::PhoneToDaemon, &fields).expect("transcript")),
            "proof": hex::encode(pair_proof(&secret, &fields).expect("proof")),
            "confirm": hex::encode(pair_confirm(&secret, &fields).expect("confirm")),
        }));
    }

    let mut envelopes = Vec::new();
    let device = SigningKey::from_bytes(&random_bytes());
    for (payload, key_version) in [
        (
            br#"{"id":1,"jsonrpc":"2.0","method":"message/send"}"#.to_vec(),
            1u32,
        ),
        (b"6f1c2b9e-8a41-4d6e-9b0f-1d2c3e4f5a6b".to_vec(), 0u32),
        (
            br#"{"id":7,"jsonrpc":"2.0","method":"channel/hitl_respond","params":{"ok":true}}"#
                .to_vec(),
            4_000_000_000u32,
        ),
    ] {
        let envelope = SignedEnvelope::sign(payload.clone(), &device, key_version);
        envelopes.push(json!({
            "publicKey": encode_pubkey_multibase(&device.verifying_key()),
            "keyVersion": key_version,
            "payload": b64(&payload),
            "sig": hex::encode(&envelope.sig),
        }));
    }

    let out = json!({
        "release": { "masterPublicKey": master_public, "certificates": certificates, "requests": requests, "captured": captured },
        "pairings": pairings,
        "envelopes": envelopes,
    });
    println!("{}", serde_json::to_string_pretty(&out).expect("json"));
}
