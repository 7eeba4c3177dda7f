//! Pins the admin's turn views and who may see any admin route: recent turns of all users with
//! validated filters (bad ones → 400 `{error, message}`), one turn with its events and the reply
//! text redacted, and 404 — the same as an unrouted path — for anonymous callers, owners and
//! disabled admins on every admin route, page and asset.

use paliadin_api::config::ApiConfig;
use paliadin_e2e::db::TestDb;
use paliadin_e2e::http::{Client, user};
use paliadin_e2e::system::start_api;
use paliadin_shared::db::users::{self, Role};
use serde_json::json;
use uuid::Uuid;

/// Inserts a finished turn for `user` (state, error code) queued `ago_s` seconds ago.
async fn turn(db: &TestDb, user: Uuid, state: &str, code: Option<&str>, ago_s: i32) -> Uuid {
    let id = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO turns (id, user_id, session_id, message, host, state, attempt, queued_at,
                claimed_at, finished_at, reply_text, error_code)
         VALUES ($1, $2, $1, 'the user message', 'local', $3, 1,
                 now() - $5 * interval '1 second', now() - $5 * interval '1 second',
                 CASE WHEN $3 IN ('succeeded', 'failed', 'cancelled') THEN now() END,
                 CASE WHEN $3 = 'succeeded' THEN 'the secret reply' END, $4)",
    )
    .bind(id)
    .bind(user)
    .bind(state)
    .bind(code)
    .bind(ago_s)
    .execute(&db.pool)
    .await
    .expect("insert turn");
    id
}

async fn list(c: &Client, query: &str) -> (u16, serde_json::Value) {
    c.get(&format!("/api/admin/paliadin/turns?{query}")).await
}

#[tokio::test]
async fn recent_turns_filter_and_validate() {
    let db = TestDb::new().await;
    let api = start_api(&db, ApiConfig::default()).await;
    let (_, admin) = user(&db, "admin@x", Role::Admin).await;
    let (u1, _) = user(&db, "u1@x", Role::Owner).await;
    let (u2, _) = user(&db, "u2@x", Role::Owner).await;
    let a = turn(&db, u1.id, "succeeded", None, 50).await;
    let b = turn(&db, u2.id, "failed", Some("timeout"), 40).await;
    let c = turn(&db, u1.id, "failed", Some("session_lost"), 30).await;
    let d = turn(&db, u2.id, "running", None, 20).await;
    let client = Client::new(&api.base, Some(&admin));
    let ids = |v: &serde_json::Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|t| t["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let s = |u: Uuid| u.to_string();

    let (status, all) = client.get("/api/admin/paliadin/turns").await;
    assert_eq!(status, 200, "{all}");
    assert_eq!(
        ids(&all),
        [s(d), s(c), s(b), s(a)],
        "newest first, all users"
    );
    assert_eq!(all[0]["user_email"], "u2@x");
    assert_eq!(all[3]["message_chars"], 16);
    assert_eq!(all[3]["reply_chars"], 16);
    assert!(!all.to_string().contains("secret"), "no reply text: {all}");
    assert!(
        !all.to_string().contains("the user message"),
        "no message text: {all}"
    );

    assert_eq!(ids(&list(&client, "limit=2").await.1), [s(d), s(c)]);
    assert_eq!(ids(&list(&client, "state=failed").await.1), [s(c), s(b)]);
    assert_eq!(ids(&list(&client, "user=u1%40x").await.1), [s(c), s(a)]);
    assert_eq!(
        ids(&list(&client, &format!("user={}&state=failed", u2.id))
            .await
            .1),
        [s(b)]
    );
    assert_eq!(
        ids(&list(&client, "user=nobody%40x").await.1),
        Vec::<String>::new()
    );
    for (q, code) in [
        ("limit=0", "invalid_limit"),
        ("limit=501", "invalid_limit"),
        ("limit=ten", "invalid_limit"),
        ("state=done", "invalid_state"),
        ("user=not-an-id", "invalid_user"),
        ("limit=1&limit=2", "invalid_query"),
    ] {
        let (status, body) = list(&client, q).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some(code)),
            "{q}: {body}"
        );
        assert!(
            body["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{body}"
        );
    }
}

