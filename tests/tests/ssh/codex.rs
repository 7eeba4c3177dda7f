//! The real Codex CLI on a host reached over SSH (scripted OpenAI model on loopback, a real
//! sshd, the host agent as the account): a turn is answered through Codex's hooks on the host,
//! its usage read from the rollout by the host agent comes with the `end` event, the turn is
//! recorded as answered by `codex`, and a turn's work (text, commands, a failing one) streams
//! as the same steps as for a local Codex (`agent_codex::worklog`), again on replay.

use paliadin_e2e::codex::{Codex, usage_counts};
use paliadin_e2e::http::{Client, SseEvent, user};
use paliadin_e2e::model_openai::script::default_body;
use paliadin_e2e::procs::TmuxRig;
use paliadin_e2e::sshd::{SshHost, wait_host, worker};
use paliadin_e2e::worklog::{assert_codex_work_steps, steps};
use serde_json::Value;

#[track_caller]
fn end(evs: &[SseEvent]) -> &Value {
    let end = evs.last().expect("events");
    assert_eq!(end.event, "end", "{evs:?}");
    &end.data
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_ssh_codex_answers_with_its_usage_agent_and_steps() {
    let rig = TmuxRig::new();
    let Some(codex) = Codex::setup(&rig).await else {
        return;
    };
    let host = SshHost::start_on(rig, "cxssh1", &codex.worker_env());
    let db = paliadin_e2e::db::TestDb::new().await;
    let api = paliadin_e2e::system::start_api(&db, Default::default()).await;
    let (_, token) = user(&db, "o@ssh-codex", paliadin_shared::db::users::Role::Owner).await;
    let _w = worker(
        &db.url,
        "cx-ssh-1",
        &host.entry(),
        &[("PALIADIN_TURN_TIMEOUT_SECS", "90")],
    );
    wait_host(&db, "cxssh1", true, 30).await;
    let c = Client::new(&api.base, Some(&token));

    let m = "hello codex over ssh";
    let (first, sse) = c.turn(m).await;
    let evs = c.stream_all(&sse, None, 120).await;
    let data = end(&evs);
    assert_eq!(data["text"], default_body(m));
    assert_eq!(data["agent"], "codex", "the end event names the agent");
    let usage = &data["usage"];
    assert_eq!(usage["model"], "gpt-scripted", "{usage}");
    assert_eq!(usage_counts(usage), reported(&codex, &first), "{usage}");
    assert!(steps(&evs).is_empty(), "a turn without work has no steps");

    let path = codex.workdir.join("notes.txt");
    let text = std::fs::read_to_string(&path).expect("the workdir's file");
    let path = path.display().to_string();
    let (second, sse) = c.turn(&format!("work 2 {path}")).await;
    let evs = c.stream_all(&sse, None, 120).await;
    let data = end(&evs);
    assert_eq!(data["text"], "Worked 2 times.");
    assert_eq!(usage_counts(&data["usage"]), reported(&codex, &second));
    let live = steps(&evs);
    assert_codex_work_steps(&live, 2, &path, &text);
    let again = c.stream_all(&sse, None, 30).await;
    assert_eq!(steps(&again), live, "a replay carries the same steps");

    let (s, items) = c.get("/api/paliadin/turns").await;
    assert_eq!(s, 200, "{items}");
    for id in [&first, &second] {
        let item = items
            .as_array()
            .expect("turns")
            .iter()
            .find(|t| t["turn_id"] == id.as_str())
            .unwrap_or_else(|| panic!("{id} in {items}"));
        assert_eq!(item["agent"], "codex", "{item}");
        assert_eq!(usage_counts(&item["usage"]), reported(&codex, id), "{item}");
    }
}

/// What the model reported on the turn named `id` (as the API names it).
fn reported(codex: &Codex, id: &str) -> [i64; 4] {
    codex.reported(id.parse().expect("turn id"))
}
