//! The anonymous, release-signed install heartbeat and the host facts it reports.
//!
//! ```no_run
//! # async fn run(credential: wavekat_platform_client::signing::ReleaseCredential) -> wavekat_platform_client::Result<()> {
//! use wavekat_platform_client::Client;
//!
//! let row = Client::send_install_heartbeat(
//!     "https://platform.wavekat.com",
//!     "6f1c2b9e-8a41-4d6e-9b0f-1d2c3e4f5a6b",
//!     "1.4.2",
//!     Some("direct"),
//!     &credential,
//! )
//! .await?;
//! println!("first seen {}", row.first_seen_at);
//!
//! // With fleet fields: the generated operation on a client holding the credential.
//! let request = wavekat_platform_client::heartbeat::SystemInfo::detect()
//!     .heartbeat_request("6f1c2b9e-8a41-4d6e-9b0f-1d2c3e4f5a6b", "1.4.2")
//!     .with_update_channel("beta".to_owned());
//! let client = Client::builder("https://platform.wavekat.com")
//!     .release_credential(credential.clone())
//!     .build()?;
//! client.install_heartbeat(&request).await?;
//! # Ok(()) }
//! ```

use std::process::Command;

use crate::client::Client;
use crate::error::Result;
use crate::signing::ReleaseCredential;
use crate::wire::{InstallHeartbeatRequest, InstallHeartbeatResponse};

impl Client {
    /// Sends this install's heartbeat, filled with [`SystemInfo::detect`], through the generated
    /// [`Client::install_heartbeat`] on a client that holds `credential`. The spec marks that
    /// operation release-signed, so it goes out unauthenticated (no `Authorization`, no
    /// `User-Agent`, like 0.0.37), signed over exactly the bytes sent, and is never retried.
    pub async fn send_install_heartbeat(
        base_url: &str,
        install_id: &str,
        app_version: &str,
        distribution: Option<&str>,
        credential: &ReleaseCredential,
    ) -> Result<InstallHeartbeatResponse> {
        let mut request = SystemInfo::detect().heartbeat_request(install_id, app_version);
        request.distribution = distribution.map(str::to_owned);
        Client::builder(base_url)
            .release_credential(credential.clone())
            .build()?
            .install_heartbeat(&request)
            .await
    }
}

/// Best-effort facts about the host, detected at call time. A probe that fails leaves its field
/// `None`; `os` and `arch` always come from the compile target. Never fails, never panics.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SystemInfo {
    /// Target OS as Rust spells it: `macos`, `windows`, `linux`, …
    pub os: String,
    /// Human OS version, e.g. `15.5.0` or `24.04`.
    pub os_version: Option<String>,
    /// Target architecture as Rust spells it: `aarch64`, `x86_64`, …
    pub arch: String,
    /// BCP-47 system locale, e.g. `en-NZ`.
    pub locale: Option<String>,
    /// IANA time zone as the OS reports it, e.g. `Pacific/Auckland`.
    pub timezone: Option<String>,
    /// Logical CPU count.
    pub cpu_cores: Option<u32>,
    /// Total memory rounded to whole GB.
    pub memory_gb: Option<u32>,
}

impl SystemInfo {
    /// Probes the host.
    pub fn detect() -> SystemInfo {
        SystemInfo {
            os: std::env::consts::OS.to_owned(),
            os_version: os_version(),
            arch: std::env::consts::ARCH.to_owned(),
            locale: locale(),
            timezone: timezone(),
            cpu_cores: std::thread::available_parallelism()
                .ok()
                .and_then(|n| u32::try_from(n.get()).ok()),
            memory_gb: memory_gb(),
        }
    }

    /// A heartbeat request carrying these environment fields (`os`, `osVersion`, `arch`,
    /// `locale`) and no fleet fields.
    pub fn heartbeat_request(
        &self,
        install_id: &str,
        app_version: &str,
    ) -> InstallHeartbeatRequest {
        let mut request = InstallHeartbeatRequest::new(
            install_id.to_owned(),
            app_version.to_owned(),
            self.os.clone(),
        );
        request.os_version = self.os_version.clone();
        request.arch = Some(self.arch.clone());
        request.locale = self.locale.clone();
        request
    }
}

fn non_empty(s: &str) -> Option<String> {
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_owned())
}

fn command_output(program: &str, args: &[&str]) -> Option<String> {
    let output = Command::new(program).args(args).output().ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).into_owned())
        .and_then(|s| non_empty(&s))
}

