//! Durable agent conversations on one tmux server, with the demo agent (`--session-id` /
//! `--resume`, `/recall`): an agent started again for a conversation resumes it, whatever
//! stopped the one before; a turn of another conversation gets an agent holding that one, so
//! neither ever sees the other's messages; an agent that cannot resume says so and starts
//! afresh. The whole-system matrix is `tests/tests/agent_demo/conversations.rs`.

use super::rig::{Rig, assert_ok};
use paliadin_worker::driver::Conversation;
use paliadin_worker::tmux::host::{FORGETS, RESUMED};
use uuid::Uuid;

/// Runs `message` in `conv` on session `s` and returns the reply's text.
async fn say(
    rig: &Rig,
    s: &paliadin_shared::SessionName,
    conv: Conversation,
    message: &str,
) -> String {
    say_seeing(rig, s, conv, message).await.0
}

/// [`say`], with the turn's `activity` lines.
async fn say_seeing(
    rig: &Rig,
    s: &paliadin_shared::SessionName,
    conv: Conversation,
    message: &str,
) -> (String, Vec<String>) {
    let mut spec = rig.spec(s, message);
    spec.conversation = conv;
    let (out, rec) = rig.run(&spec).await;
    (assert_ok(&out, &rec), rec.activities())
}

fn pane_pid(rig: &Rig, s: &paliadin_shared::SessionName) -> Option<u32> {
    let out = std::process::Command::new("tmux")
        .args([
            "-L",
            &rig.socket,
            "display-message",
            "-p",
            "-t",
            &s.pane_target(),
            "#{pane_pid}",
        ])
        .output()
        .ok()?;
    String::from_utf8_lossy(&out.stdout).trim().parse().ok()
}

#[tokio::test]
async fn a_restarted_agent_resumes_its_conversation() {
    let rig = Rig::new();
    let s = rig.session("conv-restart");
    let conv = Conversation::new(Uuid::new_v4());
    say(&rig, &s, conv, "the first thing I said").await;
    let continued = Conversation {
        continues: true,
        ..conv
    };
    // The agent process dies (OOM, crash, an update).
    let pid = pane_pid(&rig, &s).expect("agent pid");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::SIGKILL,
    )
    .unwrap();
    let (recalled, said) = say_seeing(&rig, &s, continued, "/recall").await;
    assert!(recalled.contains("the first thing I said"), "{recalled}");
    assert_ne!(pane_pid(&rig, &s), Some(pid), "a new agent answered");
    assert!(
        said.iter().any(|a| a == RESUMED),
        "the turn says so: {said:?}"
    );
    // The whole tmux server goes (a reboot).
    let killed = std::process::Command::new("tmux")
        .args(["-L", &rig.socket, "kill-server"])
        .status()
        .unwrap();
    assert!(killed.success());
    let recalled = say(&rig, &s, continued, "/recall").await;
    assert!(recalled.contains("the first thing I said"), "{recalled}");
    assert!(
        recalled.contains("/recall"),
        "the earlier /recall too: {recalled}"
    );
}

#[tokio::test]
async fn each_conversation_gets_an_agent_that_holds_it_and_only_it() {
    let rig = Rig::new();
    let s = rig.session("conv-switch");
    let a = Conversation::new(Uuid::new_v4());
    let b = Conversation::new(Uuid::new_v4());
    say(&rig, &s, a, "alpha says hello").await;
    let pid_a = pane_pid(&rig, &s);
    say(&rig, &s, b, "beta says hello").await;
    assert_ne!(pane_pid(&rig, &s), pid_a, "B got an agent of its own");
    let back = |c: Conversation| Conversation {
        continues: true,
        ..c
    };
    let in_a = say(&rig, &s, back(a), "/recall").await;
    assert!(in_a.contains("alpha says hello"), "{in_a}");
    assert!(!in_a.contains("beta"), "A's agent saw B: {in_a}");
    let in_b = say(&rig, &s, back(b), "/recall").await;
    assert!(in_b.contains("beta says hello"), "{in_b}");
    assert!(!in_b.contains("alpha"), "B's agent saw A: {in_b}");
    // The same conversation again: the agent that holds it answers, no restart.
    let pid = pane_pid(&rig, &s);
    say(&rig, &s, back(b), "/echo still b").await;
    assert_eq!(pane_pid(&rig, &s), pid);
}

