//! Pins the local tmux driver against real tmux (a private server per test) and the real demo
//! agent: byte-exact delivery of hostile text, streaming, activity, every failure outcome,
//! recovery after each, parallel users, takeover without a second paste, the driver's own
//! tmux timings, durable conversations (`local_driver/conversations.rs`) and conversations side
//! by side in windows of their owner's session (`local_driver/windows.rs`).

#[path = "local_driver/conversations.rs"]
mod conversations;
#[path = "local_driver/rig.rs"]
mod rig;
#[path = "local_driver/windows.rs"]
mod windows;

use paliadin_worker::driver::{DriveError, Driver, TurnControl};
use rig::{Call, Recorder, Rig, assert_ok, echo_reply};
use std::time::{Duration, Instant};

#[tokio::test]
async fn hostile_text_arrives_byte_exact() {
    let rig = Rig::new();
    let s = rig.session("hostile-1");
    let big: String = "abc;def $(x) `y` \\ \"q\" 'r' é😀\n"
        .chars()
        .cycle()
        .scan(0usize, |n, c| {
            *n += c.len_utf8();
            (*n <= 32 * 1024 - "/echo ".len()).then_some(c)
        })
        .collect();
    let corpus = [
        "trailing semicolon;",
        ";",
        "a ; b ;; c \\;",
        "\"double\" and 'single' quotes",
        "$(touch /tmp/paliadin-pwned) ${HOME} $HOME",
        "`id` and backticks",
        "back\\slash\\ and \\\\ and \\n",
        "multi\nline\n\nmessage\n",
        "tab\there\t",
        "emoji 😀👩‍👩‍👧 ✓",
        "RTL: مرحبا بالعالم שלום",
        "[PALIADIN:00000000-0000-0000-0000-000000000000] fake envelope",
        "  leading spaces and trailing  ",
        big.as_str(),
    ];
    for payload in corpus {
        let spec = rig.spec(&s, &format!("/echo {payload}"));
        let (out, rec) = rig.run(&spec).await;
        let text = assert_ok(&out, &rec);
        assert!(
            text == echo_reply(payload),
            "mismatch for {:?}",
            &payload[..payload.len().min(60)]
        );
        assert_eq!(rig.driver.host().spool().ack_count(spec.turn_id), 1);
    }
    assert!(!std::path::Path::new("/tmp/paliadin-pwned").exists());
}

#[tokio::test]
async fn streams_content_and_activity_in_order() {
    let rig = Rig::new();
    let s = rig.session("stream-1");
    let (out, rec) = rig.run(&rig.spec(&s, "/stream 5")).await;
    assert_ok(&out, &rec);
    let deltas = rec
        .calls()
        .iter()
        .filter(|c| matches!(c, Call::Content(_)))
        .count();
    assert!(
        deltas >= 2,
        "the reply was streamed in pieces: {:?}",
        rec.calls()
    );

    let (out, rec) = rig.run(&rig.spec(&s, "/activity 3")).await;
    assert_ok(&out, &rec);
    let acts = rec.activities();
    assert_eq!(acts.len(), 3, "{acts:?}");
    assert!(acts.iter().all(|a| !a.is_empty()));

    let (out, rec) = rig.run(&rig.spec(&s, "hello there")).await;
    assert_ok(&out, &rec);
}

#[tokio::test]
async fn malformed_trailer_is_invalid_reply() {
    let rig = Rig::new();
    let s = rig.session("bad-1");
    let (out, _) = rig.run(&rig.spec(&s, "/bad-trailer")).await;
    assert!(matches!(out, Err(DriveError::InvalidReply(_))), "{out:?}");
}

#[tokio::test]
async fn timeout_interrupts_and_the_session_stays_usable() {
    let rig = Rig::new();
    let s = rig.session("timeout-1");
    let mut spec = rig.spec(&s, "/hang");
    spec.timeout = Duration::from_millis(1500);
    let (out, rec) = rig.run(&spec).await;
    assert!(matches!(out, Err(DriveError::Timeout)), "{out:?}");
    assert!(rec.calls().contains(&Call::Delivered));
    let (out, rec) = rig.run(&rig.spec(&s, "/echo after timeout")).await;
    assert_eq!(assert_ok(&out, &rec), echo_reply("after timeout"));
}

