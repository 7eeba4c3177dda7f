//! A compromised tmux host cannot make the worker accept what the schema cannot hold, exhaust
//! its memory, or show its own text to users: a host agent gone bad
//! (`tests/fixtures/hostile_host.py`, behind a real sshd on loopback) answers a turn with a
//! trailer over the bound (the worker checks it again: `invalid_reply`), or a 20 MiB line (over
//! the 16 MiB response-line limit: the line is refused, the turn ends with an error, the worker
//! lives on); its stderr (`HOST-SECRET`) never reaches the turn's events.

use paliadin_api::config::ApiConfig;
use paliadin_e2e::db::TestDb;
use paliadin_e2e::http::{Client, user};
use paliadin_e2e::procs::TmuxRig;
use paliadin_e2e::sshd::{SshHost, wait_host, worker};
use paliadin_e2e::system::start_api;
use paliadin_shared::db::users::Role;

fn hostile(mode: &str) -> SshHost {
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/hostile_host.py");
    let forced = format!("/usr/bin/python3 {} {mode}", script.display());
    SshHost::start_forced(TmuxRig::new(), "evil", &forced)
}

async fn one_turn(mode: &str) -> (Vec<paliadin_e2e::http::SseEvent>, tokio::process::Child) {
    let db = TestDb::new().await;
    let api = start_api(&db, ApiConfig::default()).await;
    let (_, token) = user(&db, "o@x", Role::Owner).await;
    let host = hostile(mode);
    let env = [("PALIADIN_TURN_TIMEOUT_SECS", "5")];
    let mut w = worker(&db.url, "w-hostile", &host.entry(), &env);
    wait_host(&db, "evil", true, 20).await;
    let c = Client::new(&api.base, Some(&token));
    let (_, sse) = c.turn("hello host").await;
    let evs = c.stream_all(&sse, None, 60).await;
    assert!(
        w.try_wait().expect("worker status").is_none(),
        "the worker died"
    );
    let all = serde_json::to_string(&evs.iter().map(|e| &e.data).collect::<Vec<_>>()).unwrap();
    assert!(
        !all.contains("HOST-SECRET"),
        "host text reached the user: {all}"
    );
    drop(host);
    (evs, w)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_trailer_over_the_bound_is_refused() {
    let (evs, _w) = one_turn("trailer").await;
    let end = evs.last().unwrap();
    assert_eq!(
        (end.event.as_str(), end.data["code"].as_str()),
        ("error", Some("invalid_reply")),
        "{evs:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_line_is_refused_and_the_worker_lives_on() {
    let (evs, _w) = one_turn("flood").await;
    let end = evs.last().unwrap();
    assert_eq!(end.event, "error", "{evs:?}");
    assert!(
        !evs.iter().any(|e| e.event == "content"),
        "a piece of the flood was streamed: {:?}",
        evs.iter().map(|e| &e.event).collect::<Vec<_>>()
    );
}
