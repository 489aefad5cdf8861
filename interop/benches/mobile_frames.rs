//! Decode throughput of a phone `audio_chunk` frame carrying 64 KiB of PCM: our
//! `decode_client_frame_text` (and `decode_client_frame` from bytes) against
//! `serde_json::from_str::<mur_common::mobile::ClientFrame>`, the deployed endpoint's decoder. Both
//! text decoders take a `&str`, as a WebSocket text message is. Throughput is counted in bytes of frame text. A second group
//! measures the whole path to PCM bytes (decode plus base64).

use std::hint::black_box;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use wavekat_platform_client::mobile::{decode_client_frame, decode_client_frame_text, ClientFrame};

const PCM_BYTES: usize = 64 * 1024;

fn audio_frame() -> String {
    let pcm: Vec<u8> = (0..PCM_BYTES)
        .map(|i| (i.wrapping_mul(31) >> 3) as u8)
        .collect();
    ClientFrame::audio_chunk_from_pcm(&pcm)
        .and_then(|frame| frame.encode())
        .expect("a 64 KiB chunk encodes")
}

fn decode_frame(c: &mut Criterion) {
    let wire = audio_frame();
    let mut group = c.benchmark_group("audio_chunk_64k/frame");
    group.throughput(Throughput::Bytes(wire.len() as u64));
    group.bench_function("wavekat::decode_client_frame_text", |b| {
        b.iter(|| decode_client_frame_text(black_box(&wire)))
    });
    group.bench_function("wavekat::decode_client_frame(bytes)", |b| {
        b.iter(|| decode_client_frame(black_box(wire.as_bytes())))
    });
    group.bench_function("mur_common::from_str", |b| {
        b.iter(|| serde_json::from_str::<mur_common::mobile::ClientFrame>(black_box(&wire)))
    });
    group.finish();
}

fn decode_to_pcm(c: &mut Criterion) {
    let wire = audio_frame();
    let mut group = c.benchmark_group("audio_chunk_64k/to_pcm");
    group.throughput(Throughput::Bytes(wire.len() as u64));
    group.bench_function("wavekat::decode_client_frame_text+audio_pcm", |b| {
        b.iter(|| {
            decode_client_frame_text(black_box(&wire))
                .ok()
                .and_then(|frame| frame.audio_pcm())
        })
    });
    group.bench_function("mur_common::from_str+base64", |b| {
        b.iter(
            || match serde_json::from_str::<mur_common::mobile::ClientFrame>(black_box(&wire)) {
                Ok(mur_common::mobile::ClientFrame::AudioChunk { data }) => {
                    STANDARD.decode(data).ok()
                }
                _ => None,
            },
        )
    });
    group.finish();
}

criterion_group!(benches, decode_frame, decode_to_pcm);
criterion_main!(benches);
