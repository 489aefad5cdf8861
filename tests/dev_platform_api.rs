//! The dev-platform emulator's API over real HTTP: auth, isolation, sync rules, lists and
//! pagination, recording bytes, and bad input.
#![cfg(feature = "dev-platform")]

use std::collections::HashSet;

use reqwest::StatusCode;
use serde_json::{json, Value};
use wavekat_platform_client::dev_platform::{DevPlatform, DevPlatformOptions};
use wavekat_platform_client::Token;

struct Harness {
    platform: DevPlatform,
    http: reqwest::Client,
}

impl Harness {
    async fn start() -> Harness {
        Harness::with(DevPlatformOptions::default()).await
    }

    async fn with(options: DevPlatformOptions) -> Harness {
        let platform = DevPlatform::start(options)
            .await
            .expect("the emulator starts");
        Harness {
            platform,
            http: wavekat_platform_client::dev_platform::http_client().expect("an HTTP client"),
        }
    }

    fn token(&self) -> &Token {
        self.platform.token()
    }

    fn url(&self, path: &str) -> String {
        format!("{}{}", self.platform.base_url(), path)
    }

    async fn answer(response: reqwest::Response) -> (StatusCode, Value) {
        let status = response.status();
        let bytes = response.bytes().await.expect("a readable body");
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        };
        (status, body)
    }

    async fn get(&self, path: &str, token: &Token) -> (StatusCode, Value) {
        let response = self
            .http
            .get(self.url(path))
            .bearer_auth(token.expose())
            .send()
            .await
            .expect("an HTTP answer");
        Self::answer(response).await
    }

    async fn post(&self, path: &str, token: &Token, body: &Value) -> (StatusCode, Value) {
        let response = self
            .http
            .post(self.url(path))
            .bearer_auth(token.expose())
            .json(body)
            .send()
            .await
            .expect("an HTTP answer");
        Self::answer(response).await
    }

    async fn post_raw(&self, path: &str, token: &Token, body: Vec<u8>) -> (StatusCode, Value) {
        let response = self
            .http
            .post(self.url(path))
            .bearer_auth(token.expose())
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("an HTTP answer");
        Self::answer(response).await
    }

    async fn sync(&self, resource: &str, token: &Token, items: Vec<Value>) -> (StatusCode, Value) {
        self.post(
            &format!("/api/voice/{resource}/sync"),
            token,
            &json!({ "items": items }),
        )
        .await
    }

    async fn sync_ok(&self, resource: &str, items: Vec<Value>) -> Value {
        let (status, body) = self.sync(resource, self.token(), items).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }

    async fn list_ok(&self, path: &str) -> Value {
        let (status, body) = self.get(path, self.token()).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }

    async fn put_bytes(&self, source_id: &str, token: &Token, body: reqwest::Body) -> StatusCode {
        self.http
            .put(self.url(&format!("/api/voice/recordings/{source_id}/bytes")))
            .bearer_auth(token.expose())
            .header("content-type", "audio/wav")
            .body(body)
            .send()
            .await
            .expect("an HTTP answer")
            .status()
    }
}

fn call(sid: &str, end_at: &str) -> Value {
    json!({
        "sourceId": sid,
        "accountId": "22222222-2222-4222-8222-222222222222",
        "direction": "inbound",
        "party": "+14155550123",
        "ringAt": "2026-05-16T10:00:00Z",
        "endAt": end_at,
        "disposition": "missed",
        "endReason": "missed",
        "schemaVersion": 1
    })
}

fn tombstone(sid: &str, end_at: &str, deleted_at: &str) -> Value {
    let mut c = call(sid, end_at);
    c["deletedAt"] = json!(deleted_at);
    c
}

fn recording(sid: &str, call: &str, created_at: &str, size: u64) -> Value {
    json!({
        "sourceId": sid,
        "callSourceId": call,
        "sizeBytes": size,
        "durationMs": 1000,
        "sampleRate": 16000,
        "channels": 2,
        "createdAt": created_at,
        "schemaVersion": 1
    })
}

fn transcript(sid: &str, call: &str, ts_ms: i64) -> Value {
    json!({
        "sourceId": sid,
        "callSourceId": call,
        "channel": "remote",
        "tsMs": ts_ms,
        "endMs": ts_ms + 500,
        "text": format!("segment {sid}"),
        "schemaVersion": 1
    })
}

fn account(sid: &str, transport: &str, updated_at: &str, schema: u32) -> Value {
    json!({
        "sourceId": sid,
        "enabled": true,
        "displayName": format!("Line {sid}"),
        "username": "1001",
        "domain": "sip.example.com",
        "transport": transport,
        "registerExpires": 300,
        "disclosureEnabled": false,
        "updatedAt": updated_at,
        "schemaVersion": schema
    })
}

fn ids(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .expect("items is an array")
        .iter()
        .map(|i| i["sourceId"].as_str().expect("sourceId").to_owned())
        .collect()
}

fn error_code(body: &Value) -> &str {
    body["error"].as_str().unwrap_or("<no error code>")
}

// ---- identity and auth ------------------------------------------------------------------------

#[tokio::test]
async fn me_answers_the_default_user() {
    let h = Harness::start().await;
    let (status, me) = h.get("/api/me", h.token()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["login"], "dev");
    assert_eq!(me["role"], "user");
    let id = me["id"].as_str().expect("id is a string");
    assert_eq!(id.len(), 36, "a UUID string: {id}");
}

#[tokio::test]
async fn a_request_without_a_token_is_401_unauthenticated() {
    let h = Harness::start().await;
    let response = h
        .http
        .get(h.url("/api/me"))
        .send()
        .await
        .expect("an answer");
    let (status, body) = Harness::answer(response).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(error_code(&body), "unauthenticated");
}

