//! The subscription API's operations on the in-memory store, one per user as the Worker has one object per user
//! (its end-to-end tests run them in the user's Durable Object).

use std::collections::HashMap;

use ringhook::model::secret_box::StorageKey;
use ringhook::model::store::MemoryStore;
use ringhook::model::validate::{UrlCrate, UrlPolicy};
use ringhook::protocol::base64;
use ringhook::service::http::{ApiError, Reply};
use ringhook::service::routes::SubscriptionOp;
use ringhook::service::subscriptions::{Config, Random, Service};
use serde_json::{json, Value};

const NOW: i64 = 1_764_355_200;

/// Deterministic bytes for tests (a counter), so ids differ between calls.
struct Counter(u8);

impl Random for Counter {
    fn fill(&mut self, buf: &mut [u8]) {
        for b in buf {
            self.0 = self.0.wrapping_add(1);
            *b = self.0;
        }
    }
}

struct Api {
    stores: HashMap<String, MemoryStore>,
    config: Config,
    key: StorageKey,
    random: Counter,
    now: i64,
}

impl Api {
    fn new() -> Self {
        Self::with(Config {
            url_policy: UrlPolicy::PRODUCTION,
            max_per_user: 3,
        })
    }

    fn with(config: Config) -> Self {
        let key = StorageKey::from_base64(&base64::encode(&[5; 32])).unwrap();
        Self {
            stores: HashMap::new(),
            config,
            key,
            random: Counter(0),
            now: NOW,
        }
    }

    fn call(&mut self, op: SubscriptionOp, uid: &str, body: Value) -> Result<(u16, Value), ApiError> {
        let body = if body.is_null() {
            Vec::new()
        } else {
            body.to_string().into_bytes()
        };
        self.call_raw(op, uid, &body)
    }

    fn call_raw(&mut self, op: SubscriptionOp, uid: &str, body: &[u8]) -> Result<(u16, Value), ApiError> {
        let random = &mut self.random;
        let mut service = Service {
            store: self.stores.entry(uid.to_owned()).or_default(),
            config: &self.config,
            key: &self.key,
            now: self.now,
            random: Counter(random.0),
            urls: &UrlCrate,
        };
        let result = service.handle(&op, body);
        random.0 = service.random.0;
        result.map(|Reply { status, body }| (status, serde_json::from_str(&body).unwrap()))
    }

    fn subscribe(&mut self, uid: &str, url: &str) -> Value {
        let (status, body) = self
            .call(
                SubscriptionOp::Subscribe,
                uid,
                json!({"webhook_url": url, "events": ["*"]}),
            )
            .unwrap();
        assert_eq!(status, 201);
        body
    }