fn os_version() -> Option<String> {
    match std::env::consts::OS {
        "macos" => command_output("sw_vers", &["-productVersion"]),
        "windows" => command_output("cmd", &["/C", "ver"]).and_then(|v| {
            // "Microsoft Windows [Version 10.0.22631.3880]"
            let start = v.find("Version ")? + "Version ".len();
            v.get(start..)
                .map(|rest| rest.trim_end_matches(']').trim().to_owned())
        }),
        _ => os_release_field("VERSION_ID").or_else(|| command_output("uname", &["-r"])),
    }
}

fn os_release_field(key: &str) -> Option<String> {
    let text = std::fs::read_to_string("/etc/os-release")
        .or_else(|_| std::fs::read_to_string("/usr/lib/os-release"))
        .ok()?;
    text.lines().find_map(|line| {
        let value = line.strip_prefix(key)?.strip_prefix('=')?;
        non_empty(value.trim_matches('"'))
    })
}

/// `en_NZ.UTF-8` → `en-NZ`; `C`/`POSIX` mean "no locale".
fn posix_to_bcp47(value: &str) -> Option<String> {
    let base = value.split(['.', '@']).next()?.trim();
    if base.is_empty() || base == "C" || base == "POSIX" {
        return None;
    }
    Some(base.replace('_', "-"))
}

fn locale() -> Option<String> {
    for var in ["LC_ALL", "LC_MESSAGES", "LANG"] {
        if let Some(locale) = std::env::var(var).ok().and_then(|v| posix_to_bcp47(&v)) {
            return Some(locale);
        }
    }
    if std::env::consts::OS == "macos" {
        return command_output("defaults", &["read", "-g", "AppleLocale"])
            .and_then(|v| posix_to_bcp47(&v));
    }
    None
}

fn timezone() -> Option<String> {
    if let Some(tz) = std::env::var("TZ")
        .ok()
        .and_then(|v| non_empty(v.trim_start_matches(':')))
    {
        return Some(tz);
    }
    if let Some(tz) = std::fs::read_to_string("/etc/timezone")
        .ok()
        .and_then(|v| non_empty(&v))
    {
        return Some(tz);
    }
    let target = std::fs::read_link("/etc/localtime").ok()?;
    let target = target.to_string_lossy();
    let start = target.find("zoneinfo/")? + "zoneinfo/".len();
    target.get(start..).and_then(non_empty)
}

fn memory_gb() -> Option<u32> {
    const GIB: f64 = 1024.0 * 1024.0 * 1024.0;
    let bytes: u64 = match std::env::consts::OS {
        "linux" | "android" => {
            let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
            let kib: u64 = meminfo
                .lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))?
                .split_whitespace()
                .next()?
                .parse()
                .ok()?;
            kib.checked_mul(1024)?
        }
        "macos" => command_output("sysctl", &["-n", "hw.memsize"])?
            .parse()
            .ok()?,
        _ => return None,
    };
    let gb = (bytes as f64 / GIB).round();
    (gb >= 1.0).then_some(gb as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn posix_locales_become_bcp47() {
        assert_eq!(posix_to_bcp47("en_NZ.UTF-8").as_deref(), Some("en-NZ"));
        assert_eq!(posix_to_bcp47("pt_BR@euro").as_deref(), Some("pt-BR"));
        assert_eq!(posix_to_bcp47("C.UTF-8"), None);
        assert_eq!(posix_to_bcp47("POSIX"), None);
        assert_eq!(posix_to_bcp47(""), None);
    }

    #[test]
    fn detect_reports_the_compile_target_and_never_fails() {
        let info = SystemInfo::detect();
        assert_eq!(info.os, std::env::consts::OS);
        assert_eq!(info.arch, std::env::consts::ARCH);
        assert!(info.cpu_cores.is_some_and(|n| n >= 1));
    }

    #[test]
    fn the_heartbeat_request_carries_only_environment_fields() {
        let info = SystemInfo {
            os: "linux".into(),
            os_version: None,
            arch: "x86_64".into(),
            locale: Some("en-NZ".into()),
            timezone: Some("Pacific/Auckland".into()),
            cpu_cores: Some(8),
            memory_gb: Some(16),
        };
        let wire = serde_json::to_value(info.heartbeat_request("i1", "1.0.0")).unwrap_or_default();
        assert_eq!(
            wire,
            serde_json::json!({"installId":"i1","appVersion":"1.0.0","os":"linux","arch":"x86_64","locale":"en-NZ"})
        );
    }
}
