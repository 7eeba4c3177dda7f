//! Pins that a reply trailer is bounded by what the schema holds (docs/security.md): 64 tools
//! of 64 characters pass the per-entry limits but would overflow the `turns_finished_stats`
//! index row (2704 bytes), so the result could never be committed. Such a reply fails its turn
//! at once with `invalid_reply` (real worker, real tmux spool, real PostgreSQL).

use paliadin_api::config::ApiConfig;
use paliadin_e2e::db::TestDb;
use paliadin_e2e::http::{Client, user};
use paliadin_e2e::procs::TmuxRig;
use paliadin_e2e::system::start_api;
use paliadin_shared::db::users::Role;
use std::os::unix::fs::DirBuilderExt;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trailer_too_big_for_the_stats_index_fails_clearly() {
    let db = TestDb::new().await;
    let api = start_api(&db, ApiConfig::default()).await;
    let (_, token) = user(&db, "o@x", Role::Owner).await;
    let c = Client::new(&api.base, Some(&token));
    let rig = TmuxRig::new();
    // The reply is in place before any worker takes the turn.
    let (id, sse) = c.turn("hello").await;
    // Random names: nothing for PostgreSQL's compression to shrink.
    let tools: Vec<String> = (0..64)
        .map(|_| {
            let (a, b) = (uuid::Uuid::new_v4(), uuid::Uuid::new_v4());
            format!("{}{}", a.simple(), b.simple())
        })
        .collect();
    let trailer = serde_json::json!({
        "used_tools": tools, "rows_seen": 0, "chip_count": 0, "classifier_tag": "x",
    });
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(&rig.spool)
        .unwrap();
    let reply = format!("a reply\n<!-- paliadin {trailer} -->\n");
    std::fs::write(rig.spool.join(format!("{id}.md")), reply).unwrap();
    let _w = rig.worker(&db.url, "w-trailer");
    let evs = c.stream_all(&sse, None, 30).await;
    let last = evs.last().unwrap();
    assert_eq!(last.event, "error", "{:?}", last.data);
    assert_eq!(last.data["code"], "invalid_reply");
    let message = last.data["message"].as_str().unwrap();
    assert!(message.contains("1024"), "{message}");
}
