//! Per-user order and one-at-a-time, checked against two ground truths: the `turns` table's
//! timestamps (turn n+1 claimed and delivered only after turn n finished) and the demo agent's
//! files (turn n+1 received — its `.ack` written — only after turn n's reply `.md` was written).

use crate::db::TestDb;
use crate::procs::TmuxRig;
use std::path::PathBuf;
use std::time::SystemTime;
use uuid::Uuid;

/// What the check of one or more users' turns found; every count must be zero.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct OrderReport {
    /// Pairs (n, n+1) checked.
    pub pairs: usize,
    /// Turn n+1 claimed or delivered before turn n finished (the table says so).
    pub table_violations: usize,
    /// Turn n+1 reached the agent before turn n's reply was written (the agent says so).
    pub agent_violations: usize,
}

impl OrderReport {
    pub fn clean(&self) -> bool {
        self.table_violations + self.agent_violations == 0
    }

    pub fn add(&mut self, other: &OrderReport) {
        self.pairs += other.pairs;
        self.table_violations += other.table_violations;
        self.agent_violations += other.agent_violations;
    }
}

/// Checks one user's turns, given in the order they were posted.
pub async fn check_user(db: &TestDb, rig: &TmuxRig, turns: &[Uuid]) -> OrderReport {
    let mut r = OrderReport::default();
    for pair in turns.windows(2) {
        let (before, after) = (pair[0], pair[1]);
        r.pairs += 1;
        let in_order: bool = sqlx::query_scalar(
            "SELECT b.finished_at <= a.claimed_at AND b.finished_at <= a.delivered_at
               FROM turns b, turns a WHERE b.id = $1 AND a.id = $2",
        )
        .bind(before)
        .bind(after)
        .fetch_one(&db.pool)
        .await
        .expect("turn rows");
        if !in_order {
            eprintln!("order: turn {after} was claimed or delivered before {before} finished");
            r.table_violations += 1;
        }
        let replied = written(rig, before, "md");
        let received = written(rig, after, "ack");
        if !matches!((replied, received), (Some(m), Some(a)) if m <= a) {
            eprintln!("order: the agent received {after} before replying to {before}");
            r.agent_violations += 1;
        }
    }
    r
}

/// When the agent wrote a turn's file (`ack`, `md`), live or in `done/`.
fn written(rig: &TmuxRig, turn: Uuid, ext: &str) -> Option<SystemTime> {
    let name = format!("{turn}.{ext}");
    let paths: [PathBuf; 2] = [rig.spool.join(&name), rig.spool.join("done").join(&name)];
    paths
        .iter()
        .find_map(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok())
}
