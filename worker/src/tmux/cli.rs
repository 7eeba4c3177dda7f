//! The tmux CLI: one client process per call — the fallback of the control-mode client, and
//! the way for what it cannot carry (text on stdin, `-V`). Also how every client process is
//! set up, the control client's included.

use super::TmuxError;
use super::socket::Socket;
use std::path::Path;
use std::process::Stdio;
use tokio::io::AsyncWriteExt;
use tokio::process::Command;

/// `tmux -u -S <socket> -f <conf>` with the environment every client needs.
pub fn client(bin: &Path, socket: &Socket) -> Command {
    let mut cmd = Command::new(bin);
    // `-u`: UTF-8 output whatever the locale. Without it, a client with no UTF-8 locale (an
    // sshd forced command, a systemd unit) prints a TAB in a format as `_` and non-ASCII
    // screen text as `_`, which breaks the health check's fields and screen comparisons.
    cmd.arg("-u");
    cmd.args(socket.client_args());
    // A worker started inside tmux must still talk to the server its config names (`-S`
    // already wins over both; removed so the server, and so the agents, never inherit them).
    cmd.env_remove("TMUX")
        .env_remove("TMUX_PANE")
        .env_remove("TMUX_TMPDIR")
        // A server started by a client hands its environment to every agent: keep the
        // worker's database credentials out of it.
        .env_remove("DATABASE_URL");
    cmd
}

/// Runs `tmux -S socket <args>` as a process (with `input` on its stdin) and returns its
/// stdout, or the error its stderr names.
pub async fn run(
    bin: &Path,
    socket: &Socket,
    args: &[&str],
    input: Option<&[u8]>,
) -> Result<String, TmuxError> {
    let mut cmd = client(bin, socket);
    cmd.args(args)
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let spawn_err = |source| TmuxError::Spawn {
        bin: bin.display().to_string(),
        source,
    };
    let mut child = cmd.spawn().map_err(spawn_err)?;
    if let (Some(bytes), Some(mut stdin)) = (input, child.stdin.take()) {
        // A failed write shows up as the client's own error below.
        let _ = stdin.write_all(bytes).await;
        drop(stdin);
    }
    let out = child.wait_with_output().await.map_err(spawn_err)?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        let command = args.first().copied().unwrap_or("");
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        Err(TmuxError::classify(command, stderr))
    }
}

/// `tmux source-file <path>`: runs the commands of a private file (what [`super::Tmux::run_unlisted`]
/// falls back to). tmux prints a failed command's error on stdout there, so both are read.
pub async fn source(
    bin: &Path,
    socket: &Socket,
    command: &str,
    path: &str,
) -> Result<String, TmuxError> {
    // `source-file` alone needs a running server; `start-server` first makes one (with our
    // configuration) when none runs, and the same client keeps it up for the command.
    let out = client(bin, socket)
        .args(["start-server", ";", "source-file", path])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|source| TmuxError::Spawn {
            bin: bin.display().to_string(),
            source,
        })?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if out.status.success() {
        Ok(stdout)
    } else {
        let stderr = String::from_utf8_lossy(&out.stderr);
        Err(TmuxError::classify(command, format!("{stdout}{stderr}")))
    }
}
