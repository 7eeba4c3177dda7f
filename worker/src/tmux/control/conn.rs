//! One live control-mode client: `tmux -C` attached to a hidden session of the server, its
//! stdin the command stream and its stdout the replies ([`super::frame`]).
//!
//! Commands are pipelined: a sender queues its waiter and its line under one lock, so the
//! waiters are in the order the lines are written, and tmux answers a client's commands in the
//! order it reads them. One task writes the lines (a caller that gives up mid-write cannot
//! leave half a line behind); one task reads the replies and hands each to the oldest waiter.
//! When the client goes (server killed, `%exit`, a protocol violation, a failed write) every
//! waiter left is told so, and the connection refuses new commands.

use super::frame::{Block, Event, Framer};
use crate::tmux::TmuxError;
use crate::tmux::gate::Gate;
use crate::tmux::socket::Socket;
use std::collections::VecDeque;
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

/// The hidden session the client attaches to (a control client needs one). It runs `cat`,
/// which waits on a terminal nobody types into, and lives as long as the server. Agents'
/// sessions are always `<prefix>-<8 hex>`: this name is never one of them.
///
/// tmux 3.3a crashes (SIGSEGV in the server: every agent session gone) when two control
/// clients start a server together (`tmux -C new-session` from two workers: 8 of 8 tries
/// here; one client's new session notifies the other, half identified: [`crate::tmux::gate`]),
/// and when a session with `destroy-unattached` loses its control clients. So a CLI client
/// makes the session (`new-session -d`; a `duplicate session` from a concurrent worker is
/// fine), then the control client attaches to it, both under the gate, once no client of a
/// killed worker is still leaving ([`super::leaving`]).
pub const SESSION: &str = "_paliadin-control";

/// How long an attach waits for clients of a dead process to leave ([`super::leaving`]).
const LEAVING_LIMIT: Duration = Duration::from_secs(2);

/// Why a command got no reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendError {
    /// The connection was already gone: the line was never written.
    NotSent,
    /// The connection went while the command was in flight: it may or may not have run.
    Lost,
}

/// Waiters in the order their lines were queued, and the queue of lines.
struct State {
    dead: bool,
    waiters: VecDeque<oneshot::Sender<Block>>,
    lines: mpsc::UnboundedSender<Vec<u8>>,
}

