//! Conversations side by side: each conversation's agent is a window of its owner's session
//! (`<session>:c-<hex>`), so a turn of one conversation runs while another's agent is at work,
//! neither sees the other's messages, an owner holds at most
//! `PALIADIN_MAX_LIVE_AGENTS_PER_USER` live agents (the least recently used idle one is stopped
//! for a new one; when all are at work the turn waits), and an agent started before windows
//! (the whole session) still answers its conversation's turns.

use super::rig::{Recorder, Rig, assert_ok};
use paliadin_shared::SessionName;
use paliadin_worker::driver::{Conversation, DriveError, Driver, TurnControl, TurnSpec};
use uuid::Uuid;

/// A turn of `conv` in its window of `owner`'s session.
fn spec(rig: &Rig, owner: &SessionName, conv: Conversation, message: &str) -> TurnSpec {
    let window = owner.for_conversation(conv.id);
    let mut spec = rig.spec(&window, message);
    spec.conversation = conv;
    spec
}

/// Runs a turn to its end; the reply's text.
async fn say(rig: &Rig, owner: &SessionName, conv: Conversation, message: &str) -> String {
    let (out, rec) = rig.run(&spec(rig, owner, conv, message)).await;
    assert_ok(&out, &rec)
}

fn again(c: Conversation) -> Conversation {
    Conversation {
        continues: true,
        ..c
    }
}

/// The windows of `owner`'s session, by name.
fn windows(rig: &Rig, owner: &SessionName) -> Vec<String> {
    let out = std::process::Command::new("tmux")
        .args([
            "-L",
            &rig.socket,
            "list-windows",
            "-t",
            &owner.exact_target(),
        ])
        .args(["-F", "#{window_name}"])
        .output()
        .unwrap();
    let mut names: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect();
    names.sort();
    names
}

fn window_of(owner: &SessionName, c: Conversation) -> String {
    owner.for_conversation(c.id).window().unwrap().to_owned()
}

#[tokio::test]
async fn a_conversation_answers_while_another_of_the_same_owner_is_at_work() {
    let rig = Rig::new();
    let owner = rig.session("win-side");
    let (a, b) = (
        Conversation::new(Uuid::new_v4()),
        Conversation::new(Uuid::new_v4()),
    );
    say(&rig, &owner, a, "alpha speaks first").await;
    // A's agent is at work on a turn that only a cancel ends...
    let (hang, rec_a, control) = (
        spec(&rig, &owner, again(a), "/hang"),
        Recorder::default(),
        TurnControl::default(),
    );
    let in_a = rig.driver.run_turn(&hang, &rec_a, &control);
    let meanwhile = async {
        rec_a.delivered().await;
        // ...while B's agent, a window of the same session, starts and answers.
        let said = say(&rig, &owner, b, "/echo beta meanwhile").await;
        assert!(said.starts_with("beta meanwhile"), "{said}");
        let mut want = vec![window_of(&owner, a), window_of(&owner, b)];
        want.sort();
        assert_eq!(windows(&rig, &owner), want);
        control.cancel.cancel();
    };
    let (out, ()) = tokio::join!(in_a, meanwhile);
    assert!(matches!(out, Err(DriveError::Cancelled)), "{out:?}");
    // Each agent holds its own conversation and nothing of the other's.
    let recall_a = say(&rig, &owner, again(a), "/recall").await;
    assert!(recall_a.contains("alpha speaks first"), "{recall_a}");
    assert!(!recall_a.contains("beta"), "A's agent saw B: {recall_a}");
    let recall_b = say(&rig, &owner, again(b), "/recall").await;
    assert!(recall_b.contains("beta meanwhile"), "{recall_b}");
    assert!(!recall_b.contains("alpha"), "B's agent saw A: {recall_b}");
}

#[tokio::test]
async fn an_owner_s_agents_are_capped_the_least_recently_used_idle_one_making_room() {
    let rig = Rig::with(|cfg| cfg.max_live_agents_per_user = Some(2));
    let owner = rig.session("win-cap");
    let other = rig.session("win-cap-other");
    let [a, b, c, d] = [0; 4].map(|_| Conversation::new(Uuid::new_v4()));
    say(&rig, &owner, a, "/echo a").await;
    say(&rig, &owner, b, "/echo b").await;
    // Another owner's agents are not this owner's.
    say(&rig, &other, d, "/echo d").await;
    // A third conversation: A (used longest ago) makes room, B stays.
    say(&rig, &owner, c, "/echo c").await;
    let mut want = vec![window_of(&owner, b), window_of(&owner, c)];
    want.sort();
    assert_eq!(windows(&rig, &owner), want);
    assert_eq!(windows(&rig, &other), vec![window_of(&other, d)]);
    // A again: it resumes, and B, now the least recently used, makes room.
    let recall = say(&rig, &owner, again(a), "/recall").await;
    assert!(recall.contains("/echo a"), "{recall}");
    let mut want = vec![window_of(&owner, a), window_of(&owner, c)];
    want.sort();
    assert_eq!(windows(&rig, &owner), want);
    // Both at work: a turn of a third conversation starts nothing and waits.
    let (rec_a, rec_c) = (Recorder::default(), Recorder::default());
    let (ctl_a, ctl_c) = (TurnControl::default(), TurnControl::default());
    let (hang_a, hang_c) = (
        spec(&rig, &owner, again(a), "/hang"),
        spec(&rig, &owner, again(c), "/hang"),
    );
    let check = async {
        rec_a.delivered().await;
        rec_c.delivered().await;
        let (out, _) = rig.run(&spec(&rig, &owner, again(b), "/echo b")).await;
        assert!(matches!(out, Err(DriveError::AgentsFull(_))), "{out:?}");
        let mut want = vec![window_of(&owner, a), window_of(&owner, c)];
        want.sort();
        assert_eq!(
            windows(&rig, &owner),
            want,
            "nothing was stopped or started"
        );
        ctl_a.cancel.cancel();
        ctl_c.cancel.cancel();
    };
    let (out_a, out_c, ()) = tokio::join!(
        rig.driver.run_turn(&hang_a, &rec_a, &ctl_a),
        rig.driver.run_turn(&hang_c, &rec_c, &ctl_c),
        check
    );
    assert!(matches!(out_a, Err(DriveError::Cancelled)), "{out_a:?}");
    assert!(matches!(out_c, Err(DriveError::Cancelled)), "{out_c:?}");
}

#[tokio::test]
async fn an_agent_started_before_windows_still_answers_its_conversation() {
    let rig = Rig::new();
    let owner = rig.session("win-legacy");
    let a = Conversation::new(Uuid::new_v4());
    // As an earlier release ran it: the agent is the whole session.
    let mut legacy = rig.spec(&owner, "/echo before the upgrade");
    legacy.conversation = a;
    let (out, rec) = rig.run(&legacy).await;
    assert_ok(&out, &rec);
    let before = windows(&rig, &owner);
    assert_eq!(before.len(), 1);
    // The conversation's next turn goes to that agent, not to a new window.
    let recall = say(&rig, &owner, again(a), "/recall").await;
    assert!(recall.contains("before the upgrade"), "{recall}");
    assert_eq!(windows(&rig, &owner), before);
    // Another conversation gets a window next to it.
    let b = Conversation::new(Uuid::new_v4());
    say(&rig, &owner, b, "/echo b").await;
    let after = windows(&rig, &owner);
    assert_eq!(after.len(), 2, "{after:?}");
    assert!(after.contains(&window_of(&owner, b)), "{after:?}");
}