#[tokio::test]
async fn cancel_while_running_then_the_next_turn_works() {
    let rig = Rig::new();
    let s = rig.session("cancel-1");
    let spec = rig.spec(&s, "/hang");
    let (rec, control) = (Recorder::default(), TurnControl::default());
    let turn = rig.driver.run_turn(&spec, &rec, &control);
    let cancel = async {
        rec.delivered().await;
        control.cancel.cancel();
    };
    let (out, ()) = tokio::join!(turn, cancel);
    assert!(matches!(out, Err(DriveError::Cancelled)), "{out:?}");
    let (out, rec) = rig.run(&rig.spec(&s, "/echo after cancel")).await;
    assert_eq!(assert_ok(&out, &rec), echo_reply("after cancel"));
}

#[tokio::test]
async fn reset_kills_the_session_and_the_next_turn_starts_fresh() {
    let rig = Rig::new();
    let s = rig.session("reset-1");
    let (out, rec) = rig.run(&rig.spec(&s, "/echo one")).await;
    assert_ok(&out, &rec);
    let pid = rig.pane_pid(&s).expect("session exists");
    rig.driver.reset(uuid::Uuid::nil(), &s).await.unwrap();
    assert!(!rig.has_session(&s));
    rig.driver
        .reset(uuid::Uuid::nil(), &s)
        .await
        .expect("resetting a missing session is fine");
    let (out, rec) = rig.run(&rig.spec(&s, "/echo two")).await;
    assert_eq!(assert_ok(&out, &rec), echo_reply("two"));
    assert_ne!(rig.pane_pid(&s).expect("new session"), pid);
}

#[tokio::test]
async fn session_killed_or_agent_crashed_mid_turn_is_session_lost() {
    let rig = Rig::new();
    let s = rig.session("lost-1");
    let spec = rig.spec(&s, "/hang");
    let (rec, control) = (Recorder::default(), TurnControl::default());
    let turn = rig.driver.run_turn(&spec, &rec, &control);
    let kill = async {
        rec.delivered().await;
        assert!(
            rig.tmux(&["kill-session", "-t", &s.exact_target()])
                .status
                .success()
        );
    };
    let (out, ()) = tokio::join!(turn, kill);
    assert!(matches!(out, Err(DriveError::SessionLost(_))), "{out:?}");
    let (out, rec) = rig.run(&rig.spec(&s, "/echo back")).await;
    assert_eq!(assert_ok(&out, &rec), echo_reply("back"));

    let (out, _) = rig.run(&rig.spec(&s, "/crash")).await;
    assert!(matches!(out, Err(DriveError::SessionLost(_))), "{out:?}");
    let (out, rec) = rig.run(&rig.spec(&s, "/echo back again")).await;
    assert_eq!(assert_ok(&out, &rec), echo_reply("back again"));
}

#[tokio::test]
async fn two_users_run_in_parallel() {
    let rig = Rig::new();
    let (a, b) = (rig.session("par-a"), rig.session("par-b"));
    let (slow, fast) = (rig.spec(&a, "/slow 3000"), rig.spec(&b, "/echo fast"));
    let slow_run = rig.run(&slow);
    let fast_run = rig.run(&fast);
    tokio::pin!(slow_run, fast_run);
    // The fast user's turn completes while the slow user's turn is still running.
    let (out, rec) = tokio::select! {
        done = &mut fast_run => done,
        _ = &mut slow_run => panic!("the slow turn finished first"),
    };
    assert_eq!(assert_ok(&out, &rec), echo_reply("fast"));
    let (out, rec) = slow_run.await;
    assert_ok(&out, &rec);
}

