//! Handshake CPU per resume, on each end, for BENCHMARKS.md ("Mobile transport"): the desktop
//! runs on a thread of its own (a current-thread runtime), the phone on another, and each
//! thread's CPU time (`/proc/thread-self/schedstat`, nanoseconds) is read before and after `N`
//! resumes (TCP connect, upgrade, proto 2 and, in secure mode, the Noise IK handshake; the link
//! is closed after each). Plain against secure shows what Noise costs each end.
//!
//! Run: `cargo run --release -p wavekat-platform-interop --example mobile_handshake_cpu`
//! (`FIGURES_RESUMES` sets `N`, default 1000). Linux only.

use std::time::Duration;

use ed25519_dalek::SigningKey;
use rand_core::OsRng;
use tokio::sync::{mpsc, oneshot};
use wavekat_platform_client::mobile::transport::{
    connect, DesktopConfig, MobileDesktop, PhoneConfig, PhoneSecurity, PhoneStart,
};
use wavekat_platform_client::mobile::PairingWindowConfig;

type Result<T> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// This thread's CPU time so far, in nanoseconds.
fn thread_cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|n| n.parse().ok()))
        .unwrap_or(0)
}

/// What the main thread asks of the desktop thread.
enum Ask {
    Qr(PhoneSecurity, oneshot::Sender<(String, String)>),
    Cpu(oneshot::Sender<u64>),
}

fn desktop_thread(mut asks: mpsc::Receiver<Ask>) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let identity = SigningKey::generate(&mut OsRng);
        let config = DesktopConfig::new("mur", &identity.verifying_key());
        let (desktop, mut events) = MobileDesktop::bind("127.0.0.1:0", config).await?;
        tokio::spawn(async move { while events.recv().await.is_some() {} });
        while let Some(ask) = asks.recv().await {
            match ask {
                Ask::Qr(security, reply) => {
                    let mut qr = desktop.open_pairing_window(PairingWindowConfig::default());
                    if security == PhoneSecurity::PlainOnly {
                        qr.noise_key = None;
                    }
                    let _ = reply.send((qr.to_uri(), desktop.url()));
                }
                Ask::Cpu(reply) => {
                    let _ = reply.send(thread_cpu_ns());
                }
            }
        }
        desktop.shutdown().await;
        Ok(())
    })
}

async fn desktop_cpu(asks: &mpsc::Sender<Ask>) -> Result<u64> {
    let (tx, rx) = oneshot::channel();
    asks.send(Ask::Cpu(tx)).await.map_err(|_| "desktop gone")?;
    Ok(rx.await?)
}

async fn measure(asks: &mpsc::Sender<Ask>, security: PhoneSecurity, n: u32) -> Result<()> {
    let (tx, rx) = oneshot::channel();
    asks.send(Ask::Qr(security, tx))
        .await
        .map_err(|_| "desktop gone")?;
    let (uri, url) = rx.await?;
    let qr = wavekat_platform_client::mobile::transport::PairingQr::parse(&uri)?;
    let mut config = PhoneConfig::new(url, "mur");
    config.security = security;
    let start = PhoneStart::Pair {
        qr,
        device_key: SigningKey::generate(&mut OsRng),
    };
    let (phone, _events, identity) = connect(config.clone(), start).await?;
    phone.close();
    // Warm up, then measure.
    for _ in 0..20 {
        let (phone, _e, _) = connect(config.clone(), PhoneStart::Resume(identity.clone())).await?;
        phone.close();
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    let (phone0, desktop0) = (thread_cpu_ns(), desktop_cpu(asks).await?);
    let wall = std::time::Instant::now();
    for _ in 0..n {
        let (phone, _e, _) = connect(config.clone(), PhoneStart::Resume(identity.clone())).await?;
        phone.close();
    }
    let wall = wall.elapsed();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let (phone1, desktop1) = (thread_cpu_ns(), desktop_cpu(asks).await?);
    let per = |a: u64, b: u64| (b.saturating_sub(a)) as f64 / f64::from(n) / 1000.0;
    println!(
        "## {security:?}: {n} resumes, CPU per resume: phone {:.1} µs, desktop {:.1} µs; wall {:.1} µs per resume",
        per(phone0, phone1),
        per(desktop0, desktop1),
        wall.as_secs_f64() * 1e6 / f64::from(n),
    );
    Ok(())
}

fn main() -> Result<()> {
    let n: u32 = std::env::var("FIGURES_RESUMES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let (asks, rx) = mpsc::channel(4);
    let desktop = std::thread::spawn(move || desktop_thread(rx));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        for round in 0..3 {
            println!("# round {round}");
            measure(&asks, PhoneSecurity::PlainOnly, n).await?;
            measure(&asks, PhoneSecurity::RequireSecure, n).await?;
        }
        Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
    })?;
    drop(asks);
    desktop.join().map_err(|_| "desktop thread panicked")??;
    Ok(())
}
