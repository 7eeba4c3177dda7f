//! Pins that internal details stay in the log (docs/security.md): a turn that fails because
//! the agent cannot be started (real worker, real tmux) tells its owner what the agent's own
//! terminal said as it exited (the owner's own agent's words, bounded and cleaned) after a
//! stable sentence — no tmux command, worker path or SQL text — in the `error` event and in
//! history.

use paliadin_api::config::ApiConfig;
use paliadin_e2e::db::TestDb;
use paliadin_e2e::http::{Client, user};
use paliadin_e2e::procs::TmuxRig;
use paliadin_e2e::system::start_api;
use paliadin_shared::db::users::Role;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_turn_shows_a_stable_message_not_the_internal_error() {
    let db = TestDb::new().await;
    let api = start_api(&db, ApiConfig::default()).await;
    let (_, token) = user(&db, "o@x", Role::Owner).await;
    let c = Client::new(&api.base, Some(&token));
    let rig = TmuxRig::new();
    let missing = "/nonexistent-paliadin-dir/agent-binary";
    let _w = rig.worker_with(
        &db.url,
        "w-broken",
        &[
            ("PALIADIN_AGENT_CMD", missing),
            ("PALIADIN_TURN_TIMEOUT_SECS", "5"),
        ],
    );
    let (_, sse) = c.turn("hello").await;
    let evs = c.stream_all(&sse, None, 60).await;
    let last = evs.last().unwrap();
    assert_eq!(last.event, "error", "{:?}", last.data);
    let code = last.data["code"].as_str().unwrap().to_owned();
    let message = last.data["message"].as_str().unwrap().to_owned();
    assert_eq!(code, "session_lost", "{message}");
    let prefix = "the agent exited as it started; its terminal showed: ";
    let words = message
        .strip_prefix(prefix)
        .unwrap_or_else(|| panic!("{message}"));
    assert!(
        words.starts_with("env: ")
            && words.contains(missing)
            && words.contains("No such file or directory"),
        "{words}"
    );
    for internal in [
        "tmux ",
        "new-session",
        "sqlx",
        "postgres",
        "spool",
        "DATABASE_URL",
    ] {
        assert!(!message.contains(internal), "{internal} in {message}");
    }
    let (_, history) = c.get("/api/paliadin/turns").await;
    assert_eq!(history[0]["error_message"], message.as_str());
}
