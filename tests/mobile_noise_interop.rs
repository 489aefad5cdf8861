//! A second Noise implementation speaks secure mode: `.ci/noise_phone/phone.py` (PyPI
//! `noiseprotocol`, written from the module docs) pairs with a desktop on 127.0.0.1, exchanges
//! sealed frames both ways (one of each larger than a Noise message) and resumes.
//!
//! Skipped with a message when Python or its packages are missing; `WK_REQUIRE_NOISE_INTEROP=1`
//! (as `.ci/run` sets) makes that a failure. The interpreter is `$WK_NOISE_PYTHON`, else
//! `$VENV/bin/python`, else `python3`.

mod mobile_support;

use std::process::Stdio;
use std::time::Duration;

use tokio::io::AsyncReadExt as _;
use wavekat_platform_client::mobile::transport::{DesktopEvent, DesktopSecurity};
use wavekat_platform_client::mobile::{PairingWindowConfig, ServerFrame};

use mobile_support::*;

fn python() -> String {
    if let Ok(python) = std::env::var("WK_NOISE_PYTHON") {
        return python;
    }
    match std::env::var("VENV") {
        Ok(venv) if std::path::Path::new(&venv).join("bin/python").exists() => {
            format!("{venv}/bin/python")
        }
        _ => "python3".into(),
    }
}

fn python_ready(python: &str) -> bool {
    std::process::Command::new(python)
        .args(["-c", "import noise, websockets, cryptography"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[tokio::test]
async fn an_independent_noise_phone_pairs_exchanges_sealed_frames_and_resumes() {
    let python = python();
    if !python_ready(&python) {
        let why = format!(
            "{python} lacks noiseprotocol/websockets (pip install -r .ci/noise_phone/requirements.txt)"
        );
        if std::env::var("WK_REQUIRE_NOISE_INTEROP").as_deref() == Ok("1") {
            panic!("WK_REQUIRE_NOISE_INTEROP=1 but {why}");
        }
        eprintln!("skipped: {why}");
        return;
    }
    let (desktop, mut events) = desktop(DesktopSecurity::RequireSecure).await;
    let qr = desktop.open_pairing_window(PairingWindowConfig::default());
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/.ci/noise_phone/phone.py");
    let mut child = tokio::process::Command::new(&python)
        .arg(script)
        .arg(qr.to_uri())
        .arg(desktop.url())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("python starts");
    let mut big = Some("x".repeat(100_000));
    let (mut envelopes, mut samples, mut ends, mut resumed) = (0, 0, 0, 0);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while resumed == 0 || ends < 2 {
        let event = tokio::time::timeout_at(deadline, events.recv())
            .await
            .expect("the python phone finishes in time")
            .expect("events");
        match event {
            DesktopEvent::Paired { connection, record } => {
                assert!(connection.is_secure() && record.noise_key.is_some());
                let payload = serde_json::Value::String(big.take().expect("pairs once"));
                tokio::spawn(async move {
                    let frame = ServerFrame::Event {
                        name: "test.big".into(),
                        payload,
                    };
                    connection.send(frame).await.expect("sends");
                });
                continue;
            }
            DesktopEvent::Resumed { connection } => {
                assert!(connection.is_secure());
                resumed += 1;
                let frame = ServerFrame::Event {
                    name: "test.resumed".into(),
                    payload: serde_json::json!({"ok": true}),
                };
                tokio::spawn(async move { connection.send(frame).await.expect("sends") });
            }
            DesktopEvent::Envelope { .. } => envelopes += 1,
            DesktopEvent::AudioChunk { samples: s, .. } => samples += s.len(),
            DesktopEvent::AudioEnd { .. } => ends += 1,
            DesktopEvent::Disconnected { reason, device, .. } if device.is_none() => {
                panic!("the python phone's connection failed: {reason:?}")
            }
            _ => {}
        }
    }
    let status = tokio::time::timeout(Duration::from_secs(20), child.wait())
        .await
        .expect("python exits")
        .expect("status");
    let mut out = String::new();
    let mut err = String::new();
    if let Some(mut s) = child.stdout.take() {
        let _ = s.read_to_string(&mut out).await;
    }
    if let Some(mut s) = child.stderr.take() {
        let _ = s.read_to_string(&mut err).await;
    }
    assert!(status.success(), "python phone failed:\n{out}\n{err}");
    assert_eq!(envelopes, 1);
    assert_eq!(samples, 20_000, "the fragmented audio chunk arrived whole");
    assert!(out.contains("paired mur"), "{out}");
    assert!(out.contains("event test.big 100002"), "{out}");
    assert!(out.contains("resumed report 6 of 6"), "{out}");
    assert!(out.contains("event test.resumed"), "{out}");
    assert!(out.contains("done"), "{out}");
    desktop.shutdown().await;
}
