//! `Link`: the persistent channel to one remote host, kept up by a supervisor task.
//!
//! The supervisor connects at start, pings the host agent every `keepalive` (a ping unanswered for
//! two periods kills the connection: a hung host agent or a half-open TCP connection is noticed even
//! between turns; ssh's own `ServerAliveInterval` covers the transport), and reconnects with
//! exponential backoff (200 ms doubling to `max_backoff`) whenever the connection ends.
//! Turns ask for the current connection with [`Link::get`], which waits at most a bound and
//! then fails: a dead host costs each turn that bound, never a hang. The state also feeds the
//! `hosts` table (`reachable`, `last_error`).

use super::conn::Conn;
use super::target::SshTarget;
use crate::host_agent::proto::{Body, Op};
use std::sync::Arc;
use std::time::Duration;
use tokio::process::Command;
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// How the link behaves.
#[derive(Debug, Clone)]
pub struct LinkOptions {
    /// ssh's `ConnectTimeout`, and how long to wait for the host agent's hello after that.
    pub connect_timeout: Duration,
    /// Period of application-level pings.
    pub keepalive: Duration,
    /// Longest pause between reconnection attempts.
    pub max_backoff: Duration,
}

impl LinkOptions {
    /// The usual longest pause between reconnection attempts.
    pub const MAX_BACKOFF: Duration = Duration::from_secs(5);
}

#[derive(Clone)]
enum State {
    /// The first attempt has not finished yet.
    Connecting,
    Up(Arc<Conn>),
    Down(String),
}

pub struct Link {
    label: String,
    state: watch::Receiver<State>,
    stop: CancellationToken,
}

impl Link {
    /// Starts the supervisor (needs a tokio runtime). `label` names the host in logs.
    pub fn start(label: &str, target: SshTarget, opts: LinkOptions) -> Link {
        let timeout = opts.connect_timeout;
        let connect = move || {
            let mut cmd = Command::new(&target.ssh_bin);
            cmd.args(target.args(timeout));
            cmd
        };
        Link::start_with(label, connect, opts)
    }

    /// Same, with any command that speaks the host agent protocol on its stdio (e.g. a local
    /// `paliadin-shim serve` without ssh, to measure the transport's share).
    pub fn start_with<F>(label: &str, connect: F, opts: LinkOptions) -> Link
    where
        F: Fn() -> Command + Send + 'static,
    {
        let (tx, state) = watch::channel(State::Connecting);
        let stop = CancellationToken::new();
        tokio::spawn(supervise(label.to_owned(), connect, opts, tx, stop.clone()));
        Link {
            label: label.to_owned(),
            state,
            stop,
        }
    }

    /// The live connection, waiting at most `wait` for one; `Err` says why there is none.
    pub async fn get(&self, wait: Duration) -> Result<Arc<Conn>, String> {
        let mut rx = self.state.clone();
        let deadline = Instant::now() + wait;
        loop {
            if let State::Up(c) = &*rx.borrow_and_update()
                && !c.is_closed()
            {
                return Ok(c.clone());
            }
            tokio::select! {
                r = rx.changed() => if r.is_err() {
                    return Err(format!("the link to {} is stopped", self.label));
                },
                _ = tokio::time::sleep_until(deadline) => {
                    let why = self.reachability().err().unwrap_or_else(|| "connection lost".into());
                    return Err(format!("{} not reachable within {wait:?}: {why}", self.label));
                }
            }
        }
    }

    /// `Ok` while a connection is up; else the last error.
    pub fn reachability(&self) -> Result<(), String> {
        match &*self.state.borrow() {
            State::Up(c) if !c.is_closed() => Ok(()),
            State::Up(_) => Err("connection lost; reconnecting".into()),
            State::Connecting => Err("connecting".into()),
            State::Down(e) => Err(e.clone()),
        }
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

async fn supervise<F: Fn() -> Command>(
    label: String,
    connect: F,
    opts: LinkOptions,
    tx: watch::Sender<State>,
    stop: CancellationToken,
) {
    let first_backoff = Duration::from_millis(200);
    let mut backoff = first_backoff;
    let hello_within = opts.connect_timeout + Duration::from_secs(5);
    while !stop.is_cancelled() {
        let started = Instant::now();
        let opened = tokio::select! {
            _ = stop.cancelled() => return,
            c = Conn::start(connect(), &label, hello_within) => c,
        };
        match opened {
            Ok(conn) => {
                tracing::info!(host = %label, server = %conn.server, ms = started.elapsed().as_millis() as u64, "connected to the host agent");
                tx.send_replace(State::Up(conn.clone()));
                backoff = first_backoff;
                keepalive(&conn, opts.keepalive, &stop).await;
                conn.kill();
                // Give the reaper a moment to record how the client ended.
                tokio::time::sleep(Duration::from_millis(20)).await;
                let why = conn.end_reason();
                tracing::warn!(host = %label, reason = %why, "connection to the host agent lost; reconnecting");
                tx.send_replace(State::Down(format!("connection lost: {why}")));
                // Reconnect at once after a connection that worked; back off if it keeps failing.
                if started.elapsed() > Duration::from_secs(2) {
                    continue;
                }
            }
            Err(e) => {
                tracing::warn!(host = %label, error = %e, retry_ms = backoff.as_millis() as u64, "cannot connect to the host agent");
                tx.send_replace(State::Down(e));
            }
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(opts.max_backoff);
    }
}

/// Pings until the connection ends, a ping goes unanswered, or `stop`.
async fn keepalive(conn: &Conn, every: Duration, stop: &CancellationToken) {
    loop {
        tokio::select! {
            _ = conn.closed() => return,
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
        match conn.call(Op::Ping, every * 2).await {
            Ok(Body::Ok { .. }) => {}
            Ok(other) => tracing::warn!(answer = ?other, "unexpected answer to a ping"),
            Err(e) => {
                tracing::warn!(error = %e, "keep-alive failed");
                return;
            }
        }
    }
}
