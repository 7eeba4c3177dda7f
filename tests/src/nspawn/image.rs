//! The Debian image the containers of [`super`] boot: made once with `debootstrap` and a setup
//! script run in a non-booted `systemd-nspawn`, cached under `.dev/nspawn/<release>-<hash of the
//! setup>/root` behind a file lock (parallel tests wait for one build), and marked complete only
//! once everything in it succeeded.

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::Instant;

/// The Debian mirror: the host's own (its apt sources) when it has one, else Debian's.
fn mirror() -> String {
    let sources = [
        "/etc/apt/sources.list.d/debian.sources",
        "/etc/apt/sources.list",
    ]
    .map(|f| std::fs::read_to_string(f).unwrap_or_default())
    .join("\n");
    sources
        .split_whitespace()
        .find(|w| w.starts_with("http") && w.trim_end_matches('/').ends_with("/debian"))
        .unwrap_or("http://deb.debian.org/debian")
        .to_owned()
}

pub const SUITE: &str = "bookworm";
/// Run inside the fresh debootstrap tree (in a non-booted nspawn) to finish the image. No
/// service starts (policy-rc.d), and PostgreSQL gets no cluster: each test creates one on a
/// free port, since the container shares the host's network.
const SETUP: &str = r#"set -eu
export DEBIAN_FRONTEND=noninteractive
printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
chmod 755 /usr/sbin/policy-rc.d
mkdir -p /etc/postgresql-common/createcluster.d
echo 'create_main_cluster = false' >/etc/postgresql-common/createcluster.d/paliadin-tests.conf
apt-get update -qq
apt-get install -y -qq --no-install-recommends postgresql procps >/dev/null
apt-get clean
apt-get install -y -qq --no-install-recommends --download-only \
    adduser tmux openssh-client openssh-server python3 >/dev/null
rm /usr/sbin/policy-rc.d
# debootstrap copied the host's name: the container takes its machine name instead.
rm -f /etc/hostname
"#;

/// Runs a host command, returning its output; the error names the command.
pub fn host(cmd: &mut Command) -> Result<Output, String> {
    let out = cmd.output().map_err(|e| format!("{cmd:?}: {e}"))?;
    if out.status.success() {
        Ok(out)
    } else {
        Err(format!(
            "{cmd:?}: {}\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

pub fn dev_dir() -> PathBuf {
    crate::units::workspace().join(".dev/nspawn")
}

/// The cached image (built on first use), or why it could not be built.
pub fn image() -> Result<PathBuf, String> {
    let hash = SETUP.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    let key = format!("{SUITE}-{:08x}", hash as u32);
    let dir = dev_dir();
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let lock = std::fs::File::create(dir.join(format!("{key}.lock"))).map_err(|e| e.to_string())?;
    lock.lock().map_err(|e| e.to_string())?;
    let root = dir.join(&key).join("root");
    if root.join(".paliadin-image-ready").exists() {
        return Ok(root);
    }
    let tmp = dir.join(format!("{key}.tmp"));
    let _ = std::fs::remove_dir_all(&tmp);
    let started = Instant::now();
    eprintln!("building the {SUITE} image in {} (once)", root.display());
    host(Command::new("debootstrap").args([
        "--variant=minbase",
        "--include=systemd,systemd-sysv,dbus",
        SUITE,
        tmp.to_str().unwrap(),
        &mirror(),
    ]))?;
    let debootstrap = started.elapsed();
    host(
        Command::new("systemd-nspawn")
            .args(["--register=no", "--keep-unit", "-q", "--pipe", "-D"])
            .arg(&tmp)
            .args(["/bin/sh", "-c", SETUP])
            .stdin(Stdio::null()),
    )?;
    std::fs::write(tmp.join(".paliadin-image-ready"), &key).map_err(|e| e.to_string())?;
    let _ = std::fs::remove_dir_all(dir.join(&key));
    std::fs::create_dir_all(dir.join(&key)).map_err(|e| e.to_string())?;
    std::fs::rename(&tmp, &root).map_err(|e| e.to_string())?;
    eprintln!(
        "image built: debootstrap {:.0} s, PostgreSQL and the cache {:.0} s",
        debootstrap.as_secs_f64(),
        (started.elapsed() - debootstrap).as_secs_f64()
    );
    Ok(root)
}
