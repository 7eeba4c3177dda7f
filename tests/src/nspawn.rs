//! A Debian bookworm machine booted under a real systemd with `systemd-nspawn`, for the suites
//! that install the packages and run their units (`ops::systemd_boot`).
//!
//! The image is made once with `debootstrap` (systemd, dbus, PostgreSQL installed; the packages'
//! other dependencies downloaded into apt's cache but not installed, so `apt-get install
//! ./paliadin_*.deb` resolves and installs them as on a user's machine) and cached under
//! `.dev/nspawn/<key>/`, the key naming the release and a hash of the setup script, behind a
//! lock so parallel tests share one build. Each [`Container`] boots an overlay of that image
//! (a full copy where overlayfs is refused), shares the host's network (so its services must
//! listen on free loopback ports), is driven with `nsenter` (there is no machined here), and is
//! powered off and removed on drop.
//!
//! Where `systemd-nspawn` cannot boot (not root; the container's init never starts) the suite
//! is skipped with a loud `!!! SKIPPED` line naming the reason; where the tools or the mirror are
//! missing it fails in CI (`deploy/ensure-deps.sh --browser` installs them) and skips elsewhere.
//! A failing test prints the end of the container's journal; with `PALIADIN_NSPAWN_KEEP=1` it
//! also leaves the container running, to look around in.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

mod image;

pub use image::image;
use image::{SUITE, dev_dir, host};

/// Why the suite cannot run here: printed loudly; a failure in CI unless nspawn itself refused.
fn skip(why: &str, ci_fails: bool) -> Option<Container> {
    assert!(
        !(ci_fails && std::env::var("CI").as_deref() == Ok("true")),
        "{why} (CI must be able to boot the container: deploy/ensure-deps.sh --browser)"
    );
    eprintln!("!!! SKIPPED: no systemd container here: {why}");
    None
}

fn tool(cmd: &str, args: &[&str]) -> bool {
    Command::new(cmd)
        .args(args)
        .output()
        .is_ok_and(|o| o.status.success())
}

/// A booted container; powered off and removed on drop.
pub struct Container {
    /// Its machine name, also its hostname.
    pub name: String,
    /// Its `/`, as the host sees it.
    pub root: PathBuf,
    run_dir: PathBuf,
    overlay: bool,
    nspawn: Child,
    /// The host pid of its systemd (PID 1 inside).
    pub leader: u32,
}

/// The pid whose parent is `parent`, if any (the container's init is nspawn's only child).
fn child_of(parent: u32) -> Option<u32> {
    std::fs::read_dir("/proc").ok()?.flatten().find_map(|e| {
        let pid: u32 = e.file_name().to_str()?.parse().ok()?;
        let stat = std::fs::read_to_string(e.path().join("stat")).ok()?;
        // pid (comm) state ppid …: comm may hold spaces, so split after its last ')'.
        let ppid: u32 = stat
            .rsplit_once(')')?
            .1
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()?;
        (ppid == parent).then_some(pid)
    })
}

/// Removes what containers of dead test processes left (their run directories are named
/// `<pid>-<tag>`): the overlay mount, then the directory.
fn sweep(run: &Path) {
    for e in std::fs::read_dir(run).into_iter().flatten().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let pid = name.split('-').next().unwrap_or_default();
        if Path::new("/proc").join(pid).exists() {
            continue;
        }
        let _ = Command::new("umount")
            .arg("-l")
            .arg(e.path().join("root"))
            .output();
        let _ = std::fs::remove_dir_all(e.path());
    }
}

