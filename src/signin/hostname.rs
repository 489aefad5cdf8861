//! The default `source` label: the machine's hostname.

/// `source` sent when no hostname can be found.
const UNKNOWN_HOST: &str = "unknown-host";

/// The machine's hostname: env `HOSTNAME`, else the `hostname` command (Unix) or `COMPUTERNAME`
/// (Windows), else `unknown-host`.
pub(super) fn default_source() -> String {
    non_empty_env("HOSTNAME")
        .or_else(platform_hostname)
        .unwrap_or_else(|| UNKNOWN_HOST.to_owned())
}

/// [`default_source`] off the async threads (it may run a command).
pub(super) async fn default_source_async() -> String {
    tokio::task::spawn_blocking(default_source)
        .await
        .unwrap_or_else(|_| UNKNOWN_HOST.to_owned())
}

fn non_empty_env(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .map(|value| value.trim().to_owned())
        .filter(|value| !value.is_empty())
}

#[cfg(unix)]
fn platform_hostname() -> Option<String> {
    let output = std::process::Command::new("hostname")
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    if !output.status.success() {
        return None;
    }
    let name = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    (!name.is_empty()).then_some(name)
}

#[cfg(windows)]
fn platform_hostname() -> Option<String> {
    non_empty_env("COMPUTERNAME")
}

#[cfg(not(any(unix, windows)))]
fn platform_hostname() -> Option<String> {
    None
}
