//! Phone ↔ desktop over loopback: the desktop opens a pairing window and shows its QR code, a phone
//! client pairs (secure mode), streams a short utterance, the connection drops, the phone resumes
//! by key and sends a signed envelope, and the desktop unpairs it.
//!
//! Run: `cargo run --example mobile_pairing --features mobile-transport`

use std::time::{Duration, Instant};

use ed25519_dalek::SigningKey;
use qrcode::render::unicode::Dense1x2;
use qrcode::QrCode;
use rand_core::OsRng;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use wavekat_platform_client::mobile::transport::{
    connect, DesktopConfig, DesktopEvent, MobileDesktop, PhoneConfig, PhoneEvent, PhoneStart,
};
use wavekat_platform_client::mobile::{PairingWindowConfig, ServerFrame, MOBILE_WS_PATH};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Desktop: identity key, endpoint on loopback, a pairing window.
    let identity = SigningKey::generate(&mut OsRng);
    let config = DesktopConfig::new("mur", &identity.verifying_key());
    let (desktop, mut desktop_events) = MobileDesktop::bind("127.0.0.1:0", config).await?;
    println!("desktop: serving {} (did {})", desktop.url(), desktop.did());
    let qr = desktop.open_pairing_window(PairingWindowConfig::default());
    let code = QrCode::new(qr.to_uri().as_bytes())?;
    println!(
        "{}",
        code.render::<Dense1x2>()
            .quiet_zone(true)
            .module_dimensions(1, 1)
            .build()
    );
    println!(
        "desktop: pairing window {} open (scan the code above)",
        qr.offer.wid
    );

    // A cuttable loopback hop between phone and desktop, to show a dropped connection.
    let hop = TcpListener::bind("127.0.0.1:0").await?;
    let hop_url = format!("ws://{}{}", hop.local_addr()?, MOBILE_WS_PATH);
    let (cut, _) = tokio::sync::broadcast::channel::<()>(1);
    let cut_tx = cut.clone();
    let upstream = desktop.local_addr();
    tokio::spawn(async move {
        while let Ok((phone, _)) = hop.accept().await {
            let Ok(desk) = TcpStream::connect(upstream).await else {
                continue;
            };
            let mut cut_rx = cut_tx.subscribe();
            tokio::spawn(async move {
                let (mut pr, mut pw) = phone.into_split();
                let (mut dr, mut dw) = desk.into_split();
                let up = async {
                    let mut b = vec![0u8; 64 * 1024];
                    while let Ok(n @ 1..) = pr.read(&mut b).await {
                        if dw.write_all(&b[..n]).await.is_err() {
                            break;
                        }
                    }
                };
                let down = async {
                    let mut b = vec![0u8; 64 * 1024];
                    while let Ok(n @ 1..) = dr.read(&mut b).await {
                        if pw.write_all(&b[..n]).await.is_err() {
                            break;
                        }
                    }
                };
                tokio::select! { _ = up => {}, _ = down => {}, _ = cut_rx.recv() => {} }
            });
        }
    });

    // Phone: scan (here: parse the URI), pair.
    let scanned = wavekat_platform_client::mobile::transport::PairingQr::parse(&qr.to_uri())?;
    let mut phone_config = PhoneConfig::new(hop_url, "mur");
    phone_config.backoff.initial = Duration::from_millis(20);
    let start = PhoneStart::Pair {
        qr: scanned,
        device_key: SigningKey::generate(&mut OsRng),
    };
    let (phone, mut phone_events, device) = connect(phone_config, start).await?;
    println!("phone:   paired (secure: {})", device.noise.is_some());

    // Stream 0.5 s of a 440 Hz tone at 16 kHz.
    let samples: Vec<f32> = (0..8000)
        .map(|i| (i as f32 * 440.0 * std::f32::consts::TAU / 16_000.0).sin() * 0.2)
        .collect();
    phone.send_audio_start(16_000).await?;
    for chunk in samples.chunks(1600) {
        phone.send_audio(chunk).await?;
    }
    let receipt = phone.send_audio_end().await?;
    println!("phone:   utterance {:?}", receipt.outcome().await);

    let mut received = 0usize;
    let mut link = None;
    while let Some(event) = desktop_events.recv().await {
        match event {
            DesktopEvent::Paired { connection, record } => {
                println!("desktop: paired device {}", record.device.pubkey);
                link = Some(connection);
            }
            DesktopEvent::AudioStart { sample_rate, .. } => {
                println!("desktop: utterance starts at {sample_rate} Hz");
            }
            DesktopEvent::AudioChunk { samples, .. } => received += samples.len(),
            DesktopEvent::AudioEnd { .. } => {
                println!("desktop: utterance ended, {received} samples received");
                break;
            }
            _ => {}
        }
    }
    if let Some(link) = &link {
        link.send(ServerFrame::Transcript {
            text: "a 440 hertz tone".into(),
            is_final: true,
        })
        .await?;
    }

    while let Some(event) = phone_events.recv().await {
        if let PhoneEvent::Frame(ServerFrame::Transcript { text, .. }) = event {
            println!("phone:   transcript \"{text}\"");
            break;
        }
    }

    // Drop the connection; the phone reconnects and resumes by key.
    let dropped_at = Instant::now();
    let _ = cut.send(());
    println!("network: connection dropped");
    while let Some(event) = phone_events.recv().await {
        match event {
            PhoneEvent::Disconnected { error, retry_in } => {
                println!("phone:   disconnected ({error}); retrying in {retry_in:?}");
            }
            PhoneEvent::Resumed { secure } => {
                println!(
                    "phone:   resumed (secure: {secure}) after {:?}",
                    dropped_at.elapsed()
                );
                break;
            }
            _ => {}
        }
    }

    let receipt = phone
        .send_envelope(br#"{"id":1,"jsonrpc":"2.0","method":"message/send"}"#.to_vec())
        .await?;
    while let Some(event) = desktop_events.recv().await {
        if let DesktopEvent::Envelope { envelope, .. } = event {
            println!(
                "desktop: verified envelope, {} payload bytes",
                envelope.payload.len()
            );
            break;
        }
    }
    println!("phone:   envelope outcome {:?}", receipt.outcome().await);

    let device_key = wavekat_platform_client::mobile::encode_pubkey_multibase(
        &device.device_key.verifying_key(),
    );
    desktop.unpair(&device_key).await;
    println!("desktop: unpaired {device_key}");
    while let Some(event) = phone_events.recv().await {
        if let PhoneEvent::Closed { error } = event {
            println!("phone:   link closed for good ({error})");
            break;
        }
    }
    desktop.shutdown().await;
    Ok(())
}
