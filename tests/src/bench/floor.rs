//! The floor, measured in the same run: one durable commit, one LISTEN/NOTIFY round trip and
//! one `tmux` command on the bench's tmux server over the transport the workers use (a control-
//! mode client, or one process per command with `PALIADIN_TMUX_CONTROL=false`); both tmux
//! figures are measured. Every other figure is also printed as a ratio to the floor's sum.

use super::stats::Samples;
use paliadin_worker::tmux::Tmux;
use sqlx::postgres::PgListener;
use sqlx::{Executor, PgPool};
use std::time::Instant;

pub struct Floor {
    pub commit: Samples,
    pub notify: Samples,
    /// One `tmux` command as a process.
    pub tmux: Samples,
    /// One `tmux` command on a control-mode client.
    pub tmux_control: Samples,
    /// Whether the workers use a control-mode client (the floor's tmux term).
    pub control: bool,
}

impl Floor {
    /// Sum of the three p50s (the tmux command over the workers' transport).
    pub fn total(&self) -> f64 {
        let tmux = if self.control {
            &self.tmux_control
        } else {
            &self.tmux
        };
        self.commit.pct(50.0) + self.notify.pct(50.0) + tmux.pct(50.0)
    }
}

/// Whether this environment leaves the workers' control-mode client on (`PALIADIN_TMUX_CONTROL`).
pub fn control_in_use() -> bool {
    std::env::var("PALIADIN_TMUX_CONTROL")
        .map(|v| !matches!(v.trim(), "0" | "false" | "no" | "off" | "n" | "f"))
        .unwrap_or(true)
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
    let client = Tmux::new("tmux", Some(socket.to_owned()));
    client.run(&["display-message", "-p", "x"]).await?;
    let mut tmux_control = Samples::default();
    for _ in 0..n {
        let t = Instant::now();
        client.run(&["display-message", "-p", "x"]).await?;
        tmux_control.push(ms(t));
    }
    Ok(Floor {
        commit,
        notify,
        tmux,
        tmux_control,
        control: control_in_use(),
    })
}

pub fn ms(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1000.0
}
