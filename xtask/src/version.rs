//! Crate versions: reading the root package's from `Cargo.toml`, and what a breaking change of the
//! contract asks of it (semver: pre-1.0 a new minor, from 1.0 a new major).

use std::fmt;

/// A `MAJOR.MINOR.PATCH` version (pre-release and build suffixes are ignored for the gate).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version {
    pub major: u64,
    pub minor: u64,
    pub patch: u64,
}

impl Version {
    /// Parses `1.2.3` (and `1.2.3-rc.1`, ignoring the suffix).
    pub fn parse(text: &str) -> Result<Version, String> {
        let core = text.trim().split(['-', '+']).next().unwrap_or_default();
        let parts: Vec<&str> = core.split('.').collect();
        let number = |s: &str| {
            s.parse::<u64>()
                .map_err(|_| format!("{text:?} is not a MAJOR.MINOR.PATCH version"))
        };
        match parts.as_slice() {
            [major, minor, patch] => Ok(Version {
                major: number(major)?,
                minor: number(minor)?,
                patch: number(patch)?,
            }),
            _ => Err(format!("{text:?} is not a MAJOR.MINOR.PATCH version")),
        }
    }

    /// The smallest version that may carry a breaking change after `self`.
    pub fn next_breaking(self) -> Version {
        if self.major == 0 {
            Version {
                major: 0,
                minor: self.minor + 1,
                patch: 0,
            }
        } else {
            Version {
                major: self.major + 1,
                minor: 0,
                patch: 0,
            }
        }
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

/// The `version` of the `[package]` table of a `Cargo.toml`.
pub fn package_version(manifest: &str) -> Result<Version, String> {
    let mut in_package = false;
    for line in manifest.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_package = line == "[package]";
            continue;
        }
        if !in_package {
            continue;
        }
        if let Some((key, value)) = line.split_once('=') {
            if key.trim() == "version" {
                let value = value.split('#').next().unwrap_or_default().trim();
                let unquoted = value
                    .strip_prefix('"')
                    .and_then(|v| v.strip_suffix('"'))
                    .ok_or_else(|| format!("[package] version is not a plain string: {value}"))?;
                return Version::parse(unquoted);
            }
        }
    }
    Err("Cargo.toml has no [package] version".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pre_one_point_zero_a_breaking_change_needs_the_next_minor() {
        let v = Version::parse("0.1.3").unwrap();
        assert_eq!(v.next_breaking().to_string(), "0.2.0");
        let v = Version::parse("1.4.2").unwrap();
        assert_eq!(v.next_breaking().to_string(), "2.0.0");
    }

    #[test]
    fn the_package_version_is_read_from_the_package_table_only() {
        let manifest = "[workspace]\nversion = \"9.9.9\"\n\n[package]\nname = \"x\"\nversion = \"0.1.0\" # released\n\n[dependencies]\nversion = \"7.0.0\"\n";
        assert_eq!(
            package_version(manifest).unwrap(),
            Version::parse("0.1.0").unwrap()
        );
        assert!(package_version("[package]\nname = \"x\"\n").is_err());
        assert!(Version::parse("0.1").is_err());
    }
}
