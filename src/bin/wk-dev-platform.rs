//! `wk-dev-platform`: runs the local WaveKat platform emulator until SIGINT or SIGTERM.
//!
//! The first line on stdout is `listening on http://<addr>`, then `token: <bearer>` for the
//! default user and `master-pubkey: <hex>` for the release master heartbeats are verified
//! against.

use std::io::Write;
use std::net::SocketAddr;
use std::process::ExitCode;

use wavekat_platform_client::dev_platform::{DevPlatform, DevPlatformOptions, Faults};
use wavekat_platform_client::Token;

const USAGE: &str = "\
wk-dev-platform: a local, SQLite-backed emulator of the WaveKat platform API

USAGE:
    wk-dev-platform [OPTIONS]

OPTIONS:
    --listen ADDR          address to listen on (default 127.0.0.1:0)
    --db PATH              SQLite file to keep state in (default: in memory)
    --blobs DIR            where recording bytes are stored (default: a temporary directory,
                           removed on exit)
    --token TOKEN          seed this bearer token for the default user
    --master-pubkey HEX    verify heartbeats against this release master public key instead of
                           a freshly minted one
    --auto-approve         approve every /cli-login request at once
    --faults RATE          fail this fraction (0.0-1.0) of /api/* requests on purpose
    --seed N               seed of the fault sequence (default 0)
    --retry-after SECS     Retry-After of an injected 429 (default 1)
    --lose-responses SHARE make this fraction (0.0-1.0) of the faults applied-then-lost:
                           the request is carried out, then the connection is dropped or a
                           503 is answered (default 0)
    -h, --help             print this help

On start it prints `listening on http://ADDR`, `token: TOKEN` and `master-pubkey: HEX`.
It stops cleanly on SIGINT or SIGTERM.
";

/// What the command line asked for.
struct Args {
    options: DevPlatformOptions,
}

enum Parsed {
    Run(Args),
    Help,
}

fn parse_args(mut argv: impl Iterator<Item = String>) -> Result<Parsed, String> {
    let mut options = DevPlatformOptions::default();
    let mut fault_rate: Option<f64> = None;
    let mut seed: u64 = 0;
    let mut retry_after: u32 = 1;
    let mut lose_share: f64 = 0.0;
    let mut seed_given = false;
    let mut retry_given = false;
    let mut lose_given = false;

    while let Some(arg) = argv.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_owned(), Some(v.to_owned())),
            _ => (arg.clone(), None),
        };
        let mut value = |name: &str| -> Result<String, String> {
            match inline.clone() {
                Some(v) => Ok(v),
                None => argv.next().ok_or_else(|| format!("{name} needs a value")),
            }
        };
        match flag.as_str() {
            "-h" | "--help" => return Ok(Parsed::Help),
            "--listen" => {
                let v = value("--listen")?;
                let addr: SocketAddr = v.parse().map_err(|_| {
                    format!("--listen: {v:?} is not an address like 127.0.0.1:8080")
                })?;
                options = options.listen(addr);
            }
            "--db" => options = options.db_path(value("--db")?),
            "--blobs" => options = options.blobs_dir(value("--blobs")?),
            "--token" => {
                let v = value("--token")?;
                if v.is_empty() {
                    return Err("--token must not be empty".to_owned());
                }
                options = options.token(Token::new(v));
            }
            "--master-pubkey" => options = options.master_public_key_hex(value("--master-pubkey")?),
            "--auto-approve" => {
                if inline.is_some() {
                    return Err("--auto-approve takes no value".to_owned());
                }
                options = options.auto_approve(true);
            }
            "--faults" => {
                let v = value("--faults")?;
                let rate: f64 = v
                    .parse()
                    .ok()
                    .filter(|r: &f64| (0.0..=1.0).contains(r))
                    .ok_or_else(|| format!("--faults: {v:?} is not a rate from 0.0 to 1.0"))?;
                fault_rate = Some(rate);
            }
            "--seed" => {
                let v = value("--seed")?;
                seed = v
                    .parse()
                    .map_err(|_| format!("--seed: {v:?} is not a non-negative integer"))?;
                seed_given = true;
            }
            "--retry-after" => {
                let v = value("--retry-after")?;
                retry_after = v
                    .parse()
                    .map_err(|_| format!("--retry-after: {v:?} is not a number of seconds"))?;
                retry_given = true;
            }
            "--lose-responses" => {
                let v = value("--lose-responses")?;
                lose_share = v
                    .parse()
                    .ok()
                    .filter(|s: &f64| (0.0..=1.0).contains(s))
                    .ok_or_else(|| {
                        format!("--lose-responses: {v:?} is not a share from 0.0 to 1.0")
                    })?;
                lose_given = true;
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }

    match fault_rate {
        Some(rate) => {
            options = options.faults(
                Faults::new(rate, seed)
                    .retry_after_secs(retry_after)
                    .lose_responses(lose_share),
            );
        }
        None if seed_given || retry_given || lose_given => {
            return Err("--seed, --retry-after and --lose-responses need --faults".to_owned());
        }
        None => {}
    }
    Ok(Parsed::Run(Args { options }))
}

fn main() -> ExitCode {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(Parsed::Run(args)) => args,
        Ok(Parsed::Help) => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("wk-dev-platform: {message}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("wk-dev-platform: could not start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(run(args))
}

async fn run(args: Args) -> ExitCode {
    let platform = match DevPlatform::start(args.options).await {
        Ok(p) => p,
        Err(e) => {
            eprintln!("wk-dev-platform: {e}");
            return ExitCode::FAILURE;
        }
    };
    let banner = format!(
        "listening on {}\ntoken: {}\nmaster-pubkey: {}\n",
        platform.base_url(),
        platform.token().expose(),
        platform.master_public_key_hex()
    );
    let mut stdout = std::io::stdout().lock();
    if stdout
        .write_all(banner.as_bytes())
        .and_then(|()| stdout.flush())
        .is_err()
    {
        eprintln!("wk-dev-platform: could not write to stdout");
    }
    drop(stdout);

    if let Err(e) = wait_for_signal().await {
        eprintln!("wk-dev-platform: could not listen for signals: {e}");
        platform.shutdown().await;
        return ExitCode::FAILURE;
    }
    platform.shutdown().await;
    ExitCode::SUCCESS
}

#[cfg(unix)]
async fn wait_for_signal() -> std::io::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    Ok(())
}

#[cfg(not(unix))]
async fn wait_for_signal() -> std::io::Result<()> {
    tokio::signal::ctrl_c().await
}
