//! Building and reading the Debian packages of `deploy/`: `cargo deb --no-build --profile dev
//! --fast` packs the debug binaries `cargo build --bins` made (no release build in the test run;
//! gzip instead of xz: 4 s instead of 30 s for `paliadin`, same contents), and `dpkg-deb` lists
//! and extracts what was packed.

use std::path::{Path, PathBuf};
use std::process::Command;

/// `cargo`, as the test runner was started with it (`$CARGO`), else the one on PATH.
fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

/// Why packages cannot be built here (`cargo deb` or `dpkg-deb` missing), or `None`.
pub fn missing_tool() -> Option<String> {
    let deb = Command::new(cargo()).args(["deb", "--version"]).output();
    if !deb.is_ok_and(|o| o.status.success()) {
        return Some("cargo-deb is not installed (cargo install cargo-deb --locked)".into());
    }
    if Command::new("dpkg-deb").arg("--version").output().is_err() {
        return Some("dpkg-deb is not installed (apt-get install dpkg)".into());
    }
    None
}

/// Whether packages can be built here. Outside CI a missing tool skips the test, saying why;
/// in CI (`CI=true`) it fails the test: `.ci/run` installs cargo-deb.
pub fn available() -> bool {
    let Some(why) = missing_tool() else {
        return true;
    };
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{why}: CI must install it (.ci/run)"
    );
    eprintln!("SKIPPED: {why}");
    false
}

/// Builds the package whose metadata lives in crate `crate_name` into `out_dir` from the
/// already built debug binaries; returns the `.deb` path.
pub fn build(workspace: &Path, crate_name: &str, out_dir: &Path) -> PathBuf {
    let out = Command::new(cargo())
        .args([
            "deb",
            "-p",
            crate_name,
            "--no-build",
            "--profile",
            "dev",
            "--fast",
            "-o",
        ])
        .arg(out_dir)
        .current_dir(workspace)
        .output()
        .expect("run cargo deb");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "cargo deb -p {crate_name}:\n{stderr}");
    // cargo deb prints the path of what it wrote as its last stdout line.
    let stdout = String::from_utf8_lossy(&out.stdout);
    let path = PathBuf::from(stdout.lines().last().unwrap_or_default().trim());
    assert!(
        path.is_file(),
        "no .deb from cargo deb:\n{stdout}\n{stderr}"
    );
    path
}

/// `dpkg-deb` with `args` then `deb`: its stdout.
pub fn dpkg_deb(args: &[&str], deb: &Path) -> String {
    let out = Command::new("dpkg-deb")
        .args(args)
        .arg(deb)
        .output()
        .expect("run dpkg-deb");
    assert!(
        out.status.success(),
        "dpkg-deb {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The entries of `deb` as (mode string, path without the leading `.`), from `dpkg-deb -c`.
pub fn contents(deb: &Path) -> Vec<(String, String)> {
    dpkg_deb(&["-c"], deb)
        .lines()
        .filter_map(|l| {
            let mut cols = l.split_whitespace();
            let mode = cols.next()?.to_owned();
            let path = cols.nth(4)?.trim_start_matches('.').to_owned();
            Some((mode, path))
        })
        .collect()
}

/// The value of control field `name` (`dpkg-deb -f`).
pub fn field(deb: &Path, name: &str) -> String {
    let out = Command::new("dpkg-deb")
        .arg("-f")
        .arg(deb)
        .arg(name)
        .output()
        .expect("run dpkg-deb -f");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// The maintainer script `name` of `deb` (`dpkg-deb -I deb name`).
pub fn control_file(deb: &Path, name: &str) -> String {
    let out = Command::new("dpkg-deb")
        .arg("-I")
        .arg(deb)
        .arg(name)
        .output()
        .expect("run dpkg-deb -I");
    assert!(out.status.success(), "{} has no {name}", deb.display());
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Unpacks `deb` under `root`, as installing it would lay out its files (`dpkg-deb -x`).
pub fn extract(deb: &Path, root: &Path) {
    let ok = Command::new("dpkg-deb")
        .arg("-x")
        .arg(deb)
        .arg(root)
        .status()
        .expect("run dpkg-deb -x");
    assert!(ok.success(), "dpkg-deb -x {}", deb.display());
}

/// A scratch directory removed when the test ends.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(tag: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("paliadin-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("scratch dir");
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
