//! Operator tool for release signing (scheme 2): makes the release master key pair once, and
//! issues a per-version credential at each release.
//!
//! Built only with the `release-tooling` feature:
//!
//! ```text
//! cargo run --features release-tooling --bin wk-release-keys -- generate-master
//! WK_RELEASE_MASTER_PRIVATE=<hex> cargo run --features release-tooling --bin wk-release-keys -- issue --version 0.1.0
//! ```
//!
//! `generate-master` prints `WK_RELEASE_MASTER_PRIVATE=<hex>` (keep it as a CI secret) and
//! `RELEASE_MASTER_PUBKEY=<hex>` (the platform's root of trust). `issue --version V` reads the
//! master private key from the environment only (never from the command line, which other users
//! can see in `ps`) and prints `WK_RELEASE_PRIV_V`, `WK_RELEASE_PUB_V`, `WK_RELEASE_CERT` and
//! `WK_RELEASE_VERSION` lines for the build environment. Values go to stdout, guidance to
//! stderr. Any error exits with status 2 and never prints a key.

use std::io::Write;
use std::process::ExitCode;

use wavekat_platform_client::signing::{generate_master, issue_release_credential};
use wavekat_platform_client::signing::{
    ENV_RELEASE_CERT, ENV_RELEASE_MASTER_PRIVATE, ENV_RELEASE_MASTER_PUBKEY,
    ENV_RELEASE_PRIVATE_KEY, ENV_RELEASE_PUBLIC_KEY, ENV_RELEASE_VERSION,
};
use zeroize::Zeroizing;

const USAGE: &str = "usage:
  wk-release-keys generate-master
  WK_RELEASE_MASTER_PRIVATE=<hex> wk-release-keys issue --version <version>";

/// A failure to report on stderr (never containing a secret).
struct Failure(String);

enum Command {
    Help,
    GenerateMaster,
    Issue { version: String },
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match parse(&args).and_then(run) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure(message)) => {
            let _ = writeln!(std::io::stderr(), "error: {message}\n{USAGE}");
            ExitCode::from(2)
        }
    }
}

/// Parses the arguments. Unexpected arguments are reported by position only: one might be a
/// secret pasted in the wrong place.
fn parse(args: &[String]) -> Result<Command, Failure> {
    let Some((command, rest)) = args.split_first() else {
        return Err(Failure("no command given".to_owned()));
    };
    match command.as_str() {
        "-h" | "--help" | "help" if rest.is_empty() => Ok(Command::Help),
        "generate-master" => match rest.len() {
            0 => Ok(Command::GenerateMaster),
            _ => Err(unexpected(2)),
        },
        "issue" => parse_issue(rest),
        _ => Err(Failure(
            "unknown command (expected generate-master or issue)".to_owned(),
        )),
    }
}

fn parse_issue(rest: &[String]) -> Result<Command, Failure> {
    let mut version = None;
    let mut index = 0;
    while let Some(arg) = rest.get(index) {
        let position = index + 2;
        let value = if arg == "--version" {
            index += 1;
            rest.get(index)
                .cloned()
                .ok_or_else(|| Failure("--version needs a value".to_owned()))?
        } else if let Some(value) = arg.strip_prefix("--version=") {
            value.to_owned()
        } else {
            return Err(unexpected(position));
        };
        if version.replace(value).is_some() {
            return Err(Failure("--version given more than once".to_owned()));
        }
        index += 1;
    }
    match version {
        Some(version) => Ok(Command::Issue { version }),
        None => Err(Failure("issue needs --version <version>".to_owned())),
    }
}

fn unexpected(position: usize) -> Failure {
    Failure(format!(
        "unexpected argument at position {position} (not echoed; keys are read from the environment, never from arguments)"
    ))
}

fn run(command: Command) -> Result<(), Failure> {
    match command {
        Command::Help => print_lines(&[USAGE]),
        Command::GenerateMaster => {
            let (private, public) =
                generate_master().map_err(|error| Failure(error.to_string()))?;
            note(&[
                "# Release master key pair, generated once.",
                "# Store the first line as the CI secret WK_RELEASE_MASTER_PRIVATE.",
                "# Set the second line as the platform variable RELEASE_MASTER_PUBKEY.",
            ]);
            let private_line =
                Zeroizing::new(format!("{ENV_RELEASE_MASTER_PRIVATE}={}", private.expose()));
            let public_line = format!("{ENV_RELEASE_MASTER_PUBKEY}={public}");
            print_lines(&[&private_line, &public_line])
        }
        Command::Issue { version } => {
            let master = match std::env::var(ENV_RELEASE_MASTER_PRIVATE) {
                Ok(value) => Zeroizing::new(value),
                Err(std::env::VarError::NotPresent) => {
                    return Err(Failure(format!(
                        "{ENV_RELEASE_MASTER_PRIVATE} is not set in the environment"
                    )))
                }
                Err(std::env::VarError::NotUnicode(_)) => {
                    return Err(Failure(format!(
                        "{ENV_RELEASE_MASTER_PRIVATE} is not valid Unicode"
                    )))
                }
            };
            let credential = issue_release_credential(&master, &version)
                .map_err(|error| Failure(error.to_string()))?;
            note(&[
                "# Per-version release credential. Put these in the build environment;",
                "# WK_RELEASE_PRIV_V is secret, the others are not.",
            ]);
            let private = credential.export_private_key();
            let private_line =
                Zeroizing::new(format!("{ENV_RELEASE_PRIVATE_KEY}={}", private.expose()));
            let public_line = format!("{ENV_RELEASE_PUBLIC_KEY}={}", credential.public_key_hex());
            let cert_line = format!("{ENV_RELEASE_CERT}={}", credential.cert_hex());
            let version_line = format!("{ENV_RELEASE_VERSION}={}", credential.version());
            print_lines(&[&private_line, &public_line, &cert_line, &version_line])
        }
    }
}

fn note(lines: &[&str]) {
    let mut stderr = std::io::stderr().lock();
    for line in lines {
        let _ = writeln!(stderr, "{line}");
    }
}

fn print_lines(lines: &[&str]) -> Result<(), Failure> {
    let mut stdout = std::io::stdout().lock();
    for line in lines {
        writeln!(stdout, "{line}").map_err(|_| Failure("could not write to stdout".to_owned()))?;
    }
    stdout
        .flush()
        .map_err(|_| Failure("could not write to stdout".to_owned()))
}
