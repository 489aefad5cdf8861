#![doc = include_str!("../README.md")]
// docs.rs (`--cfg docsrs`, see `[package.metadata.docs.rs]`) badges each feature-gated item with
// the feature it needs.
#![cfg_attr(docsrs, feature(doc_cfg))]
#![deny(missing_docs)]
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

mod calendar;
mod client;
mod code_exchange;
#[cfg(feature = "dev-platform")]
pub mod dev_platform;
mod error;
mod generated;
pub mod heartbeat;
mod html;
pub mod mobile;
mod operations;
mod plain_http;
mod retry;
pub mod signin;
pub mod signing;
pub mod sync;
mod tls;
mod token;
pub mod upload;
pub mod wire;

pub use client::{Client, ClientBuilder};
pub use error::{Error, Result};
pub use retry::RetryPolicy;
pub use token::Token;
