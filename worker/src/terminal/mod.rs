//! The worker's side of the live, read-only terminal view (`docs/web.md`,
//! "Terminal"): it claims the open views of the hosts it serves (`terminal_views`) and, for
//! each, publishes frames of the owner's pane ([`follow`]) until the view closes or its lease
//! runs out.
//!
//! Wake-ups: `paliadin_terminal` notifications (a view opened, closed, or lost its worker;
//! payload: its id) on the worker's one LISTEN connection, and a poll every [`POLL`] for
//! anything missed. Nothing here
//! ever writes to a pane: a look is `display-message` and `capture-pane` through the host's
//! [`Driver::pane`](crate::driver::Driver::pane).

pub mod follow;
pub mod pace;

use crate::runtime::Ctx;
use paliadin_shared::db::terminal;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{Notify, mpsc};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use uuid::Uuid;

/// Most views one worker follows at once; more wait for another worker (or a free place).
pub const MAX_VIEWS: usize = 32;
/// How often open views nobody serves are looked for without a notification.
pub const POLL: Duration = Duration::from_secs(5);
/// Notifications waiting for [`serve`], at most.
pub const WAKE_QUEUE: usize = 256;

/// The views this worker follows: a wake-up for each, rung when a notification names it.
type Following = Arc<Mutex<HashMap<Uuid, Arc<Notify>>>>;

/// Serves terminal views until `stop`; returns once every follower has ended. `named` carries
/// the ids of `paliadin_terminal` notifications from the worker's listener ([`wake`]).
pub async fn serve(ctx: Arc<Ctx>, mut named: mpsc::Receiver<Uuid>, stop: CancellationToken) {
    let hosts: Vec<String> = ctx.drivers.keys().map(|h| h.to_string()).collect();
    let following: Following = Arc::default();
    let tracker = TaskTracker::new();
    let mut poll = tokio::time::interval(POLL);
    loop {
        let only = tokio::select! {
            _ = stop.cancelled() => break,
            _ = poll.tick() => None,
            n = named.recv() => match n {
                Some(id) => Some(id),
                None => break,
            },
        };
        if let Some(id) = only {
            let known = following.lock().expect("views").get(&id).cloned();
            if let Some(wake) = known {
                // Closed, or taken away: the follower checks at once.
                wake.notify_one();
                continue;
            }
        }
        claim(&ctx, &hosts, only, &following, &tracker, &stop).await;
    }
    tracker.close();
    tracker.wait().await;
}

/// Passes a `paliadin_terminal` notification on to [`serve`]; dropped when [`WAKE_QUEUE`] are
/// waiting already (the poll finds the view).
pub fn wake(to: &mpsc::Sender<Uuid>, payload: &str) {
    if let Ok(id) = Uuid::parse_str(payload) {
        let _ = to.try_send(id);
    }
}

/// Claims open views (just `only`, when a notification named one) and starts a follower each.
async fn claim(
    ctx: &Arc<Ctx>,
    hosts: &[String],
    only: Option<Uuid>,
    following: &Following,
    tracker: &TaskTracker,
    stop: &CancellationToken,
) {
    let free = MAX_VIEWS.saturating_sub(following.lock().expect("views").len());
    if free == 0 {
        return;
    }
    let claimed = match terminal::claim(&ctx.pool, &ctx.worker_id, hosts, only, free as i64).await {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(error = %e, "cannot claim terminal views");
            return;
        }
    };
    for view in claimed {
        let wake = Arc::new(Notify::new());
        following
            .lock()
            .expect("views")
            .insert(view.id, wake.clone());
        let (ctx, following, stop) = (ctx.clone(), following.clone(), stop.clone());
        tracker.spawn(async move {
            let id = view.id;
            follow::follow(&ctx, view, &wake, &stop).await;
            following.lock().expect("views").remove(&id);
        });
    }
}
