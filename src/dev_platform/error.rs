//! The emulator's own error type.

use std::net::SocketAddr;
use std::path::PathBuf;

use super::store::StoreError;
use crate::signing;

/// Why the emulator could not start, or an operation on it failed.
///
/// Like [`crate::Error`], every variant is a leaf: the operating system's, SQLite's or the
/// signing code's error is in the message, and `source()` is `None`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An option has a value the emulator cannot use.
    #[error("invalid option {option}: {reason}")]
    InvalidOption {
        /// The option's name.
        option: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The listen address could not be bound.
    #[error(
        "could not listen on {addr}: {io}; pick another address (port 0 takes a free one), or \
         stop what holds it"
    )]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The operating system's error.
        io: std::io::Error,
    },
    /// The blob directory could not be created.
    #[error(
        "could not create the blob directory {}: {io}; choose a writable directory",
        path.display()
    )]
    Blobs {
        /// The directory.
        path: PathBuf,
        /// The operating system's error.
        io: std::io::Error,
    },
    /// The SQLite database failed (opening, schema, or a query).
    #[error("dev-platform database: {0}")]
    Database(String),
    /// `add_user` was given a login that already exists.
    #[error("a user with login {login:?} already exists")]
    LoginTaken {
        /// The login.
        login: String,
    },
    /// No user has this login.
    #[error("no user with login {login:?}")]
    UnknownUser {
        /// The login.
        login: String,
    },
    /// The token is not one this emulator issued.
    #[error("the token is not known to this emulator")]
    UnknownToken,
    /// The emulator verifies against an external master public key, so it holds no master
    /// private key to issue release credentials with.
    #[error("the emulator was given an external master public key; it cannot issue credentials")]
    NoMasterPrivateKey,
    /// A key or version was refused by the release-signing code.
    #[error("release signing: {0}")]
    Signing(signing::KeyError),
    /// [`approve_sign_in`](super::DevPlatform::approve_sign_in) was given a URL for another
    /// origin: the emulator approves only sign-ins on its own `/cli-login`.
    #[error("the sign-in URL is for {origin}, not this emulator at {emulator}")]
    ForeignSignInUrl {
        /// The URL's origin (scheme, host and port; never its query, which carries the state).
        origin: String,
        /// The address this emulator listens on.
        emulator: SocketAddr,
    },
    /// [`approve_sign_in`](super::DevPlatform::approve_sign_in) was given a URL the consent page
    /// would refuse.
    #[error("the sign-in URL cannot be approved: {reason}")]
    InvalidSignInUrl {
        /// What is wrong, as the page's `400` says it.
        reason: String,
    },
    /// The operating system's random number generator failed.
    #[error("the operating system's random number generator failed")]
    Randomness,
}

impl From<signing::KeyError> for Error {
    fn from(e: signing::KeyError) -> Self {
        Error::Signing(e)
    }
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        Error::Database(e.to_string())
    }
}
