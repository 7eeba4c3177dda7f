//! `SpoolWatcher`: one inotify watch (via `notify`) on the spool directory, routing each
//! change to the feed of the turn it belongs to.
//!
//! One watcher serves every turn of a driver, so concurrent turns cost no extra inotify
//! instances (the kernel limits them per user). Events carry file names; the turn id is the
//! part before the first dot, and files of turns nobody watches are ignored. A wake-up is a
//! unit message on a channel of capacity one: bursts coalesce, and the feed re-reads its files.
//! Open/read notifications are dropped, or the feed's own reads would wake it forever.

use super::{SpoolDir, TurnFeed, parse_name};
use notify::event::{AccessKind, AccessMode};
use notify::{Event, EventKind, RecommendedWatcher, RecursiveMode, Watcher};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;
use uuid::Uuid;

type Routes = Arc<Mutex<HashMap<Uuid, Vec<(u64, mpsc::Sender<()>)>>>>;

/// Watches one spool directory for the lifetime of a driver.
pub struct SpoolWatcher {
    dir: Arc<SpoolDir>,
    routes: Routes,
    next_id: AtomicU64,
    /// Dropping it stops the inotify thread.
    _watcher: RecommendedWatcher,
}

impl SpoolWatcher {
    pub fn start(dir: Arc<SpoolDir>) -> notify::Result<SpoolWatcher> {
        let routes = Routes::default();
        let handler_routes = routes.clone();
        let mut watcher = notify::recommended_watcher(move |res: notify::Result<Event>| {
            route(&handler_routes, res)
        })?;
        watcher.watch(dir.root(), RecursiveMode::NonRecursive)?;
        Ok(SpoolWatcher {
            dir,
            routes,
            next_id: AtomicU64::new(0),
            _watcher: watcher,
        })
    }

    pub fn dir(&self) -> &Arc<SpoolDir> {
        &self.dir
    }

    /// Starts following one turn. Subscribe *before* anything can make the agent write (the
    /// paste), so no change is missed; the feed's first read catches files that already exist.
    pub fn subscribe(&self, turn: Uuid) -> TurnFeed {
        let (tx, rx) = mpsc::channel(1);
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mut routes = self.routes.lock().expect("routes lock");
        routes.entry(turn).or_default().push((id, tx));
        drop(routes);
        let subscription = Subscription {
            routes: self.routes.clone(),
            turn,
            id,
        };
        TurnFeed::new(turn, self.dir.clone(), rx, subscription)
    }
}

/// Removes a feed's route when the feed is dropped.
pub(crate) struct Subscription {
    routes: Routes,
    turn: Uuid,
    id: u64,
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let mut routes = self.routes.lock().expect("routes lock");
        if let Some(list) = routes.get_mut(&self.turn) {
            list.retain(|(id, _)| *id != self.id);
            if list.is_empty() {
                routes.remove(&self.turn);
            }
        }
    }
}

/// Runs on notify's thread.
fn route(routes: &Routes, res: notify::Result<Event>) {
    let routes = routes.lock().expect("routes lock");
    let wake = |list: &Vec<(u64, mpsc::Sender<()>)>| {
        for (_, tx) in list {
            // Full means a wake-up is already pending: nothing to add.
            let _ = tx.try_send(());
        }
    };
    let event = match res {
        Ok(ev) if !ev.need_rescan() => ev,
        // Overflow or a watcher error: changes may have been lost, every feed looks again.
        other => {
            if let Err(e) = other {
                tracing::warn!(error = %e, "spool watcher error; rescanning");
            }
            routes.values().for_each(wake);
            return;
        }
    };
    if let EventKind::Access(kind) = event.kind
        && kind != AccessKind::Close(AccessMode::Write)
    {
        return;
    }
    for path in &event.paths {
        let turn = path
            .file_name()
            .and_then(|n| parse_name(&n.to_string_lossy()));
        if let Some(list) = turn.and_then(|t| routes.get(&t)) {
            wake(list);
        }
    }
}
