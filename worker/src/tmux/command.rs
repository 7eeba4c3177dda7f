//! `Tmux`: a handle on one tmux server that runs commands on its control-mode client
//! ([`super::control`]) and falls back to one CLI process per call ([`super::cli`]) where that
//! client cannot be used (switched off, cannot start, an argument it cannot quote, `-V`).
//!
//! User text never travels as an argument here (`;` separates commands, and control-mode lines
//! are parsed like a configuration file): it reaches tmux only through [`Tmux::load_buffer`].
//! Every call is timed into the optional histogram and at `debug` level, so per-call latency is
//! visible with `RUST_LOG=paliadin_worker::tmux=debug`.

use super::buffer::PasteDir;
use super::cli;
use super::control::{Control, Outcome};
use super::gate::Gate;
use super::socket::Socket;
use prometheus::HistogramVec;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

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

    /// From the error text tmux printed (a CLI client's stderr, a control client's `%error`).
    pub(crate) fn classify(command: &str, stderr: String) -> TmuxError {
        let s = stderr.trim().to_owned();
        if s.contains("no server running")
            || s.contains("server exited unexpectedly")
            || s.contains("error connecting to")
        {
            TmuxError::NoServer(s)
        } else if s.contains("can't find")
            || s.contains("no buffer")
            // What tmux says for a target of a session that is going away with its server (the
            // agent exited at once, its session and then the server closing under the command).
            || s.contains("no current target")
            || s.contains("no current session")
            || s.contains("no such session")
            || s.contains("no such window")
        {
            TmuxError::NotFound(s)
        } else {
            TmuxError::Failed {
                command: command.to_owned(),
                stderr: s,
            }
        }
    }
}

/// A handle on one tmux server: the binary plus the server's socket ([`Socket`]). Clones share
/// the control client.
#[derive(Debug, Clone)]
pub struct Tmux {
    /// The tmux binary; a bare name is looked up on `PATH`.
    bin: PathBuf,
    /// Paliadin's own server (`-S <path>`, [`super::socket`]).
    socket: Socket,
    /// Where each call's latency goes (`command`, `ok` labels), when someone collects it.
    timings: Option<HistogramVec>,
    /// The control-mode client; None runs every command as a process.
    control: Option<Arc<Control>>,
    /// Where [`Tmux::load_buffer`] writes its files for the control client.
    paste_dir: Option<Arc<PasteDir>>,
    /// Held around every command, and exclusively by the control client's attach.
    gate: Arc<Gate>,
}

impl Tmux {
    /// A handle that uses a control-mode client, on the server `PALIADIN_TMUX_SOCKET` names
    /// (`socket`: its value; None is the default socket, [`Socket::resolve`]).
    pub fn new(bin: impl Into<PathBuf>, socket: Option<String>) -> Self {
        Tmux::on(bin, Socket::resolve(socket.as_deref()))
    }

    /// A handle on the server at `socket`. Prepares its directory and configuration file when
    /// it can ([`Socket::prepare`]; a worker checks that first and refuses to start otherwise).
    pub fn on(bin: impl Into<PathBuf>, socket: Socket) -> Self {
        let bin = bin.into();
        if let Err(e) = socket.prepare() {
            tracing::warn!(error = %e, "cannot prepare the tmux socket directory");
        }
        let gate = Arc::new(Gate::for_server(&socket));
        Tmux {
            control: Some(Arc::new(Control::new(
                bin.clone(),
                socket.clone(),
                gate.clone(),
            ))),
            bin,
            socket,
            timings: None,
            paste_dir: None,
            gate,
        }
    }

    /// `false`: one process per command, as before the control client
    /// (`PALIADIN_TMUX_CONTROL=0`).
    pub fn with_control(mut self, on: bool) -> Self {
        if !on {
            self.control = None;
        } else if self.control.is_none() {
            self.control = Some(Arc::new(Control::new(
                self.bin.clone(),
                self.socket.clone(),
                self.gate.clone(),
            )));
        }
        self
    }

    /// Lets [`Tmux::load_buffer`] hand text to the control client through files in `dir`.
    pub fn with_paste_dir(mut self, dir: PathBuf) -> Self {
        self.paste_dir = Some(Arc::new(PasteDir::new(dir)));
        self
    }

    /// Records every call's latency in `timings` (labels `command`, `ok`).
    pub fn timed(mut self, timings: HistogramVec) -> Self {
        self.timings = Some(timings);
        self
    }

    pub fn socket(&self) -> &Socket {
        &self.socket
    }

    /// Whether commands go to a control-mode client (when one can be started).
    pub fn uses_control(&self) -> bool {
        self.control.is_some()
    }

    /// Detaches the control client, if one is attached, before this process exits
    /// ([`Control::close`]).
    pub async fn close(&self) {
        if let Some(control) = &self.control {
            control.close().await;
        }
    }

