//! Fault scenario 5: the agent hangs (`/hang`) or dies (`/crash`). Documented outcomes: a hung
//! agent ends the turn with `error: timeout` (and is interrupted); a dead one with
//! `error: session_lost`. Either way the user's next turn is answered.
//! `PALIADIN_FAULT_TRIALS` sets the number of hang/crash rounds (default 1).

use paliadin_api::config::ApiConfig;
use paliadin_e2e::db::TestDb;
use paliadin_e2e::fault::trials;
use paliadin_e2e::http::{Client, user};
use paliadin_e2e::procs::TmuxRig;
use paliadin_e2e::system::start_api;
use paliadin_shared::db::users::Role;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_or_dead_agent_fails_its_turn_and_the_next_turn_works() {
    let db = TestDb::new().await;
    let api = start_api(&db, ApiConfig::default()).await;
    let (_, token) = user(&db, "a@x", Role::Owner).await;
    let c = Client::new(&api.base, Some(&token));
    let rig = TmuxRig::new();
    let _w = rig.worker_with(&db.url, "w-agent", &[("PALIADIN_TURN_TIMEOUT_SECS", "3")]);
    let ask = |m: &'static str| {
        let c = c.clone();
        async move {
            let (_, sse) = c.turn(m).await;
            let evs = c.stream_all(&sse, None, 60).await;
            let last = evs.last().unwrap().clone();
            (
                last.event,
                last.data["code"].as_str().unwrap_or("").to_owned(),
            )
        }
    };
    for _ in 0..trials(1) {
        assert_eq!(ask("/hang").await, ("error".into(), "timeout".into()));
        assert_eq!(ask("after the hang").await.0, "end");
        assert_eq!(ask("/crash").await, ("error".into(), "session_lost".into()));
        assert_eq!(ask("after the crash").await.0, "end");
    }
}
