//! The typed client and wire types generated from `schema/openapi.json` by the build script (`build/`).
//!
//! Never edit generated code: change the spec and rebuild. Lint allowances apply to this module
//! only.
#![allow(
    missing_docs,
    clippy::all,
    clippy::pedantic,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    unused_imports,
    dead_code
)]

include!(concat!(env!("OUT_DIR"), "/platform_api.rs"));
