//! Pins Web Push end to end with the real API, a worker (scripted driver) and PostgreSQL, and a
//! loopback push service that decrypts what it receives with the subscription's private key:
//! a finished turn, a failed turn and a permission request each push `{title, body, url,
//! turn_id, kind}` signed with the server's VAPID key (aud = the endpoint's origin, exp ahead);
//! another user's subscription never gets the first user's turns; a 410 removes the
//! subscription; sent pushes leave the outbox; bad subscription bodies get 400 with a clear
//! error; removing is owner-only (404 otherwise); the per-user cap holds.

use paliadin_api::config::ApiConfig;
use paliadin_e2e::db::TestDb;
use paliadin_e2e::http::{Client, user};
use paliadin_e2e::push::{BrowserKeys, PushService, Received, verify_vapid};
use paliadin_e2e::scripted::ScriptedDriver;
use paliadin_e2e::system::{Api, WorkerHandle, fast_runtime, start_api, start_worker};
use paliadin_e2e::wait_until;
use paliadin_shared::db::users::Role;
use serde_json::{Value, json};
use std::sync::Arc;
use uuid::Uuid;

struct Sys {
    api: Api,
    _worker: WorkerHandle,
    db: TestDb,
    push: PushService,
    /// The server's VAPID public key.
    key: String,
}

async fn start(config: ApiConfig) -> Sys {
    let db = TestDb::new().await;
    let api = start_api(
        &db,
        ApiConfig {
            push_allow_loopback_http: true,
            ..config
        },
    )
    .await;
    let worker = start_worker(
        &db,
        Arc::new(ScriptedDriver::default()),
        fast_runtime("push-w1"),
    )
    .await;
    let push = PushService::start().await;
    let (_, t) = user(&db, "keyreader@x", Role::Owner).await;
    let (s, v) = Client::new(&api.base, Some(&t))
        .get("/api/paliadin/push/key")
        .await;
    assert_eq!(s, 200, "{v}");
    let key = v["public_key"].as_str().expect("public_key").to_owned();
    Sys {
        api,
        _worker: worker,
        db,
        push,
        key,
    }
}

impl Sys {
    async fn owner(&self, email: &str) -> Client {
        let (_, t) = user(&self.db, email, Role::Owner).await;
        Client::new(&self.api.base, Some(&t))
    }

    async fn outbox(&self) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM push_outbox")
            .fetch_one(&self.db.pool)
            .await
            .unwrap()
    }

    async fn subscriptions(&self) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM push_subscriptions")
            .fetch_one(&self.db.pool)
            .await
            .unwrap()
    }

    /// The next push: it must be for `name`, carry a valid VAPID header and `aes128gcm`
    /// content, and decrypt with `keys`; returns the payload.
    async fn expect_push(&mut self, name: &str, keys: &BrowserKeys) -> Value {
        let got: Received = self.push.next(30).await;
        assert_eq!(got.name, name, "the push went to the wrong subscription");
        assert_eq!(got.header("content-encoding"), "aes128gcm");
        assert!(got.header("ttl").parse::<u64>().is_ok_and(|t| t > 0));
        verify_vapid(got.header("authorization"), &self.key, &self.push.origin);
        let payload = keys.open(&got.body);
        let fields: Vec<&str> = payload
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            fields,
            ["body", "kind", "title", "turn_id", "url"],
            "{payload}"
        );
        payload
    }
}

async fn subscribe(c: &Client, sub: &Value) -> (u16, Value) {
    c.post("/api/paliadin/push/subscriptions", sub).await
}

