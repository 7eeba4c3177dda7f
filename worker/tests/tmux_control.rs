//! The tmux control-mode client against a real tmux server on a private socket: replies equal
//! the CLI's, errors are classified the same, arguments survive the quoting (or go to the CLI),
//! concurrent commands get their own replies, a killed server is reconnected without running a
//! lost command twice, and a client that cannot start leaves the CLI doing the work.

use paliadin_worker::tmux::control::{leaving, quote};
use paliadin_worker::tmux::{Tmux, TmuxError};
use proptest::prelude::*;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// A private tmux server (`-L`), killed on drop.
struct Server {
    socket: String,
    dir: PathBuf,
}

impl Server {
    fn new() -> Server {
        let id = uuid::Uuid::new_v4().simple().to_string();
        let dir = std::env::temp_dir().join(format!("paliadin-ctl-{id}"));
        std::fs::create_dir_all(&dir).unwrap();
        Server {
            socket: format!("paliadin-ctl-{}", &id[..12]),
            dir,
        }
    }

    /// A tmux CLI call on this server, as a test sees it from outside.
    fn cli(&self, args: &[&str]) -> std::process::Output {
        Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .env_remove("TMUX")
            .output()
            .expect("tmux")
    }

    fn tmux(&self) -> Tmux {
        Tmux::new("tmux", Some(self.socket.clone()))
    }

