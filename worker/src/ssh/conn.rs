//! `Conn`: one live channel to a host agent — a child process (the system `ssh` client running
//! `paliadin-shim serve` on the far side, or `sudo` running it as an agent account on this
//! machine) with JSON lines on its stdin/stdout.
//!
//! Requests get ids from a per-connection counter; a reader task routes every response line to
//! the request it names, so any number of turns share the channel. When the process exits or
//! the channel breaks, `closed` fires and every open [`Call`] sees its end (`None`): the
//! caller decides whether to resume on a new connection. The child's stderr (ssh's own errors
//! and the host agent's logs) is logged and its last line kept as the connection's `last_error`.

use crate::host_agent::lines::{Line, LineReader};
use crate::host_agent::proto::{Body, MAX_RESPONSE_LINE, Op, PROTOCOL, Request, Response};
use std::collections::HashMap;
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::process::{ChildStdout, Command};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

type Pending = Arc<Mutex<HashMap<u64, mpsc::Sender<Body>>>>;

/// Most answers of one call waiting to be read: a host that floods a call (more progress than
/// any turn makes) ends that call instead of growing the worker's memory.
const CALL_BUFFER: usize = 4096;

/// The connection is gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the connection to the host agent is closed")]
pub struct Closed;

/// Why a single-answer request failed.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error(transparent)]
    Closed(#[from] Closed),
    #[error("no answer within {0:?}")]
    Timeout(Duration),
}

pub struct Conn {
    out: mpsc::UnboundedSender<String>,
    pending: Pending,
    next_id: AtomicU64,
    /// Fired when the process exits, a read or write fails, or `kill` is called.
    closed: CancellationToken,
    pid: Option<u32>,
    /// The host agent's name and version, from its hello.
    pub server: String,
    /// The last line the ssh client itself wrote to stderr (not the host agent's logs).
    last_error: Arc<Mutex<Option<String>>>,
    /// How the ssh client exited, once it has.
    exit: Arc<Mutex<Option<String>>>,
}

/// The answers to one request; dropping it forgets the request.
pub struct Call {
    id: u64,
    rx: mpsc::Receiver<Body>,
    pending: Pending,
}

impl Call {
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The next line for this request; `None` once the connection is gone.
    pub async fn next(&mut self) -> Option<Body> {
        self.rx.recv().await
    }
}

impl Drop for Call {
    fn drop(&mut self) {
        self.pending.lock().expect("pending").remove(&self.id);
    }
}

impl Conn {
    /// Spawns `cmd` (stdio is set here) and waits up to `hello_within` for the host agent's hello.
    pub async fn start(
        mut cmd: Command,
        label: &str,
        hello_within: Duration,
    ) -> Result<Arc<Conn>, String> {
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = cmd.spawn().map_err(|e| {
            let program = cmd.as_std().get_program().to_string_lossy().into_owned();
            format!("cannot start {program}: {e}")
        })?;
        let pid = child.id();
        let (stdin, stdout, stderr) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take());
        let (Some(mut stdin), Some(stdout), Some(stderr)) = (stdin, stdout, stderr) else {
            return Err("the ssh client has no pipes".into());
        };
        let last_error = Arc::new(Mutex::new(None));
        let log = tokio::spawn(log_stderr(stderr, label.to_owned(), last_error.clone()));
        let mut reader = LineReader::new(stdout, MAX_RESPONSE_LINE);
        let server = match tokio::time::timeout(hello_within, reader.next()).await {
            Ok(Ok(Line::Text(bytes))) => match serde_json::from_slice::<Response>(&bytes) {
                Ok(Response {
                    body:
                        Body::Hello {
                            protocol, server, ..
                        },
                    ..
                }) if protocol == PROTOCOL => Ok(server),
                Ok(Response {
                    body:
                        Body::Hello {
                            protocol, server, ..
                        },
                    ..
                }) => Err(format!(
                    "{server} speaks protocol {protocol}; this worker speaks {PROTOCOL}: upgrade one side"
                )),
                _ => Err("the remote command is not paliadin-shim (no hello line)".to_owned()),
            },
            Ok(_) => {
                // ssh exited: its reason is on stderr, which ends with it.
                let _ = child.start_kill();
                let _ = tokio::time::timeout(Duration::from_secs(2), log).await;
                let why = last_error.lock().expect("last error").clone();
                Err(why.unwrap_or_else(|| {
                    "the connection closed before the host agent answered".into()
                }))
            }
            Err(_) => Err(format!(
                "no hello from the host agent within {hello_within:?}"
            )),
        };
        let server = match server {
            Ok(s) => s,
            Err(e) => {
                let _ = child.start_kill();
                return Err(e);
            }
        };
        let (out, mut rx) = mpsc::unbounded_channel::<String>();
        let closed = CancellationToken::new();
        let pending = Pending::default();
        let c = closed.clone();
        tokio::spawn(async move {
            while let Some(line) = rx.recv().await {
                let ok =
                    stdin.write_all(line.as_bytes()).await.is_ok() && stdin.flush().await.is_ok();
                if !ok {
                    break;
                }
            }
            c.cancel();
        });
        tokio::spawn(route(reader, pending.clone(), closed.clone()));
        let (c, exit) = (closed.clone(), Arc::new(Mutex::new(None)));
        let status = exit.clone();
        tokio::spawn(async move {
            let waited = tokio::select! {
                w = child.wait() => w,
                _ = c.cancelled() => {
                    let _ = child.start_kill();
                    child.wait().await
                }
            };
            let how = match waited {
                Ok(s) => format!("ssh client {s}"),
                Err(e) => format!("ssh client lost: {e}"),
            };
            *status.lock().expect("exit") = Some(how);
            c.cancel();
        });
        Ok(Arc::new(Conn {
            out,
            pending,
            next_id: AtomicU64::new(1),
            closed,
            pid,
            server,
            last_error,
            exit,
        }))
    }

    /// Sends a request; its answers arrive on the returned [`Call`].
    pub fn request(&self, op: Op) -> Result<Call, Closed> {
        if self.closed.is_cancelled() {
            return Err(Closed);
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = mpsc::channel(CALL_BUFFER);
        self.pending.lock().expect("pending").insert(id, tx);
        let call = Call {
            id,
            rx,
            pending: self.pending.clone(),
        };
        let mut line = serde_json::to_string(&Request { id, op }).expect("requests serialise");
        line.push('\n');
        self.out.send(line).map_err(|_| Closed)?;
        Ok(call)
    }

    /// A request with one answer, bounded by `within`.
    pub async fn call(&self, op: Op, within: Duration) -> Result<Body, CallError> {
        let mut call = self.request(op)?;
        match tokio::time::timeout(within, call.next()).await {
            Ok(Some(body)) => Ok(body),
            Ok(None) => Err(Closed.into()),
            Err(_) => Err(CallError::Timeout(within)),
        }
    }

    pub fn is_closed(&self) -> bool {
        self.closed.is_cancelled()
    }

    pub async fn closed(&self) {
        self.closed.cancelled().await
    }

    /// Ends the connection (the ssh client is killed; the host agent then detaches its turns).
    pub fn kill(&self) {
        self.closed.cancel();
    }

    /// The local process id of the ssh client (tests kill it to simulate a broken link).
    pub fn pid(&self) -> Option<u32> {
        self.pid
    }

    /// The last line the ssh client wrote to stderr (e.g. `Connection closed by …`).
    pub fn last_error(&self) -> Option<String> {
        self.last_error.lock().expect("last error").clone()
    }

    /// Why the connection ended, as well as known: the client's last error, its exit status.
    pub fn end_reason(&self) -> String {
        let exit = self.exit.lock().expect("exit").clone();
        match (self.last_error(), exit) {
            (Some(e), Some(x)) => format!("{e} ({x})"),
            (Some(e), None) => e,
            (None, Some(x)) => x,
            (None, None) => "the channel closed".into(),
        }
    }
}

