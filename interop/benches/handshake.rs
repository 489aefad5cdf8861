//! Latency of the loopback sign-in: time from the browser sending the callback request to
//! `wait()` resolving, for this crate (event-driven accept) and the published 0.0.37 (`wpc`,
//! which polls its listener every 50 ms).
//!
//! The callback arrives at a spread of moments after `wait()` starts (1–50 ms, the same sequence
//! for both), as a browser's would: a polling listener's latency depends on where in its sleep
//! the request lands. The "browser" sends the request, reads the answer up to its
//! `Content-Length` and closes, as browsers do with `Connection: close`.
//!
//! Besides criterion's statistics (whose median is over sample means), the per-callback median
//! and 90th percentile are printed at the end.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, SamplingMode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::runtime::Runtime;

const BASE: &str = "https://platform.example";

/// Spreads callback arrival over the 50 ms poll period of the old listener.
fn arrival_delay(counter: &AtomicU64) -> Duration {
    let k = counter.fetch_add(1, Ordering::Relaxed);
    Duration::from_millis(1 + (k * 37) % 50)
}

fn addr_of(callback_url: &str) -> SocketAddr {
    callback_url
        .strip_prefix("http://")
        .and_then(|rest| rest.strip_suffix("/callback"))
        .and_then(|authority| authority.parse().ok())
        .expect("callback URL is http://<addr>/callback")
}

/// Sends the callback, reads the answer up to its Content-Length, then closes.
async fn browser(addr: SocketAddr, state: String) {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let request = format!(
        "GET /callback?token=wk_bench&state={state}&login=bench HTTP/1.1\r\nHost: {addr}\r\n\r\n"
    );
    stream
        .write_all(request.as_bytes())
        .await
        .expect("send the callback");
    let mut answer = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let read = stream.read(&mut chunk).await.unwrap_or(0);
        if read == 0 {
            return;
        }
        answer.extend_from_slice(&chunk[..read]);
        if let Some(end) = answer.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&answer[..end]).to_ascii_lowercase();
            let length = head
                .lines()
                .find_map(|line| line.strip_prefix("content-length: "))
                .and_then(|value| value.trim().parse::<usize>().ok())
                .unwrap_or(0);
            if answer.len() >= end + 4 + length {
                return;
            }
        }
    }
}

async fn ours_once(counter: &AtomicU64) -> Duration {
    let options = wavekat_platform_client::signin::HandshakeOptions::default().without_source();
    let pending = wavekat_platform_client::signin::loopback_handshake(BASE, options)
        .await
        .expect("bind");
    let addr = addr_of(pending.callback_url());
    let state = pending.state().to_owned();
    let waiting = tokio::spawn(pending.wait());
    tokio::time::sleep(arrival_delay(counter)).await;

    let start = Instant::now();
    let sent = tokio::spawn(browser(addr, state));
    let outcome = waiting.await.expect("wait task");
    let elapsed = start.elapsed();
    outcome.expect("signed in");
    sent.await.expect("browser task");
    elapsed
}

async fn wpc_once(counter: &AtomicU64) -> Duration {
    let options = wpc::HandshakeOptions {
        omit_source: true,
        ..Default::default()
    };
    let pending = wpc::loopback_handshake(BASE, options).expect("bind");
    let url = pending.url().to_owned();
    let callback = reqwest::Url::parse(&url)
        .expect("the sign-in URL parses")
        .query_pairs()
        .find(|(key, _)| key == "callback")
        .map(|(_, value)| value.into_owned())
        .expect("callback parameter");
    let addr = addr_of(&callback);
    let state = pending.state().to_owned();
    let waiting = tokio::spawn(pending.wait());
    tokio::time::sleep(arrival_delay(counter)).await;

    let start = Instant::now();
    let sent = tokio::spawn(browser(addr, state));
    let outcome = waiting.await.expect("wait task");
    let elapsed = start.elapsed();
    outcome.expect("signed in");
    sent.await.expect("browser task");
    elapsed
}

fn percentile(samples: &Mutex<Vec<Duration>>, fraction: f64) -> Duration {
    let mut all = samples.lock().expect("samples").clone();
    all.sort();
    let index = ((all.len().saturating_sub(1)) as f64 * fraction).round() as usize;
    all.get(index).copied().unwrap_or_default()
}

fn callback_to_wait(c: &mut Criterion) {
    let runtime = Runtime::new().expect("tokio runtime");
    let counter = AtomicU64::new(0);
    let ours = Mutex::new(Vec::new());
    let old = Mutex::new(Vec::new());

    let mut group = c.benchmark_group("callback_to_wait");
    group
        .sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));
    group.bench_function("ours", |b| {
        b.iter_custom(|iters| {
            runtime.block_on(async {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let one = ours_once(&counter).await;
                    ours.lock().expect("samples").push(one);
                    total += one;
                }
                total
            })
        })
    });
    group.bench_function("wpc_0_0_37", |b| {
        b.iter_custom(|iters| {
            runtime.block_on(async {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let one = wpc_once(&counter).await;
                    old.lock().expect("samples").push(one);
                    total += one;
                }
                total
            })
        })
    });
    group.finish();

    for (name, samples) in [("ours", &ours), ("wpc_0_0_37", &old)] {
        eprintln!(
            "callback_to_wait/{name}: per-callback median {:?}, p90 {:?} over {} callbacks",
            percentile(samples, 0.5),
            percentile(samples, 0.9),
            samples.lock().expect("samples").len()
        );
    }
}

criterion_group!(benches, callback_to_wait);
criterion_main!(benches);