    /// Subscribes and returns the new subscription's id.
    fn subscribed_id(&mut self, uid: &str, url: &str) -> String {
        self.subscribe(uid, url)["subscription"]["id"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    fn list(&mut self, uid: &str) -> Value {
        self.call(SubscriptionOp::List, uid, Value::Null).unwrap().1["subscriptions"].clone()
    }
}

/// The status and code of a refusal (the code leaked to compare with literals; a test is short-lived).
fn code(result: Result<(u16, Value), ApiError>) -> (u16, &'static str) {
    let e = result.unwrap_err();
    (e.status, e.code.into_owned().leak())
}

#[test]
fn subscribe_returns_the_secret_once_and_stores_it_sealed() {
    let mut api = Api::new();
    let body = api.subscribe("alice", "https://example.com/hook");
    let secret = body["secret_key"].as_str().unwrap();
    assert!(secret.starts_with("whsec_"));
    assert_eq!(base64::decode(&secret[6..]).unwrap().len(), 32);
    let sub = &body["subscription"];
    assert!(sub["id"].as_str().unwrap().starts_with("sub_"));
    assert_eq!(sub["active"], true);
    assert_eq!(sub["created_at"], "2025-11-28T18:40:00Z");
    assert_eq!(sub["failure_count"], 0);

    let listed = api.list("alice").to_string();
    assert!(!listed.contains(secret) && !listed.contains("secret"), "{listed}");
    let raw = format!("{:?}", api.stores["alice"].raw());
    assert!(!raw.contains(secret), "the plaintext secret is in storage");
}

#[test]
fn the_setup_guides_registration_body_is_accepted_as_written() {
    let mut api = Api::new();
    let body = json!({
        "webhook_url": "https://your-frontend.com/api/webhook",
        "events": ["call.status.changed", "call.completed", "call.failed"]
    });
    let (status, answer) = api.call(SubscriptionOp::Subscribe, "alice", body).unwrap();
    assert_eq!(status, 201);
    assert_eq!(answer["success"], true);
    assert_eq!(
        answer["subscription"]["events"],
        json!(["call.status.changed", "call.completed", "call.failed"])
    );
}

#[test]
fn bad_input_is_a_4xx_and_changes_nothing() {
    let mut api = Api::new();
    api.subscribe("alice", "https://example.com/hook");
    let before = api.list("alice");
    let bad: Vec<(&[u8], u16, &str)> = vec![
        (b"{not json", 400, "invalid_json"),
        (b"", 400, "invalid_json"),
        (br#"["https://a.example", ["*"]]"#, 400, "invalid_request"),
        (b"null", 400, "invalid_request"),
        (
            br#"{"webhook_url":"https://a.example","event":["*"]}"#,
            400,
            "invalid_request",
        ),
        (
            br#"{"webhook_url":"https://a.example","events":"call.failed"}"#,
            400,
            "invalid_request",
        ),
        (br#"{"events":["*"]}"#, 400, "invalid_request"),
        (
            br#"{"webhook_url":"http://a.example","events":["*"]}"#,
            400,
            "invalid_url",
        ),
        (
            br#"{"webhook_url":"https://10.0.0.1/","events":["*"]}"#,
            400,
            "invalid_url",
        ),
        (
            br#"{"webhook_url":"https://a.example","events":[]}"#,
            400,
            "invalid_events",
        ),
        (
            br#"{"webhook_url":"https://a.example","events":["call.nope"]}"#,
            400,
            "invalid_events",
        ),
        (
            br#"{"webhook_url":"https://example.com/hook","events":["*"]}"#,
            409,
            "subscription_exists",
        ),
    ];
    for (body, status, expected) in bad {
        assert_eq!(
            code(api.call_raw(SubscriptionOp::Subscribe, "alice", body)),
            (status, expected),
            "{}",
            String::from_utf8_lossy(body)
        );
    }
    let wrong_type = api.call_raw(
        SubscriptionOp::Subscribe,
        "alice",
        br#"{"webhook_url":"https://a.example","events":"call.failed"}"#,
    );
    assert!(
        wrong_type.unwrap_err().message.starts_with("events: invalid type"),
        "the message names the field"
    );
    let huge = format!(
        r#"{{"webhook_url":"https://a.example/{}","events":["*"]}}"#,
        "a".repeat(70_000)
    );
    assert_eq!(
        code(api.call_raw(SubscriptionOp::Subscribe, "alice", huge.as_bytes())),
        (413, "payload_too_large")
    );
    assert_eq!(api.list("alice"), before);
}

#[test]
fn the_limit_per_user_holds() {
    let mut api = Api::new();
    for n in 0..3 {
        api.subscribe("alice", &format!("https://example.com/{n}"));
    }
    let refused = api.call(
        SubscriptionOp::Subscribe,
        "alice",
        json!({"webhook_url": "https://example.com/4", "events": ["*"]}),
    );
    assert_eq!(code(refused), (409, "subscription_limit_reached"));
    api.subscribe("bob", "https://example.com/4");
}

#[test]
fn another_users_subscription_reads_as_missing() {
    let mut api = Api::new();
    let id = api.subscribed_id("alice", "https://example.com/hook");
    let before = api.list("alice");
    for route in [
        SubscriptionOp::Get(id.clone()),
        SubscriptionOp::Delete(id.clone()),
        SubscriptionOp::RotateSecret(id.clone()),
    ] {
        assert_eq!(code(api.call(route, "bob", Value::Null)), (404, "not_found"));
    }
    assert_eq!(
        code(api.call(SubscriptionOp::Update(id.clone()), "bob", json!({"active": false}))),
        (404, "not_found")
    );
    assert_eq!(api.list("alice"), before);
    assert_eq!(api.list("bob"), json!([]));
}

#[test]
fn patch_deactivates_reactivates_and_edits() {
    let mut api = Api::new();
    let id = api.subscribed_id("alice", "https://example.com/hook");
    api.now += 60;
    let (_, off) = api
        .call(SubscriptionOp::Update(id.clone()), "alice", json!({"active": false}))
        .unwrap();
    assert_eq!(off["subscription"]["active"], false);
    assert_eq!(off["subscription"]["deactivated_at"], "2025-11-28T18:41:00Z");
    assert_eq!(off["subscription"]["deactivation_reason"], "manual");
    assert_eq!(off["subscription"]["updated_at"], "2025-11-28T18:41:00Z");

    let (_, on) = api
        .call(
            SubscriptionOp::Update(id.clone()),
            "alice",
            json!({"active": true, "events": ["call.failed"]}),
        )
        .unwrap();
    assert_eq!(on["subscription"]["active"], true);
    assert_eq!(on["subscription"]["deactivated_at"], Value::Null);
    assert_eq!(on["subscription"]["deactivation_reason"], Value::Null);
    assert_eq!(on["subscription"]["failure_count"], 0);
    assert_eq!(on["subscription"]["events"], json!(["call.failed"]));

    let (_, moved) = api
        .call(
            SubscriptionOp::Update(id.clone()),
            "alice",
            json!({"webhook_url": "https://EXAMPLE.com/new"}),
        )
        .unwrap();
    assert_eq!(moved["subscription"]["webhook_url"], "https://example.com/new");

    assert_eq!(
        code(api.call(SubscriptionOp::Update(id.clone()), "alice", json!({}))),
        (400, "invalid_request")
    );
    assert_eq!(
        code(api.call(SubscriptionOp::Update(id.clone()), "alice", json!({"actve": true}))),
        (400, "invalid_request")
    );
    assert_eq!(
        code(api.call(
            SubscriptionOp::Update(id.clone()),
            "alice",
            json!({"events": ["*", "call.failed"]})
        )),
        (400, "invalid_events")
    );
    let other = api.subscribed_id("alice", "https://example.com/other");
    assert_eq!(
        code(api.call(
            SubscriptionOp::Update(other),
            "alice",
            json!({"webhook_url": "https://example.com/new"})
        )),
        (409, "subscription_exists")
    );
}

#[test]
fn rotation_issues_a_new_secret_and_keeps_the_old_one_for_a_day() {
    let mut api = Api::new();
    let first = api.subscribe("alice", "https://example.com/hook");
    let id = first["subscription"]["id"].as_str().unwrap().to_owned();
    let (status, rotated) = api
        .call(SubscriptionOp::RotateSecret(id.clone()), "alice", Value::Null)
        .unwrap();
    assert_eq!(status, 200);
    assert_ne!(rotated["secret_key"], first["secret_key"]);
    assert_eq!(rotated["previous_secret_expires_at"], "2025-11-29T18:40:00Z");
    assert_eq!(
        code(api.call(SubscriptionOp::RotateSecret(id.clone()), "alice", json!({"x": 1}))),
        (400, "invalid_request")
    );
    api.call(SubscriptionOp::RotateSecret(id), "alice", json!({})).unwrap();
}

#[test]
fn delete_removes() {
    let mut api = Api::new();
    let id = api.subscribed_id("alice", "https://example.com/hook");
    let (_, deleted) = api
        .call(SubscriptionOp::Delete(id.clone()), "alice", Value::Null)
        .unwrap();
    assert_eq!(deleted, json!({"success": true, "id": id}));
    assert_eq!(
        code(api.call(SubscriptionOp::Get(id.clone()), "alice", Value::Null)),
        (404, "not_found")
    );
    assert_eq!(
        code(api.call(SubscriptionOp::Delete(id), "alice", Value::Null)),
        (404, "not_found")
    );
}

#[test]
fn local_development_accepts_loopback_receivers() {
    let mut api = Api::with(Config {
        url_policy: UrlPolicy::LOCAL,
        ..Config::default()
    });
    api.subscribe("alice", "http://127.0.0.1:9999/hook");
    let refused = api.call(
        SubscriptionOp::Subscribe,
        "alice",
        json!({"webhook_url": "http://example.com/", "events": ["*"]}),
    );
    assert_eq!(code(refused), (400, "invalid_url"));
}
