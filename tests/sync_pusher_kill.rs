//! The push survives `SIGKILL`: a pusher runs as a child process against the emulator with faults
//! on (including requests applied but answered with a lost response), is killed at seeded random
//! points again and again, restarted each time, and at the end the platform holds every record
//! exactly as the daemon made it (recording bytes byte for byte), nothing is pending, and exactly
//! the bad records are set aside.
#![cfg(all(feature = "dev-platform", feature = "sqlite-store", unix))]

mod push_support;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use push_support::{assert_platform_holds, dataset};
use wavekat_platform_client::dev_platform::{DevPlatform, DevPlatformOptions, Faults};
use wavekat_platform_client::sync::{
    PushEvent, Pusher, Resource, SqliteStore, VoiceAccounts, VoiceCalls, VoiceTranscripts,
};
use wavekat_platform_client::wire::VoiceCallDirection;
use wavekat_platform_client::{Client, RetryPolicy, Token};

const CHILD_ENV: &str = "WK_PUSH_CHILD";
/// Kills before the last, uninterrupted run.
const KILLS: usize = 20;

/// A tiny deterministic generator for the kill points.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn spawn_child(url: &str, token: &Token, db: &Path, log: &Path) -> std::process::Child {
    Command::new(std::env::current_exe().expect("the test binary"))
        .args([
            "child_pusher_process",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, "1")
        .env("WK_PUSH_URL", url)
        .env("WK_PUSH_TOKEN", token.expose())
        .env("WK_PUSH_DB", db)
        .env("WK_PUSH_LOG", log)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn the pusher process")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pusher_killed_at_random_points_loses_nothing_and_sets_aside_only_bad_records() {
    let seed: u64 = std::env::var("WK_KILL_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed_cafe);
    // WK_KILL_FAULT_RATE=0 measures what the kills alone cost in re-sent records.
    let rate: f64 = std::env::var("WK_KILL_FAULT_RATE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0.15);
    eprintln!(
        "kill test seed {seed}, fault rate {rate} (set WK_KILL_SEED, WK_KILL_FAULT_RATE to replay)"
    );
    let platform = DevPlatform::start(
        DevPlatformOptions::default().faults(
            // A third of the faults apply the request and then lose its answer.
            Faults::new(rate, seed)
                .retry_after_secs(0)
                .lose_responses(0.34),
        ),
    )
    .await
    .expect("start the emulator");
    let dir = std::env::temp_dir().join(format!("wk-push-kill-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a temp dir");

    // The daemon's data: 4 lines, 2,000 calls, 4,000 transcripts, 200 recordings; three calls the
    // client's checks refuse, one the platform refuses, one recording whose file is truncated.
    let mut data = dataset(&dir, "k-", 4, 2000, 2, 200);
    data.calls[17].direction = VoiceCallDirection::Unknown("sideways".into());
    data.calls[901].ring_at = "not a time".into();
    data.calls[1999].end_at = "2026-02-30T10:00:00Z".into();
    data.calls[1500].source_id = String::new();
    std::fs::write(&data.recordings[150].1, b"truncated").expect("truncate a WAV");
    let bad_calls = ["k-call-00017", "k-call-00901", "k-call-01999", ""];
    let bad_recording = data.recordings[150].0.source_id.clone();

    let db = dir.join("outbox.db");
    let store = SqliteStore::open(&db).await.expect("the daemon's store");
    store.add::<VoiceAccounts>(&data.accounts).await.unwrap();
    store.add::<VoiceCalls>(&data.calls).await.unwrap();
    store
        .add::<VoiceTranscripts>(&data.transcripts)
        .await
        .unwrap();
    for (record, path) in &data.recordings {
        store.add_recording(record, path).await.unwrap();
    }
    drop(store);

    let log = dir.join("sent.log");
    let mut rng = Rng(seed | 1);
    let mut kills = 0;
    for _ in 0..KILLS {
        // A kill point: after the pusher has logged 1 to 400 more steps (batches sent, steps
        // committed), and then 0 to 15 ms more, so kills land before a send, while a batch or
        // bytes are in flight, and between the platform applying a step and its commit.
        let logged = log_lines(&log);
        let steps = 1 + (rng.next() % 400) as usize;
        let extra = Duration::from_micros(rng.next() % 15_000);
        let mut child = spawn_child(platform.base_url(), platform.token(), &db, &log);
        let finished = loop {
            if child.try_wait().expect("wait").is_some() {
                break true;
            }
            if log_lines(&log) >= logged + steps {
                break false;
            }
            tokio::time::sleep(Duration::from_micros(500)).await;
        };
        if finished {
            break; // the run ended before this kill point
        }
        tokio::time::sleep(extra).await;
        child.kill().expect("SIGKILL the pusher");
        child.wait().expect("reap");
        kills += 1;
    }
    let status = spawn_child(platform.base_url(), platform.token(), &db, &log)
        .wait()
        .expect("the last run");
    assert!(
        status.success(),
        "the last, uninterrupted run failed: {status}"
    );
    assert!(
        kills >= KILLS / 2,
        "only {kills} kills landed mid-run; the data set is too small"
    );

    // The check itself reads the platform without faults.
    platform.pause_faults();
    let store = SqliteStore::open(&db).await.expect("reopen the store");
    for resource in Resource::PUSH_ORDER {
        let counts = store.counts(resource).await.unwrap();
        assert_eq!(
            counts.pending, 0,
            "{resource} still pending after the runs: {counts:?}"
        );
    }
    let mut aside: Vec<(Resource, String)> = store
        .set_aside()
        .await
        .unwrap()
        .into_iter()
        .map(|s| (s.resource, s.source_id))
        .collect();
    aside.sort();
    let mut expected: Vec<(Resource, String)> = bad_calls
        .iter()
        .map(|id| (Resource::Calls, (*id).to_owned()))
        .chain([(Resource::RecordingBytes, bad_recording.clone())])
        .collect();
    expected.sort();
    assert_eq!(aside, expected, "exactly the bad records are set aside");

    let mut held = data.clone();
    held.calls
        .retain(|c| !bad_calls.contains(&c.source_id.as_str()));
    let client = Client::new(platform.base_url(), platform.token().clone()).unwrap();
    assert_platform_holds(&platform, &client, &held, &[], &[bad_recording]).await;
    assert!(
        rate == 0.0 || platform.lost_responses() > 0,
        "no applied-then-lost fault fired"
    );

    // The cost of at least once: records sent more than once, over the kills.
    let sent = std::fs::read_to_string(&log).expect("the send log");
    let mut total = 0usize;
    let mut unique = std::collections::HashSet::new();
    for line in sent.lines().filter_map(|l| l.strip_prefix("send ")) {
        total += 1;
        unique.insert(line.to_owned());
    }
    let resent = total - unique.len();
    eprintln!(
        "kill test: {kills} kills, {} faults injected ({} applied then lost), {total} record \
         sends for {} records, {resent} re-sent ({:.1} per restart)",
        platform.injected_faults(),
        platform.lost_responses(),
        unique.len(),
        resent as f64 / kills.max(1) as f64
    );
    if std::env::var_os("WK_KILL_KEEP").is_none() {
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// Lines in the child's log so far (0 before it exists).
fn log_lines(log: &Path) -> usize {
    std::fs::read(log).map_or(0, |bytes| bytes.iter().filter(|b| **b == b'\n').count())
}

/// The child process of the kill test: one pusher over the store at `WK_PUSH_DB`, cycling until a
/// cycle completes. Each sync batch's ids are appended to `WK_PUSH_LOG` before it is sent.
#[tokio::test]
#[ignore = "run as a child process by the kill test"]
async fn child_pusher_process() {
    assert!(
        std::env::var_os(CHILD_ENV).is_some(),
        "run by the kill test only"
    );
    let var = |name: &str| std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set"));
    let client = Client::builder(&var("WK_PUSH_URL"))
        .token(Token::new(var("WK_PUSH_TOKEN")))
        // No retries inside the client: every fault reaches the pusher, which must carry the
        // records over to its next cycle.
        .retry_policy(RetryPolicy::none())
        .build()
        .unwrap();
    let store = SqliteStore::open(PathBuf::from(var("WK_PUSH_DB")))
        .await
        .unwrap();
    let log_path = PathBuf::from(var("WK_PUSH_LOG"));
    let pusher = Pusher::new(client, store).on_event(move |event| {
        let mut lines = String::new();
        match event {
            PushEvent::Sending {
                resource,
                source_ids,
            } => {
                for id in *source_ids {
                    lines.push_str(&format!("send {resource} {id}\n"));
                }
            }
            PushEvent::Committed(commit) => {
                lines.push_str(&format!(
                    "commit {} {}\n",
                    commit.resource,
                    commit.applied.len()
                ));
            }
            _ => return,
        }
        let mut log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .expect("the send log");
        log.write_all(lines.as_bytes()).expect("log a step");
    });
    loop {
        let summary = pusher.run_once().await.expect("a cycle");
        if summary.is_complete() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
