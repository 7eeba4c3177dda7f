//! Checking the systemd units of `deploy/`: `systemd-analyze verify` on a
//! copy of the units whose `/usr/bin/…` commands point at real binaries (it refuses commands
//! that do not exist). The packages are [`crate::packages`]'s.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The workspace root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .canonicalize()
        .expect("workspace root")
}

/// The unit files shipped (`deploy/systemd/*.service`), sorted.
pub fn unit_files(dir: &Path) -> Vec<PathBuf> {
    let mut units: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "service"))
        .collect();
    units.sort();
    units
}

/// Runs `systemd-analyze verify` on copies of `units` (in `scratch`) whose `/usr/bin/paliadin-*`
/// commands are rewritten to `bin_dir` and `/usr/bin/tmux` to the tmux on PATH. Template units
/// are verified through an instance (`@1`). Returns verify's combined output: empty means no
/// warning. `None` when systemd-analyze is not installed.
pub fn verify(units: &[PathBuf], bin_dir: &Path, scratch: &Path) -> Option<String> {
    Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .ok()?;
    let tmux = which("tmux").expect("tmux on PATH");
    let mut names = Vec::new();
    for unit in units {
        let text = std::fs::read_to_string(unit).expect("unit file");
        let text = text
            .replace(
                "/usr/bin/paliadin-",
                &format!("{}/paliadin-", bin_dir.display()),
            )
            .replace("/usr/bin/tmux", &tmux.display().to_string());
        let name = unit
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        std::fs::write(scratch.join(&name), text).expect("write unit copy");
        names.push(match name.strip_suffix("@.service") {
            Some(stem) => format!("{stem}@1.service"),
            None => name,
        });
    }
    let out = Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .args(names.iter().map(|n| format!("./{n}")))
        .current_dir(scratch)
        .env("SYSTEMD_LOG_COLOR", "0")
        .output()
        .expect("run systemd-analyze");
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    if !out.status.success() && text.trim().is_empty() {
        text = format!("systemd-analyze verify exited {}", out.status);
    }
    Some(text)
}

/// The first `name` on PATH.
pub fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    })
}