    /// `client_flags` of every control-mode client attached now.
    fn control_clients(&self) -> Vec<String> {
        let out = self.cli(&[
            "list-clients",
            "-F",
            "#{client_control_mode} #{client_flags}",
        ]);
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.strip_prefix("1 ").map(str::to_owned))
            .collect()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.cli(&["kill-server"]);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Waits until `cond` holds (checked every 10 ms), at most 10 s.
async fn until(what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "timed out: {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// What the pane of `replies_and_errors_equal_the_clis` shows: lines that look like guards.
const SCREEN: &str =
    "printf '%%end 1 2 1\\n%%begin 1 3 1\\n\\tTab \\303\\251 $HOME ;\\n%%exit\\n'; exec cat";

#[tokio::test]
async fn replies_and_errors_equal_the_clis() {
    let srv = Server::new();
    let ctl = srv.tmux();
    let cli = srv.tmux().with_control(false);
    assert!(ctl.uses_control() && !cli.uses_control());
    let script = srv.dir.join("screen.sh");
    std::fs::write(&script, SCREEN).unwrap();
    let script = script.to_str().unwrap();
    ctl.run(&[
        "new-session",
        "-d",
        "-s",
        "s1",
        "-x",
        "60",
        "-y",
        "8",
        "sh",
        script,
    ])
    .await
    .unwrap();
    assert_eq!(
        srv.control_clients().len(),
        1,
        "the command went through a control client"
    );
    until("the pane printed", || {
        String::from_utf8_lossy(&srv.cli(&["capture-pane", "-p", "-t", "=s1:"]).stdout)
            .contains("Tab")
    })
    .await;
    for args in [
        &["capture-pane", "-p", "-t", "=s1:"][..],
        &[
            "display-message",
            "-p",
            "-t",
            "=s1:",
            "#{session_name}\t#{pane_dead}\t#{pane_width}",
        ],
        &[
            "display-message",
            "-p",
            "-t",
            "=nosuch:",
            "#{session_name}|",
        ],
    ] {
        let (a, b) = (ctl.run(args).await.unwrap(), cli.run(args).await.unwrap());
        assert_eq!(a, b, "{args:?}");
    }
    let screen = ctl
        .run(&["capture-pane", "-p", "-t", "=s1:"])
        .await
        .unwrap();
    // Screen text that looks like guards (the TAB is drawn as spaces).
    assert!(
        screen.starts_with("%end 1 2 1\n%begin 1 3 1\n        Tab é $HOME ;\n%exit\n"),
        "{screen:?}"
    );
    for args in [
        &["send-keys", "-t", "=nosuch:", "Enter"][..],
        &["kill-session", "-t", "=nosuch"],
        &["paste-buffer", "-b", "nosuch", "-t", "=s1:"],
    ] {
        let (a, b) = (
            ctl.run(args).await.unwrap_err(),
            cli.run(args).await.unwrap_err(),
        );
        assert!(matches!(a, TmuxError::NotFound(_)), "{args:?}: {a:?}");
        assert_eq!(a.to_string(), b.to_string(), "{args:?}");
    }
    let err = ctl.run(&["no-such-command"]).await.unwrap_err();
    assert!(matches!(err, TmuxError::Failed { .. }), "{err:?}");
    // The client stayed usable after the errors; `-V` is not a command: the CLI runs it.
    assert!(ctl.run(&["-V"]).await.unwrap().starts_with("tmux "));
    let flags = srv.control_clients();
    assert_eq!(flags.len(), 1, "one client for all of it: {flags:?}");
    assert!(
        flags[0].contains("no-output") && flags[0].contains("ignore-size"),
        "{flags:?}"
    );
    // A second handle attaches to the same hidden session with the same flags.
    let other = srv.tmux();
    other.run(&["display-message", "-p", "x"]).await.unwrap();
    let flags = srv.control_clients();
    assert_eq!(flags.len(), 2, "{flags:?}");
    assert!(
        flags
            .iter()
            .all(|f| f.contains("no-output") && f.contains("ignore-size"))
    );
}

#[tokio::test]
async fn many_tasks_get_their_own_replies() {
    let srv = Server::new();
    let tmux = srv.tmux();
    tmux.run(&["new-session", "-d", "-s", "base"])
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for i in 0..300 {
        let t = tmux.clone();
        tasks.push(tokio::spawn(async move {
            if i % 10 == 0 {
                // Sessions coming and going: notifications between the replies.
                let name = format!("n{i}");
                t.run(&["new-session", "-d", "-s", &name]).await.unwrap();
                t.run(&["kill-session", "-t", &format!("={name}")])
                    .await
                    .unwrap();
            }
            let want = format!("reply {i} ;");
            let got = t.run(&["display-message", "-p", &want]).await.unwrap();
            assert_eq!(got, format!("{want}\n"));
            if i % 7 == 0 {
                let err = t
                    .run(&["send-keys", "-t", &format!("=gone{i}:"), "x"])
                    .await;
                assert!(matches!(err, Err(TmuxError::NotFound(_))), "{err:?}");
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(srv.control_clients().len(), 1);
}

#[tokio::test]
async fn a_killed_server_loses_only_what_was_in_flight_and_the_next_command_reconnects() {
    let srv = Server::new();
    let tmux = srv.tmux();
    tmux.run(&["new-session", "-d", "-s", "a"]).await.unwrap();
    let pid = tmux
        .run(&["display-message", "-p", "#{pid}"])
        .await
        .unwrap();
    // `run-shell` answers at once but holds this client's queue while its shell runs: the two
    // commands written behind it are in flight when the server dies. The one that changes
    // something may have run, so it fails; the read-only one runs again — and, as on the CLI,
    // finds no server (a read never starts one).
    let mark = srv.dir.join("running");
    let shell = format!("touch {}; sleep 30", mark.display());
    tmux.run(&["run-shell", &shell]).await.unwrap();
    let changing = tokio::spawn({
        let t = tmux.clone();
        async move { t.run(&["set-buffer", "-b", "x", "--", "y"]).await }
    });
    let reading = tokio::spawn({
        let t = tmux.clone();
        async move {
            t.run(&["display-message", "-p", "#{session_name}|after"])
                .await
        }
    });
    until("the shell runs", || mark.exists()).await;
    // SIGKILL: a crash answers nothing.
    let killed = Command::new("kill")
        .args(["-9", pid.trim()])
        .status()
        .unwrap();
    assert!(killed.success());
    let err = changing.await.unwrap().unwrap_err();
    assert!(matches!(err, TmuxError::NoServer(_)), "{err:?}");
    let after = reading.await.unwrap().unwrap_err();
    assert!(after.is_missing(), "{after:?}");
    // The next `new-session` starts a server and a new client attaches to it.
    tmux.run(&["new-session", "-d", "-s", "c"]).await.unwrap();
    let missing = tmux
        .run(&["display-message", "-p", "-t", "=a:", "#{session_name}"])
        .await;
    assert!(
        !missing.unwrap().starts_with("a\n"),
        "session `a` died with its server"
    );
    // The new client attaches alongside the command that started the server: wait for it.
    until("one control client on the new server", || {
        srv.control_clients().len() == 1
    })
    .await;
    assert_eq!(srv.control_clients().len(), 1);
}

#[tokio::test]
async fn a_client_that_cannot_start_leaves_the_work_to_the_cli() {
    let srv = Server::new();
    // A tmux that refuses control mode, as an old or restricted one would.
    let bin = srv.dir.join("tmux-no-control");
    std::fs::write(
        &bin,
        "#!/bin/sh\nfor a in \"$@\"; do [ \"$a\" = -C ] && { echo no >&2; exit 1; }; done\nexec tmux \"$@\"\n",
    )
    .unwrap();
    set_mode(&bin, 0o755);
    let tmux = Tmux::new(&bin, Some(srv.socket.clone()));
    tmux.run(&["new-session", "-d", "-s", "a"]).await.unwrap();
    let out = tmux
        .run(&["display-message", "-p", "-t", "=a:", "#{session_name}"])
        .await;
    assert_eq!(out.unwrap(), "a\n");
    assert!(srv.control_clients().is_empty());
    let gone = tmux
        .run(&["kill-session", "-t", "=nosuch"])
        .await
        .unwrap_err();
    assert!(matches!(gone, TmuxError::NotFound(_)), "{gone:?}");
    // No binary at all: classified as before.
    let none = Tmux::new(srv.dir.join("missing"), Some(srv.socket.clone()));
    let err = none.run(&["display-message", "-p", "x"]).await.unwrap_err();
    assert!(matches!(err, TmuxError::Spawn { .. }), "{err:?}");
}

#[tokio::test]
async fn clients_of_several_workers_start_on_a_fresh_server_together() {
    // tmux 3.3a's server crashed when control clients started it together (conn.rs).
    for _ in 0..5 {
        let srv = Server::new();
        let handles: Vec<Tmux> = (0..3).map(|_| srv.tmux()).collect();
        // Only `new-session` may start a server: each worker's first command makes its session.
        let made = futures::future::join_all(handles.iter().enumerate().map(|(i, t)| async move {
            let name = format!("w{i}");
            t.run(&["new-session", "-d", "-s", &name]).await
        }))
        .await;
        assert!(made.iter().all(Result::is_ok), "{made:?}");
        let pids = futures::future::join_all(
            handles
                .iter()
                .map(|t| t.run(&["display-message", "-p", "#{pid}"])),
        )
        .await;
        let pids: Vec<String> = pids.into_iter().map(Result::unwrap).collect();
        assert!(pids.iter().all(|p| p == &pids[0]), "one server: {pids:?}");
        assert_eq!(srv.control_clients().len(), 3);
        let again = handles[0].run(&["display-message", "-p", "#{pid}"]).await;
        assert_eq!(again.unwrap(), pids[0], "the server lived on");
    }
}

#[tokio::test]
async fn the_client_leaves_with_its_handle_and_the_hidden_session_stays() {
    let srv = Server::new();
    let tmux = srv.tmux();
    tmux.run(&["new-session", "-d", "-s", "a"]).await.unwrap();
    assert_eq!(srv.control_clients().len(), 1);
    drop(tmux);
    until("the client is gone", || srv.control_clients().is_empty()).await;
    let has = |name: &str| srv.cli(&["has-session", "-t", name]).status.success();
    assert!(has("=a") && has("=_paliadin-control"));
    // The next handle attaches to the same hidden session.
    srv.tmux()
        .run(&["display-message", "-p", "x"])
        .await
        .unwrap();
    assert_eq!(srv.control_clients().len(), 1);
}

/// `close` returns only once the server has let the client go (so a worker that exits after
/// it cannot crash a neighbour's attach, `tmux::gate`): no wait, no poll, the list is empty.
/// A dropped handle's client is still listed for a while (the test above waits for it).
#[tokio::test]
async fn a_closed_client_is_gone_from_the_server_when_close_returns() {
    let srv = Server::new();
    let tmux = srv.tmux();
    tmux.run(&["new-session", "-d", "-s", "a"]).await.unwrap();
    for round in 0..5 {
        assert_eq!(srv.control_clients().len(), 1, "round {round}");
        tmux.close().await;
        assert_eq!(srv.control_clients(), Vec::<String>::new(), "round {round}");
        // The handle stays usable: the next command attaches a new client.
        let out = tmux
            .run(&["display-message", "-p", "-t", "=a:", "#{session_name}"])
            .await;
        assert_eq!(out.unwrap(), "a\n");
    }
    // Closing a handle with no client does nothing.
    let other = srv.tmux();
    other.close().await;
    assert_eq!(srv.control_clients().len(), 1);
}

/// A killed worker's client may stay attached for good (tmux 3.3a), so an attach removes it
/// before it goes on (`tmux::control::leaving`). Here the "worker" is a `sleep`, killed, and
/// the client's stdin stays open: it would never leave by itself.
#[tokio::test]
async fn an_attach_removes_the_client_of_a_killed_worker() {
    let srv = Server::new();
    assert!(
        srv.cli(&["new-session", "-d", "-s", "a", "cat"])
            .status
            .success()
    );
    let mut owner = tokio::process::Command::new("sleep")
        .arg("600")
        .spawn()
        .unwrap();
    let mut client = tokio::process::Command::new("tmux")
        .args(["-L", &srv.socket, "-C", "attach-session", "-t", "=a"])
        .env_remove("TMUX")
        .env(leaving::OWNER, owner.id().unwrap().to_string())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = tokio::io::BufReader::new(client.stdout.take().unwrap());
    let mut line = String::new();
    // The attach's own reply ends with `%end`: the client is attached.
    while !line.starts_with("%end") {
        line.clear();
        use tokio::io::AsyncBufReadExt;
        assert!(
            out.read_line(&mut line).await.unwrap() > 0,
            "the client exited"
        );
    }
    let _stdin = client.stdin.take().unwrap();
    let bin = Path::new("tmux");
    // A live owner: not ours to touch, nothing to wait for.
    assert_eq!(
        leaving::wait(
            bin,
            &paliadin_worker::tmux::Socket::resolve(Some(&srv.socket)),
            Duration::from_secs(5)
        )
        .await,
        0
    );
    assert_eq!(srv.control_clients().len(), 1);
    owner.kill().await.unwrap();
    owner.wait().await.unwrap();
    assert_eq!(
        leaving::wait(
            bin,
            &paliadin_worker::tmux::Socket::resolve(Some(&srv.socket)),
            Duration::from_secs(20)
        )
        .await,
        1
    );
    assert!(
        srv.control_clients().is_empty(),
        "the orphan is still attached"
    );
    let status = client.wait().await.unwrap();
    assert!(!status.success(), "killed, not exited: {status}");
}

#[tokio::test]
async fn pasted_text_goes_through_a_private_file_and_arrives_byte_exact() {
    let srv = Server::new();
    let dir = srv.dir.join(".paste");
    let tmux = srv.tmux().with_paste_dir(dir.clone());
    tmux.run(&["new-session", "-d", "-s", "a"]).await.unwrap();
    let text = "it's; kill-server\n'$(x)' #{y} \\;\n%end 1 2 1\n\u{1b}[31m é\n";
    tmux.load_buffer("pb1", text.as_bytes()).await.unwrap();
    assert_eq!(
        String::from_utf8_lossy(&srv.cli(&["show-buffer", "-b", "pb1"]).stdout),
        text
    );
    assert_eq!(
        std::fs::read_dir(&dir).unwrap().count(),
        0,
        "the file was removed"
    );
    // Without the control client: the CLI's stdin, as before.
    let cli = srv.tmux().with_control(false).with_paste_dir(dir.clone());
    cli.load_buffer("pb2", text.as_bytes()).await.unwrap();
    assert_eq!(
        String::from_utf8_lossy(&srv.cli(&["show-buffer", "-b", "pb2"]).stdout),
        text
    );
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// Characters the quoting must carry, with tmux's special ones over-represented.
fn arg_char() -> impl Strategy<Value = char> {
    prop_oneof![
        3 => any::<char>(),
        2 => prop::sample::select(vec![';', '"', '$', '#', '{', '}', '\\', '~', '\t', ' ', '%', '\'', '\n', '-']),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    /// Any argument the control client takes arrives as itself; it refuses exactly those with a
    /// `'` or a control character other than TAB (they go to the CLI's argv, where a trailing
    /// `;` is still lost: no user text is ever an argument).
    #[test]
    fn arguments_arrive_as_they_were_given(chars in prop::collection::vec(arg_char(), 1..40)) {
        let value: String = chars.into_iter().collect();
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let srv = Server::new();
        rt.block_on(async {
            let tmux = srv.tmux();
            tmux.run(&["new-session", "-d", "-s", "a"]).await.unwrap();
            let quotable = quote::line(&["set-buffer", "-b", "v", "--", &value]).is_ok();
            prop_assert_eq!(quotable, value.chars().all(|c| c != '\'' && (c == '\t' || !c.is_control())));
            if !quotable {
                return Ok(());
            }
            tmux.run(&["set-buffer", "-b", "v", "--", &value]).await.unwrap();
            let back = srv.cli(&["show-buffer", "-b", "v"]).stdout;
            prop_assert_eq!(String::from_utf8_lossy(&back), value.as_str());
            Ok(())
        })?;
    }
}

/// tmux 3.3a's server crashed (SIGSEGV) when a session or a paste buffer changed while a
/// control client was half identified (`tmux::gate`); this is that, many times over: clients
/// of two "workers" attach and leave again and again while a third makes and kills sessions
/// and sets and deletes buffers, through both transports. Without the gate the server died
/// within a few hundred attaches here; with the gate but clients dropped instead of closed
/// ([`Tmux::close`]), in about one run in twenty under load.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_attaching_while_sessions_and_buffers_change_do_not_crash_the_server() {
    const ATTACHES: usize = 400;
    let srv = Server::new();
    assert!(
        srv.cli(&["new-session", "-d", "-s", "base", "cat"])
            .status
            .success()
    );
    let pid = srv.cli(&["display-message", "-p", "#{pid}"]).stdout;
    let pid = String::from_utf8_lossy(&pid).trim().to_owned();
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let churn = |control: bool| {
        let (tmux, done) = (srv.tmux().with_control(control), done.clone());
        tokio::spawn(async move {
            let mut i = 0u64;
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                i += 1;
                let name = format!("churn-{control}-{i}");
                let _ = tmux.run(&["new-session", "-d", "-s", &name, "cat"]).await;
                let _ = tmux.run(&["set-buffer", "-b", &name, "x"]).await;
                let _ = tmux.run(&["delete-buffer", "-b", &name]).await;
                let _ = tmux.run(&["kill-session", "-t", &format!("={name}")]).await;
            }
            i
        })
    };
    let churners = [churn(false), churn(true)];
    let attach = |srv: &Server| {
        let socket = srv.socket.clone();
        tokio::spawn(async move {
            let mut pids = Vec::new();
            for _ in 0..ATTACHES / 2 {
                let tmux = Tmux::new("tmux", Some(socket.clone()));
                pids.push(tmux.run(&["display-message", "-p", "#{pid}"]).await);
                // As a worker does before it exits: a client that is just dropped is lost
                // to the server at a moment no gate covers.
                tmux.close().await;
            }
            pids
        })
    };
    let attachers = [attach(&srv), attach(&srv)];
    let mut answered = 0;
    for a in attachers {
        for p in a.await.unwrap() {
            assert_eq!(
                p.expect("the server answers").trim(),
                pid,
                "the same server"
            );
            answered += 1;
        }
    }
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut churned = 0;
    for c in churners {
        churned += c.await.unwrap();
    }
    assert_eq!(answered, ATTACHES);
    assert!(churned > 0);
    let alive = srv.cli(&["display-message", "-p", "#{pid}"]).stdout;
    assert_eq!(
        String::from_utf8_lossy(&alive).trim(),
        pid,
        "the server lived on"
    );
}

/// After `kill-server` a read on the control client fails as it does
/// on the CLI, instead of reconnecting and so starting a new server with only the hidden session
/// (which outlived every test rig whose workers ran a command after the rig stopped tmux).
#[tokio::test]
async fn a_stopped_server_is_not_started_again_by_a_read() {
    let srv = Server::new();
    let tmux = srv.tmux();
    tmux.run(&["new-session", "-d", "-s", "a"]).await.unwrap();
    assert_eq!(srv.control_clients().len(), 1);
    assert!(srv.cli(&["kill-server"]).status.success());
    let sock = paliadin_worker::tmux::Socket::resolve(Some(&srv.socket))
        .path()
        .to_owned();
    until("the server has gone", || {
        std::os::unix::net::UnixStream::connect(&sock).is_err()
    })
    .await;
    let err = tmux
        .run(&["display-message", "-p", "-t", "=a:", "#{session_name}"])
        .await
        .unwrap_err();
    assert!(err.is_missing(), "{err:?}");
    let ls = srv.cli(&["list-sessions"]);
    assert!(!ls.status.success(), "a server runs again: {ls:?}");
    // A new session still starts one, and the client attaches to it.
    tmux.run(&["new-session", "-d", "-s", "b"]).await.unwrap();
    assert_eq!(
        tmux.run(&["display-message", "-p", "-t", "=b:", "#{session_name}"])
            .await
            .unwrap(),
        "b\n"
    );
}