async fn unsubscribe(c: &Client, id: &str) -> u16 {
    c.http
        .delete(format!("{}/api/paliadin/push/subscriptions/{id}", c.base))
        .bearer_auth(c.token.as_deref().unwrap())
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn session_of(c: &Client, turn: &str) -> String {
    let (_, v) = c.get("/api/paliadin/turns?limit=100").await;
    v.as_array()
        .unwrap()
        .iter()
        .find(|t| t["turn_id"] == turn)
        .map(|t| t["session_id"].as_str().unwrap().to_owned())
        .expect("the turn in the history")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn finished_failed_and_waiting_turns_are_pushed_encrypted_to_their_owner_only() {
    let mut sys = start(ApiConfig::default()).await;
    let alice = sys.owner("alice@x").await;
    let bob = sys.owner("bob@x").await;
    let (ka, kb) = (BrowserKeys::new(), BrowserKeys::new());
    let (s, v) = subscribe(&alice, &ka.subscription(&sys.push.endpoint("alice"))).await;
    assert_eq!((s, v["created"].clone()), (200, json!(true)), "{v}");
    let (s, again) = subscribe(&alice, &ka.subscription(&sys.push.endpoint("alice"))).await;
    assert_eq!(s, 200);
    assert_eq!(again["id"], v["id"], "the same browser is one subscription");
    assert_eq!(again["created"], false);
    let (s, _) = subscribe(&bob, &kb.subscription(&sys.push.endpoint("bob"))).await;
    assert_eq!(s, 200);

    // A finished turn.
    let (turn, _) = alice.turn("hello there").await;
    let p = sys.expect_push("alice", &ka).await;
    let session = session_of(&alice, &turn).await;
    assert_eq!(p["kind"], "end");
    assert_eq!(p["turn_id"], turn.as_str());
    assert_eq!(p["title"], "Paliadin replied");
    assert_eq!(p["body"], "reply to: hello there");
    assert_eq!(p["url"], format!("/paliadin/c/{session}#turn-{turn}"));

    // A failed turn: the fixed sentence, never the server's message.
    let (turn, _) = alice.turn("please fail").await;
    let p = sys.expect_push("alice", &ka).await;
    assert_eq!(
        (p["kind"].as_str(), p["turn_id"].as_str()),
        (Some("error"), Some(turn.as_str()))
    );
    assert_eq!(p["title"], "Paliadin could not finish");
    assert_eq!(
        p["body"],
        "The assistant ran into a problem while answering."
    );

    // A permission request: the tool only, not what it would do; then the turn ends.
    let (turn, _) = alice.turn("ask:Bash rm -rf /tmp/secret-plan").await;
    let p = sys.expect_push("alice", &ka).await;
    assert_eq!(
        (p["kind"].as_str(), p["turn_id"].as_str()),
        (Some("permission"), Some(turn.as_str()))
    );
    assert_eq!(p["title"], "Paliadin is waiting for you");
    assert_eq!(p["body"], "Asks to use Bash");
    let request: Uuid =
        sqlx::query_scalar("SELECT request_id FROM turn_permissions WHERE turn_id = $1")
            .bind(Uuid::parse_str(&turn).unwrap())
            .fetch_one(&sys.db.pool)
            .await
            .unwrap();
    let (s, v) = alice
        .post(
            &format!("/api/paliadin/turn/{turn}/permission/{request}"),
            &json!({"decision": "allow"}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let p = sys.expect_push("alice", &ka).await;
    assert_eq!(
        (p["kind"].as_str(), p["turn_id"].as_str()),
        (Some("end"), Some(turn.as_str()))
    );

    // Bob's browser got none of Alice's turns; his own turn reaches him, encrypted for him.
    let (turn, _) = bob.turn("bob's question").await;
    let got = sys.push.next(30).await;
    assert_eq!(
        got.name, "bob",
        "Bob's push is the next one: none of Alice's went to him"
    );
    assert!(
        ka.cannot_open(&got.body),
        "Alice's keys cannot read Bob's push"
    );
    let p = kb.open(&got.body);
    assert_eq!(p["turn_id"], turn.as_str());
    assert!(sys.push.drain().is_empty());

    // Sent pushes leave the outbox.
    wait_until(10, "an empty outbox", || async { sys.outbox().await == 0 }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_subscription_the_push_service_says_is_gone_is_removed() {
    let mut sys = start(ApiConfig::default()).await;
    let alice = sys.owner("alice@x").await;
    let keys = BrowserKeys::new();
    let (s, _) = subscribe(&alice, &keys.subscription(&sys.push.endpoint("old"))).await;
    assert_eq!(s, 200);
    sys.push.answer("old", 410);
    alice.turn("one").await;
    let p = sys.expect_push("old", &keys).await;
    assert_eq!(p["kind"], "end");
    wait_until(10, "the gone subscription removed", || async {
        sys.subscriptions().await == 0
    })
    .await;
    assert_eq!(sys.outbox().await, 0);
    // No subscription, no outbox rows: the next turn pushes nothing.
    alice.turn("two").await;
    let (_, v) = alice.get("/api/paliadin/turns?limit=1").await;
    assert_eq!(v[0]["user_message"], "two");
    wait_until(30, "the second turn finished", || async {
        let (_, v) = alice.get("/api/paliadin/turns?limit=1").await;
        v[0]["state"] == "succeeded"
    })
    .await;
    assert_eq!(sys.outbox().await, 0);
    assert!(sys.push.drain().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn subscriptions_are_validated_capped_and_removable_only_by_their_owner() {
    let sys = start(ApiConfig {
        push_max_subscriptions: 2,
        ..ApiConfig::default()
    })
    .await;
    let alice = sys.owner("alice@x").await;
    let mallory = sys.owner("mallory@x").await;
    let keys = BrowserKeys::new();
    // Stored endpoints are closed loopback ports: nothing here ever leaves the machine.
    let good = keys.subscription("https://127.0.0.1:9/wpush/abc");
    let with = |path: &str, v: Value| {
        let mut s = good.clone();
        *s.pointer_mut(path).unwrap() = v;
        s
    };
    let bad = [
        (
            with("/endpoint", json!("http://push.example.org/x")),
            "https",
        ),
        (
            with("/endpoint", json!("ftp://push.example.org/x")),
            "https",
        ),
        (with("/endpoint", json!("not a url")), "not a URL"),
        (
            with(
                "/endpoint",
                json!(format!("https://e.org/{}", "a".repeat(2100))),
            ),
            "longer",
        ),
        (with("/keys/p256dh", json!("AAAA")), "p256dh"),
        (with("/keys/p256dh", json!("B".repeat(87))), "p256dh"),
        (with("/keys/auth", json!("short")), "auth"),
        (with("/keys/auth", json!("***invalid-base64***")), "auth"),
    ];
    for (body, says) in bad {
        let (s, v) = subscribe(&alice, &body).await;
        assert_eq!(s, 400, "{body}: {v}");
        assert_eq!(v["error"], "invalid_subscription", "{v}");
        assert!(v["message"].as_str().unwrap().contains(says), "{v}");
    }
    let (s, v) = subscribe(&alice, &json!({"endpoint": "https://push.example.org/x"})).await;
    assert_eq!((s, v["error"].as_str()), (400, Some("invalid_json")), "{v}");
    assert!(v["message"].as_str().unwrap().contains("keys"), "{v}");
    assert_eq!(sys.subscriptions().await, 0);

    // Owners only; the key is never the private one.
    let (_, admin) = user(&sys.db, "admin@x", Role::Admin).await;
    let admin = Client::new(&sys.api.base, Some(&admin));
    assert_eq!(admin.get("/api/paliadin/push/key").await.0, 404);
    assert_eq!(subscribe(&admin, &good).await.0, 404);
    assert_eq!(
        Client::new(&sys.api.base, None)
            .get("/api/paliadin/push/key")
            .await
            .0,
        404
    );
    assert_eq!(sys.key.len(), 87, "65 bytes, base64url");

    // The cap, then removal: 404 for anyone but the owner, and once removed.
    let (s, first) = subscribe(&alice, &good).await;
    assert_eq!(s, 200);
    let (s, _) = subscribe(
        &alice,
        &with("/endpoint", json!("https://127.0.0.1:9/wpush/2")),
    )
    .await;
    assert_eq!(s, 200);
    let (s, v) = subscribe(
        &alice,
        &with("/endpoint", json!("https://127.0.0.1:9/wpush/3")),
    )
    .await;
    assert_eq!(s, 409, "{v}");
    assert!(v["message"].as_str().unwrap().contains("at most 2"), "{v}");
    let (s, _) = subscribe(&alice, &good).await;
    assert_eq!(s, 200, "an existing browser is updated, not counted again");
    let id = first["id"].as_str().unwrap();
    assert_eq!(unsubscribe(&mallory, id).await, 404);
    assert_eq!(unsubscribe(&admin, id).await, 404);
    assert_eq!(unsubscribe(&alice, "not-a-uuid").await, 404);
    assert_eq!(unsubscribe(&alice, id).await, 200);
    assert_eq!(unsubscribe(&alice, id).await, 404);
    assert_eq!(sys.subscriptions().await, 1);
}
