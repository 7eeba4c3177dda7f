//! Runs the tmux CLI: one client process per call, optionally on a private server (`-L`).
//!
//! User text never travels as an argument here (a trailing `;` in any argument is a command
//! separator to tmux): callers pass it as `stdin` (see `deliver`). Every call is timed at
//! `debug` level, so per-call latency is visible with `RUST_LOG=paliadin_worker::tmux=debug`.

use prometheus::HistogramVec;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Instant;
use tokio::io::AsyncWriteExt;
use tokio::process::Command;

/// Why a tmux call failed, classified from the client's exit status and stderr.
#[derive(Debug, thiserror::Error)]
pub enum TmuxError {
    /// The binary could not be started (missing, not executable): tmux is unavailable.
    #[error("cannot run {bin}: {source}")]
    Spawn { bin: String, source: std::io::Error },
    /// No server answers on the socket (never started, killed, or a stale socket).
    #[error("no tmux server is running: {0}")]
    NoServer(String),
    /// The target session, window, pane or buffer does not exist.
    #[error("tmux target not found: {0}")]
    NotFound(String),
    /// Anything else; `command` is the subcommand only (arguments may hold operator secrets).
    #[error("`tmux {command}` failed: {stderr}")]
    Failed { command: String, stderr: String },
}

impl TmuxError {
    /// The session (or its whole server) is gone.
    pub fn is_missing(&self) -> bool {
        matches!(self, TmuxError::NoServer(_) | TmuxError::NotFound(_))
    }

    fn classify(command: &str, stderr: String) -> TmuxError {
        let s = stderr.trim().to_owned();
        if s.contains("no server running")
            || s.contains("server exited unexpectedly")
            || s.contains("error connecting to")
        {
            TmuxError::NoServer(s)
        } else if s.contains("can't find") || s.contains("no buffer") {
            TmuxError::NotFound(s)
        } else {
            TmuxError::Failed {
                command: command.to_owned(),
                stderr: s,
            }
        }
    }
}

/// A handle on one tmux server: the binary plus the optional `-L <socket>` name.
#[derive(Debug, Clone)]
pub struct Tmux {
    /// The tmux binary; a bare name is looked up on `PATH`.
    bin: PathBuf,
    /// `-L <socket>`: a separate server (tests, or several simulated hosts on one machine).
    socket: Option<String>,
    /// Where each call's latency goes (`command`, `ok` labels), when someone collects it.
    timings: Option<HistogramVec>,
}

impl Tmux {
    pub fn new(bin: impl Into<PathBuf>, socket: Option<String>) -> Self {
        Tmux {
            bin: bin.into(),
            socket,
            timings: None,
        }
    }

    /// Records every call's latency in `timings` (labels `command`, `ok`).
    pub fn timed(mut self, timings: HistogramVec) -> Self {
        self.timings = Some(timings);
        self
    }

    pub fn socket(&self) -> Option<&str> {
        self.socket.as_deref()
    }

    /// Runs `tmux [-L socket] <args>` and returns its stdout.
    pub async fn run(&self, args: &[&str]) -> Result<String, TmuxError> {
        self.call(args, None).await
    }

    /// Same, with `input` written to the client's stdin (e.g. `load-buffer -b NAME -`).
    pub async fn run_with_stdin(&self, args: &[&str], input: &[u8]) -> Result<String, TmuxError> {
        self.call(args, Some(input)).await
    }

    async fn call(&self, args: &[&str], input: Option<&[u8]>) -> Result<String, TmuxError> {
        let started = Instant::now();
        let mut cmd = Command::new(&self.bin);
        // `-u`: UTF-8 output whatever the locale. Without it, a client with no UTF-8 locale (an
        // sshd forced command, a systemd unit) prints a TAB in a format as `_` and non-ASCII
        // screen text as `_`, which breaks the health check's fields and screen comparisons.
        cmd.arg("-u");
        if let Some(socket) = &self.socket {
            cmd.arg("-L").arg(socket);
        }
        cmd.args(args)
            // A worker started inside tmux must still talk to the server its config names.
            .env_remove("TMUX")
            .env_remove("TMUX_PANE")
            // A server started by this call hands its environment to every agent: keep the
            // worker's database credentials out of it.
            .env_remove("DATABASE_URL")
            .stdin(if input.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let spawn_err = |source| TmuxError::Spawn {
            bin: self.bin.display().to_string(),
            source,
        };
        let mut child = cmd.spawn().map_err(spawn_err)?;
        if let (Some(bytes), Some(mut stdin)) = (input, child.stdin.take()) {
            // A failed write shows up as the client's own error below.
            let _ = stdin.write_all(bytes).await;
            drop(stdin);
        }
        let out = child.wait_with_output().await.map_err(spawn_err)?;
        let command = args.first().copied().unwrap_or("");
        tracing::debug!(
            command,
            elapsed_us = started.elapsed().as_micros() as u64,
            ok = out.status.success(),
            "tmux call"
        );
        if let Some(t) = &self.timings {
            let ok = if out.status.success() {
                "true"
            } else {
                "false"
            };
            t.with_label_values(&[command, ok])
                .observe(started.elapsed().as_secs_f64());
        }
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
            Err(TmuxError::classify(command, stderr))
        }
    }
}
