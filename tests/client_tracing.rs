//! One `tracing` span per request, carrying method, path, operation, status and attempt, and no
//! secret anywhere in span fields or events. Uses a minimal in-test subscriber (no extra crate).

mod support;

use std::fmt::Debug;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use support::raw_http::{http_response, serve_once};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};
use wavekat_platform_client::{Client, Token};

#[derive(Default)]
struct Seen {
    spans: Vec<(String, Vec<(String, String)>)>,
    everything: String,
}

struct Recorder {
    seen: Arc<Mutex<Seen>>,
    next: AtomicU64,
}

struct Fields<'a>(&'a mut Vec<(String, String)>);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn Debug) {
        self.0.push((field.name().to_owned(), format!("{value:?}")));
    }
}

impl Subscriber for Recorder {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, attrs: &Attributes<'_>) -> Id {
        let mut fields = Vec::new();
        attrs.record(&mut Fields(&mut fields));
        let mut seen = self.seen.lock().unwrap();
        seen.everything.push_str(&format!("{fields:?}"));
        seen.spans
            .push((attrs.metadata().name().to_owned(), fields));
        Id::from_u64(self.next.fetch_add(1, Ordering::SeqCst) + 1)
    }
    fn record(&self, span: &Id, values: &Record<'_>) {
        let mut fields = Vec::new();
        values.record(&mut Fields(&mut fields));
        let mut seen = self.seen.lock().unwrap();
        seen.everything.push_str(&format!("{fields:?}"));
        if let Some((_, existing)) = seen.spans.get_mut(span.into_u64() as usize - 1) {
            existing.extend(fields);
        }
    }
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut fields = Vec::new();
        event.record(&mut Fields(&mut fields));
        self.seen
            .lock()
            .unwrap()
            .everything
            .push_str(&format!("{fields:?}"));
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

#[tokio::test]
async fn each_request_gets_one_span_with_method_path_status_and_attempt_and_no_secrets() {
    let seen = Arc::new(Mutex::new(Seen::default()));
    let recorder = Recorder {
        seen: seen.clone(),
        next: AtomicU64::new(0),
    };
    let _guard = tracing::subscriber::set_default(recorder);
    let body = r#"{"id":"u1","login":"eason","role":"user"}"#;
    let (url, _captured) = serve_once(http_response("200 OK", "application/json", body)).await;
    let client = Client::new(&url, Token::new("wk_tracing_secret_value")).unwrap();
    client.get_me().await.unwrap();

    let seen = seen.lock().unwrap();
    let requests: Vec<_> = seen
        .spans
        .iter()
        .filter(|(name, _)| name == "wavekat.request")
        .collect();
    assert_eq!(requests.len(), 1, "one span per request: {:?}", seen.spans);
    let field = |name: &str| {
        requests[0]
            .1
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    };
    assert_eq!(field("method").as_deref(), Some("GET"));
    assert_eq!(field("path").as_deref(), Some("/api/me"));
    assert_eq!(field("operation").as_deref(), Some("\"get_me\""));
    assert_eq!(field("status").as_deref(), Some("200"));
    assert_eq!(field("attempt").as_deref(), Some("1"));
    assert!(
        !seen.everything.contains("tracing_secret"),
        "a secret reached tracing"
    );
}