pub struct Conn {
    state: Arc<Mutex<State>>,
    /// Cancelled when the connection ends (or is dropped): the reader kills the client.
    stop: CancellationToken,
    /// Closed when asked to ([`Conn::close`]): the writer drops the client's stdin.
    close: CancellationToken,
    /// The reader, which ends once the client has exited and been reaped.
    reader: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl Drop for Conn {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

impl Conn {
    /// Makes the hidden session (and, if none runs, the server), starts a client attached to
    /// it, and waits until it is attached, holding `gate` exclusively throughout (no command
    /// of ours runs on the server meanwhile: [`crate::tmux::gate`]).
    pub async fn open(
        bin: &Path,
        socket: &Socket,
        limit: Duration,
        gate: &Gate,
    ) -> Result<Conn, String> {
        let _alone = gate
            .exclusive(limit)
            .await
            .ok_or_else(|| format!("other tmux commands did not end within {limit:?}"))?;
        let made = [
            "new-session",
            "-d",
            "-s",
            SESSION,
            "-x",
            "80",
            "-y",
            "24",
            "cat",
        ];
        match crate::tmux::cli::run(bin, socket, &made, None).await {
            Ok(_) => {}
            Err(TmuxError::Failed { stderr, .. }) if stderr.contains("duplicate session") => {}
            Err(e) => return Err(format!("cannot make the control session: {e}")),
        }
        // A client whose worker was killed may still be on its way out: not while ours
        // identifies itself.
        let leaving = super::leaving::wait(bin, socket, LEAVING_LIMIT).await;
        if leaving > 0 {
            tracing::info!(
                leaving,
                "waited for control clients of a stopped process to leave"
            );
        }
        let mut cmd = crate::tmux::cli::client(bin, socket);
        cmd.env(super::leaving::OWNER, std::process::id().to_string());
        let target = format!("={SESSION}");
        cmd.args(["-C", "attach-session", "-t", &target])
            // No `%output` for the hidden pane, and no say in any window's size.
            .args(["-f", "no-output,ignore-size"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true);
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("cannot run {}: {e}", bin.display()))?;
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            return Err("the control client has no pipes".into());
        };
        let (lines, queued) = mpsc::unbounded_channel();
        let state = Arc::new(Mutex::new(State {
            dead: false,
            waiters: VecDeque::new(),
            lines,
        }));
        let (stop, close) = (CancellationToken::new(), CancellationToken::new());
        let (attached, handshake) = oneshot::channel();
        tokio::spawn(write(stdin, queued, stop.clone(), close.clone()));
        let reader = tokio::spawn(read(child, stdout, state.clone(), attached, stop.clone()));
        let conn = Conn {
            state,
            stop,
            close,
            reader: Mutex::new(Some(reader)),
        };
        match tokio::time::timeout(limit, handshake).await {
            Ok(Ok(Ok(()))) => Ok(conn),
            Ok(Ok(Err(why))) => Err(why),
            Ok(Err(_)) => Err("the control client exited before attaching".into()),
            Err(_) => Err(format!(
                "the control client did not attach within {limit:?}"
            )),
        }
    }

    pub fn alive(&self) -> bool {
        !self.state.lock().expect("control state").dead
    }

    /// Ends the client as tmux expects: its stdin closes, so the server detaches it and it
    /// exits; then waits (at most `limit`, then kills it) until it has been reaped. Commands
    /// still in flight are lost.
    pub async fn close(&self, limit: Duration) {
        self.close.cancel();
        let reader = self.reader.lock().expect("control reader").take();
        let Some(mut reader) = reader else { return };
        if tokio::time::timeout(limit, &mut reader).await.is_err() {
            self.stop.cancel();
            let _ = reader.await;
        }
    }

    /// Writes `line` (one command, no newline) and waits for its reply.
    pub async fn send(&self, line: &str) -> Result<Block, SendError> {
        let reply = {
            let mut st = self.state.lock().expect("control state");
            if st.dead {
                return Err(SendError::NotSent);
            }
            let mut bytes = Vec::with_capacity(line.len() + 1);
            bytes.extend_from_slice(line.as_bytes());
            bytes.push(b'\n');
            if st.lines.send(bytes).is_err() {
                return Err(SendError::NotSent);
            }
            let (tx, rx) = oneshot::channel();
            st.waiters.push_back(tx);
            rx
        };
        reply.await.map_err(|_| SendError::Lost)
    }
}

/// Writes queued lines until the queue closes, a write fails, the connection stops or is
/// closed (then the client's stdin is dropped: the server reads its end and detaches it).
async fn write(
    mut stdin: ChildStdin,
    mut queued: mpsc::UnboundedReceiver<Vec<u8>>,
    stop: CancellationToken,
    close: CancellationToken,
) {
    loop {
        let bytes = tokio::select! {
            _ = stop.cancelled() => return,
            _ = close.cancelled() => return,
            next = queued.recv() => match next {
                Some(bytes) => bytes,
                None => return,
            },
        };
        if let Err(e) = stdin.write_all(&bytes).await {
            tracing::warn!(error = %e, "cannot write to the tmux control client");
            stop.cancel();
            return;
        }
    }
}

/// Reads replies until the client goes, then fails every waiter left and reaps the client.
async fn read(
    mut child: Child,
    stdout: ChildStdout,
    state: Arc<Mutex<State>>,
    attached: oneshot::Sender<Result<(), String>>,
    stop: CancellationToken,
) {
    let mut attached = Some(attached);
    let mut out = BufReader::new(stdout);
    let mut framer = Framer::default();
    let mut buf = Vec::new();
    let why = loop {
        buf.clear();
        let read = tokio::select! {
            _ = stop.cancelled() => break "stopped".to_owned(),
            r = out.read_until(b'\n', &mut buf) => r,
        };
        match read {
            Ok(0) => break "the control client exited".to_owned(),
            Err(e) => break format!("cannot read the control client: {e}"),
            Ok(_) => {}
        }
        if buf.last() == Some(&b'\n') {
            buf.pop();
        }
        match framer.line(&String::from_utf8_lossy(&buf)) {
            None => {}
            Some(Event::Reply(block)) if block.from_stdin => {
                let waiter = state.lock().expect("control state").waiters.pop_front();
                match waiter {
                    // A caller that gave up has dropped its receiver: nothing to do.
                    Some(w) => drop(w.send(block)),
                    None => break "a reply nobody asked for".to_owned(),
                }
            }
            // The command line's own replies: the first is the attach.
            Some(Event::Reply(block)) => {
                if let Some(tx) = attached.take() {
                    let result = if block.ok {
                        Ok(())
                    } else {
                        Err(format!("cannot attach: {}", block.text.trim()))
                    };
                    let ok = result.is_ok();
                    let _ = tx.send(result);
                    if !ok {
                        break "the attach failed".to_owned();
                    }
                }
            }
            Some(Event::Exit) => break "the control client was detached (%exit)".to_owned(),
            Some(Event::Violation(v)) => {
                tracing::warn!(violation = %v, "tmux control stream out of order: reconnecting");
                break v;
            }
        }
    };
    {
        let mut st = state.lock().expect("control state");
        st.dead = true;
        // Dropping the senders tells each waiter its command was lost.
        st.waiters.clear();
    }
    stop.cancel();
    if attached.is_none() && why != "stopped" {
        tracing::info!(reason = %why, "tmux control client gone");
    }
    let _ = child.start_kill();
    let _ = child.wait().await;
}
