//! `--compare graphile`: the same open-loop load against graphile-worker on the same
//! PostgreSQL, in a database of its own. Runners are Node processes ([`install`]: the pinned
//! package and `runner.mjs`) with one task that holds its slot as long as our turns held
//! theirs; the bench enqueues with `graphile_worker.add_job(…, queue_name => <user>)` over
//! sqlx (a named queue runs one job at a time, in order: our per-user serialization) and the
//! task prints the moment it starts ([`phase`]).

pub mod install;
pub mod phase;

use crate::db::TestDb;
use anyhow::Context;
use std::process::Stdio;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, ChildStdout, Command};
use tokio::sync::{mpsc, oneshot};

/// What a runner reports of a job, by the job's number (`payload.n`).
pub enum Event {
    /// The task was called, at this wall-clock time (the runner's clock: same machine).
    Start(u64, SystemTime),
    /// The task returned: its slot is free.
    End(u64),
}

/// Running graphile-worker runners on their own database.
pub struct Graphile {
    /// `node --version`, printed with the figures.
    pub node: String,
    pub runners: usize,
    pub concurrency: usize,
    /// The graphile database; its pool is the enqueuer.
    db: TestDb,
    /// Kept so the runners live as long as this value (killed on drop).
    _children: Vec<Child>,
    events: mpsc::UnboundedReceiver<Event>,
    /// Job numbers go on across phases, so a late report cannot be mistaken for a new job.
    next: u64,
}

impl Graphile {
    /// Installs graphile-worker, creates a fresh database and starts `runners` runners of
    /// `concurrency` one after the other (the first installs graphile's schema). Errors say
    /// why the comparison cannot run.
    pub async fn start(runners: usize, concurrency: usize) -> anyhow::Result<Graphile> {
        let (node, dir) = install::install().await?;
        let db = TestDb::empty().await;
        let (tx, events) = mpsc::unbounded_channel();
        let mut children = Vec::with_capacity(runners);
        for i in 0..runners {
            let mut child = Command::new("node")
                .arg("runner.mjs")
                .current_dir(&dir)
                .env("DATABASE_URL", &db.url)
                .env("CONCURRENCY", concurrency.to_string())
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .kill_on_drop(true)
                .spawn()
                .context("start a graphile-worker runner")?;
            let (ready_tx, ready) = oneshot::channel();
            let out = child.stdout.take().context("runner stdout")?;
            tokio::spawn(read_reports(out, tx.clone(), ready_tx));
            tokio::time::timeout(Duration::from_secs(60), ready)
                .await
                .ok()
                .and_then(Result::ok)
                .with_context(|| format!("graphile-worker runner {i} did not start"))?;
            children.push(child);
        }
        Ok(Graphile {
            node,
            runners,
            concurrency,
            db,
            _children: children,
            events,
            next: 0,
        })
    }
}

/// Forwards a runner's `start <n> <unix ms>` / `end <n>` lines; `ready` fires `ready` once.
async fn read_reports(
    out: ChildStdout,
    tx: mpsc::UnboundedSender<Event>,
    ready: oneshot::Sender<()>,
) {
    let mut ready = Some(ready);
    let mut lines = BufReader::new(out).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        let mut w = line.split_whitespace();
        let (kind, n) = (w.next(), w.next().and_then(|n| n.parse().ok()));
        let event = match (kind, n) {
            (Some("ready"), _) => {
                ready.take().map(|r| r.send(()));
                continue;
            }
            (Some("start"), Some(n)) => {
                let Some(ms) = w.next().and_then(|m| m.parse::<f64>().ok()) else {
                    continue;
                };
                Event::Start(n, UNIX_EPOCH + Duration::from_secs_f64(ms / 1000.0))
            }
            (Some("end"), Some(n)) => Event::End(n),
            _ => continue,
        };
        if tx.send(event).is_err() {
            return;
        }
    }
}
