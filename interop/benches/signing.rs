//! Release-signing throughput: our signing and verification API against raw ed25519-dalek on
//! the same message (the CONTRACT.md §5.3 heartbeat vector). Measures only.

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use wavekat_platform_client::signing::{
    request_payload, verify_cert, verify_request, ReleaseCredential, ReleaseVerifier,
};

const SEED: [u8; 32] = [
    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25,
    26, 27, 28, 29, 30, 31,
];
const PUBLIC: &str = "03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8";
const MASTER_PUBLIC: &str = "29acbae141bccaf0b22e1a94d34d0bc7361e526d0bfe12c89794bc9322966dd7";
const VERSION: &str = "0.0.22";
const CERT: &str = "03ede1971c40fed1b00b6f1051f627866e3492a357c1826353ad732deca4b576e4f07e1292c75e5329fa0d2e4040547669ac8e5d0c6f495d993952f7b9e1960f";
const BODY: &[u8] = br#"{"installId":"x"}"#;
const BODY_SHA256: &str = "b327a4f17fc410b74243d5a06c4bd421285fe4dbe5dbac386496a82f587460e9";
const PATH: &str = "/api/voice/installs/heartbeat";
const TIMESTAMP: u64 = 1_700_000_000;
const NONCE: [u8; 16] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];
const NONCE_HEX: &str = "000102030405060708090a0b0c0d0e0f";
const SIGNATURE: &str = "78c9d4160552283971580f2d6a516a87acecb57d6aa6f1163bb8b6992e20ef86edbbb84a17d1af6ebdaaaa93afef097c6bf6e3195736dbb876bd6af44c65800c";

fn credential() -> ReleaseCredential {
    ReleaseCredential::new(VERSION, &hex::encode(SEED), PUBLIC, CERT).expect("contract vector")
}

fn headers_for(credential: &ReleaseCredential, timestamp: u64, counter: u64) -> HeaderMap {
    let mut nonce = [0u8; 16];
    nonce[..8].copy_from_slice(&counter.to_le_bytes());
    let signature = credential.sign_request_with("POST", PATH, BODY, timestamp, nonce);
    let mut headers = HeaderMap::new();
    for (name, value) in credential.signature_headers(&signature) {
        headers.insert(
            HeaderName::from_static(name),
            HeaderValue::from_str(&value).expect("header value"),
        );
    }
    headers
}

fn sign(c: &mut Criterion) {
    let raw_key = SigningKey::from_bytes(&SEED);
    let message = request_payload(TIMESTAMP, NONCE_HEX, "POST", PATH, BODY_SHA256);
    let credential = credential();

    let mut group = c.benchmark_group("sign");
    group.throughput(Throughput::Elements(1));
    group.bench_function("dalek_sign_canonical_string", |b| {
        b.iter(|| raw_key.sign(black_box(message.as_bytes())))
    });
    group.bench_function("credential_sign_request_with", |b| {
        b.iter(|| {
            credential.sign_request_with(
                black_box("POST"),
                black_box(PATH),
                black_box(BODY),
                TIMESTAMP,
                NONCE,
            )
        })
    });
    group.bench_function("credential_sign_request_os_rng", |b| {
        b.iter(|| credential.sign_request(black_box("POST"), black_box(PATH), black_box(BODY)))
    });
    group.finish();
}

fn verify(c: &mut Criterion) {
    let public: [u8; 32] = hex::decode(PUBLIC).unwrap().try_into().unwrap();
    let raw_key = VerifyingKey::from_bytes(&public).expect("contract public key");
    let raw_signature = Signature::from_bytes(&hex::decode(SIGNATURE).unwrap().try_into().unwrap());
    let message = request_payload(TIMESTAMP, NONCE_HEX, "POST", PATH, BODY_SHA256);
    let credential = credential();

    let mut group = c.benchmark_group("verify");
    group.throughput(Throughput::Elements(1));
    group.bench_function("dalek_verify_strict", |b| {
        b.iter(|| raw_key.verify_strict(black_box(message.as_bytes()), &raw_signature))
    });
    group.bench_function("verify_request", |b| {
        b.iter(|| {
            verify_request(
                black_box(PUBLIC),
                TIMESTAMP,
                black_box(NONCE_HEX),
                "POST",
                PATH,
                black_box(BODY),
                black_box(SIGNATURE),
            )
        })
    });
    group.bench_function("verify_cert", |b| {
        b.iter(|| {
            verify_cert(
                black_box(MASTER_PUBLIC),
                VERSION,
                black_box(PUBLIC),
                black_box(CERT),
            )
        })
    });

    // The full server check (headers, window, certificate, signature, nonce memory). Each
    // iteration gets a fresh nonce and a clock one second later, so the memory holds about one
    // window's worth of nonces, as under steady load; signing happens in per-iteration setup,
    // unmeasured.
    let clock = Arc::new(AtomicU64::new(TIMESTAMP));
    let verifier_clock = Arc::clone(&clock);
    let verifier = ReleaseVerifier::new(MASTER_PUBLIC)
        .expect("contract master key")
        .with_clock(move || verifier_clock.load(Ordering::Relaxed));
    let mut counter = 0u64;
    let probe = headers_for(&credential, TIMESTAMP, u64::MAX);
    if let Err(error) = verifier.verify("POST", PATH, &probe, BODY) {
        panic!("the benchmarked request must be one the verifier accepts: {error}");
    }
    group.bench_function("release_verifier_verify", |b| {
        b.iter_batched(
            || {
                counter += 1;
                let now = TIMESTAMP + counter;
                clock.store(now, Ordering::Relaxed);
                headers_for(&credential, now, counter)
            },
            |headers| verifier.verify("POST", PATH, &headers, BODY),
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

criterion_group!(benches, sign, verify);
criterion_main!(benches);