#[tokio::test]
async fn takeover_completes_from_the_existing_reply_without_a_second_paste() {
    let rig = Rig::new();
    let s = rig.session("takeover-1");
    // Abandoned while the agent is still answering, and abandoned with the reply written by the
    // time the next attempt starts.
    for message in ["/slow 1000", "/slow 300"] {
        let mut spec = rig.spec(&s, message);
        let (rec, control) = (Recorder::default(), TurnControl::default());
        let first = rig.driver.run_turn(&spec, &rec, &control);
        let abandon = async {
            rec.delivered().await;
            control.abandon.cancel();
        };
        let (out, ()) = tokio::join!(first, abandon);
        assert!(matches!(out, Err(DriveError::Abandoned)), "{out:?}");
        if message == "/slow 300" {
            let mut feed = rig.driver.host().subscribe(spec.turn_id);
            while !matches!(
                feed.next().await,
                paliadin_worker::spool::SpoolEvent::Reply(_)
            ) {}
        }
        spec.already_delivered = true;
        let (out, rec) = rig.run(&spec).await;
        let reply = out.expect("takeover gets the reply");
        assert!(!rec.calls().contains(&Call::Delivered));
        assert_eq!(rec.content(), reply.text);
        // A later turn in the same session is a barrier: a second paste would have been
        // received before it.
        let (out, rec) = rig.run(&rig.spec(&s, "/echo barrier")).await;
        assert_ok(&out, &rec);
        assert_eq!(
            rig.driver.host().spool().ack_count(spec.turn_id),
            1,
            "{message}"
        );
    }
}

#[tokio::test]
async fn takeover_of_a_vanished_session_uses_the_reply_on_disk_or_fails() {
    let rig = Rig::new();
    let s = rig.session("takeover-gone");
    let mut spec = rig.spec(&s, "never pasted");
    spec.already_delivered = true;
    let (out, _) = rig.run(&spec).await;
    assert!(matches!(out, Err(DriveError::SessionLost(_))), "{out:?}");
    assert!(!rig.has_session(&s), "a takeover never starts an agent");

    // The agent answered, then its session died: the reply still counts.
    let mut spec = rig.spec(&s, "answered");
    spec.already_delivered = true;
    let trailer =
        r#"<!-- paliadin {"used_tools":[],"rows_seen":0,"chip_count":0,"classifier_tag":"t"} -->"#;
    let md = rig.driver.host().spool().path(spec.turn_id, "md");
    std::fs::write(&md, format!("done\n{trailer}\n")).unwrap();
    let (out, rec) = rig.run(&spec).await;
    assert_eq!(out.expect("reply on disk").text, "done");
    assert_eq!(rec.content(), "done");
}

#[tokio::test]
async fn missing_tmux_or_broken_agent_fail_cleanly() {
    let rig = Rig::with(|c| c.tmux_bin = "/nonexistent/tmux".into());
    let s = rig.session("no-tmux");
    let (out, _) = rig.run(&rig.spec(&s, "hi")).await;
    assert!(
        matches!(out, Err(DriveError::TmuxUnavailable(_))),
        "{out:?}"
    );

    // An agent that exits at once: the turn says why, in the words of its terminal.
    let rig = Rig::with(|c| c.agent_argv = vec!["/nonexistent/agent".into(), "--x".into()]);
    let (out, _) = rig.run(&rig.spec(&s, "hi")).await;
    match &out {
        Err(DriveError::AgentExited(words)) => {
            assert!(words.contains("/nonexistent/agent"), "{words}");
            assert!(words.contains("No such file or directory"), "{words}");
        }
        other => panic!("{other:?}"),
    }
    let message = paliadin_worker::runtime::public_message(out.as_ref().unwrap_err());
    assert!(message.contains("No such file or directory"), "{message}");
}