    /// Runs `tmux -S <socket> <args>` and returns its output.
    pub async fn run(&self, args: &[&str]) -> Result<String, TmuxError> {
        self.call(args, None).await
    }

    /// Same, as a process with `input` written to its stdin.
    pub async fn run_with_stdin(&self, args: &[&str], input: &[u8]) -> Result<String, TmuxError> {
        self.call(args, Some(input)).await
    }

    /// Puts `text` into the buffer `name` (a name of ours, never user text).
    pub async fn load_buffer(&self, name: &str, text: &[u8]) -> Result<(), TmuxError> {
        if let (Some(_), Some(dir)) = (&self.control, &self.paste_dir)
            && let Some(file) = dir.write(name, text)
        {
            // `load-buffer` expands formats in its path: only a path without `#` is itself.
            let path = file.path().to_str().filter(|p| !p.contains('#'));
            if let Some(path) = path {
                match self.run(&["load-buffer", "-b", name, path]).await {
                    Ok(_) => return Ok(()),
                    // The server may not see the file (another user, another /tmp): stdin.
                    Err(TmuxError::Failed { stderr, .. }) => {
                        tracing::info!(%stderr, "tmux cannot read the paste file: using stdin")
                    }
                    Err(e) => return Err(e),
                }
            }
        }
        self.run_with_stdin(&["load-buffer", "-b", name, "-"], text)
            .await
            .map(|_| ())
    }

    /// Runs a command whose arguments must never appear on a command line (`ps` shows every
    /// process's to every local user): the agent's environment with its API keys. It goes to
    /// the control client, whose stdin carries it, else into a private file (`0600`, deleted
    /// at once) that a CLI client runs with `source-file`. An argument that cannot be written
    /// into such a line (a `'`, a newline) is refused, never passed as argv.
    pub async fn run_unlisted(&self, args: &[&str]) -> Result<String, TmuxError> {
        let command = args.first().copied().unwrap_or("");
        let started = Instant::now();
        if let Some(control) = &self.control
            && let Outcome::Answered(r) = control.run(args).await
        {
            self.observe(command, "control", started, r.is_ok());
            return r;
        }
        let refuse = |why: &str| TmuxError::Failed {
            command: command.to_owned(),
            stderr: why.to_owned(),
        };
        let line = super::control::quote::line(args)
            .map_err(|_| refuse("an argument holds a quote or a control character"))?;
        let name = format!("cmd-{}", uuid::Uuid::new_v4().simple());
        let dir = match &self.paste_dir {
            Some(d) => d.clone(),
            None => Arc::new(PasteDir::new(super::socket::default_dir().join("cmd"))),
        };
        let file = dir
            .write(&name, format!("{line}\n").as_bytes())
            .ok_or_else(|| refuse("cannot write a private command file"))?;
        let path = file.path().to_str().filter(|p| !p.contains('#'));
        let path = path.ok_or_else(|| refuse("the private command file's path holds a '#'"))?;
        let out = {
            let _held = self.gate.shared().await;
            cli::source(&self.bin, &self.socket, command, path).await
        };
        self.observe(command, "source-file", started, out.is_ok());
        out
    }

    /// One call's latency: into the histogram when someone collects it, and the debug log.
    fn observe(&self, command: &str, via: &str, started: Instant, ok: bool) {
        tracing::debug!(
            command,
            via,
            elapsed_us = started.elapsed().as_micros() as u64,
            ok,
            "tmux call"
        );
        if let Some(t) = &self.timings {
            let ok = if ok { "true" } else { "false" };
            t.with_label_values(&[command, ok])
                .observe(started.elapsed().as_secs_f64());
        }
    }

    async fn call(&self, args: &[&str], input: Option<&[u8]>) -> Result<String, TmuxError> {
        let started = Instant::now();
        let command = args.first().copied().unwrap_or("");
        let mut via = "process";
        let mut out = None;
        if let Some(control) = &self.control
            && input.is_none()
            && !command.is_empty()
            && !command.starts_with('-')
            && let Outcome::Answered(r) = control.run(args).await
        {
            (via, out) = ("control", Some(r));
        }
        let out = match out {
            Some(r) => r,
            None => {
                let _held = self.gate.shared().await;
                cli::run(&self.bin, &self.socket, args, input).await
            }
        };
        self.observe(command, via, started, out.is_ok());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::TmuxError;

    #[test]
    fn a_target_that_is_going_away_is_missing_not_a_broken_tmux() {
        for text in [
            "can't find session: x",
            "no current target",
            "no current session",
            "no server running on /tmp/tmux-0/x",
        ] {
            let e = TmuxError::classify("capture-pane", text.into());
            assert!(e.is_missing(), "{text}: {e:?}");
        }
        let e = TmuxError::classify("send-keys", "unknown key: Fnord".into());
        assert!(!e.is_missing(), "{e:?}");
    }
}
