//! Process-level benchmark driver for `benches/process/push_cpu.sh`: the durable
//! [`Pusher`] against a minimal hand-written daemon loop over [`Client::sync`], both pushing the
//! same data set from the reference [`SqliteStore`] to a running platform (the emulator). One
//! subcommand per process, so the CPU time read from `/proc/self/stat` belongs to that client
//! alone. Not a test: it measures, it asserts no time. Each measured command prints one JSON line.
//!
//! ```text
//! push_bench prepare DIR PREFIX       # DIR/outbox-PREFIX.db + WAV files in DIR (not measured)
//! push_bench pusher  URL TOKEN DB     # Pusher::new(client, store).run_once()
//! push_bench loop    URL TOKEN DB     # the hand-written loop over Client::sync
//! ```
//!
//! The data set is the one the push tests use (`tests/push_support/mod.rs`, copied here, not
//! path-included): 4 SIP accounts, 2,000 calls, 2 transcript segments per call, and 200
//! recordings (the first 200 calls) with WAV files of 1 to 8 KiB. The WAV files are kept small
//! on purpose: both sides stream them the same way, so larger files add the same CPU to each and
//! only dilute the driver's overhead, which is what is measured. Ids start with `PREFIX`, so runs
//! against one platform push new records each time.
//!
//! Both sides use the same client (`Client::new`: the default retry policy and batch size 100),
//! open the store before the clock starts, and leave nothing pending (checked after the clock
//! stops). The clock covers reading the store, pushing and marking records applied.

use std::path::{Path, PathBuf};
use std::time::Instant;

use wavekat_platform_client::sync::{
    Commit, PushStore, Pusher, Resource, SqliteStore, VoiceAccounts, VoiceCalls, VoiceTranscripts,
};
use wavekat_platform_client::{Client, Token};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

const ACCOUNTS: usize = 4;
const CALLS: usize = 2_000;
const TRANSCRIPTS_PER_CALL: usize = 2;
const RECORDINGS: usize = 200;

#[path = "../benches/process/cpu.rs"]
mod cpu;
#[path = "../tests/push_support/data.rs"]
mod data;

use cpu::cpu_seconds;

/// Writes the data set's WAV files under `dir` and queues every record in `store`, in push order.
async fn prepare(dir: &Path, prefix: &str, store: &SqliteStore) -> Result<usize, BoxError> {
    let data = data::dataset(
        dir,
        prefix,
        ACCOUNTS,
        CALLS,
        TRANSCRIPTS_PER_CALL,
        RECORDINGS,
    );
    store.add::<VoiceAccounts>(&data.accounts).await?;
    store.add::<VoiceCalls>(&data.calls).await?;
    store.add::<VoiceTranscripts>(&data.transcripts).await?;
    for (record, path) in &data.recordings {
        store.add_recording(record, path).await?;
    }
    Ok(data.accounts.len() + data.calls.len() + data.transcripts.len() + data.recordings.len())
}

/// A commit marking every one of `ids` applied.
fn applied(resource: Resource, ids: impl IntoIterator<Item = String>) -> Commit {
    let mut commit = Commit::new(resource);
    commit.applied.extend(ids);
    commit
}