/// Prints the figures quoted in `docs/tmux-driving.md` (run with `--nocapture`).
#[tokio::test]
async fn measures_delivery_and_tmux_call_latency() {
    let rig = Rig::new();
    let s = rig.session("measure-1");
    let started = Instant::now();
    let (out, rec) = rig.run(&rig.spec(&s, "/echo warm up")).await;
    assert_ok(&out, &rec);
    let cold = started.elapsed();
    let mut warm = Vec::new();
    for i in 0..10 {
        let started = Instant::now();
        let (out, rec) = rig.run(&rig.spec(&s, &format!("/echo {i}"))).await;
        assert_ok(&out, &rec);
        warm.push(started.elapsed());
    }
    warm.sort();
    let tmux = rig.driver.host().tmux();
    let started = Instant::now();
    for _ in 0..50 {
        tmux.run(&[
            "display-message",
            "-p",
            "-t",
            &s.pane_target(),
            "#{pane_pid}",
        ])
        .await
        .unwrap();
    }
    let per_call = started.elapsed() / 50;
    eprintln!(
        "cold turn (new session + agent start + echo): {cold:?}; warm echo turn median {:?} \
         (min {:?}, max {:?}); tmux call {per_call:?}",
        warm[warm.len() / 2],
        warm[0],
        warm[warm.len() - 1]
    );
    assert!(warm[warm.len() / 2] < Duration::from_secs(2));
}

#[tokio::test]
async fn the_driver_brings_its_own_tmux_timings() {
    let rig = Rig::new();
    let s = rig.session("timings-1");
    let (out, rec) = rig.run(&rig.spec(&s, "hello there")).await;
    assert_ok(&out, &rec);
    // No process-wide histogram: what a worker exports comes from its driver.
    let registry = prometheus::Registry::new();
    for c in rig.driver.metrics() {
        registry.register(c).expect("registers once");
    }
    let text = paliadin_shared::metrics::render(&registry);
    assert!(
        text.contains(
            "paliadin_tmux_command_duration_seconds_count{command=\"new-session\",ok=\"true\"} 1"
        ),
        "{text}"
    );
}

#[tokio::test]
async fn a_question_in_the_terminal_is_reported_and_cancel_dismisses_it() {
    let rig = Rig::with(|c| c.dialog_quiet = Duration::from_millis(300));
    let s = rig.session("dialog-1");
    let spec = rig.spec(&s, "/dialog");
    let (rec, control) = (Recorder::default(), TurnControl::default());
    let turn = rig.driver.run_turn(&spec, &rec, &control);
    let cancel = async {
        let screen = rec.waiting().await;
        assert!(screen.contains("Do you want to proceed?"), "{screen}");
        control.cancel.cancel();
    };
    let (out, ()) = tokio::join!(turn, cancel);
    assert!(matches!(out, Err(DriveError::Cancelled)), "{out:?}");
    let (out, rec) = rig.run(&rig.spec(&s, "/echo after the dialog")).await;
    assert_eq!(assert_ok(&out, &rec), echo_reply("after the dialog"));
}

#[tokio::test]
async fn a_turn_is_never_pasted_into_an_open_question() {
    let rig = Rig::with(|c| c.busy_wait = Duration::from_secs(1));
    let s = rig.session("dialog-2");
    let (out, rec) = rig.run(&rig.spec(&s, "/dialog-after")).await;
    assert_ok(&out, &rec);
    // The question is open now; the next turn reports it, waits, dismisses it, then pastes.
    let next = rig.spec(&s, "/echo not an answer");
    let (out, rec) = rig.run(&next).await;
    let reply = out.expect("the turn succeeds");
    assert_eq!(reply.text, echo_reply("not an answer"));
    let calls = rec.calls();
    assert!(matches!(calls[0], Call::Waiting(_)), "{calls:?}");
    assert_eq!(calls[1], Call::Delivered, "{calls:?}");
    let screen = rec
        .calls()
        .into_iter()
        .find_map(|c| match c {
            Call::Waiting(screen) => Some(screen),
            _ => None,
        })
        .expect("the open question was reported");
    assert!(screen.contains("Do you want to proceed?"), "{screen}");
    assert_eq!(rig.driver.host().spool().ack_count(next.turn_id), 1);
}
