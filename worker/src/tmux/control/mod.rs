//! The tmux control-mode client: one `tmux -C` process per tmux server, shared by every turn of
//! this process, instead of one `tmux` process per command (`docs/tmux-driving.md`, "Control
//! mode").
//!
//! Layout:
//! - [`frame`]: the reply framing (`%begin … %end`/`%error`) and notifications;
//! - [`quote`]: arguments as one command line, or refused;
//! - [`conn`]: one live client, its pipelined commands and their waiters;
//! - [`leaving`]: clients of a killed worker, waited for before a new client attaches.
//!
//! [`Control`] keeps one connection and replaces it when it goes (a killed server, `%exit`):
//! a command that was never written is sent on the new connection; one that was in flight is
//! retried only when it changes nothing (`display-message`, `capture-pane`, …), else it fails
//! as [`TmuxError::NoServer`], so a paste or a key is never sent twice. When no client can be
//! started (tmux too old, missing), [`Outcome::Unavailable`] sends the caller to the CLI, and a
//! new client is tried again only after [`RETRY_AFTER`].

pub mod conn;
pub mod frame;
pub mod leaving;
pub mod quote;

use super::TmuxError;
use super::gate::Gate;
use super::socket::Socket;
use conn::{Conn, SendError};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// After a client could not be started, commands use the CLI for this long.
pub const RETRY_AFTER: Duration = Duration::from_secs(5);
/// How long a new client may take to attach.
const ATTACH_LIMIT: Duration = Duration::from_secs(5);
/// How long a closing client may take to exit before it is killed.
const CLOSE_LIMIT: Duration = Duration::from_secs(2);
/// Connections tried for one command before it goes to the CLI.
const ATTEMPTS: usize = 3;

/// What the control client made of a command.
#[derive(Debug)]
pub enum Outcome {
    /// tmux answered (or the command was lost in flight).
    Answered(Result<String, TmuxError>),
    /// Not sent: run it with the CLI.
    Unavailable,
}

/// The control connection to one tmux server.
pub struct Control {
    bin: PathBuf,
    socket: Socket,
    /// The live connection, if any.
    conn: Mutex<Option<Arc<Conn>>>,
    /// Held while connecting (one attempt at a time).
    connecting: tokio::sync::Mutex<Failures>,
    /// Held shared around each command, exclusively by an attach ([`super::gate`]).
    gate: Arc<Gate>,
}

/// Failed attempts to start a client since the last one that attached.
#[derive(Default)]
struct Failures {
    /// When the last attempt failed.
    last: Option<Instant>,
    /// How many in a row: only the first is a warning (a tmux without control mode would
    /// otherwise log one every [`RETRY_AFTER`]).
    count: u64,
}

impl std::fmt::Debug for Control {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Control")
            .field("socket", &self.socket)
            .finish_non_exhaustive()
    }
}

impl Control {
    pub fn new(bin: PathBuf, socket: Socket, gate: Arc<Gate>) -> Control {
        Control {
            bin,
            socket,
            conn: Mutex::new(None),
            connecting: tokio::sync::Mutex::new(Failures::default()),
            gate,
        }
    }

    /// Runs `args` (a tmux command and its arguments) on the control client.
    pub async fn run(&self, args: &[&str]) -> Outcome {
        let command = args.first().copied().unwrap_or("");
        let line = match quote::line(args) {
            Ok(line) => line,
            Err(e) => {
                tracing::debug!(error = %e, "running this command with the CLI");
                return Outcome::Unavailable;
            }
        };
        let mut retried = false;
        for _ in 0..ATTEMPTS {
            let Some(conn) = self.connection(command == "new-session").await else {
                return Outcome::Unavailable;
            };
            let sent = {
                let _held = self.gate.shared().await;
                conn.send(&line).await
            };
            match sent {
                Ok(block) if block.ok => return Outcome::Answered(Ok(block.text)),
                Ok(block) => {
                    return Outcome::Answered(Err(TmuxError::classify(command, block.text)));
                }
                Err(SendError::NotSent) => continue,
                Err(SendError::Lost) if !retried && changes_nothing(command) => retried = true,
                Err(SendError::Lost) => {
                    return Outcome::Answered(Err(TmuxError::NoServer(format!(
                        "the tmux server or its control client went away during `{command}`"
                    ))));
                }
            }
        }
        Outcome::Unavailable
    }

    /// The live connection, or a new one; None while clients cannot be started, and when no
    /// server runs unless `may_start` (only `new-session` may start one: a read must not bring
    /// back a server someone stopped, as the CLI would not).
    async fn connection(&self, may_start: bool) -> Option<Arc<Conn>> {
        if let Some(c) = self.live() {
            return Some(c);
        }
        let mut failed = self.connecting.lock().await;
        // Someone else may have connected while this task waited.
        if let Some(c) = self.live() {
            return Some(c);
        }
        if failed.last.is_some_and(|t| t.elapsed() < RETRY_AFTER) {
            return None;
        }
        if !may_start && !self.socket.server_runs() {
            return None;
        }
        let opened = Conn::open(&self.bin, &self.socket, ATTACH_LIMIT, &self.gate);
        match opened.await {
            Ok(c) => {
                tracing::info!(socket = %self.socket, "tmux control client attached");
                let c = Arc::new(c);
                *self.conn.lock().expect("control conn") = Some(c.clone());
                *failed = Failures::default();
                Some(c)
            }
            Err(why) => {
                if failed.count == 0 {
                    tracing::warn!(socket = %self.socket, reason = %why, retry_s = RETRY_AFTER.as_secs(),
                        "no tmux control client: running tmux commands as processes");
                } else {
                    tracing::debug!(socket = %self.socket, reason = %why, failures = failed.count + 1,
                        "still no tmux control client");
                }
                failed.last = Some(Instant::now());
                failed.count += 1;
                None
            }
        }
    }

    /// Detaches the client before this process exits, holding the gate exclusively until the
    /// server has dropped it: a control client lost while another one of this server is half
    /// identified crashes tmux 3.3a ([`super::gate`]), and a worker's restart is exactly when
    /// the next one attaches. Later commands start a new client as usual.
    pub async fn close(&self) {
        let conn = self.conn.lock().expect("control conn").take();
        let Some(conn) = conn else { return };
        let alone = self.gate.exclusive(ATTACH_LIMIT).await;
        if alone.is_none() {
            tracing::warn!(socket = %self.socket, "closing the tmux control client without the gate");
        }
        conn.close(CLOSE_LIMIT).await;
        // Reaped but maybe still listed: the same wait as an attach's for a killed worker's
        // client; its `list-clients` is read after the server has handled the exit.
        if alone.is_some() {
            leaving::wait(&self.bin, &self.socket, CLOSE_LIMIT).await;
        }
    }

    fn live(&self) -> Option<Arc<Conn>> {
        let slot = self.conn.lock().expect("control conn");
        slot.as_ref().filter(|c| c.alive()).cloned()
    }
}

/// Commands that only read: safe to run again after their first try was lost.
fn changes_nothing(command: &str) -> bool {
    matches!(
        command,
        "display-message"
            | "capture-pane"
            | "has-session"
            | "list-sessions"
            | "list-panes"
            | "show-options"
            | "show-buffer"
    )
}
