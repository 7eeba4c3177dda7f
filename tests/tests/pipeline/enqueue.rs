//! Pins the enqueue contract: the turn row and its pgmq message commit together or not at all;
//! `client_turn_id` makes retries idempotent; every bad input gets the ⚑ status and error JSON,
//! never a 5xx; the per-user queued cap answers 429.

use paliadin_api::config::ApiConfig;
use paliadin_e2e::db::TestDb;
use paliadin_e2e::http::{Client, user};
use paliadin_e2e::system::start_api;
use paliadin_shared::db::users::Role;
use serde_json::json;

async fn queue_length(db: &TestDb) -> i64 {
    let exists: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM pgmq.meta WHERE queue_name = 'turns_local')",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    if !exists {
        return 0;
    }
    sqlx::query_scalar("SELECT count(*) FROM pgmq.q_turns_local")
        .fetch_one(&db.pool)
        .await
        .unwrap()
}

async fn turn_count(db: &TestDb) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM turns")
        .fetch_one(&db.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_failed_enqueue_leaves_neither_row_nor_message() {
    let db = TestDb::new().await;
    let api = start_api(&db, ApiConfig::default()).await;
    let (_, token) = user(&db, "o@x", Role::Owner).await;
    let c = Client::new(&api.base, Some(&token));
    // One good turn proves the queue exists and is counted.
    c.turn("first").await;
    assert_eq!((turn_count(&db).await, queue_length(&db).await), (1, 1));
    // Make the transaction fail after the row and the message were written: the `queued`
    // status event is the last write of the enqueue transaction.
    sqlx::raw_sql(
        "CREATE FUNCTION fail_queued() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN IF NEW.kind = 'status' THEN RAISE EXCEPTION 'injected failure'; END IF; RETURN NEW; END $$;
         CREATE TRIGGER fail_queued BEFORE INSERT ON turn_events FOR EACH ROW EXECUTE FUNCTION fail_queued();",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    let (status, body) = c
        .post("/api/paliadin/turn", &json!({ "user_message": "second" }))
        .await;
    assert_eq!(status, 500, "{body}");
    assert_eq!(body["error"], "internal");
    assert!(
        !body.to_string().contains("injected"),
        "internal details leaked: {body}"
    );
    assert_eq!(
        (turn_count(&db).await, queue_length(&db).await),
        (1, 1),
        "rolled back enqueue left traces"
    );
}

#[tokio::test]
async fn client_turn_id_makes_retries_idempotent() {
    let db = TestDb::new().await;
    let api = start_api(&db, ApiConfig::default()).await;
    let (_, token) = user(&db, "o@x", Role::Owner).await;
    let c = Client::new(&api.base, Some(&token));
    let body = json!({ "user_message": "hello", "client_turn_id": "retry-1" });
    let (s1, a) = c.post("/api/paliadin/turn", &body).await;
    let (s2, b) = c.post("/api/paliadin/turn", &body).await;
    assert_eq!((s1, s2), (200, 200));
    assert_eq!(a, b);
    assert_eq!((turn_count(&db).await, queue_length(&db).await), (1, 1));
    // Concurrent retries also collapse to one turn.
    let body2 = json!({ "user_message": "again", "client_turn_id": "retry-2" });
    let (x, y) = tokio::join!(
        c.post("/api/paliadin/turn", &body2),
        c.post("/api/paliadin/turn", &body2)
    );
    assert_eq!((x.0, y.0), (200, 200));
    assert_eq!(x.1["turn_id"], y.1["turn_id"]);
    assert_eq!((turn_count(&db).await, queue_length(&db).await), (2, 2));
    // Same id, different message: conflict.
    let (s, v) = c
        .post(
            "/api/paliadin/turn",
            &json!({ "user_message": "other", "client_turn_id": "retry-1" }),
        )
        .await;
    assert_eq!(s, 409, "{v}");
    assert_eq!(v["error"], "conflict");
    // Another user may use the same client id independently.
    let (_, token2) = user(&db, "p@x", Role::Owner).await;
    let (s, v) = Client::new(&api.base, Some(&token2))
        .post("/api/paliadin/turn", &body)
        .await;
    assert_eq!(s, 200);
    assert_ne!(v["turn_id"], a["turn_id"]);
}

#[tokio::test]
async fn bad_input_gets_contract_statuses_and_never_5xx() {
    let db = TestDb::new().await;
    let api = start_api(
        &db,
        ApiConfig {
            max_queued_per_user: 2,
            ..ApiConfig::default()
        },
    )
    .await;
    let (_, token) = user(&db, "o@x", Role::Owner).await;
    let c = Client::new(&api.base, Some(&token));
    let big = "x".repeat(32 * 1024 + 1);
    let cases: Vec<(serde_json::Value, u16, &str)> = vec![
        (json!({}), 400, "empty_message"),
        (json!({ "user_message": "" }), 400, "empty_message"),
        (json!({ "user_message": " \n\t " }), 400, "empty_message"),
        (json!({ "user_message": big }), 413, "too_large"),
        (
            json!({ "user_message": "a\u{1b}[201~b" }),
            400,
            "invalid_message",
        ),
        (
            json!({ "user_message": "nul\u{0}" }),
            400,
            "invalid_message",
        ),
        (json!({ "user_message": 5 }), 400, "invalid_json"),
        (
            json!({ "user_message": "x", "session_id": "nope" }),
            400,
            "invalid_session_id",
        ),
        (
            json!({ "user_message": "x", "client_turn_id": "" }),
            400,
            "invalid_client_turn_id",
        ),
        (
            json!({ "user_message": "x", "client_turn_id": "a b" }),
            400,
            "invalid_client_turn_id",
        ),
        (
            json!({ "user_message": "x", "page_origin": "a\nb" }),
            400,
            "invalid_page_origin",
        ),
    ];
    for (body, status, code) in cases {
        let (s, v) = c.post("/api/paliadin/turn", &body).await;
        assert_eq!(
            (s, v["error"].as_str().unwrap_or("")),
            (status, code),
            "{body}: {v}"
        );
        assert!(v["message"].as_str().is_some_and(|m| !m.is_empty()), "{v}");
    }
    let (s, v) = c
        .post_raw(
            "/api/paliadin/turn",
            "application/json",
            b"{not json".to_vec(),
        )
        .await;
    assert_eq!((s, v["error"].as_str()), (400, Some("invalid_json")));
    let (s, v) = c
        .post_raw("/api/paliadin/turn", "text/plain", b"{}".to_vec())
        .await;
    assert_eq!((s, v["error"].as_str()), (400, Some("invalid_json")));
    let (s, v) = c
        .post_raw(
            "/api/paliadin/turn",
            "application/json",
            vec![b' '; 300 * 1024],
        )
        .await;
    assert_eq!((s, v["error"].as_str()), (413, Some("too_large")));
    // Exactly 32 KiB is fine; the cap of 2 queued turns then answers 429.
    assert_eq!(
        c.post(
            "/api/paliadin/turn",
            &json!({ "user_message": "x".repeat(32 * 1024) })
        )
        .await
        .0,
        200
    );
    assert_eq!(
        c.post("/api/paliadin/turn", &json!({ "user_message": "two" }))
            .await
            .0,
        200
    );
    let (s, v) = c
        .post("/api/paliadin/turn", &json!({ "user_message": "three" }))
        .await;
    assert_eq!((s, v["error"].as_str()), (429, Some("too_many_queued")));
    // Other bad inputs on other routes.
    for (path, status) in [
        ("/api/paliadin/turns?limit=0", 400),
        ("/api/paliadin/turns?limit=abc", 400),
        ("/api/paliadin/turns?session_id=zzz", 400),
        ("/api/paliadin/stream/not-a-uuid", 404),
        (
            "/api/paliadin/stream/00000000-0000-0000-0000-000000000000",
            404,
        ),
        ("/no/such/route", 404),
    ] {
        let (s, v) = c.get(path).await;
        assert_eq!(s, status, "{path}: {v}");
        assert!(v["error"].is_string(), "{path}: {v}");
    }
    let (_, turn) = c.get("/api/paliadin/turns").await;
    let sse = turn[0]["sse_url"].as_str().unwrap().to_owned();
    let r = reqwest::Client::new()
        .get(format!("{}{sse}", api.base))
        .bearer_auth(&token)
        .header("Last-Event-ID", "-3")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
}
