//! The `wk-dev-platform` binary: its banner, flags, persistence and clean shutdown.
#![cfg(feature = "dev-platform")]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use serde_json::{json, Value};

const BIN: &str = env!("CARGO_BIN_EXE_wk-dev-platform");

/// A running binary and the three banner lines it printed.
struct Running {
    child: Child,
    base_url: String,
    token: String,
    master_pubkey: String,
}

fn spawn(args: &[&str]) -> Running {
    let mut child = Command::new(BIN)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let stdout = child.stdout.take().expect("piped stdout");
    let mut lines = BufReader::new(stdout).lines();
    let mut next = |prefix: &str| -> String {
        let line = lines
            .next()
            .expect("a banner line")
            .expect("readable stdout");
        line.strip_prefix(prefix)
            .unwrap_or_else(|| panic!("{line:?} should start with {prefix:?}"))
            .to_owned()
    };
    let base_url = next("listening on ");
    let token = next("token: ");
    let master_pubkey = next("master-pubkey: ");
    Running {
        child,
        base_url,
        token,
        master_pubkey,
    }
}

fn terminate(mut running: Running) -> std::process::ExitStatus {
    let status = Command::new("kill")
        .args(["-TERM", &running.child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
    running.child.wait().expect("the binary exits")
}

async fn get(base_url: &str, path: &str, token: &str) -> (u16, Value) {
    let response = wavekat_platform_client::dev_platform::http_client()
        .expect("an HTTP client")
        .get(format!("{base_url}{path}"))
        .bearer_auth(token)
        .send()
        .await
        .expect("an HTTP answer");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn scratch(tag: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("wk-dev-platform-bin-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a scratch directory");
    dir
}

fn path_arg(p: &Path) -> &str {
    p.to_str().expect("a UTF-8 path")
}

#[tokio::test]
async fn the_binary_prints_its_banner_serves_me_and_exits_0_on_sigterm() {
    let running = spawn(&["--listen", "127.0.0.1:0"]);
    assert!(running.base_url.starts_with("http://127.0.0.1:"));
    assert!(running.token.starts_with("wk_"));
    assert_eq!(running.master_pubkey.len(), 64);
    let (status, me) = get(&running.base_url, "/api/me", &running.token).await;
    assert_eq!(status, 200);
    assert_eq!(me["login"], "dev");
    let exit = terminate(running);
    assert_eq!(exit.code(), Some(0));
}

#[tokio::test]
async fn a_seeded_token_and_master_are_used_as_given() {
    let pubkey = "29acbae141bccaf0b22e1a94d34d0bc7361e526d0bfe12c89794bc9322966dd7";
    let running = spawn(&["--token", "wk_seededforthetest", "--master-pubkey", pubkey]);
    assert_eq!(running.token, "wk_seededforthetest");
    assert_eq!(running.master_pubkey, pubkey);
    assert_eq!(
        get(&running.base_url, "/api/me", "wk_seededforthetest")
            .await
            .0,
        200
    );
    assert_eq!(terminate(running).code(), Some(0));
}

#[tokio::test]
async fn state_in_a_db_file_survives_a_restart() {
    let dir = scratch("db");
    let db = dir.join("platform.sqlite");
    let blobs = dir.join("blobs");
    let args = [
        "--db",
        path_arg(&db),
        "--blobs",
        path_arg(&blobs),
        "--token",
        "wk_persistent",
    ];
    let first = spawn(&args);
    let response = wavekat_platform_client::dev_platform::http_client()
        .expect("an HTTP client")
        .post(format!("{}/api/voice/calls/sync", first.base_url))
        .bearer_auth(&first.token)
        .json(&json!({"items": [{
            "sourceId": "c1", "accountId": "a", "direction": "outbound", "party": "+1",
            "ringAt": "2026-05-16T10:00:00Z", "endAt": "2026-05-16T10:01:00Z",
            "disposition": "answered", "endReason": "hangup_local", "schemaVersion": 1
        }]}))
        .send()
        .await
        .expect("an HTTP answer");
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(terminate(first).code(), Some(0));

    let second = spawn(&args);
    let (status, page) = get(&second.base_url, "/api/voice/calls", "wk_persistent").await;
    assert_eq!(status, 200);
    assert_eq!(page["items"][0]["sourceId"], "c1");
    assert_eq!(terminate(second).code(), Some(0));
    assert!(blobs.is_dir(), "a given blob directory is kept");
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn lose_responses_makes_the_binary_apply_a_sync_and_lose_its_answer() {
    let dir = scratch("lose");
    let db = dir.join("platform.sqlite");
    let common = ["--db", path_arg(&db), "--token", "wk_lossy"];
    let lossy: Vec<&str> = common
        .iter()
        .copied()
        .chain(["--faults", "1", "--seed", "4", "--lose-responses", "1"])
        .collect();
    let first = spawn(&lossy);
    let answer = wavekat_platform_client::dev_platform::http_client()
        .expect("an HTTP client")
        .post(format!("{}/api/voice/calls/sync", first.base_url))
        .bearer_auth(&first.token)
        .json(&json!({"items": [{
            "sourceId": "applied-unanswered", "accountId": "a", "direction": "outbound",
            "party": "+1", "ringAt": "2026-05-16T10:00:00Z", "endAt": "2026-05-16T10:01:00Z",
            "disposition": "answered", "endReason": "hangup_local", "schemaVersion": 1
        }]}))
        .send()
        .await;
    match answer {
        Ok(response) => assert_eq!(response.status().as_u16(), 503),
        Err(e) => assert!(e.status().is_none(), "{e}"),
    }
    assert_eq!(terminate(first).code(), Some(0));

    let second = spawn(&common);
    let (status, page) = get(&second.base_url, "/api/voice/calls", "wk_lossy").await;
    assert_eq!(status, 200);
    assert_eq!(page["items"][0]["sourceId"], "applied-unanswered");
    assert_eq!(terminate(second).code(), Some(0));
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn an_unknown_flag_exits_2_with_a_message() {
    let output = Command::new(BIN)
        .arg("--frobnicate")
        .output()
        .expect("the binary runs");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--frobnicate"), "{stderr}");
    assert!(output.stdout.is_empty());
}

#[test]
fn a_bad_flag_value_exits_2() {
    for args in [
        &["--listen", "nowhere"][..],
        &["--faults", "2"],
        &["--faults"],
        &["--seed", "-1", "--faults", "0.1"],
        &["--seed", "5"],
        &["--faults", "0.5", "--lose-responses", "1.5"],
        &["--faults", "0.5", "--lose-responses", "some"],
        &["--lose-responses", "0.5"],
    ] {
        let output = Command::new(BIN)
            .args(args)
            .output()
            .expect("the binary runs");
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        assert!(!output.stderr.is_empty(), "{args:?}");
    }
}

#[test]
fn help_prints_usage_and_exits_0() {
    let output = Command::new(BIN)
        .arg("--help")
        .output()
        .expect("the binary runs");
    assert_eq!(output.status.code(), Some(0));
    let usage = String::from_utf8_lossy(&output.stdout);
    assert!(usage.contains("--auto-approve"), "{usage}");
    assert!(usage.contains("--lose-responses SHARE"), "{usage}");
}
