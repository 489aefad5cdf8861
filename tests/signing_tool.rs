//! The `wk-release-keys` operator binary (feature `release-tooling`): its output lines, that what
//! it issues verifies, and that failures exit 2 without printing a key.

use std::collections::HashMap;
use std::process::{Command, Output};

use wavekat_platform_client::signing::{verify_cert, ReleaseCredential};

fn tool() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_wk-release-keys"));
    command.env_remove("WK_RELEASE_MASTER_PRIVATE");
    command
}

fn stdout_vars(output: &Output) -> HashMap<String, String> {
    String::from_utf8(output.stdout.clone())
        .unwrap()
        .lines()
        .map(|line| {
            let (name, value) = line.split_once('=').expect("NAME=value line");
            (name.to_owned(), value.to_owned())
        })
        .collect()
}

fn is_lower_hex(text: &str, len: usize) -> bool {
    text.len() == len && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

fn generate_master() -> (String, String) {
    let output = tool().arg("generate-master").output().unwrap();
    assert!(output.status.success());
    let vars = stdout_vars(&output);
    (
        vars["WK_RELEASE_MASTER_PRIVATE"].clone(),
        vars["RELEASE_MASTER_PUBKEY"].clone(),
    )
}

#[test]
fn generate_master_prints_the_private_and_public_lines() {
    let output = tool().arg("generate-master").output().unwrap();
    assert!(output.status.success());
    let vars = stdout_vars(&output);
    let mut names: Vec<&str> = vars.keys().map(String::as_str).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        ["RELEASE_MASTER_PUBKEY", "WK_RELEASE_MASTER_PRIVATE"]
    );
    assert!(is_lower_hex(&vars["WK_RELEASE_MASTER_PRIVATE"], 64));
    assert!(is_lower_hex(&vars["RELEASE_MASTER_PUBKEY"], 64));
}

#[test]
fn issue_prints_a_credential_the_master_public_key_certifies() {
    let (master_private, master_public) = generate_master();
    let output = tool()
        .args(["issue", "--version", "0.1.0"])
        .env("WK_RELEASE_MASTER_PRIVATE", &master_private)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let vars = stdout_vars(&output);
    let mut names: Vec<&str> = vars.keys().map(String::as_str).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "WK_RELEASE_CERT",
            "WK_RELEASE_PRIV_V",
            "WK_RELEASE_PUB_V",
            "WK_RELEASE_VERSION"
        ]
    );
    assert_eq!(vars["WK_RELEASE_VERSION"], "0.1.0");
    assert_eq!(
        verify_cert(
            &master_public,
            "0.1.0",
            &vars["WK_RELEASE_PUB_V"],
            &vars["WK_RELEASE_CERT"]
        ),
        Ok(())
    );
    let credential = ReleaseCredential::from_env_with(|name| vars.get(name).cloned());
    assert!(credential.is_ok(), "private key matches the public key");
}

#[test]
fn issue_accepts_the_version_in_equals_form() {
    let (master_private, _) = generate_master();
    let output = tool()
        .args(["issue", "--version=2.0.0-beta.1"])
        .env("WK_RELEASE_MASTER_PRIVATE", &master_private)
        .output()
        .unwrap();
    assert!(output.status.success());
    assert_eq!(stdout_vars(&output)["WK_RELEASE_VERSION"], "2.0.0-beta.1");
}

#[test]
fn issue_without_the_master_key_in_the_environment_exits_2() {
    let output = tool()
        .args(["issue", "--version", "0.1.0"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(output.stdout.is_empty());
    assert!(String::from_utf8_lossy(&output.stderr).contains("WK_RELEASE_MASTER_PRIVATE"));
}

#[test]
fn issue_with_a_malformed_master_key_exits_2_without_echoing_it() {
    let secret = format!("{}zz", "ab".repeat(31));
    let output = tool()
        .args(["issue", "--version", "0.1.0"])
        .env("WK_RELEASE_MASTER_PRIVATE", &secret)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("master private key"), "{stderr}");
    assert!(!stderr.contains(&"ab".repeat(31)), "{stderr}");
}

#[test]
fn a_key_passed_as_an_argument_is_refused_and_not_echoed() {
    let (master_private, _) = generate_master();
    let output = tool()
        .args(["issue", "--version", "0.1.0", &master_private])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(output.stdout.is_empty());
    assert!(!String::from_utf8_lossy(&output.stderr).contains(&master_private));
}

#[test]
fn issue_without_a_version_exits_2() {
    let output = tool().arg("issue").output().unwrap();
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn issue_with_an_invalid_version_exits_2() {
    let (master_private, _) = generate_master();
    let output = tool()
        .args(["issue", "--version", "1.0 beta"])
        .env("WK_RELEASE_MASTER_PRIVATE", &master_private)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(output.stdout.is_empty());
}

#[test]
fn unknown_command_exits_2() {
    let output = tool().arg("master").output().unwrap();
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn no_command_exits_2() {
    let output = tool().output().unwrap();
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn help_prints_usage_and_succeeds() {
    let output = tool().arg("--help").output().unwrap();
    assert!(output.status.success());
    assert!(String::from_utf8_lossy(&output.stdout).contains("generate-master"));
}
