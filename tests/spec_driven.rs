//! The spec is the one source of truth: what the library decides per operation, and how users
//! build wire types, never repeats a fact of `schema/openapi.json` by hand.

use std::path::{Path, PathBuf};

use serde_json::Value;
use wavekat_platform_client::wire::{CliCodeExchangeRequest, CliCodeExchangeResponse};

const SPEC: &str = include_str!("../schema/openapi.json");
/// progenitor's output after the build script (`build/types.rs`) shaped it (non_exhaustive, constructors).
const GENERATED: &str = include_str!(concat!(env!("OUT_DIR"), "/platform_api.rs"));

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out
}

/// Lines of code, without comment lines (doc examples may name what they show).
fn code_lines(path: &Path) -> Vec<(usize, String)> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim_start().starts_with("//"))
        .map(|(i, l)| (i + 1, l.to_owned()))
        .collect()
}

fn spec() -> Value {
    serde_json::from_str(SPEC).unwrap()
}

fn operations() -> Vec<(String, String)> {
    let spec = spec();
    let mut out = Vec::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for op in item.as_object().unwrap().values() {
            if let Some(id) = op.get("operationId").and_then(Value::as_str) {
                out.push((id.to_owned(), path.clone()));
            }
        }
    }
    out
}

#[test]
fn no_operation_id_is_written_by_hand_in_the_library() {
    let ids = operations();
    assert!(!ids.is_empty());
    let mut found = Vec::new();
    for file in rust_files(&root().join("src")) {
        for (n, line) in code_lines(&file) {
            for (id, _) in &ids {
                if line.contains(&format!("\"{id}\"")) {
                    found.push(format!("{}:{n}: {id}", file.display()));
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "operationIds typed by hand:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_client_layers_type_no_api_path() {
    let paths: Vec<String> = operations().into_iter().map(|(_, p)| p).collect();
    let mut found = Vec::new();
    for file in rust_files(&root().join("src")) {
        // The emulator serves the routes; it is checked against the spec by its own test.
        if file.components().any(|c| c.as_os_str() == "dev_platform") {
            continue;
        }
        for (n, line) in code_lines(&file) {
            for path in &paths {
                let prefix = path.split('{').next().unwrap_or(path);
                if line.contains(&format!("\"{prefix}")) {
                    found.push(format!("{}:{n}: {path}", file.display()));
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "API paths typed by hand:\n{}",
        found.join("\n")
    );
}

/// Every generated wire struct, by name.
fn generated_structs() -> Vec<String> {
    GENERATED
        .lines()
        .filter_map(|l| l.trim().strip_prefix("pub struct "))
        .filter(|rest| rest.ends_with('{'))
        .map(|rest| rest.trim_end_matches('{').trim().to_owned())
        .filter(|name| name != "Client")
        .collect()
}

#[test]
fn every_generated_wire_struct_is_non_exhaustive() {
    let structs = generated_structs();
    assert!(
        structs.iter().any(|s| s == "VoiceCallRecord"),
        "{structs:?}"
    );
    for name in &structs {
        let at = GENERATED.find(&format!("pub struct {name} {{")).unwrap();
        let attrs: String = GENERATED[..at]
            .lines()
            .rev()
            .skip(1)
            .take_while(|l| l.trim_start().starts_with("#[") || l.trim_start().starts_with("///"))
            .collect();
        assert!(
            attrs.contains("#[non_exhaustive]"),
            "{name} can be built with a struct literal, so an added optional property would break its users"
        );
    }
}

#[test]
fn readme_examples_and_fixtures_build_wire_types_only_through_constructors() {
    let mut names = generated_structs();
    names.extend(["Page".to_owned(), "SyncRequest".to_owned()]);
    let mut files = vec![
        root().join("README.md"),
        root().join("tests/support/mod.rs"),
    ];
    files.extend(rust_files(&root().join("examples")));
    files.extend(rust_files(&root().join("interop/examples")));
    files.extend(rust_files(&root().join("src")));
    let mut found = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for (n, line) in text.lines().enumerate() {
            let trimmed = line.trim_start();
            // Library code may build its own types; its doc comments are examples for users.
            let is_src = file.starts_with(root().join("src"));
            if is_src && !trimmed.starts_with("///") && !trimmed.starts_with("//!") {
                continue;
            }
            for name in &names {
                for (at, _) in line.match_indices(name.as_str()) {
                    let before = line[..at].chars().last();
                    let after = line[at + name.len()..].trim_start();
                    let word_start = !before.is_some_and(|c| c.is_alphanumeric() || c == '_');
                    let head = line[..at].trim_end();
                    let declares = ["struct", "impl", "for", "->"]
                        .iter()
                        .any(|word| head.ends_with(word));
                    if word_start && !declares && after.starts_with('{') {
                        found.push(format!("{}:{}: {}", file.display(), n + 1, line.trim()));
                    }
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "struct-literal construction of wire types (use new(..) and with_..(..)):\n{}",
        found.join("\n")
    );
}

#[test]
fn a_code_exchange_response_never_shows_its_token_in_debug() {
    for token in ["wk_live_9f8e7d6c5b4a", "Opaque9f8e7d6c5b4aToken"] {
        let response: CliCodeExchangeResponse =
            serde_json::from_value(serde_json::json!({ "token": token, "login": "eason" }))
                .unwrap();
        assert_eq!(response.token.expose(), token);
        let shown = format!("{response:?}");
        assert!(!shown.contains(token), "{shown}");
        assert!(!shown.contains("9f8e7d6c5b4a"), "{shown}");
        assert!(
            shown.contains("eason"),
            "the rest of the response still shows: {shown}"
        );
        assert_eq!(
            serde_json::to_value(&response).unwrap()["token"],
            token,
            "on the wire the token is the plain string"
        );
    }
}

#[test]
fn a_code_exchange_request_never_shows_its_code_or_state_in_debug() {
    let request =
        CliCodeExchangeRequest::new("ONE-TIME-7Q4Z".to_owned(), "st4te-Xk29vLq8aWcM".to_owned());
    let shown = format!("{request:?}");
    assert!(!shown.contains("ONE-TIME-7Q4Z"), "{shown}");
    assert!(!shown.contains("st4te-Xk29vLq8aWcM"), "{shown}");
    assert!(shown.contains("CliCodeExchangeRequest"), "{shown}");
    let wire = serde_json::to_value(&request).unwrap();
    assert_eq!(wire["code"], "ONE-TIME-7Q4Z", "the wire keeps the value");
    assert_eq!(
        wire["state"], "st4te-Xk29vLq8aWcM",
        "the wire keeps the value"
    );
}

#[test]
fn every_secret_marked_property_is_redacted_by_the_generated_debug() {
    let spec = spec();
    let mut marked = Vec::new();
    for (name, schema) in spec["components"]["schemas"].as_object().unwrap() {
        for (prop, body) in schema["properties"].as_object().into_iter().flatten() {
            if body["x-wavekat-secret"] == Value::Bool(true) {
                marked.push(format!("{name}.{prop}"));
                assert!(
                    GENERATED.contains(&format!(".field({prop:?}, &\"<redacted>\")")),
                    "{name}.{prop} is marked x-wavekat-secret but its Debug prints it"
                );
            }
        }
    }
    assert!(!marked.is_empty(), "no property is marked x-wavekat-secret");
}
