//! A worker that stalled past its lease (a long pause: swapped out, stopped, starved) must not
//! act on the agent when it wakes — another worker may own the turn by then — even before its
//! heartbeat task has run and told the turn to let go. The local driver checks the attempt's
//! lease clock (`TurnControl::lease`) right before each paste, Enter and Escape. Pinned here on
//! the driver itself (real tmux, the demo agent), since a pause that ends between two of the
//! driver's steps cannot be hit on purpose with a whole worker process.

use async_trait::async_trait;
use paliadin_e2e::procs::{TmuxRig, binary};
use paliadin_shared::{SessionName, UserMessage};
use paliadin_worker::driver::local::{LocalConfig, LocalDriver};
use paliadin_worker::driver::{DriveError, Driver, Progress, TurnControl, TurnSpec};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tokio::time::Instant;
use uuid::Uuid;

/// Progress that only tells when the message was delivered.
#[derive(Default)]
struct Delivered(Notify);

#[async_trait]
impl Progress for Delivered {
    async fn delivered(&self) {
        self.0.notify_one();
    }
    async fn content(&self, _: &str) {}
    async fn activity(&self, _: &str) {}
    async fn waiting(&self, _: &str) {}
    async fn permission(
        &self,
        _: u32,
        _: &paliadin_shared::domain::permission::PermissionAsk,
    ) -> Option<paliadin_shared::domain::permission::PermissionAnswer> {
        None
    }
}

fn driver(rig: &TmuxRig) -> LocalDriver {
    let agent = binary("paliadin-demo-agent").display().to_string();
    let mut cfg = LocalConfig::new(vec![agent]);
    cfg.socket = Some(rig.socket.clone());
    cfg.spool_dir = rig.spool.clone();
    LocalDriver::new(cfg).expect("local driver")
}

fn spec(session: &str, message: &str) -> TurnSpec {
    TurnSpec {
        turn_id: Uuid::now_v7(),
        user_id: Uuid::new_v4(),
        session: SessionName::parse(session).unwrap(),
        conversation: paliadin_e2e::procs::conversation_of(session),
        message: UserMessage::parse(message).unwrap(),
        already_delivered: false,
        resume: false,
        timeout: Duration::from_secs(30),
        uploads: Vec::new(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_turn_whose_lease_ran_out_pastes_nothing_even_before_it_is_told_to_let_go() {
    let rig = TmuxRig::new();
    let driver = driver(&rig);
    let control = TurnControl::default();
    // The lease ran out (no renewal came during the pause); `abandon` has not fired yet.
    control.lease.set(Instant::now());
    let spec = spec("paliadin-stall-p", "/echo only once");
    let got = driver
        .run_turn(&spec, &Delivered::default(), &control)
        .await;
    assert!(matches!(got, Err(DriveError::Abandoned)), "{got:?}");
    assert_eq!(rig.receipts(&spec.turn_id.to_string()), 0, "it pasted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_after_the_lease_ran_out_sends_no_escape() {
    let rig = TmuxRig::new();
    let driver = Arc::new(driver(&rig));
    let control = TurnControl::default();
    control.lease.set(Instant::now() + Duration::from_secs(60));
    let spec = spec("paliadin-stall-c", "/hang");
    let progress = Arc::new(Delivered::default());
    let run = tokio::spawn({
        let (driver, spec, control, progress) = (
            driver.clone(),
            spec.clone(),
            control.clone(),
            progress.clone(),
        );
        async move { driver.run_turn(&spec, &*progress, &control).await }
    });
    tokio::time::timeout(Duration::from_secs(30), progress.0.notified())
        .await
        .expect("delivered");
    // The pause ends with both a cancel and a lease that ran out meanwhile.
    control.lease.set(Instant::now());
    control.cancel.cancel();
    let got = run.await.expect("joined");
    assert!(matches!(got, Err(DriveError::Abandoned)), "{got:?}");
    let screen = rig.screen("paliadin-stall-c");
    assert!(
        !screen.contains("⏹ interrupt"),
        "an Escape reached the agent:\n{screen}"
    );
}
