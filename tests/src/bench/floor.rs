//! The floor, measured in the same run: one durable commit, one LISTEN/NOTIFY round trip and
//! one `tmux` command on the bench's tmux server. Every other figure is also printed as a ratio
//! to their sum.

use super::stats::Samples;
use sqlx::postgres::PgListener;
use sqlx::{Executor, PgPool};
use std::time::Instant;

pub struct Floor {
    pub commit: Samples,
    pub notify: Samples,
    pub tmux: Samples,
}

impl Floor {
    /// Sum of the three p50s.
    pub fn total(&self) -> f64 {
        self.commit.pct(50.0) + self.notify.pct(50.0) + self.tmux.pct(50.0)
    }
}

pub async fn measure(pool: &PgPool, socket: &str, n: usize) -> anyhow::Result<Floor> {
    pool.execute("CREATE TABLE IF NOT EXISTS bench_floor (id bigserial PRIMARY KEY, at timestamptz NOT NULL DEFAULT now())")
        .await?;
    let mut commit = Samples::default();
    for _ in 0..n {
        let t = Instant::now();
        pool.execute("INSERT INTO bench_floor DEFAULT VALUES")
            .await?;
        commit.push(ms(t));
    }
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen("bench_floor").await?;
    let mut notify = Samples::default();
    for _ in 0..n {
        let t = Instant::now();
        pool.execute("NOTIFY bench_floor, 'x'").await?;
        listener.recv().await?;
        notify.push(ms(t));
    }
    let mut tmux = Samples::default();
    for _ in 0..n.min(200) {
        let t = Instant::now();
        let out = tokio::process::Command::new("tmux")
            .args(["-L", socket, "display-message", "-p", "x"])
            .output()
            .await?;
        anyhow::ensure!(out.status.success(), "tmux display-message failed");
        tmux.push(ms(t));
    }
    Ok(Floor {
        commit,
        notify,
        tmux,
    })
}

pub fn ms(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1000.0
}