/// The peer: what a daemon minimally does to push its store and mark what was pushed, with
/// nothing of the pusher's durability (one commit per resource, after the whole resource went
/// out; no per-record set-aside, no size check of the files). Returns the records pushed and
/// the recordings whose bytes were uploaded.
async fn hand_written_loop(
    client: &Client,
    store: &SqliteStore,
) -> Result<(usize, usize), BoxError> {
    let accounts = store.pending_accounts(usize::MAX).await?;
    client.sync::<VoiceAccounts>(&accounts).await?;
    store
        .commit(&applied(
            Resource::Accounts,
            accounts.iter().map(|r| r.source_id.clone()),
        ))
        .await?;

    let calls = store.pending_calls(usize::MAX).await?;
    client.sync::<VoiceCalls>(&calls).await?;
    store
        .commit(&applied(
            Resource::Calls,
            calls.iter().map(|r| r.source_id.clone()),
        ))
        .await?;

    let transcripts = store.pending_transcripts(usize::MAX).await?;
    client.sync::<VoiceTranscripts>(&transcripts).await?;
    store
        .commit(&applied(
            Resource::Transcripts,
            transcripts.iter().map(|r| r.source_id.clone()),
        ))
        .await?;

    let recordings = store.pending_recordings(usize::MAX).await?;
    let answer = client.sync_recordings(&recordings).await?;
    let mut commit = applied(
        Resource::Recordings,
        recordings.iter().map(|r| r.source_id.clone()),
    );
    for record in &recordings {
        match answer
            .items
            .iter()
            .find(|i| i.source_id == record.source_id)
        {
            Some(item) if item.bytes_uploaded => {
                commit.bytes_already_uploaded.push(record.source_id.clone())
            }
            Some(_) => {}
            None => commit.skipped.push(record.source_id.clone()),
        }
    }
    store.commit(&commit).await?;

    // What is left: the recordings the platform answered `bytesUploaded: false` for, each with
    // its file (the store hands out the bodies once the metadata is committed).
    let uploads = store.pending_uploads(usize::MAX).await?;
    let mut uploaded = Vec::with_capacity(uploads.len());
    for upload in uploads {
        client
            .upload_recording(&upload.source_id, upload.body)
            .await?;
        uploaded.push(upload.source_id);
    }
    let bytes = uploaded.len();
    store
        .commit(&applied(Resource::RecordingBytes, uploaded))
        .await?;
    Ok((
        accounts.len() + calls.len() + transcripts.len() + recordings.len(),
        bytes,
    ))
}

/// Fails unless every resource of `store` has nothing pending and nothing set aside.
async fn check_done(store: &SqliteStore) -> Result<(), BoxError> {
    for resource in Resource::PUSH_ORDER {
        let counts = store.counts(resource).await?;
        if counts.pending != 0 || counts.set_aside != 0 {
            return Err(format!("{resource} left as {counts:?}").into());
        }
    }
    Ok(())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), BoxError> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize| {
        args.get(i)
            .cloned()
            .ok_or_else(|| format!("missing argument {i}; see the file's docs"))
    };
    let who = arg(0)?;
    if who == "prepare" {
        let (dir, prefix) = (PathBuf::from(arg(1)?), arg(2)?);
        std::fs::create_dir_all(&dir)?;
        let store = SqliteStore::open(dir.join(format!("outbox-{prefix}.db"))).await?;
        let records = prepare(&dir, &prefix, &store).await?;
        println!("{{\"who\":\"prepare\",\"records\":{records}}}");
        return Ok(());
    }
    let client = Client::new(&arg(1)?, Token::new(arg(2)?))?;
    let store = SqliteStore::open(arg(3)?).await?;
    let (cpu0, started) = (cpu_seconds(), Instant::now());
    let (records, uploads) = match who.as_str() {
        "pusher" => {
            let summary = Pusher::new(client, store.clone()).run_once().await?;
            if !summary.is_complete() || !summary.set_aside.is_empty() {
                return Err(format!("the cycle did not push everything: {summary}").into());
            }
            let uploads = summary.counts(Resource::RecordingBytes).applied;
            (summary.applied() - uploads, uploads)
        }
        "loop" => hand_written_loop(&client, &store).await?,
        other => return Err(format!("unknown command {other}; see the file's docs").into()),
    };
    let (cpu1, seconds) = (cpu_seconds(), started.elapsed().as_secs_f64());
    let (cpu, cpu_stat) = (cpu1.0 - cpu0.0, cpu1.1 - cpu0.1);
    check_done(&store).await?;
    println!(
        "{{\"who\":\"{who}\",\"cpu_seconds\":{cpu:.4},\"seconds\":{seconds:.3},\"records\":{records},\"uploads\":{uploads},\"cpu_seconds_stat\":{cpu_stat:.2}}}"
    );
    Ok(())
}
