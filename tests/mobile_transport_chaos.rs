//! Nothing silently lost: a phone streams audio and envelopes through a loopback proxy that stalls
//! and cuts connections at random (seeded, for a bounded time). Every envelope ends either
//! delivered exactly once or reported failed to its sender, and the desktop's paired devices and
//! pairing windows are intact.

mod mobile_support;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use mobile_support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use wavekat_platform_client::mobile::transport::{
    DesktopEvent, DesktopSecurity, EnvelopeDelivery, PhoneEvent, PhoneSecurity,
};
use wavekat_platform_client::mobile::PairingWindowConfig;

const SEED: u64 = 0x5eed_0014;
const ENVELOPES: usize = 150;

/// xorshift64*: a small seeded generator, so a failing run can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn chance(&mut self, per_mille: u64) -> bool {
        self.next() % 1000 < per_mille
    }
}

/// Forwards 127.0.0.1 connections to `upstream`; while `chaos` is set, each chunk may stall the
/// direction (up to 300 ms) or cut the whole connection.
async fn chaos_proxy(upstream: SocketAddr, chaos: Arc<AtomicBool>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("proxy binds");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(async move {
        let mut conn_seed = SEED;
        while let Ok((phone, _)) = listener.accept().await {
            conn_seed = conn_seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let Ok(desktop) = TcpStream::connect(upstream).await else {
                continue;
            };
            let chaos = Arc::clone(&chaos);
            tokio::spawn(async move {
                let (pr, pw) = phone.into_split();
                let (dr, dw) = desktop.into_split();
                let up = pump(pr, dw, Rng(conn_seed), Arc::clone(&chaos));
                let down = pump(dr, pw, Rng(conn_seed ^ 0xffff), chaos);
                tokio::select! { _ = up => {}, _ = down => {} }
            });
        }
    });
    addr
}

async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mut rng: Rng,
    chaos: Arc<AtomicBool>,
) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if chaos.load(Ordering::Relaxed) {
            if rng.chance(15) {
                return; // cut: both halves drop, the bytes in hand are lost
            }
            if rng.chance(40) {
                tokio::time::sleep(Duration::from_millis(rng.next() % 300)).await;
            }
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

#[tokio::test]
async fn every_envelope_is_delivered_once_or_reported_failed_through_a_chaotic_proxy() {
    let (desktop, mut events) = desktop(DesktopSecurity::RequireSecure).await;
    let chaos = Arc::new(AtomicBool::new(false));
    let proxy = chaos_proxy(desktop.local_addr(), Arc::clone(&chaos)).await;
    let spare_window = desktop.open_pairing_window(PairingWindowConfig::default());
    let mut config = phone_config(ws_url(proxy), PhoneSecurity::RequireSecure);
    config.dead_peer_timeout = Duration::from_millis(800);
    config.ping_interval = Duration::from_millis(200);
    let qr = desktop.open_pairing_window(PairingWindowConfig::default());
    let (phone, mut phone_events, _identity) = wavekat_platform_client::mobile::transport::connect(
        config,
        wavekat_platform_client::mobile::transport::PhoneStart::Pair {
            qr,
            device_key: ed25519_dalek::SigningKey::generate(&mut rand_core::OsRng),
        },
    )
    .await
    .expect("pairs before the chaos starts");
    let drops = tokio::spawn(async move {
        let mut drops = 0u32;
        while let Some(event) = phone_events.recv().await {
            if matches!(event, PhoneEvent::Disconnected { .. }) {
                drops += 1;
            }
        }
        drops
    });

    // The desktop side: count every envelope payload the daemon is handed.
    let collector = tokio::spawn(async move {
        let mut seen: HashMap<Vec<u8>, u32> = HashMap::new();
        while let Some(event) = events.recv().await {
            if let DesktopEvent::Envelope { envelope, .. } = event {
                *seen.entry(envelope.payload).or_default() += 1;
            }
        }
        seen
    });

    chaos.store(true, Ordering::Relaxed);
    let mut receipts = Vec::new();
    for i in 0..ENVELOPES {
        let payload = format!(r#"{{"id":{i},"jsonrpc":"2.0","method":"message/send"}}"#);
        receipts.push((
            payload.clone(),
            phone.send_envelope(payload.into_bytes()).await,
        ));
        phone.send_audio_start(16_000).await.expect("queued");
        phone.send_audio(&[0.1; 800]).await.expect("queued");
        let _receipt = phone.send_audio_end().await.expect("queued");
        tokio::time::sleep(Duration::from_millis(15)).await;
    }
    chaos.store(false, Ordering::Relaxed);

    let mut outcomes = Vec::new();
    for (payload, receipt) in receipts {
        let receipt = receipt.expect("the link stays open through the chaos");
        let outcome = tokio::time::timeout(Duration::from_secs(15), receipt.outcome())
            .await
            .expect("every envelope is settled in time");
        outcomes.push((payload, outcome));
    }
    phone.close();
    assert_eq!(desktop.devices().len(), 1, "the paired device survives");
    assert_eq!(
        desktop.open_window_count(),
        1,
        "the spare window is still open"
    );
    drop(spare_window);
    desktop.shutdown().await;
    let seen = collector.await.expect("collector");

    let mut delivered = 0;
    for (payload, outcome) in &outcomes {
        let count = seen.get(payload.as_bytes()).copied().unwrap_or(0);
        match outcome {
            Ok(EnvelopeDelivery::Acknowledged) => {
                delivered += 1;
                assert_eq!(count, 1, "{payload} acknowledged must arrive exactly once");
            }
            Ok(other) => panic!("secure links acknowledge, got {other:?}"),
            Err(failure) => assert_eq!(
                count, 0,
                "{payload} reported failed ({failure}) must never have arrived"
            ),
        }
    }
    assert!(seen.values().all(|&n| n == 1), "no envelope arrives twice");
    assert!(delivered > 0, "some envelopes get through the chaos");
    let drops = drops.await.expect("phone events");
    assert!(drops > 0, "the proxy did cut the link (seed {SEED:#x})");
}
