//! Generates everything the crate derives from `schema/openapi.json`.
//!
//! The checked-in spec is the contract and stays truthful to the wire. Progenitor cannot express
//! some of its facts, so the copy handed to the generator (never the file) is adapted first; each
//! adaptation is listed in `adapt_for_progenitor`. Every other fact the hand-written layers need
//! is read from the spec here and written to `OUT_DIR` as Rust:
//!
//! - `platform_api.rs`: progenitor's client and types. Every generated struct is made
//!   `#[non_exhaustive]` and given `new(<required fields>)` and `with_<optional field>` methods, so
//!   an optional property added to the spec never breaks a consumer's construction; string
//!   properties marked `x-wavekat-token: true` become [`crate::Token`] (redacting `Debug`);
//!   progenitor's `api-version` request header is left out (`build/headers.rs`).
//! - `operations.rs`: one public `Client` method per operation (same name and positional
//!   arguments as progenitor's), mapping the result to `crate::Result`. A resource's sync
//!   operation builds its body with `crate::sync::prepare_batch` (cap, per-record checks,
//!   `schemaVersion`), its list operation fills the spec's default query values; plus the probe
//!   tables the operation tests iterate (`build/probes.rs`).
//! - `operation_facts.rs`: per operation, whether it may be retried (`x-wavekat-idempotent`, else
//!   the HTTP method), whether it is release-signed (`x-wavekat-signing: release`), whether it
//!   needs a bearer token (a non-empty `security`, its own or the spec's), and its real request
//!   content type.
//! - `wire_enums.rs`: every string enum of the components, with an `Unknown(String)` catch-all,
//!   plus the table of spec values the test suite checks.
//! - `wire_validate.rs`: per generated struct, the fields holding enum values and the
//!   `format: date-time` strings (refused on send when unknown or not RFC 3339), and the records
//!   carrying the sync envelope (`schemaVersion` + `extras`).
//! - `sync_endpoints.rs`: the sync resources, from the `POST …/{R}/sync` + `GET …/{R}` pairs.
//! - `wire_components.rs`: every component of the spec with the Rust type that carries it, for
//!   the JSON Schema derived from the Rust types (`crate::wire::component_schemas`).
//!
//! The spec's vendor extensions this reads (everything else follows from plain OpenAPI):
//!
//! | Where | Extension | Meaning |
//! |---|---|---|
//! | operation | `x-wavekat-idempotent: true\|false` | May be retried; default from the method (GET, HEAD, PUT, DELETE, OPTIONS, TRACE yes; POST, PATCH no). |
//! | operation | `x-wavekat-signing: "release"` | Release-signed: no bearer, no user agent, never retried. |
//! | sync operation | `x-wavekat-schema-version: N` | Stamped on records that leave `schemaVersion` unset (default 1), by the generated sync operation and `Client::sync` alike. |
//! | list-query property | `x-wavekat-default-known-values: "<Enum>"` | Sent as every known value of the enum, comma-separated, when the caller leaves it unset (the generated list operation, and so `list_all`). |
//! | string property | `x-wavekat-token: true` | A bearer token: `crate::Token` (redacting `Debug`); on the wire still a plain string. |
//! | property | `x-wavekat-secret: true` | A secret that is not a token (a one-time code, the sign-in `state`): the struct's `Debug` prints `<redacted>` for it. |
//! | string enum | `x-wavekat-enum-descriptions: {value: text}` | The doc of each Rust variant. |
//! | component | `x-wavekat-transport` | Not an HTTP body (the mobile frames): not generated, hand-written in `src/mobile`. |

mod adapt;
mod headers;
mod operations;
mod probes;
mod resources;
mod spec;
mod tables;
mod types;
mod validate;

use std::error::Error;
use std::path::PathBuf;
use std::{env, fs};

use progenitor::{GenerationSettings, Generator, HooksMode, InterfaceStyle, TagStyle};
use serde_json::Value;

use adapt::adapt_for_progenitor;
use headers::drop_api_version_header;
use operations::{client_operations, operations_source};
use spec::Spec;
use types::shape_types;
use validate::wire_validate_source;

pub(crate) type BoxError = Box<dyn Error>;

const SPEC: &str = "schema/openapi.json";

fn main() -> Result<(), BoxError> {
    println!("cargo:rerun-if-changed={SPEC}");
    println!("cargo:rerun-if-changed=build");

    let raw: Value = serde_json::from_str(&fs::read_to_string(SPEC)?)
        .map_err(|e| format!("{SPEC} is not valid JSON: {e}"))?;
    let spec = Spec::new(&raw)?;

    let mut adapted = raw.clone();
    adapt_for_progenitor(&mut adapted);
    let openapi: openapiv3::OpenAPI = serde_json::from_value(adapted)
        .map_err(|e| format!("{SPEC} is not an OpenAPI 3.0 document: {e}"))?;

    let mut settings = GenerationSettings::default();
    settings
        .with_interface(InterfaceStyle::Positional)
        .with_tag(TagStyle::Merged)
        .with_inner_type("crate::client::Hooks".parse()?)
        .with_hooks(HooksMode::Expected)
        .with_derive("PartialEq");
    // Feature `schemars`: the generated types derive `JsonSchema` too.
    if env::var_os("CARGO_FEATURE_SCHEMARS").is_some() {
        settings.with_derive("::schemars::JsonSchema");
    }
    for (name, rust) in spec.replacements() {
        settings.with_replacement(name, rust, std::iter::empty());
    }

    let tokens = Generator::new(&settings).generate_tokens(&openapi)?;
    let mut file: syn::File = syn::parse2(tokens)?;
    let structs = shape_types(&mut file, &spec)?;
    drop_api_version_header(&mut file)?;
    let operations = client_operations(&file)?;

    let out = PathBuf::from(env::var("OUT_DIR")?);
    let write = |name: &str, source: String| -> Result<(), BoxError> {
        let parsed: syn::File = syn::parse_str(&source)
            .map_err(|e| format!("generated {name} does not parse: {e}\n{source}"))?;
        fs::write(out.join(name), prettyplease::unparse(&parsed))?;
        Ok(())
    };
    fs::write(out.join("platform_api.rs"), prettyplease::unparse(&file))?;
    let resources = spec.sync_resources(&operations)?;
    write(
        "operations.rs",
        operations_source(&operations, &resources, &spec)?,
    )?;
    write("operation_facts.rs", spec.operation_facts_source())?;
    write("wire_enums.rs", spec.enums_source())?;
    write("wire_validate.rs", wire_validate_source(&structs, &spec))?;
    write("sync_endpoints.rs", spec.sync_endpoints_source(&resources))?;
    write("wire_components.rs", spec.components_source()?)?;
    Ok(())
}
