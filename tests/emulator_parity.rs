//! Emulator parity with the contract: every operation in `schema/openapi.json` is served by the
//! dev-platform emulator, and the emulator serves no `/api` route the spec does not document.
//! The emulator's behaviour is hand-written; these tests keep its coverage honest, naming the
//! route (`GET /api/voice/calls/{sourceId}`) on any difference.
#![cfg(feature = "dev-platform")]

use std::collections::BTreeSet;

use serde_json::Value;
use wavekat_platform_client::dev_platform::{served_api_routes, DevPlatform, DevPlatformOptions};

const SPEC: &str = include_str!("../schema/openapi.json");

/// The HTTP methods an OpenAPI 3.0 path item can hold operations under.
const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// One operation of the spec: `METHOD /path/{template}` and its operationId.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct SpecOperation {
    method: String,
    path: String,
    operation_id: String,
}

impl SpecOperation {
    fn route(&self) -> String {
        format!("{} {}", self.method, self.path)
    }
}

fn spec_operations() -> Vec<SpecOperation> {
    // Compiled in, so the build tracks the file: the test always checks the spec it was built with.
    let spec: Value = serde_json::from_str(SPEC).expect("schema/openapi.json is JSON");
    let paths = spec["paths"].as_object().expect("the spec has paths");
    let mut operations = Vec::new();
    for (path, item) in paths {
        for method in METHODS {
            if let Some(operation) = item.get(method) {
                operations.push(SpecOperation {
                    method: method.to_ascii_uppercase(),
                    path: path.clone(),
                    operation_id: operation["operationId"]
                        .as_str()
                        .unwrap_or("(no operationId)")
                        .to_owned(),
                });
            }
        }
    }
    assert!(
        !operations.is_empty(),
        "schema/openapi.json lists no operations"
    );
    operations
}

fn served() -> BTreeSet<String> {
    served_api_routes()
        .iter()
        .map(|route| route.to_string())
        .collect()
}

#[test]
fn every_operation_in_the_spec_is_in_the_emulators_route_table() {
    let served = served();
    let missing: Vec<String> = spec_operations()
        .iter()
        .filter(|op| !served.contains(&op.route()))
        .map(|op| {
            format!(
                "the spec has {} ({}), which the emulator does not serve",
                op.route(),
                op.operation_id
            )
        })
        .collect();
    assert!(
        missing.is_empty(),
        "emulator parity:\n  {}\n(add the route and its handler to the table in src/dev_platform/server.rs)",
        missing.join("\n  ")
    );
}

#[test]
fn the_emulator_serves_no_api_route_the_spec_does_not_document() {
    let documented: BTreeSet<String> = spec_operations().iter().map(|op| op.route()).collect();
    let served = served();
    assert!(
        served.iter().all(|route| route.contains(" /api")),
        "the route table holds a route outside /api: {served:?}"
    );
    let undocumented: Vec<String> = served
        .iter()
        .filter(|route| !documented.contains(*route))
        .map(|route| format!("the emulator serves {route}, which the spec does not document"))
        .collect();
    assert!(
        undocumented.is_empty(),
        "emulator parity:\n  {}\n(document the operation in schema/openapi.json or remove the route)",
        undocumented.join("\n  ")
    );
}

/// Whether an answer is the emulator's own "this route does not exist" (the router's fallback:
/// 404 `no such route`, or 405 for a known path under another method), as opposed to an answer
/// of a handler (401 without a token, 400 on an empty body, …).
fn is_no_such_route(status: u16, body: &Value) -> bool {
    status == 405 || (status == 404 && body["message"] == "no such route")
}

#[tokio::test]
async fn every_operation_in_the_spec_reaches_a_handler_over_http() {
    let platform = DevPlatform::start(DevPlatformOptions::default())
        .await
        .expect("the emulator starts");
    let http = wavekat_platform_client::dev_platform::http_client().expect("an HTTP client");
    let probe = |method: &str, path: &str| {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("an HTTP method");
        // Every `{param}` gets a plain value; no token and no body, so no handler changes state.
        let concrete: String = path
            .split('/')
            .map(|segment| {
                if segment.starts_with('{') {
                    "probe"
                } else {
                    segment
                }
            })
            .collect::<Vec<_>>()
            .join("/");
        http.request(method, format!("{}{concrete}", platform.base_url()))
            .send()
    };
    let answer = |response: reqwest::Response| async move {
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        (status, body)
    };

    // The recogniser recognises: a path nobody serves gets the fallback answer.
    let (status, body) = answer(
        probe("GET", "/api/not-in-any-spec")
            .await
            .expect("an answer"),
    )
    .await;
    assert!(is_no_such_route(status, &body), "{status} {body}");

    let mut unserved = Vec::new();
    for op in spec_operations() {
        let response = probe(&op.method, &op.path)
            .await
            .unwrap_or_else(|e| panic!("{}: no answer: {e}", op.route()));
        let (status, body) = answer(response).await;
        if is_no_such_route(status, &body) {
            unserved.push(format!(
                "{} ({}) answered {status} {body}: the emulator does not serve it",
                op.route(),
                op.operation_id
            ));
        }
    }
    assert!(
        unserved.is_empty(),
        "emulator parity over HTTP:\n  {}",
        unserved.join("\n  ")
    );
}