#[tokio::test]
async fn an_unknown_token_is_401_unauthenticated() {
    let h = Harness::start().await;
    let (status, body) = h
        .get("/api/me", &Token::new("wk_notissuedbythisplatform"))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(error_code(&body), "unauthenticated");
}

#[tokio::test]
async fn a_non_bearer_authorization_is_401_unauthenticated() {
    let h = Harness::start().await;
    let response = h
        .http
        .get(h.url("/api/me"))
        .header("authorization", format!("Basic {}", h.token().expose()))
        .send()
        .await
        .expect("an answer");
    let (status, body) = Harness::answer(response).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(error_code(&body), "unauthenticated");
}

#[tokio::test]
async fn revoking_answers_204_and_the_token_is_then_401_unauthenticated() {
    let h = Harness::start().await;
    let token = h.platform.mint_token("dev").await.expect("a token");
    let (status, _) = h
        .post("/api/auth/cli/tokens/revoke-current", &token, &Value::Null)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = h.get("/api/me", &token).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(error_code(&body), "unauthenticated");
}

#[tokio::test]
async fn revoking_one_token_leaves_the_users_other_tokens_working() {
    let h = Harness::start().await;
    let token = h.platform.mint_token("dev").await.expect("a token");
    h.post("/api/auth/cli/tokens/revoke-current", &token, &Value::Null)
        .await;
    let (status, _) = h.get("/api/me", h.token()).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn a_reauth_marked_token_still_reads_and_syncs_live_rows() {
    let h = Harness::start().await;
    h.platform
        .require_reauth(h.token())
        .await
        .expect("token known");
    assert_eq!(h.get("/api/me", h.token()).await.0, StatusCode::OK);
    h.sync_ok("calls", vec![call("c1", "2026-05-16T10:01:00Z")])
        .await;
    assert_eq!(ids(&h.list_ok("/api/voice/calls").await), ["c1"]);
}

#[tokio::test]
async fn a_reauth_marked_token_syncing_a_call_tombstone_is_401_reauth_required_and_writes_nothing()
{
    let h = Harness::start().await;
    h.sync_ok("calls", vec![call("c1", "2026-05-16T10:01:00Z")])
        .await;
    h.platform
        .require_reauth(h.token())
        .await
        .expect("token known");
    let (status, body) = h
        .sync(
            "calls",
            h.token(),
            vec![
                call("c2", "2026-05-16T10:02:00Z"),
                tombstone("c1", "2026-05-16T10:01:00Z", "2026-07-30T12:00:00Z"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(error_code(&body), "reauth_required");
    let page = h.list_ok("/api/voice/calls?includeDeleted=true").await;
    assert_eq!(ids(&page), ["c1"]);
    assert!(page["items"][0].get("deletedAt").is_none());
}

#[tokio::test]
async fn a_reauth_marked_token_syncing_an_account_tombstone_is_401_reauth_required() {
    let h = Harness::start().await;
    h.platform
        .require_reauth(h.token())
        .await
        .expect("token known");
    let mut deleted = account("a1", "udp", "2026-05-16T10:00:00Z", 2);
    deleted["deletedAt"] = json!("2026-06-01T00:00:00Z");
    let (status, body) = h.sync("accounts", h.token(), vec![deleted]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(error_code(&body), "reauth_required");
}

#[tokio::test]
async fn a_reauth_marked_token_can_still_revoke_itself() {
    let h = Harness::start().await;
    let token = h.platform.mint_token("dev").await.expect("a token");
    h.platform
        .require_reauth(&token)
        .await
        .expect("token known");
    let (status, _) = h
        .post("/api/auth/cli/tokens/revoke-current", &token, &Value::Null)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(h.get("/api/me", &token).await.0, StatusCode::UNAUTHORIZED);
}

// ---- isolation --------------------------------------------------------------------------------

#[tokio::test]
async fn each_user_sees_only_their_own_rows_of_every_resource() {
    let h = Harness::start().await;
    let other = h.platform.add_user("other").await.expect("a second user");
    h.sync_ok("calls", vec![call("c1", "2026-05-16T10:01:00Z")])
        .await;
    h.sync_ok(
        "recordings",
        vec![recording("r1", "c1", "2026-05-16T10:01:00Z", 4)],
    )
    .await;
    h.sync_ok("transcripts", vec![transcript("t1", "c1", 0)])
        .await;
    h.sync_ok(
        "accounts",
        vec![account("a1", "udp", "2026-05-16T10:00:00Z", 2)],
    )
    .await;

    for path in [
        "/api/voice/calls?includeDeleted=true",
        "/api/voice/recordings",
        "/api/voice/transcripts?callSourceId=c1",
        "/api/voice/accounts?includeDeleted=true&transports=udp,tcp,tls",
    ] {
        let (status, page) = h.get(path, &other).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(ids(&page), Vec::<String>::new(), "{path} leaked rows");
    }
    let (_, me) = h.get("/api/me", &other).await;
    assert_eq!(me["login"], "other");
}

#[tokio::test]
async fn the_same_source_id_is_a_separate_row_per_user() {
    let h = Harness::start().await;
    let other = h.platform.add_user("other").await.expect("a second user");
    h.sync_ok("calls", vec![call("shared", "2026-05-16T10:01:00Z")])
        .await;
    let mut theirs = call("shared", "2026-05-16T10:01:00Z");
    theirs["party"] = json!("someone else");
    let (status, _) = h.sync("calls", &other, vec![theirs]).await;
    assert_eq!(status, StatusCode::OK);
    let mine = h.list_ok("/api/voice/calls").await;
    assert_eq!(mine["items"][0]["party"], "+14155550123");
}

#[tokio::test]
async fn adding_a_user_with_a_taken_login_fails() {
    let h = Harness::start().await;
    assert!(h.platform.add_user("dev").await.is_err());
}

#[tokio::test]
async fn uploading_bytes_for_another_users_recording_is_404() {
    let h = Harness::start().await;
    let other = h.platform.add_user("other").await.expect("a second user");
    h.sync_ok(
        "recordings",
        vec![recording("r1", "c1", "2026-05-16T10:01:00Z", 4)],
    )
    .await;
    let status = h.put_bytes("r1", &other, vec![1, 2, 3, 4].into()).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

// ---- sync rules -------------------------------------------------------------------------------

#[tokio::test]
async fn a_batch_of_101_items_is_413_and_nothing_is_written() {
    let h = Harness::start().await;
    let items = (0..101)
        .map(|i| call(&format!("c{i}"), "2026-05-16T10:01:00Z"))
        .collect();
    let (status, body) = h.sync("calls", h.token(), items).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(body["error"].is_string());
    assert_eq!(ids(&h.list_ok("/api/voice/calls").await).len(), 0);
}

#[tokio::test]
async fn a_batch_of_101_malformed_items_is_still_413() {
    let h = Harness::start().await;
    let items = (0..101).map(|_| json!({"junk": true})).collect();
    let (status, _) = h.sync("transcripts", h.token(), items).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn a_batch_of_100_items_is_accepted() {
    let h = Harness::start().await;
    let items = (0..100)
        .map(|i| call(&format!("c{i:03}"), "2026-05-16T10:01:00Z"))
        .collect();
    let body = h.sync_ok("calls", items).await;
    assert_eq!(body, json!({"accepted": 100, "skipped": 0}));
}

#[tokio::test]
async fn an_unknown_enum_value_refuses_the_whole_batch_with_400_naming_the_field() {
    let h = Harness::start().await;
    let mut bad = call("c2", "2026-05-16T10:02:00Z");
    bad["endReason"] = json!("hung_up_angrily");
    let (status, body) = h
        .sync(
            "calls",
            h.token(),
            vec![call("c1", "2026-05-16T10:01:00Z"), bad],
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let message = body["message"].as_str().expect("a message");
    assert!(message.contains("endReason"), "{message}");
    assert_eq!(ids(&h.list_ok("/api/voice/calls").await).len(), 0);
}

#[tokio::test]
async fn the_literal_transport_unknown_is_refused_with_400() {
    let h = Harness::start().await;
    let (status, body) = h
        .sync(
            "accounts",
            h.token(),
            vec![account("a1", "unknown", "2026-05-16T10:00:00Z", 2)],
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["message"]
        .as_str()
        .is_some_and(|m| m.contains("transport")));
}

#[tokio::test]
async fn an_unknown_transcript_channel_is_refused_with_400() {
    let h = Harness::start().await;
    let mut bad = transcript("t1", "c1", 0);
    bad["channel"] = json!("both");
    let (status, body) = h.sync("transcripts", h.token(), vec![bad]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["message"]
        .as_str()
        .is_some_and(|m| m.contains("channel")));
}

#[tokio::test]
async fn a_record_missing_a_required_field_is_400_naming_it() {
    let h = Harness::start().await;
    let mut bad = call("c1", "2026-05-16T10:01:00Z");
    bad.as_object_mut().expect("object").remove("party");
    let (status, body) = h.sync("calls", h.token(), vec![bad]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["message"]
        .as_str()
        .is_some_and(|m| m.contains("party")));
}

#[tokio::test]
async fn an_invalid_timestamp_in_a_sync_record_is_400() {
    let h = Harness::start().await;
    let (status, body) = h
        .sync("calls", h.token(), vec![call("c1", "yesterday at noon")])
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["message"]
        .as_str()
        .is_some_and(|m| m.contains("endAt")));
}

#[tokio::test]
async fn resyncing_a_call_is_counted_accepted_and_changes_nothing() {
    let h = Harness::start().await;
    h.sync_ok("calls", vec![call("c1", "2026-05-16T10:01:00Z")])
        .await;
    let mut changed = call("c1", "2026-05-16T10:01:00Z");
    changed["party"] = json!("a different party");
    let body = h.sync_ok("calls", vec![changed]).await;
    assert_eq!(body, json!({"accepted": 1, "skipped": 0}));
    let page = h.list_ok("/api/voice/calls").await;
    assert_eq!(ids(&page), ["c1"]);
    assert_eq!(page["items"][0]["party"], "+14155550123");
}

#[tokio::test]
async fn a_listed_call_round_trips_its_fields_but_never_extras_flow_steps_or_events() {
    let h = Harness::start().await;
    let mut c = call("c1", "2026-05-16T10:01:00Z");
    c["answerAt"] = json!("2026-05-16T10:00:05Z");
    c["durationMs"] = json!(55000);
    c["codec"] = json!("opus");
    c["flowOutcome"] = json!("message_left");
    c["extras"] = json!({"futureField": 7});
    c["flowSteps"] = json!([{"atMs": 0, "kind": "spoke", "node": "greeting"}]);
    c["events"] = json!([{"atMs": 0, "kind": "incoming_call"}]);
    h.sync_ok("calls", vec![c.clone()]).await;
    let listed = h.list_ok("/api/voice/calls").await["items"][0].clone();
    let mut expected = c;
    let object = expected.as_object_mut().expect("object");
    object.remove("extras");
    object.remove("flowSteps");
    object.remove("events");
    assert_eq!(listed, expected);
}

#[tokio::test]
async fn extras_are_persisted_verbatim() {
    let dir = scratch_dir("extras");
    let db = dir.join("platform.sqlite");
    let h = Harness::with(DevPlatformOptions::default().db_path(&db)).await;
    let extras = json!({"nested": {"list": [1, 2.5, "x", null]}, "flag": true});
    let mut c = call("c1", "2026-05-16T10:01:00Z");
    c["extras"] = extras.clone();
    h.sync_ok("calls", vec![c]).await;
    let conn = rusqlite::Connection::open(&db).expect("the database opens");
    let stored: String = conn
        .query_row("SELECT extras FROM calls WHERE source_id = 'c1'", [], |r| {
            r.get(0)
        })
        .expect("a stored row");
    assert_eq!(
        serde_json::from_str::<Value>(&stored).expect("JSON"),
        extras
    );
    drop(h);
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn tokens_are_stored_only_as_hashes() {
    let dir = scratch_dir("hashes");
    let db = dir.join("platform.sqlite");
    let h = Harness::with(DevPlatformOptions::default().db_path(&db)).await;
    let raw = std::fs::read(&db).expect("the database file");
    let wal = std::fs::read(db.with_extension("sqlite-wal")).unwrap_or_default();
    let needle = h.token().expose().as_bytes();
    for file in [&raw, &wal] {
        assert!(!file.windows(needle.len()).any(|w| w == needle));
    }
    drop(h);
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn events_beyond_200_are_dropped() {
    let dir = scratch_dir("events");
    let db = dir.join("platform.sqlite");
    let h = Harness::with(DevPlatformOptions::default().db_path(&db)).await;
    let mut c = call("c1", "2026-05-16T10:01:00Z");
    c["events"] = Value::Array(
        (0..250)
            .map(|i| json!({"atMs": i, "kind": "dtmf_sent", "digit": "1"}))
            .collect(),
    );
    h.sync_ok("calls", vec![c]).await;
    let conn = rusqlite::Connection::open(&db).expect("the database opens");
    let stored: String = conn
        .query_row("SELECT events FROM calls WHERE source_id = 'c1'", [], |r| {
            r.get(0)
        })
        .expect("a stored row");
    let events: Vec<Value> = serde_json::from_str(&stored).expect("JSON");
    assert_eq!(events.len(), 200);
    assert_eq!(events[199]["atMs"], 199);
    drop(h);
    let _ = std::fs::remove_dir_all(dir);
}

// ---- call tombstones --------------------------------------------------------------------------

#[tokio::test]
async fn a_tombstoned_call_is_listed_only_with_include_deleted() {
    let h = Harness::start().await;
    h.sync_ok(
        "calls",
        vec![
            call("live", "2026-05-16T10:02:00Z"),
            tombstone("gone", "2026-05-16T10:01:00Z", "2026-07-30T12:00:00Z"),
        ],
    )
    .await;
    assert_eq!(ids(&h.list_ok("/api/voice/calls").await), ["live"]);
    assert_eq!(
        ids(&h.list_ok("/api/voice/calls?includeDeleted=false").await),
        ["live"]
    );
    let all = h.list_ok("/api/voice/calls?includeDeleted=true").await;
    assert_eq!(ids(&all), ["live", "gone"]);
    assert_eq!(all["items"][1]["deletedAt"], "2026-07-30T12:00:00Z");
}

#[tokio::test]
async fn a_call_tombstone_is_sticky_and_a_later_live_sync_does_not_revive_it() {
    let h = Harness::start().await;
    h.sync_ok("calls", vec![call("c1", "2026-05-16T10:01:00Z")])
        .await;
    h.sync_ok(
        "calls",
        vec![tombstone(
            "c1",
            "2026-05-16T10:01:00Z",
            "2026-07-30T12:00:00Z",
        )],
    )
    .await;
    let body = h
        .sync_ok("calls", vec![call("c1", "2026-05-16T10:01:00Z")])
        .await;
    assert_eq!(body["accepted"], 1);
    assert_eq!(ids(&h.list_ok("/api/voice/calls").await).len(), 0);
}

#[tokio::test]
async fn the_first_tombstone_time_wins_over_a_later_one() {
    let h = Harness::start().await;
    h.sync_ok(
        "calls",
        vec![tombstone(
            "c1",
            "2026-05-16T10:01:00Z",
            "2026-07-30T12:00:00Z",
        )],
    )
    .await;
    h.sync_ok(
        "calls",
        vec![tombstone(
            "c1",
            "2026-05-16T10:01:00Z",
            "2026-08-01T00:00:00Z",
        )],
    )
    .await;
    let page = h.list_ok("/api/voice/calls?includeDeleted=true").await;
    assert_eq!(page["items"][0]["deletedAt"], "2026-07-30T12:00:00Z");
}

#[tokio::test]
async fn a_call_tombstone_drops_its_recordings_transcripts_and_recording_bytes() {
    let h = Harness::start().await;
    h.sync_ok(
        "calls",
        vec![
            call("doomed", "2026-05-16T10:01:00Z"),
            call("kept", "2026-05-16T10:02:00Z"),
        ],
    )
    .await;
    let synced = h
        .sync_ok(
            "recordings",
            vec![
                recording("r-doomed", "doomed", "2026-05-16T10:01:00Z", 3),
                recording("r-kept", "kept", "2026-05-16T10:02:00Z", 3),
            ],
        )
        .await;
    h.sync_ok(
        "transcripts",
        vec![transcript("t1", "doomed", 0), transcript("t2", "kept", 0)],
    )
    .await;
    for sid in ["r-doomed", "r-kept"] {
        assert_eq!(
            h.put_bytes(sid, h.token(), vec![1, 2, 3].into()).await,
            StatusCode::NO_CONTENT
        );
    }
    let blob = |i: usize| {
        h.platform
            .blobs_dir()
            .join(synced["items"][i]["r2Key"].as_str().expect("r2Key"))
    };
    assert!(blob(0).exists() && blob(1).exists());

    h.sync_ok(
        "calls",
        vec![tombstone(
            "doomed",
            "2026-05-16T10:01:00Z",
            "2026-07-30T12:00:00Z",
        )],
    )
    .await;

    assert_eq!(ids(&h.list_ok("/api/voice/recordings").await), ["r-kept"]);
    assert_eq!(
        ids(&h
            .list_ok("/api/voice/transcripts?callSourceId=doomed")
            .await)
        .len(),
        0
    );
    assert_eq!(
        ids(&h.list_ok("/api/voice/transcripts?callSourceId=kept").await),
        ["t2"]
    );
    assert!(!blob(0).exists(), "the deleted call's bytes are removed");
    assert!(blob(1).exists(), "other calls' bytes stay");
}

#[tokio::test]
async fn recordings_and_transcripts_of_a_tombstoned_call_are_skipped() {
    let h = Harness::start().await;
    h.sync_ok(
        "calls",
        vec![tombstone(
            "c1",
            "2026-05-16T10:01:00Z",
            "2026-07-30T12:00:00Z",
        )],
    )
    .await;
    let body = h
        .sync_ok(
            "recordings",
            vec![recording("r1", "c1", "2026-05-16T10:01:00Z", 3)],
        )
        .await;
    assert_eq!(body["accepted"], 0);
    assert_eq!(body["skipped"], 1);
    let body = h
        .sync_ok("transcripts", vec![transcript("t1", "c1", 0)])
        .await;
    assert_eq!(body, json!({"accepted": 0, "skipped": 1}));
}

// ---- accounts ---------------------------------------------------------------------------------

#[tokio::test]
async fn a_newer_account_revision_replaces_the_whole_row() {
    let h = Harness::start().await;
    h.sync_ok(
        "accounts",
        vec![account("a1", "udp", "2026-05-16T10:00:00Z", 2)],
    )
    .await;
    let mut newer = account("a1", "tcp", "2026-05-16T11:00:00Z", 2);
    newer["displayName"] = json!("Renamed");
    let body = h.sync_ok("accounts", vec![newer.clone()]).await;
    assert_eq!(body, json!({"accepted": 1, "skipped": 0}));
    let page = h
        .list_ok("/api/voice/accounts?transports=udp,tcp,tls")
        .await;
    assert_eq!(page["items"][0], newer);
}

#[tokio::test]
async fn an_older_account_revision_is_skipped_comparing_instants_not_strings() {
    let h = Harness::start().await;
    // 10:00 at +12:00 is 22:00 the previous day in UTC: older, though it sorts later as text.
    h.sync_ok(
        "accounts",
        vec![account("a1", "udp", "2026-05-16T09:00:00Z", 2)],
    )
    .await;
    let mut older = account("a1", "udp", "2026-05-16T10:00:00+12:00", 2);
    older["displayName"] = json!("Stale");
    let body = h.sync_ok("accounts", vec![older]).await;
    assert_eq!(body, json!({"accepted": 0, "skipped": 1}));
    let page = h.list_ok("/api/voice/accounts").await;
    assert_eq!(page["items"][0]["displayName"], "Line a1");
}

#[tokio::test]
async fn a_schema_1_record_never_overwrites_a_stored_tls_line() {
    let h = Harness::start().await;
    h.sync_ok(
        "accounts",
        vec![account("a1", "tls", "2026-05-16T10:00:00Z", 2)],
    )
    .await;
    let mut legacy = account("a1", "udp", "2026-05-17T10:00:00Z", 1);
    legacy
        .as_object_mut()
        .expect("object")
        .remove("schemaVersion");
    let body = h.sync_ok("accounts", vec![legacy]).await;
    assert_eq!(body, json!({"accepted": 0, "skipped": 1}));
    let page = h
        .list_ok("/api/voice/accounts?transports=udp,tcp,tls")
        .await;
    assert_eq!(page["items"][0]["transport"], "tls");
}

#[tokio::test]
async fn a_schema_2_record_may_overwrite_a_tls_line() {
    let h = Harness::start().await;
    h.sync_ok(
        "accounts",
        vec![account("a1", "tls", "2026-05-16T10:00:00Z", 2)],
    )
    .await;
    let body = h
        .sync_ok(
            "accounts",
            vec![account("a1", "udp", "2026-05-17T10:00:00Z", 2)],
        )
        .await;
    assert_eq!(body["accepted"], 1);
}

#[tokio::test]
async fn accounts_list_filters_by_transports_defaulting_to_udp_and_tcp() {
    let h = Harness::start().await;
    h.sync_ok(
        "accounts",
        vec![
            account("u", "udp", "2026-05-16T10:00:00Z", 2),
            account("t", "tcp", "2026-05-16T11:00:00Z", 2),
            account("s", "tls", "2026-05-16T12:00:00Z", 2),
        ],
    )
    .await;
    assert_eq!(ids(&h.list_ok("/api/voice/accounts").await), ["t", "u"]);
    assert_eq!(
        ids(&h
            .list_ok("/api/voice/accounts?transports=udp%2Ctcp%2Ctls")
            .await),
        ["s", "t", "u"]
    );
    assert_eq!(
        ids(&h.list_ok("/api/voice/accounts?transports=tls").await),
        ["s"]
    );
}

#[tokio::test]
async fn account_tombstones_are_listed_only_with_include_deleted() {
    let h = Harness::start().await;
    let mut gone = account("gone", "udp", "2026-05-16T10:00:00Z", 2);
    gone["deletedAt"] = json!("2026-06-01T00:00:00Z");
    h.sync_ok(
        "accounts",
        vec![gone, account("live", "udp", "2026-05-15T10:00:00Z", 2)],
    )
    .await;
    assert_eq!(ids(&h.list_ok("/api/voice/accounts").await), ["live"]);
    let all = h.list_ok("/api/voice/accounts?includeDeleted=true").await;
    assert_eq!(ids(&all), ["gone", "live"]);
    assert!(all.get("nextBefore").is_none());
}

// ---- transcripts ------------------------------------------------------------------------------

#[tokio::test]
async fn transcripts_sync_without_the_call_and_list_latest_segment_first() {
    let h = Harness::start().await;
    let body = h
        .sync_ok(
            "transcripts",
            vec![
                transcript("1", "no-such-call", 0),
                transcript("3", "no-such-call", 9000),
                transcript("2", "no-such-call", 4000),
                transcript("x", "another-call", 100),
            ],
        )
        .await;
    assert_eq!(body, json!({"accepted": 4, "skipped": 0}));
    let page = h
        .list_ok("/api/voice/transcripts?callSourceId=no-such-call")
        .await;
    assert_eq!(ids(&page), ["3", "2", "1"]);
    assert!(page.get("nextBefore").is_none());
}

#[tokio::test]
async fn listing_transcripts_without_call_source_id_is_400() {
    let h = Harness::start().await;
    for path in [
        "/api/voice/transcripts",
        "/api/voice/transcripts?callSourceId=",
    ] {
        let (status, body) = h.get(path, h.token()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}");
        assert!(body["error"].is_string());
    }
}

// ---- recordings and bytes ---------------------------------------------------------------------

#[tokio::test]
async fn recordings_sync_answers_each_rows_key_and_upload_state() {
    let h = Harness::start().await;
    let (_, me) = h.get("/api/me", h.token()).await;
    let user = me["id"].as_str().expect("id");
    let body = h
        .sync_ok(
            "recordings",
            vec![
                recording("a", "c1", "2026-05-16T10:01:00Z", 3),
                recording("b", "c1", "2026-05-16T10:02:00Z", 3),
            ],
        )
        .await;
    assert_eq!(
        body,
        json!({"accepted": 2, "skipped": 0, "items": [
            {"sourceId": "a", "r2Key": format!("voice/recordings/{user}/a.wav"), "bytesUploaded": false},
            {"sourceId": "b", "r2Key": format!("voice/recordings/{user}/b.wav"), "bytesUploaded": false},
        ]})
    );
}

#[tokio::test]
async fn uploading_exactly_size_bytes_stores_the_file_and_flips_bytes_uploaded() {
    let h = Harness::start().await;
    let wav: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
    let synced = h
        .sync_ok(
            "recordings",
            vec![recording(
                "r1",
                "c1",
                "2026-05-16T10:01:00Z",
                wav.len() as u64,
            )],
        )
        .await;
    let status = h.put_bytes("r1", h.token(), wav.clone().into()).await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    let key = synced["items"][0]["r2Key"].as_str().expect("r2Key");
    let stored = std::fs::read(h.platform.blobs_dir().join(key)).expect("the stored blob");
    assert_eq!(stored, wav);
    let again = h
        .sync_ok(
            "recordings",
            vec![recording(
                "r1",
                "c1",
                "2026-05-16T10:01:00Z",
                wav.len() as u64,
            )],
        )
        .await;
    assert_eq!(again["items"][0]["bytesUploaded"], true);
}

#[tokio::test]
async fn a_streamed_upload_without_content_length_is_accepted_at_the_right_length() {
    let h = Harness::start().await;
    h.sync_ok(
        "recordings",
        vec![recording("r1", "c1", "2026-05-16T10:01:00Z", 6)],
    )
    .await;
    let chunks: Vec<Result<bytes::Bytes, std::io::Error>> = vec![
        Ok(bytes::Bytes::from_static(b"abc")),
        Ok(bytes::Bytes::from_static(b"def")),
    ];
    let body = reqwest::Body::wrap_stream(futures_util::stream::iter(chunks));
    assert_eq!(
        h.put_bytes("r1", h.token(), body).await,
        StatusCode::NO_CONTENT
    );
}

fn no_blob_files(dir: &std::path::Path) -> bool {
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                return false;
            }
        }
    }
    true
}

#[tokio::test]
async fn a_body_shorter_or_longer_than_size_bytes_is_413_and_nothing_is_kept() {
    let h = Harness::start().await;
    h.sync_ok(
        "recordings",
        vec![recording("r1", "c1", "2026-05-16T10:01:00Z", 5)],
    )
    .await;
    for wrong in [vec![0u8; 4], vec![0u8; 6]] {
        assert_eq!(
            h.put_bytes("r1", h.token(), wrong.into()).await,
            StatusCode::PAYLOAD_TOO_LARGE
        );
    }
    for wrong in [&b"abcd"[..], &b"abcdef"[..]] {
        let chunks: Vec<Result<bytes::Bytes, std::io::Error>> =
            vec![Ok(bytes::Bytes::copy_from_slice(wrong))];
        let body = reqwest::Body::wrap_stream(futures_util::stream::iter(chunks));
        assert_eq!(
            h.put_bytes("r1", h.token(), body).await,
            StatusCode::PAYLOAD_TOO_LARGE
        );
    }
    assert!(no_blob_files(h.platform.blobs_dir()));
    let page = h.list_ok("/api/voice/recordings").await;
    assert_eq!(ids(&page), ["r1"]);
    let again = h
        .sync_ok(
            "recordings",
            vec![recording("r1", "c1", "2026-05-16T10:01:00Z", 5)],
        )
        .await;
    assert_eq!(again["items"][0]["bytesUploaded"], false);
}

#[tokio::test]
async fn uploading_bytes_without_synced_metadata_is_404() {
    let h = Harness::start().await;
    assert_eq!(
        h.put_bytes("never-synced", h.token(), vec![1].into()).await,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn an_upload_with_a_malformed_source_id_is_400() {
    let h = Harness::start().await;
    let too_long = "x".repeat(129);
    for sid in ["a%20b", "a%2Fb", "%C3%A9", too_long.as_str()] {
        assert_eq!(
            h.put_bytes(sid, h.token(), vec![1].into()).await,
            StatusCode::BAD_REQUEST,
            "{sid}"
        );
    }
}

#[tokio::test]
async fn an_upload_without_a_token_is_401() {
    let h = Harness::start().await;
    let status = h
        .http
        .put(h.url("/api/voice/recordings/r1/bytes"))
        .body(vec![1u8])
        .send()
        .await
        .expect("an answer")
        .status();
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

// ---- lists and pagination ---------------------------------------------------------------------

#[tokio::test]
async fn calls_are_listed_newest_end_instant_first_across_offsets() {
    let h = Harness::start().await;
    h.sync_ok(
        "calls",
        vec![
            call("utc-0930", "2026-05-16T09:30:00Z"),
            call("nz-2200-prev-day-utc", "2026-05-16T10:00:00+12:00"),
            call("utc-1000", "2026-05-16T10:00:00.000Z"),
            call("utc-1000-half", "2026-05-16T10:00:00.5Z"),
        ],
    )
    .await;
    assert_eq!(
        ids(&h.list_ok("/api/voice/calls").await),
        [
            "utc-1000-half",
            "utc-1000",
            "utc-0930",
            "nz-2200-prev-day-utc"
        ]
    );
}

#[tokio::test]
async fn the_default_page_is_50_rows_with_a_cursor_equal_to_the_last_end_at() {
    let h = Harness::start().await;
    let items: Vec<Value> = (0..60)
        .map(|i| call(&format!("c{i:02}"), &format!("2026-05-16T10:{i:02}:00Z")))
        .collect();
    h.sync_ok("calls", items).await;
    let page = h.list_ok("/api/voice/calls").await;
    assert_eq!(ids(&page).len(), 50);
    assert_eq!(page["nextBefore"], "2026-05-16T10:10:00Z");
    let rest = h
        .list_ok("/api/voice/calls?before=2026-05-16T10%3A10%3A00Z")
        .await;
    assert_eq!(ids(&rest).len(), 10);
    assert!(rest.get("nextBefore").is_none());
}

#[tokio::test]
async fn a_plain_timestamp_cursor_returns_only_strictly_older_rows() {
    let h = Harness::start().await;
    h.sync_ok(
        "recordings",
        vec![
            recording("newer", "c", "2026-05-16T10:02:00Z", 1),
            recording("at", "c", "2026-05-16T10:01:00Z", 1),
            recording("older", "c", "2026-05-16T10:00:00Z", 1),
        ],
    )
    .await;
    let page = h
        .list_ok("/api/voice/recordings?before=2026-05-16T23%3A01%3A00%2B13%3A00")
        .await;
    assert_eq!(ids(&page), ["older"]);
}

async fn page_all(h: &Harness, base: &str, limit: u32) -> Vec<String> {
    let mut seen = Vec::new();
    let mut before: Option<String> = None;
    for _ in 0..1000 {
        let mut url = format!("{base}?limit={limit}");
        if let Some(b) = &before {
            url.push_str("&before=");
            url.push_str(&url::form_urlencoded::byte_serialize(b.as_bytes()).collect::<String>());
        }
        let page = h.list_ok(&url).await;
        seen.extend(ids(&page));
        match page.get("nextBefore").and_then(Value::as_str) {
            Some(next) => before = Some(next.to_owned()),
            None => return seen,
        }
    }
    panic!("pagination did not end");
}

#[tokio::test]
async fn rows_sharing_a_timestamp_page_without_gaps_or_repeats() {
    let h = Harness::start().await;
    let mut items: Vec<Value> = (0..7)
        .map(|i| call(&format!("same-{i}"), "2026-05-16T10:00:00Z"))
        .collect();
    items.push(call("later", "2026-05-16T11:00:00Z"));
    items.push(call("earlier", "2026-05-16T09:00:00Z"));
    h.sync_ok("calls", items).await;
    let seen = page_all(&h, "/api/voice/calls", 2).await;
    assert_eq!(
        seen,
        [
            "later", "same-6", "same-5", "same-4", "same-3", "same-2", "same-1", "same-0",
            "earlier"
        ]
    );
}

#[tokio::test]
async fn recordings_sharing_a_timestamp_page_without_gaps_or_repeats() {
    let h = Harness::start().await;
    let items: Vec<Value> = (0..5)
        .map(|i| recording(&format!("r{i}"), "c", "2026-05-16T10:00:00Z", 1))
        .collect();
    h.sync_ok("recordings", items).await;
    let seen = page_all(&h, "/api/voice/recordings", 2).await;
    assert_eq!(seen, ["r4", "r3", "r2", "r1", "r0"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paging_while_a_writer_inserts_misses_and_repeats_none_of_the_starting_rows() {
    let h = std::sync::Arc::new(Harness::start().await);
    // 60 calls over 20 distinct seconds: three rows share every timestamp.
    let start: Vec<Value> = (0..60)
        .map(|i| {
            call(
                &format!("start-{i:02}"),
                &format!("2026-05-16T10:00:{:02}Z", i % 20),
            )
        })
        .collect();
    h.sync_ok("calls", start).await;

    let writer = {
        let h = std::sync::Arc::clone(&h);
        tokio::spawn(async move {
            for i in 0..40 {
                // "w-…" sorts before "start-…", so new rows land inside the tie groups ahead of
                // the starting rows.
                let c = call(
                    &format!("w-{i:02}"),
                    &format!("2026-05-16T10:00:{:02}Z", (i * 7) % 20),
                );
                let (status, _) = h.sync("calls", h.token(), vec![c]).await;
                assert_eq!(status, StatusCode::OK);
                tokio::task::yield_now().await;
            }
        })
    };
    // Four per page never lines up with the groups of three (or more) rows sharing a timestamp.
    let seen = page_all(&h, "/api/voice/calls", 4).await;
    writer.await.expect("the writer finishes");

    let unique: HashSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "no row is listed twice");
    for i in 0..60 {
        assert!(
            seen.contains(&format!("start-{i:02}")),
            "start-{i:02} was skipped"
        );
    }
    let keys: Vec<(String, String)> = {
        let page = h.list_ok("/api/voice/calls?limit=200").await;
        page["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|c| {
                (
                    c["endAt"].as_str().expect("endAt").to_owned(),
                    c["sourceId"].as_str().expect("sourceId").to_owned(),
                )
            })
            .collect()
    };
    let order: Vec<&String> = keys
        .iter()
        .map(|(_, sid)| sid)
        .filter(|sid| unique.contains(sid))
        .collect();
    let seen_refs: Vec<&String> = seen.iter().collect();
    assert_eq!(
        seen_refs, order,
        "pages come newest first, ties by sourceId"
    );
}

// ---- bad input --------------------------------------------------------------------------------

#[tokio::test]
async fn bad_input_gets_a_4xx_json_error_and_writes_nothing() {
    let h = Harness::start().await;
    let t = h.token().clone();
    let huge = vec![b' '; 9 * 1024 * 1024];
    let cases: Vec<(&str, &str, Vec<u8>)> = vec![
        ("POST", "/api/voice/calls/sync", b"{not json".to_vec()),
        ("POST", "/api/voice/calls/sync", b"[]".to_vec()),
        ("POST", "/api/voice/calls/sync", b"{}".to_vec()),
        ("POST", "/api/voice/calls/sync", br#"{"items":{}}"#.to_vec()),
        ("POST", "/api/voice/calls/sync", br#"{"items":[1]}"#.to_vec()),
        (
            "POST",
            "/api/voice/calls/sync",
            br#"{"items":[{"sourceId":5}]}"#.to_vec(),
        ),
        (
            "POST",
            "/api/voice/recordings/sync",
            br#"{"items":[{"sourceId":"a","callSourceId":"c","sizeBytes":-1,"durationMs":1,"sampleRate":1,"channels":1,"createdAt":"2026-05-16T10:00:00Z"}]}"#.to_vec(),
        ),
        (
            "POST",
            "/api/voice/recordings/sync",
            br#"{"items":[{"sourceId":"a/../b","callSourceId":"c","sizeBytes":1,"durationMs":1,"sampleRate":1,"channels":1,"createdAt":"2026-05-16T10:00:00Z"}]}"#.to_vec(),
        ),
        (
            "POST",
            "/api/voice/accounts/sync",
            br#"{"items":[{"sourceId":"a","port":70000}]}"#.to_vec(),
        ),
        ("POST", "/api/voice/transcripts/sync", vec![0xff, 0xfe, 0x00]),
        ("POST", "/api/voice/calls/sync", huge),
        ("POST", "/api/voice/flows/sync", b"{}".to_vec()),
        ("GET", "/api/voice/flows", vec![]),
        ("GET", "/api/voice/calls?limit=99999999999999999999", vec![]),
        ("GET", "/api/voice/calls?limit=-1", vec![]),
        ("GET", "/api/voice/calls?limit=0", vec![]),
        ("GET", "/api/voice/calls?limit=201", vec![]),
        ("GET", "/api/voice/calls?limit=ten", vec![]),
        ("GET", "/api/voice/recordings?limit=1.5", vec![]),
        ("GET", "/api/voice/calls?includeDeleted=maybe", vec![]),
        ("GET", "/api/voice/accounts?includeDeleted=1", vec![]),
        ("GET", "/api/voice/calls?before=not-a-time", vec![]),
        ("GET", "/api/voice/recordings?before=2026-13-01T00:00:00Z", vec![]),
        ("GET", "/api/voice/calls?before=%7C", vec![]),
        ("DELETE", "/api/voice/calls", vec![]),
        ("GET", "/api/voice/calls/sync", vec![]),
        ("POST", "/api/auth/cli/codes/exchange", b"{\"code\":1}".to_vec()),
        ("POST", "/api/voice/installs/heartbeat", b"{}".to_vec()),
        ("PUT", "/api/voice/recordings/r1/bytes", vec![1, 2, 3]),
    ];
    for (method, path, body) in cases {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("a method");
        let response = h
            .http
            .request(method.clone(), h.url(path))
            .bearer_auth(t.expose())
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("an HTTP answer");
        let status = response.status();
        let (_, body) = Harness::answer(response).await;
        assert!(
            status.is_client_error(),
            "{method} {path} answered {status}"
        );
        assert!(
            body["error"].is_string(),
            "{method} {path} answered a non-JSON error: {body}"
        );
    }
    let (status, _) = h
        .post_raw("/api/voice/calls/sync", &t, b"{}".to_vec())
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    for path in [
        "/api/voice/calls?includeDeleted=true",
        "/api/voice/recordings",
        "/api/voice/accounts?includeDeleted=true&transports=udp,tcp,tls",
    ] {
        assert_eq!(ids(&h.list_ok(path).await).len(), 0, "{path}");
    }
}

#[tokio::test]
async fn an_unknown_api_path_is_404_json() {
    let h = Harness::start().await;
    let (status, body) = h.get("/api/nothing/here", h.token()).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(error_code(&body), "not found");
}

#[tokio::test]
async fn a_wrong_method_is_405_json() {
    let h = Harness::start().await;
    let (status, body) = h.post("/api/me", h.token(), &json!({})).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert!(body["error"].is_string());
}

fn scratch_dir(tag: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "wk-dev-platform-test-{tag}-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a scratch directory");
    dir
}
