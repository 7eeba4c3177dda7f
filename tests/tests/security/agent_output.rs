//! Pins the bounds on what an agent writes into the spool (docs/security.md), with the real
//! worker, the demo agent in a private tmux server and real PostgreSQL: a reply larger than
//! `PALIADIN_MAX_REPLY_BYTES` fails its turn `invalid_reply` with a clear message; a turn file
//! that is a symlink (here to a file outside the spool) is refused, not followed; the next turn
//! of the same owner still works.

use paliadin_api::config::ApiConfig;
use paliadin_e2e::db::TestDb;
use paliadin_e2e::http::{Client, user};
use paliadin_e2e::procs::TmuxRig;
use paliadin_e2e::system::start_api;
use paliadin_shared::db::users::Role;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_over_the_cap_fails_its_turn_clearly() {
    let db = TestDb::new().await;
    let api = start_api(&db, ApiConfig::default()).await;
    let (_, token) = user(&db, "o@x", Role::Owner).await;
    let c = Client::new(&api.base, Some(&token));
    let rig = TmuxRig::new();
    let _w = rig.worker_with(&db.url, "w-cap", &[("PALIADIN_MAX_REPLY_BYTES", "16384")]);
    let (_, sse) = c.turn("/large 64").await;
    let evs = c.stream_all(&sse, None, 60).await;
    let last = evs.last().unwrap();
    assert_eq!(last.event, "error", "the turn did not fail");
    assert_eq!(last.data["code"], "invalid_reply");
    let streamed: usize = evs
        .iter()
        .filter(|e| e.event == "content")
        .map(|e| e.data["delta"].as_str().unwrap_or("").len())
        .sum();
    assert!(
        streamed <= 16384,
        "{streamed} bytes streamed over a 16 KiB cap"
    );
    let (_, sse) = c.turn("small again").await;
    assert_eq!(
        c.stream_all(&sse, None, 60).await.last().unwrap().event,
        "end"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_symlinked_turn_file_is_refused_not_followed() {
    let db = TestDb::new().await;
    let api = start_api(&db, ApiConfig::default()).await;
    let (_, token) = user(&db, "o@x", Role::Owner).await;
    let c = Client::new(&api.base, Some(&token));
    let rig = TmuxRig::new();
    // The turn waits in the queue (no worker yet) while its reply file is planted as a symlink.
    let (id, sse) = c.turn("hello").await;
    let outside = rig.spool.parent().unwrap().join("outside-secret.txt");
    let trailer =
        r#"<!-- paliadin {"used_tools":[],"rows_seen":0,"chip_count":0,"classifier_tag":"x"} -->"#;
    std::fs::write(&outside, format!("SECRET-OUTSIDE-THE-SPOOL\n{trailer}\n")).unwrap();
    std::os::unix::fs::DirBuilderExt::mode(&mut std::fs::DirBuilder::new(), 0o700)
        .create(&rig.spool)
        .unwrap();
    std::os::unix::fs::symlink(&outside, rig.spool.join(format!("{id}.md"))).unwrap();
    let _w = rig.worker(&db.url, "w-link");
    let evs = c.stream_all(&sse, None, 60).await;
    let last = evs.last().unwrap();
    let seen = evs
        .iter()
        .any(|e| e.data.to_string().contains("SECRET-OUTSIDE"));
    assert!(!seen, "the symlink was followed");
    assert_eq!(last.event, "error");
    assert_eq!(last.data["code"], "invalid_reply");
}
