//! Process-level benchmark driver used by `benches/process/*.sh`: one client operation per process
//! so CPU time and peak RSS belong to that client alone. Not a test; prints one JSON line.
//!
//! ```text
//! bench_client prepare-recording URL TOKEN ID SIZE      # sync recording metadata
//! bench_client upload  ours|wpc URL TOKEN ID FILE       # upload FILE as the recording's bytes
//! bench_client sync    ours|wpc URL TOKEN N             # sync N call records in batches of 100
//! ```

use std::time::Instant;

use wavekat_platform_client::{
    sync::VoiceCalls,
    upload::RecordingBody,
    wire::{
        VoiceCallDirection, VoiceCallDisposition, VoiceCallEndReason, VoiceCallRecord,
        VoiceRecordingRecord,
    },
    Client, Token,
};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[path = "../../benches/process/cpu.rs"]
mod cpu;

/// User + system CPU seconds of this process, from /proc/self/stat (Linux), to 10 ms.
fn cpu_seconds() -> f64 {
    cpu::cpu_seconds_stat()
}

fn calls(n: usize, run: &str) -> Vec<VoiceCallRecord> {
    (0..n)
        .map(|i| {
            VoiceCallRecord::new(
                format!("{run}-{i:06}"),
                "22222222-2222-4222-8222-222222222222".into(),
                VoiceCallDirection::Inbound,
                "+14155550123".into(),
                "2026-05-16T10:00:00Z".into(),
                format!(
                    "2026-05-16T{:02}:{:02}:{:02}Z",
                    10 + i / 3600 % 12,
                    i / 60 % 60,
                    i % 60
                ),
                VoiceCallDisposition::Answered,
                VoiceCallEndReason::HangupRemote,
            )
            .with_answer_at("2026-05-16T10:00:05Z".into())
            .with_duration_ms(55_000)
        })
        .collect()
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), BoxError> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize| {
        args.get(i)
            .cloned()
            .ok_or_else(|| format!("missing argument {i}; see the file's docs"))
    };
    match arg(0)?.as_str() {
        "prepare-recording" => {
            let client = Client::new(&arg(1)?, Token::new(arg(2)?))?;
            let meta = VoiceRecordingRecord::new(
                arg(3)?,
                "bench".into(),
                arg(4)?.parse()?,
                0,
                16_000,
                1,
                "2026-11-21T00:00:00Z".into(),
            );
            client.sync_recordings(&[meta]).await?;
        }
        "upload" => {
            let (which, url, token, id, file) = (arg(1)?, arg(2)?, arg(3)?, arg(4)?, arg(5)?);
            let started = Instant::now();
            let bytes = std::fs::metadata(&file)?.len();
            match which.as_str() {
                "ours" => {
                    Client::new(&url, Token::new(token))?
                        .upload_recording(&id, RecordingBody::file(file))
                        .await?
                }
                "wpc" => {
                    let body = std::fs::read(&file)?; // 0.0.37 takes the body as a Vec<u8>
                    wpc::Client::new(url, wpc::Token::new(token))?
                        .upload_recording_bytes(&id, body)
                        .await?
                }
                other => return Err(format!("unknown client {other}").into()),
            }
            let secs = started.elapsed().as_secs_f64();
            println!("{{\"client\":\"{which}\",\"bytes\":{bytes},\"seconds\":{secs:.3},\"mib_per_s\":{:.1},\"cpu_seconds\":{:.2}}}", bytes as f64 / 1048576.0 / secs, cpu_seconds());
        }
        "sync" => {
            let (which, url, token, n) = (arg(1)?, arg(2)?, arg(3)?, arg(4)?.parse::<usize>()?);
            let records = calls(n, &format!("{which}-{}", std::process::id()));
            let cpu0 = cpu_seconds();
            let started = Instant::now();
            match which.as_str() {
                "ours" => {
                    Client::new(&url, Token::new(token))?
                        .sync::<VoiceCalls>(&records)
                        .await?;
                }
                "wpc" => {
                    let theirs: Vec<wpc::VoiceCallRecord> =
                        serde_json::from_value(serde_json::to_value(&records)?)?;
                    let client = wpc::Client::new(url, wpc::Token::new(token))?;
                    for batch in theirs.chunks(100) {
                        client.sync::<wpc::VoiceCalls>(batch).await?; // 0.0.37 does not batch itself
                    }
                }
                other => return Err(format!("unknown client {other}").into()),
            }
            println!("{{\"client\":\"{which}\",\"records\":{n},\"seconds\":{:.3},\"cpu_seconds\":{:.3}}}", started.elapsed().as_secs_f64(), cpu_seconds() - cpu0);
        }
        other => return Err(format!("unknown command {other}").into()),
    }
    Ok(())
}
