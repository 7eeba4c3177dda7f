//! Pins the admin dashboard in headless Chromium with real data: an admin signs in through
//! `/login` and lands on `/admin/paliadin`; the tiles show the turns a worker ran (scripted
//! driver) plus a seeded failure; the SVG charts have bars and points; the workers table shows a
//! silent worker as stale; a turn row opens its events; the page refreshes by itself when a new
//! turn finishes; the dark theme applies. Screenshots go to `tests/artifacts/admin-*.png`.

use paliadin_api::config::ApiConfig;
use paliadin_e2e::browser::{Browser, enabled};
use paliadin_e2e::db::TestDb;
use paliadin_e2e::http::{Client, user};
use paliadin_e2e::scripted::ScriptedDriver;
use paliadin_e2e::system::{fast_runtime, start_api, start_worker};
use paliadin_shared::db::users::Role;
use serde_json::json;
use std::sync::Arc;

async fn run_turn(c: &Client, msg: &str) {
    let (_, sse) = c.turn(msg).await;
    let events = c.stream_all(&sse, None, 30).await;
    assert_eq!(events.last().unwrap().event, "end", "{events:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dashboard_shows_live_figures_and_drills_down() {
    if !enabled("dashboard_shows_live_figures_and_drills_down") {
        return;
    }
    let db = TestDb::new().await;
    let api = start_api(&db, ApiConfig::default()).await;
    let worker = start_worker(
        &db,
        Arc::new(ScriptedDriver::default()),
        fast_runtime("w-live"),
    )
    .await;
    let (owner_row, owner) = user(&db, "owner@x", Role::Owner).await;
    let (_, admin) = user(&db, "admin@x", Role::Admin).await;
    let c = Client::new(&api.base, Some(&owner));
    for i in 0..3 {
        run_turn(&c, &format!("question {i} sleep:{}", 40 * i)).await;
    }
    // History the worker did not make: a timeout a few minutes ago, and a silent worker.
    sqlx::query(
        "INSERT INTO turns (id, user_id, session_id, message, host, state, attempt, queued_at,
                claimed_at, delivered_at, finished_at, error_code, error_message)
         VALUES ($1, $2, $1, 'seeded', 'local', 'failed', 1, now() - interval '4 minutes',
                 now() - interval '239 seconds', now() - interval '238 seconds',
                 now() - interval '118 seconds', 'timeout', 'the agent did not answer in time')",
    )
    .bind(uuid::Uuid::now_v7())
    .bind(owner_row.id)
    .execute(&db.pool)
    .await
    .unwrap();
    sqlx::raw_sql(
        "INSERT INTO workers (id, hosts, version, heartbeat_at)
         VALUES ('w-silent', '{local}', '0.0.9', now() - interval '2 minutes')",
    )
    .execute(&db.pool)
    .await
    .unwrap();

    let b = Browser::start("admin").await;
    b.goto(&format!("{}/login", api.base)).await;
    b.type_into("#token", &admin).await;
    b.click("button[type=submit]").await;
    b.until(
        15,
        "the dashboard with data",
        "return location.pathname === '/admin/paliadin' && document.body.dataset.loaded === 'true'",
    )
    .await;
    let text = |id: &str| format!("return document.getElementById('{id}').textContent");
    assert_eq!(b.js(&text("t-succeeded")).await, json!("3"));
    assert_eq!(b.js(&text("t-failed")).await, json!("1"));
    assert!(
        b.js(&text("t-errors"))
            .await
            .as_str()
            .unwrap()
            .contains("timeout 1")
    );
    assert_eq!(b.js(&text("t-workers")).await, json!("1 / 2"));
    assert_eq!(b.js(&text("t-stale")).await, json!("1 stale"));
    let bars = b
        .js("return document.querySelectorAll('#c-throughput svg rect').length")
        .await;
    assert!(bars.as_u64().unwrap() >= 2, "throughput bars: {bars}");
    let points = b
        .js("return document.querySelectorAll('#c-latency svg circle').length")
        .await;
    assert!(points.as_u64().unwrap() >= 1, "latency points: {points}");
    assert_eq!(
        b.js("return [...document.querySelectorAll('#workers .pill')].map(p => p.textContent)")
            .await,
        json!(["alive", "stale"])
    );
    assert_eq!(
        b.js("return document.querySelectorAll('#turns tr[data-id]').length")
            .await,
        json!(4)
    );
    assert_eq!(
        b.js("return document.getElementById('alert').hidden").await,
        json!(true)
    );
    b.screenshot("dashboard").await;

    // Drill down into the newest turn: its events, with the reply text redacted.
    b.click("#turns tr[data-id]").await;
    b.until(10, "the turn's events", "return document.getElementById('detail').open && document.querySelectorAll('#d-events li').length > 0").await;
    let kinds = b
        .js("return [...document.querySelectorAll('#d-events .pill')].map(p => p.textContent)")
        .await;
    assert_eq!(kinds[0], "meta");
    assert_eq!(kinds.as_array().unwrap().last().unwrap(), "end");
    let events = b
        .js("return document.getElementById('d-events').textContent")
        .await;
    assert!(
        !events.as_str().unwrap().contains("reply to:"),
        "reply text shown: {events}"
    );
    b.screenshot("drilldown").await;
    b.click("#d-close").await;

    // It refreshes by itself: one more turn shows up without a reload.
    run_turn(&c, "one more").await;
    b.until(
        15,
        "the new turn on the page",
        "return document.getElementById('t-succeeded').textContent === '4'",
    )
    .await;

    b.click("#theme-toggle").await;
    assert_eq!(
        b.js("return document.documentElement.dataset.theme").await,
        json!("dark")
    );
    b.screenshot("dashboard-dark").await;
    b.close().await;
    worker.stop().await;
}
