//! Pins the control paths against the real Claude Code (scripted model on loopback) beyond the
//! contract suite's cancel and timeout (`agent_demo/contract.rs`): reset starts a fresh Claude; `/clear` typed in
//! the pane leaves the next turn working; a worker SIGKILLed mid-turn is replaced without a
//! second paste; the same turn over SSH through the host agent; and, so the first-start check
//! means something, a home without the installer's key pre-seeding shows Claude's dialog.

use paliadin_e2e::claude::{API_KEY, Claude, dialog_on, install_skill};
use paliadin_e2e::claude_sys::{ClaudeSys, last};
use paliadin_e2e::http::{Client, SseEvent, next_event, user};
use paliadin_e2e::procs::{TmuxRig, pane_target, session_of, window_of};
use paliadin_e2e::sshd::{SshHost, wait_host, worker};
use paliadin_e2e::wait_until;
use std::process::Command;

/// Reads events until the turn's `status` says `state`.
async fn until_state(stream: &mut (impl futures::Stream<Item = SseEvent> + Unpin), state: &str) {
    while next_event(stream, 60).await.data["state"] != state {}
}

async fn until_terminal(stream: &mut (impl futures::Stream<Item = SseEvent> + Unpin)) -> SseEvent {
    loop {
        let e = next_event(stream, 60).await;
        if e.is_terminal() {
            return e;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_and_clear_leave_the_next_turn_working() {
    let Some(sys) = ClaudeSys::start("cc-reset", &[]).await else {
        return;
    };
    let (_, evs) = sys.turn("before the reset").await;
    sys.assert_end(&evs, "before the reset");
    let (s, v) = sys
        .c
        .post("/api/paliadin/reset", &serde_json::json!({}))
        .await;
    assert_eq!((s, v["ok"].as_bool()), (200, Some(true)), "{v}");
    let before = sys.rig.agent_pid(&sys.session());
    let fresh: uuid::Uuid = v["session_id"].as_str().unwrap().parse().unwrap();
    let window = window_of(&sys.owner.id, &fresh);
    let (after, evs) = sys.turn("after the reset").await;
    sys.assert_end(&evs, "after the reset");
    // A new conversation: a Claude of its own (a window next to the first one's), which knows
    // nothing of the one before.
    let theirs = sys.rig.agent_pid(&window);
    assert!(theirs.is_some(), "no agent for the new conversation");
    assert_ne!(theirs, before);
    let context = sys.claude.server.context_of(after.parse().unwrap());
    assert!(context.contains("after the reset"), "{context}");
    assert!(!context.contains("before the reset"), "{context}");

    // An operator attached to the session types /clear (a fixed command, not user text).
    let target = pane_target(&window);
    let keys = ["-l", "/clear"];
    for args in [&keys[..], &["Enter"][..]] {
        let ok = Command::new("tmux")
            .args(["-L", &sys.rig.socket, "send-keys", "-t", &target])
            .args(args)
            .status()
            .expect("tmux");
        assert!(ok.success());
    }
    wait_until(30, "/clear emptied the screen", || async {
        !sys.rig.screen(&window).contains("after the reset")
    })
    .await;
    let (_, evs) = sys.turn("after the clear").await;
    sys.assert_end(&evs, "after the clear");
    let asked: Vec<String> = sys.prompts().into_iter().map(|(_, m)| m).collect();
    assert_eq!(
        asked,
        ["before the reset", "after the reset", "after the clear"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_mid_turn_is_replaced_without_a_second_paste() {
    let Some(mut sys) = ClaudeSys::start("cc-doomed", &[]).await else {
        return;
    };
    let (id, sse) = sys.c.turn("slow 3000 are you there").await;
    let (_, mut stream) = sys.c.open_stream(&sse, None).await;
    until_state(&mut stream, "delivered").await;
    sys.worker.start_kill().expect("SIGKILL");
    sys.worker.wait().await.expect("reaped");
    let _rescuer = sys.spawn_worker("cc-rescuer", &[]);
    let end = until_terminal(&mut stream).await;
    assert_eq!(end.event, "end", "{end:?}");
    assert_eq!(sys.rig.receipts(&id), 1, "pasted more than once");
    assert_eq!(sys.prompts(), [(id, "slow 3000 are you there".to_owned())]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_turn_reaches_claude_over_ssh_through_the_host_agent() {
    let rig = TmuxRig::new();
    let Some(claude) = Claude::setup(&rig).await else {
        return;
    };
    let env = claude.worker_env();
    let host = SshHost::start_on(rig, "cch1", &env);
    let db = paliadin_e2e::db::TestDb::new().await;
    let api = paliadin_e2e::system::start_api(&db, Default::default()).await;
    let (owner, token) = user(&db, "o@ssh", paliadin_shared::db::users::Role::Owner).await;
    let _w = worker(&db.url, "cc-ssh", &host.entry(), &[]);
    wait_host(&db, "cch1", true, 30).await;
    let c = Client::new(&api.base, Some(&token));
    let (id, sse) = c.turn("stream 2 hello over ssh").await;
    let evs = c.stream_all(&sse, None, 90).await;
    assert_eq!(last(&evs).event, "end", "{evs:?}");
    assert!(
        last(&evs).data["text"]
            .as_str()
            .unwrap()
            .starts_with("Chunk 1 of 2.")
    );
    assert!(host.rig.has_session(&session_of(&owner.id)));
    assert_eq!(host.rig.receipts(&id), 1);
    let asked = claude.server.prompts();
    assert_eq!(asked.len(), 1);
    assert_eq!(asked[0].1, "stream 2 hello over ssh");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_key_pre_seeding_claude_stops_at_its_api_key_dialog() {
    let rig = TmuxRig::new();
    let Some(claude) = Claude::setup(&rig).await else {
        return;
    };
    // The same home, installed again without the key in the installer's environment.
    std::fs::remove_file(claude.home.join(".claude.json")).expect("remove state");
    install_skill(&claude.home, &claude.workdir, Some(&rig.spool), None);
    let state = std::fs::read_to_string(claude.home.join(".claude.json")).unwrap();
    assert!(!state.contains(&API_KEY[API_KEY.len() - 20..]));
    let ok = Command::new("tmux")
        .args([
            "-L",
            &rig.socket,
            "new-session",
            "-d",
            "-s",
            "probe",
            "-x",
            "200",
            "-y",
            "50",
        ])
        .arg("-c")
        .arg(&claude.workdir)
        .arg(&claude.agent_cmd)
        .status()
        .expect("tmux");
    assert!(ok.success());
    wait_until(30, "Claude's API key dialog", || async {
        dialog_on(&rig.screen("probe")) == Some("Detected a custom API key")
    })
    .await;
}
