//! Over SSH, the host agent passes on what Claude Code does by itself, as the local worker
//! reports it: its retries of an overloaded model (`status {state: "retrying", attempt, of,
//! next_in}`) and its compaction of a nearly full conversation (`status {state: "compacting",
//! trigger}`, then `answering`), with the real Claude Code on the host (scripted model on
//! loopback) behind a real sshd. The worker asks for these lines with `statuses` in its `run`;
//! without the host agent's side the turns still end, but say neither.

use paliadin_e2e::claude::Claude;
use paliadin_e2e::http::{Client, SseEvent, user};
use paliadin_e2e::model::script::default_body;
use paliadin_e2e::procs::TmuxRig;
use paliadin_e2e::sshd::{SshHost, wait_host, worker};

/// Retries Claude makes before it gives up (the model recovers after two).
const RETRIES: u32 = 4;

fn statuses<'a>(evs: &'a [SseEvent], state: &str) -> Vec<&'a SseEvent> {
    evs.iter()
        .filter(|e| e.event == "status" && e.data["state"] == state)
        .collect()
}

#[track_caller]
fn assert_reply(evs: &[SseEvent], message: &str) {
    let end = evs.last().expect("events");
    assert_eq!(end.event, "end", "{message}: {evs:?}");
    assert_eq!(end.data["text"], default_body(message), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_ssh_claudes_retries_and_compaction_show_as_statuses() {
    let rig = TmuxRig::new();
    let Some(claude) = Claude::setup(&rig).await else {
        return;
    };
    claude.shorten_retries(RETRIES);
    let mut env = claude.worker_env();
    // Claude compacts by itself past 100 000 − 33 000 tokens (`docs/claude-code.md`).
    env.push(("CLAUDE_CODE_AUTO_COMPACT_WINDOW", "100000".to_owned()));
    let host = SshHost::start_on(rig, "ccst1", &env);
    let db = paliadin_e2e::db::TestDb::new().await;
    let api = paliadin_e2e::system::start_api(&db, Default::default()).await;
    let (_, token) = user(&db, "o@ssh-status", paliadin_shared::db::users::Role::Owner).await;
    let _w = worker(
        &db.url,
        "cc-ssh-st",
        &host.entry(),
        &[("PALIADIN_TURN_TIMEOUT_SECS", "90")],
    );
    wait_host(&db, "ccst1", true, 30).await;
    let c = Client::new(&api.base, Some(&token));
    let turn = |m: &'static str| {
        let c = &c;
        async move {
            let (_, sse) = c.turn(m).await;
            c.stream_all(&sse, None, 120).await
        }
    };

    let m = "flaky 2 then answer";
    let evs = turn(m).await;
    assert_reply(&evs, m);
    let retrying = statuses(&evs, "retrying");
    assert!(!retrying.is_empty(), "{m}: a retrying status: {evs:?}");
    let first = &retrying[0].data;
    assert!(first["attempt"].as_u64().is_some_and(|a| a >= 1), "{first}");
    assert_eq!(first["of"].as_u64(), Some(u64::from(RETRIES)), "{first}");
    assert!(first["next_in"].is_u64(), "{first}");

    let m = "full of context";
    let evs = turn(m).await;
    assert_reply(&evs, m);
    assert!(statuses(&evs, "compacting").is_empty(), "{evs:?}");

    let m = "after the window filled";
    let evs = turn(m).await;
    assert_reply(&evs, m);
    let compacting = statuses(&evs, "compacting");
    assert_eq!(compacting.len(), 1, "{m}: one compaction: {evs:?}");
    assert_eq!(compacting[0].data["trigger"], "auto");
    let after = evs
        .iter()
        .position(|e| e.event == "status" && e.data["state"] == "compacting")
        .expect("compacting");
    assert!(
        !statuses(&evs[after..], "answering").is_empty(),
        "{m}: the compaction's status gives way: {evs:?}"
    );
}
