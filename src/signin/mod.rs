//! Browser sign-in: a loopback listener on `127.0.0.1` that catches the platform's redirect, plus
//! the headless helpers (the one-time-code URL and the pasted-redirect fallback).
//!
//! [`loopback_handshake`] binds the listener and builds the `/cli-login` URL; the caller opens the
//! URL however it likes (this crate never opens a browser and never touches disk) and awaits
//! [`PendingHandshake::wait`]. When the browser runs on another machine, [`code_login`] builds the
//! one-time-code URL, and [`PendingHandshake::complete_from_redirect`] accepts the final redirect
//! URL pasted by the user; whichever path decides first wins, exactly once.
//!
//! ```no_run
//! # async fn sign_in() -> Result<(), wavekat_platform_client::Error> {
//! use wavekat_platform_client::signin::{loopback_handshake, HandshakeOptions};
//!
//! let pending = loopback_handshake("https://platform.wavekat.com", HandshakeOptions::default()).await?;
//! println!("Open {} to sign in", pending.url());
//! let outcome = pending.wait().await?;
//! # let _ = outcome;
//! # Ok(())
//! # }
//! ```
//!
//! The module is split by concern:
//! - `core`: the sans-IO protocol core. Request-head bytes in, a decision out (an answer, and
//!   perhaps the sign-in's outcome); every rule of the callback is unit-tested here without a
//!   socket.
//! - `listener`: the tokio listener: accepting, per-connection deadlines, the bounded set of
//!   connections, and the hand-off of the outcome to `wait`.
//! - `responder`: the HTTP/1.1 answers and the pages.
//! - `code`: the one-time-code flow.
//! - `options`, `random`, `hostname`: settings and their checks, the `state` generators, and the
//!   default `source` label.
//!
//! # What the listener defends against
//! Any local process (and any web page, through DNS rebinding) can reach a loopback port. The
//! listener therefore decides the sign-in only on a `GET /callback` whose `Host` is its own
//! `127.0.0.1:<port>` and whose `state` matches in constant time; a wrong or missing `state` gets
//! an error page and the listener keeps waiting for the genuine callback until the deadline.
//! Each connection must deliver its request head within a deadline, and when the connection cap
//! is reached a new connection evicts the oldest one still idle, so idle or hostile connections
//! cannot crowd out the browser. The genuine callback, whose URL carries the token, is answered
//! with a `303` to `/done`, so a reload or a restored tab never sends the token again.

mod code;
mod core;
mod hostname;
mod listener;
mod options;
mod random;
mod responder;

pub use self::code::{code_login, CodeLogin};
pub use self::core::HandshakeOutcome;
pub use self::listener::{loopback_handshake, HandshakeHandle, PendingHandshake};
pub use self::options::{CodeLoginOptions, HandshakeOptions};

/// `client` sent when the caller names none.
const DEFAULT_CLIENT: &str = "wavekat-platform-client";