async fn route(mut reader: LineReader<ChildStdout>, pending: Pending, closed: CancellationToken) {
    loop {
        let line = tokio::select! {
            _ = closed.cancelled() => break,
            l = reader.next() => l,
        };
        let bytes = match line {
            Ok(Line::Text(b)) => b,
            Ok(Line::TooLong(n)) => {
                tracing::warn!(
                    bytes = n,
                    "a line from the host agent is over the limit; dropped"
                );
                continue;
            }
            Ok(Line::Eof) | Err(_) => break,
        };
        let r: Response = match serde_json::from_slice(&bytes) {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(error = %e, "unreadable line from the host agent");
                continue;
            }
        };
        let Some(id) = r.id else {
            // The body may carry reply text: only at debug (docs/operations.md).
            tracing::warn!("the host agent refused a line it could not attribute");
            tracing::debug!(body = ?r.body, "unattributed host agent line");
            continue;
        };
        let mut map = pending.lock().expect("pending");
        let delivered = map
            .get(&id)
            .is_some_and(|tx| match tx.try_send(r.body.clone()) {
                Ok(()) => true,
                Err(mpsc::error::TrySendError::Full(_)) => {
                    tracing::warn!(
                        id,
                        buffer = CALL_BUFFER,
                        "the host agent floods a call; ending it"
                    );
                    false
                }
                Err(mpsc::error::TrySendError::Closed(_)) => false,
            });
        if !delivered || r.body.is_final() {
            map.remove(&id);
        }
    }
    closed.cancel();
    // Dropping the senders ends every open call.
    pending.lock().expect("pending").clear();
}

async fn log_stderr(
    stderr: tokio::process::ChildStderr,
    label: String,
    last: Arc<Mutex<Option<String>>>,
) {
    let mut r = LineReader::new(stderr, 64 * 1024);
    while let Ok(Line::Text(bytes)) = r.next().await {
        let line = strip_ansi(&String::from_utf8_lossy(&bytes));
        if line.trim().is_empty() {
            continue;
        }
        // The host agent's own log lines start with a timestamp (or `{` in JSON); the rest is ssh's.
        if line.starts_with(|c: char| c.is_ascii_digit() || c == '{') {
            tracing::info!(target: "paliadin_worker::ssh::remote", host = %label, "{line}");
        } else {
            tracing::warn!(target: "paliadin_worker::ssh::remote", host = %label, "{line}");
            *last.lock().expect("last error") = Some(line);
        }
    }
}

/// Removes terminal colour sequences (`ESC [ … letter`) from a remote log line.
fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}