#[tokio::test]
async fn one_turn_comes_with_its_events_and_no_reply_text() {
    let db = TestDb::new().await;
    let api = start_api(&db, ApiConfig::default()).await;
    let (_, admin) = user(&db, "admin@x", Role::Admin).await;
    let (u1, _) = user(&db, "u1@x", Role::Owner).await;
    let id = turn(&db, u1.id, "succeeded", None, 5).await;
    let events = [
        ("meta", json!({"turn_id": id, "session_id": id})),
        (
            "status",
            json!({"state": "claimed", "worker": "w1", "host": "local"}),
        ),
        ("activity", json!({"text": "querying the secret table"})),
        ("content", json!({"delta": "the secret reply"})),
        (
            "end",
            json!({"turn_id": id, "text": "the secret reply", "html": "<p>the secret reply</p>", "used_tools": ["sql"], "duration_ms": 900}),
        ),
    ];
    for (seq, (kind, data)) in events.iter().enumerate() {
        sqlx::query("INSERT INTO turn_events (turn_id, seq, kind, data) VALUES ($1, $2, $3, $4)")
            .bind(id)
            .bind(seq as i32 + 1)
            .bind(kind)
            .bind(data)
            .execute(&db.pool)
            .await
            .unwrap();
    }
    let client = Client::new(&api.base, Some(&admin));
    let (status, body) = client.get(&format!("/api/admin/paliadin/turns/{id}")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["turn"]["id"], id.to_string());
    assert_eq!(body["turn"]["user_email"], "u1@x");
    let kinds: Vec<&str> = body["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["meta", "status", "activity", "content", "end"]);
    // Activity quotes tool input (commands, prompts): only its length, like the reply.
    assert_eq!(body["events"][2]["data"], json!({"text_chars": 25}));
    assert_eq!(body["events"][3]["data"], json!({"delta_chars": 16}));
    let end = &body["events"][4]["data"];
    assert_eq!(
        (&end["text_chars"], &end["duration_ms"]),
        (&16.into(), &900.into())
    );
    assert!(
        !body.to_string().contains("secret"),
        "reply text leaked: {body}"
    );

    for missing in [Uuid::now_v7().to_string(), "not-a-uuid".to_owned()] {
        let (status, body) = client
            .get(&format!("/api/admin/paliadin/turns/{missing}"))
            .await;
        assert_eq!(
            (status, body["error"].as_str()),
            (404, Some("not_found")),
            "{missing}"
        );
    }
}

#[tokio::test]
async fn admin_routes_do_not_exist_for_anyone_else() {
    let db = TestDb::new().await;
    let api = start_api(&db, ApiConfig::default()).await;
    let (_, admin) = user(&db, "admin@x", Role::Admin).await;
    let (owner_row, owner) = user(&db, "owner@x", Role::Owner).await;
    let (_, gone) = user(&db, "gone@x", Role::Admin).await;
    assert!(users::set_disabled(&db.pool, "gone@x", true).await.unwrap());
    let id = turn(&db, owner_row.id, "succeeded", None, 5).await;
    let paths = [
        "/api/admin/paliadin/stats".to_owned(),
        "/api/admin/paliadin/stats?window=7d".to_owned(),
        "/api/admin/paliadin/turns".to_owned(),
        format!("/api/admin/paliadin/turns/{id}"),
        "/admin/paliadin".to_owned(),
        "/admin/paliadin/assets/admin.js".to_owned(),
        "/admin/paliadin/assets/admin.css".to_owned(),
    ];
    let unrouted = Client::new(&api.base, None).get("/no/such/path").await;
    assert_eq!(unrouted.0, 404);
    for who in [
        None,
        Some(owner.as_str()),
        Some(gone.as_str()),
        Some("not-a-token"),
    ] {
        let c = Client::new(&api.base, who);
        for p in &paths {
            let got = c.get(p).await;
            assert_eq!(got, unrouted, "{p} as {who:?} must look unrouted");
        }
    }
    let c = Client::new(&api.base, Some(&admin));
    for p in &paths {
        let r = c
            .http
            .get(format!("{}{p}", api.base))
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200, "{p} as admin");
    }
    // The dashboard page carries the strict CSP and no inline script.
    let r = c
        .http
        .get(format!("{}/admin/paliadin", api.base))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    let csp = r.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("default-src 'self'") && csp.contains("script-src 'self'"),
        "{csp}"
    );
    let html = r.text().await.unwrap();
    assert!(
        !html.contains("<script>") && !html.contains("style=\""),
        "inline code in the page"
    );
    assert!(html.contains("/admin/paliadin/assets/admin.js"));
}