#[tokio::test]
async fn a_resume_this_host_cannot_do_starts_the_conversation_afresh() {
    // Failover to a host that never saw the conversation: `--resume` fails there ("No
    // conversation found"), and the agent is started with `--session-id` instead.
    let rig = Rig::new();
    let s = rig.session("conv-elsewhere");
    let conv = Conversation {
        id: Uuid::new_v4(),
        continues: true,
    };
    let recalled = say(&rig, &s, conv, "/recall").await;
    assert!(recalled.contains("no earlier message"), "{recalled}");
}

#[tokio::test]
async fn an_agent_that_cannot_resume_forgets_after_a_restart_and_still_answers() {
    // A custom agent without resume arguments: started as it is, it forgets on a restart
    // (`doctor` and the docs say so), but every conversation is still answered.
    let rig = Rig::with(|c| {
        c.launch = paliadin_worker::tmux::launch::Launch::for_kind(
            paliadin_worker::tmux::launch::AgentKind::Other,
        );
    });
    assert!(!rig.driver.host().config().launch.can_resume());
    let s = rig.session("conv-forgetful");
    let conv = Conversation::new(Uuid::new_v4());
    say(&rig, &s, conv, "remember me").await;
    let pid = pane_pid(&rig, &s).expect("agent pid");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::SIGKILL,
    )
    .unwrap();
    let continued = Conversation {
        continues: true,
        ..conv
    };
    let (recalled, said) = say_seeing(&rig, &s, continued, "/recall").await;
    assert!(recalled.contains("no earlier message"), "{recalled}");
    assert!(
        said.iter().any(|a| a == FORGETS),
        "the turn says it forgot: {said:?}"
    );
    // The next turn of the same agent says nothing of it.
    let (_, said) = say_seeing(&rig, &s, continued, "/echo again").await;
    assert!(!said.iter().any(|a| a == FORGETS), "{said:?}");
}

#[tokio::test]
async fn an_idle_agent_is_stopped_and_its_conversation_resumes() {
    use paliadin_worker::driver::Driver;
    use std::time::Duration;
    let rig = Rig::new();
    let s = rig.session("conv-idle");
    let conv = Conversation::new(Uuid::new_v4());
    say(&rig, &s, conv, "before the pause").await;
    let tmux = |args: &[&str]| {
        std::process::Command::new("tmux")
            .args(["-L", &rig.socket])
            .args(args)
            .output()
            .unwrap()
    };
    // Just used: not idle.
    assert_eq!(rig.driver.stop_idle(Duration::from_secs(60)).await, 0);
    // Last used an hour ago.
    let old = (std::time::SystemTime::now() - Duration::from_secs(3600))
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .to_string();
    let target = s.pane_target();
    assert!(
        tmux(&["set-option", "-w", "-t", &target, "@paliadin-used", &old])
            .status
            .success()
    );
    // At work (its busy marker is there): left alone.
    let marker = paliadin_worker::tmux::busy::path(rig.driver.host().spool().root(), &s);
    std::fs::write(&marker, "").unwrap();
    assert_eq!(rig.driver.stop_idle(Duration::from_secs(60)).await, 0);
    std::fs::remove_file(&marker).unwrap();
    // Idle: stopped, and the next turn resumes the conversation in a new agent.
    assert_eq!(rig.driver.stop_idle(Duration::from_secs(60)).await, 1);
    assert!(pane_pid(&rig, &s).is_none(), "the session is gone");
    let recalled = say(
        &rig,
        &s,
        Conversation {
            continues: true,
            ..conv
        },
        "/recall",
    )
    .await;
    assert!(recalled.contains("before the pause"), "{recalled}");
}
