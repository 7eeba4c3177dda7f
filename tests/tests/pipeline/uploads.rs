//! Pins `POST /api/paliadin/uploads` and what a turn does with them, through the real API and a
//! worker (scripted driver): the content type comes from the bytes, names are made safe, every
//! limit (size, per turn, pending) and every bad name is a clear 4xx with nothing stored;
//! another owner gets 404 for the bytes and for naming them in a turn; the history lists a
//! turn's uploads in order; deleting the conversation deletes them.

use paliadin_api::config::ApiConfig;
use paliadin_e2e::db::TestDb;
use paliadin_e2e::http::{Client, user};
use paliadin_e2e::scripted::ScriptedDriver;
use paliadin_e2e::system::{fast_runtime, start_api, start_worker};
use paliadin_e2e::uploads::{PNG, upload};
use paliadin_shared::db::users::Role;
use serde_json::json;
use std::sync::Arc;
use uuid::Uuid;

async fn stored(db: &TestDb) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM uploads")
        .fetch_one(&db.pool)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_and_bad_names_are_clear_4xx_with_nothing_stored() {
    let db = TestDb::new().await;
    let config = ApiConfig {
        upload_max_bytes: 1024,
        upload_max_per_turn: 2,
        upload_max_pending: 3,
        ..ApiConfig::default()
    };
    let api = start_api(&db, config).await;
    let (_, token) = user(&db, "o@x", Role::Owner).await;
    let (_, admin) = user(&db, "a@x", Role::Admin).await;
    let c = &Client::new(&api.base, Some(&token));

    let refused: [(Option<&str>, &[u8], u16, &str); 7] = [
        (None, b"x", 400, "invalid_name"),
        (Some(""), b"x", 400, "invalid_name"),
        (Some("../etc/passwd"), b"x", 400, "invalid_name"),
        (Some("a\\b.txt"), b"x", 400, "invalid_name"),
        (Some("line\nbreak.txt"), b"x", 400, "invalid_name"),
        (Some("empty.txt"), b"", 400, "empty_file"),
        (Some("big.bin"), &[7u8; 1025], 413, "too_large"),
    ];
    for (name, data, status, code) in refused {
        let (s, v) = upload(c, name, "application/octet-stream", data).await;
        assert_eq!(
            (s, v["error"].as_str()),
            (status, Some(code)),
            "{name:?}: {v}"
        );
        assert!(!v["message"].as_str().unwrap_or_default().is_empty(), "{v}");
    }
    let long = "a".repeat(256);
    let (s, v) = upload(c, Some(&long), "text/plain", b"x").await;
    assert_eq!((s, v["error"].as_str()), (400, Some("invalid_name")), "{v}");
    // Not an owner: the route does not exist.
    let (s, _) = upload(
        &Client::new(&api.base, Some(&admin)),
        Some("a.txt"),
        "text/plain",
        b"x",
    )
    .await;
    assert_eq!(s, 404);
    let (s, _) = upload(
        &Client::new(&api.base, None),
        Some("a.txt"),
        "text/plain",
        b"x",
    )
    .await;
    assert_eq!(s, 404);
    assert_eq!(stored(&db).await, 0, "a refused upload stored nothing");

    // Exactly the limit is fine; the type is read from the bytes, not the claim; names are
    // made safe.
    let (s, v) = upload(c, Some("shot.png"), "text/html", PNG).await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["content_type"], "image/png");
    let (s, v) = upload(c, Some(".hidden `$(x)`.txt"), "image/png", &[b'a'; 1024]).await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(
        (v["name"].as_str(), v["content_type"].as_str()),
        (Some("hidden __(x)_.txt"), Some("text/plain; charset=utf-8"))
    );
    let (s, v) = upload(c, Some("c.txt"), "text/plain", b"c").await;
    assert_eq!(s, 201, "{v}");
    // The pending cap.
    let (s, v) = upload(c, Some("d.txt"), "text/plain", b"d").await;
    assert_eq!(
        (s, v["error"].as_str()),
        (429, Some("too_many_uploads")),
        "{v}"
    );
    assert_eq!(stored(&db).await, 3);

    // Per turn: three ids when two are allowed, a repeat, a non-id: 400, no turn.
    let (_, list) = c.get("/api/paliadin/turns?limit=10").await;
    assert_eq!(list.as_array().map(Vec::len), Some(0));
    let ids: Vec<String> = sqlx::query_scalar("SELECT id::text FROM uploads ORDER BY id")
        .fetch_all(&db.pool)
        .await
        .unwrap();
    for (upload_ids, code) in [
        (json!(ids), "too_many_uploads"),
        (json!([ids[0], ids[0]]), "invalid_upload_ids"),
        (json!(["nope"]), "invalid_upload_ids"),
    ] {
        let body = json!({"user_message": "look", "upload_ids": upload_ids});
        let (s, v) = c.post("/api/paliadin/turn", &body).await;
        assert_eq!((s, v["error"].as_str()), (400, Some(code)), "{v}");
    }
    let turns: i64 = sqlx::query_scalar("SELECT count(*) FROM turns")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(turns, 0, "a refused turn stored nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_ride_with_their_turn_stay_private_and_go_with_the_conversation() {
    let db = TestDb::new().await;
    let api = start_api(&db, ApiConfig::default()).await;
    let _worker = start_worker(&db, Arc::new(ScriptedDriver::default()), fast_runtime("w")).await;
    let (_, token) = user(&db, "o@x", Role::Owner).await;
    let (_, other) = user(&db, "p@x", Role::Owner).await;
    let c = &Client::new(&api.base, Some(&token));
    let them = &Client::new(&api.base, Some(&other));

    let (_, png) = upload(c, Some("shot.png"), "image/png", PNG).await;
    let (_, svg) = upload(c, Some("x.svg"), "image/svg+xml", b"<svg onload=alert(1)/>").await;
    let (png_id, svg_id) = (
        png["upload_id"].as_str().unwrap(),
        svg["upload_id"].as_str().unwrap(),
    );

    // Another owner can neither read them nor send them.
    for id in [png_id, svg_id] {
        let (s, _) = them.get(&format!("/api/paliadin/uploads/{id}")).await;
        assert_eq!(s, 404);
    }
    let body = json!({"user_message": "mine now", "upload_ids": [png_id]});
    let (s, _) = them.post("/api/paliadin/turn", &body).await;
    assert_eq!(s, 404);
    let (s, _) = c
        .get(&format!("/api/paliadin/uploads/{}", Uuid::now_v7()))
        .await;
    assert_eq!(s, 404);

    // The owner sends them with a message.
    let session = Uuid::now_v7();
    let body =
        json!({"user_message": "look", "session_id": session, "upload_ids": [svg_id, png_id]});
    let (s, v) = c.post("/api/paliadin/turn", &body).await;
    assert_eq!(s, 200, "{v}");
    let evs = c.stream_all(v["sse_url"].as_str().unwrap(), None, 30).await;
    assert_eq!(evs.last().unwrap().event, "end");
    // Sent once: a second turn cannot take them again.
    let body = json!({"user_message": "again", "session_id": session, "upload_ids": [png_id]});
    let (s, _) = c.post("/api/paliadin/turn", &body).await;
    assert_eq!(s, 404);

    // The history (a replay) lists them in order.
    let (_, hist) = c
        .get(&format!("/api/paliadin/turns?session_id={session}"))
        .await;
    let listed: Vec<(&str, &str)> = hist[0]["uploads"]
        .as_array()
        .expect("uploads in the history")
        .iter()
        .map(|u| {
            (
                u["name"].as_str().unwrap(),
                u["content_type"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        listed,
        [
            ("x.svg", "text/plain; charset=utf-8"),
            ("shot.png", "image/png")
        ]
    );

    // The bytes back: an image inline, anything else an attachment that no browser runs.
    let http = reqwest::Client::new();
    let get = |id: &str| {
        http.get(format!("{}/api/paliadin/uploads/{id}", api.base))
            .bearer_auth(&token)
            .send()
    };
    let r = get(png_id).await.unwrap();
    assert_eq!(r.status(), 200);
    let h = r.headers().clone();
    assert_eq!(h["content-type"], "image/png");
    assert!(
        h["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("inline")
    );
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(&r.bytes().await.unwrap()[..], PNG);
    let r = get(svg_id).await.unwrap();
    let h = r.headers().clone();
    assert_eq!(h["content-type"], "application/octet-stream");
    assert!(
        h["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment")
    );
    assert!(
        h["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("sandbox")
    );

    // Deleting the conversation deletes them.
    let (s, v) = c
        .delete(&format!("/api/paliadin/conversations/{session}"))
        .await;
    assert_eq!(s, 200, "{v}");
    for id in [png_id, svg_id] {
        let (s, _) = c.get(&format!("/api/paliadin/uploads/{id}")).await;
        assert_eq!(s, 404);
    }
    assert_eq!(stored(&db).await, 0);
}