impl Container {
    /// Boots a fresh container named after `tag` and waits until its systemd reports `running`
    /// (or `degraded`). `None` when it cannot boot here, after saying why.
    pub fn boot(tag: &str) -> Option<Container> {
        if !tool("id", &["-u"]) || Command::new("id").arg("-u").output().ok()?.stdout != b"0\n" {
            return skip("not root (systemd-nspawn needs root)", false);
        }
        for (t, arg) in [
            ("systemd-nspawn", "--version"),
            ("debootstrap", "--version"),
        ] {
            if !tool(t, &[arg]) && !Path::new("/usr/sbin").join(t).exists() {
                return skip(&format!("{t} is not installed"), true);
            }
        }
        let image = match image() {
            Ok(i) => i,
            Err(e) => return skip(&format!("no {SUITE} image: {e}"), true),
        };
        let run = dev_dir().join("run");
        sweep(&run);
        let name = format!("pal-{tag}-{}", std::process::id());
        let run_dir = run.join(format!("{}-{tag}", std::process::id()));
        let root = run_dir.join("root");
        for d in ["root", "upper", "work"] {
            std::fs::create_dir_all(run_dir.join(d)).expect("run dir");
        }
        let started = Instant::now();
        let opts = format!(
            "lowerdir={},upperdir={},workdir={}",
            image.display(),
            run_dir.join("upper").display(),
            run_dir.join("work").display()
        );
        let overlay = tool(
            "mount",
            &["-t", "overlay", "overlay", "-o", &opts, root.to_str()?],
        );
        if !overlay {
            host(
                Command::new("cp")
                    .args(["-a", "--reflink=auto"])
                    .arg(image.join("."))
                    .arg(&root),
            )
            .expect("copy the image");
        }
        let log = std::fs::File::create(run_dir.join("console.log")).expect("console log");
        // setpriv: a test killed by the runner takes its container down with it (the sweep
        // above removes the rest on the next run).
        let keep = std::env::var("PALIADIN_NSPAWN_KEEP").as_deref() == Ok("1");
        let nspawn = Command::new("setpriv")
            .args([
                "--pdeathsig",
                if keep { "clear" } else { "TERM" },
                "--",
                "systemd-nspawn",
            ])
            .args(["--register=no", "--keep-unit", "--console=pipe", "-b"])
            .arg(format!("--machine={name}"))
            .arg("-D")
            .arg(&root)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("spawn systemd-nspawn");
        let mut c = Container {
            name,
            root,
            run_dir,
            overlay,
            leader: 0,
            nspawn,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        let setpriv = c.nspawn.id();
        while c.leader == 0 {
            if let Ok(Some(status)) = c.nspawn.try_wait() {
                return skip(
                    &format!("systemd-nspawn exited ({status}):\n{}", c.console()),
                    false,
                );
            }
            // setpriv execs nspawn (same pid); nspawn's child is the container's init once it
            // has exec'd systemd.
            if let Some(init) = child_of(setpriv) {
                let comm = std::fs::read_to_string(format!("/proc/{init}/comm"));
                if comm.is_ok_and(|c| c.trim() == "systemd") {
                    c.leader = init;
                }
            }
            if Instant::now() > deadline {
                return skip(&format!("no init within 30 s:\n{}", c.console()), false);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let out = c.exec_sync("systemctl is-system-running");
            let state = String::from_utf8_lossy(&out.stdout).trim().to_owned();
            if state == "running" || state == "degraded" {
                if state == "degraded" {
                    let failed = c.exec_sync("systemctl --failed --no-legend");
                    eprintln!(
                        "{}: degraded: {}",
                        c.name,
                        String::from_utf8_lossy(&failed.stdout)
                    );
                }
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{} not running after 120 s ({state}):\n{}",
                c.name,
                c.console()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        eprintln!(
            "{} booted in {:.1} s ({})",
            c.name,
            started.elapsed().as_secs_f64(),
            if overlay { "overlay" } else { "copy" }
        );
        Some(c)
    }

    /// What the container's console printed so far.
    pub fn console(&self) -> String {
        let mut s = String::new();
        if let Ok(mut f) = std::fs::File::open(self.run_dir.join("console.log")) {
            let _ = f.read_to_string(&mut s);
        }
        s
    }

    fn command(&self, script: &str) -> Vec<String> {
        let leader = self.leader.to_string();
        [
            "nsenter",
            "-t",
            &leader,
            "-a",
            "--",
            "env",
            "-i",
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "HOME=/root",
            "LANG=C.UTF-8",
            "/bin/bash",
            "-c",
            script,
        ]
        .map(str::to_owned)
        .to_vec()
    }

    fn exec_sync(&self, script: &str) -> Output {
        let argv = self.command(script);
        Command::new(&argv[0])
            .args(&argv[1..])
            .stdin(Stdio::null())
            .output()
            .expect("run nsenter")
    }

    /// Runs `script` with `bash -c` as root inside the container; its output, whatever its status.
    pub async fn sh(&self, script: &str) -> Output {
        let argv = self.command(script);
        tokio::process::Command::new(&argv[0])
            .args(&argv[1..])
            .stdin(Stdio::null())
            .output()
            .await
            .expect("run nsenter")
    }

    /// Runs `script` inside the container, asserting success; its stdout.
    #[track_caller]
    pub fn run(&self, script: &str) -> impl std::future::Future<Output = String> + '_ {
        let caller = std::panic::Location::caller();
        let script = script.to_owned();
        async move {
            let out = self.sh(&script).await;
            assert!(
                out.status.success(),
                "{caller}: in {}: `{script}`: {}\n{}{}",
                self.name,
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            String::from_utf8_lossy(&out.stdout).into_owned()
        }
    }

    /// Copies a host file to `dest` (an absolute path inside the container).
    pub fn copy_in(&self, file: &Path, dest: &str) {
        let to = self.root.join(dest.trim_start_matches('/'));
        std::fs::copy(file, &to).unwrap_or_else(|e| panic!("copy to {}: {e}", to.display()));
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let log = self.exec_sync("journalctl --no-pager -o short-monotonic -n 150");
            eprintln!(
                "--- the last journal lines of {}:\n{}",
                self.name,
                String::from_utf8_lossy(&log.stdout)
            );
            if std::env::var("PALIADIN_NSPAWN_KEEP").as_deref() == Ok("1") {
                eprintln!(
                    "--- PALIADIN_NSPAWN_KEEP=1: {} left running; enter it with \
                     `nsenter -t {} -a bash`, stop it with `kill {}`",
                    self.name,
                    self.leader,
                    self.nspawn.id()
                );
                return;
            }
        }
        // SIGTERM asks nspawn for an orderly poweroff of the container.
        let started = Instant::now();
        let _ = Command::new("kill")
            .args(["-TERM", &self.nspawn.id().to_string()])
            .output();
        let deadline = Instant::now() + Duration::from_secs(30);
        while matches!(self.nspawn.try_wait(), Ok(None)) {
            if Instant::now() > deadline {
                let _ = self.nspawn.kill();
                let _ = self.nspawn.wait();
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        eprintln!(
            "{} powered off in {:.1} s",
            self.name,
            started.elapsed().as_secs_f64()
        );
        if self.overlay {
            let _ = Command::new("umount").arg(&self.root).output();
        }
        let _ = std::fs::remove_dir_all(&self.run_dir);
    }
}
