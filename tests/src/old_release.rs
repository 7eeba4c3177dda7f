//! An older release of Paliadin, built from this repository's history, for the rolling-upgrade
//! test (`tests/tests/ops/upgrade_rolling.rs`): its `paliadin-api` and `paliadin-worker` at
//! [`COMMIT`], and the migrations it shipped.
//!
//! `git archive` puts the old sources in `target/paliadin-old/<commit>/src` (kept between runs),
//! and cargo builds them into the workspace's own target directory: the dependencies are those
//! of `Cargo.lock` at both commits, with the features `cargo build --bins` unified, so all of
//! them are reused and only the old `paliadin-shared`, `paliadin-worker` and `paliadin-api` are
//! compiled (about 15 s on two cores the first time, 1 s after). Two changes are made to the
//! old sources, both in the archived `Cargo.toml`s and both so the two builds cannot overwrite
//! each other's files in the shared directory: the workspace version becomes
//! `<version>-old.<commit>` (cargo names a workspace crate's artifacts by name, version and
//! path relative to the workspace root: unchanged, the old `paliadin-shared` would replace the
//! new one's), and the two binaries are renamed (`paliadin-api-<commit>`, …) so they do not
//! replace `target/debug/paliadin-*`. The old worker thus reports its own version.

use crate::units::workspace;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The old release: the last commit before the newest migration
/// (`20261201000001_schema_compat.sql`, marked compatible) was added. Its binaries know the
/// migrations up to `20261130000001`, so against the latest schema they are "an older binary,
/// a newer schema" for real, and they predate the schema check at start (as the first release
/// did: they refuse only a schema missing one of their own migrations).
pub const COMMIT: &str = "996673baf20db292977e072367589b866c7d1c75";

/// The old release's binaries and migrations.
pub struct OldRelease {
    pub api: PathBuf,
    pub worker: PathBuf,
    /// Its `migrations/` directory, as it shipped them.
    pub migrations: PathBuf,
    /// The version its binaries report (`<version>-old.<commit>`, see the module docs).
    pub version: String,
}

/// Builds (or finds built) the old release. `None`, after saying why, when this checkout lacks
/// the commit (a shallow clone) outside CI; in CI (`CI=true`) that fails the test.
pub fn build() -> Option<OldRelease> {
    let ws = workspace();
    let known = Command::new("git")
        .arg("-C")
        .arg(&ws)
        .args(["cat-file", "-e", &format!("{COMMIT}^{{commit}}")])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !known {
        let why = format!("this checkout's history lacks the old release {COMMIT}");
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{why}: CI must clone with history"
        );
        eprintln!("SKIPPED: {why}");
        return None;
    }
    let target = crate::procs::bin_dir()
        .parent()
        .expect("target directory")
        .to_path_buf();
    let short = &COMMIT[..12];
    let src = target.join("paliadin-old").join(short).join("src");
    if !src.join(".complete").exists() {
        unpack(&ws, &src, short);
    }
    let (api, worker) = (
        format!("paliadin-api-{short}"),
        format!("paliadin-worker-{short}"),
    );
    let started = std::time::Instant::now();
    let mut cargo = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    // Not the variables the test runner set for this test (`CARGO_MANIFEST_DIR`, …): build
    // scripts that watch one (ring watches `CARGO_MANIFEST_DIR`) would be rebuilt here, and
    // then again, with everything above them, by the workspace's next `cargo build`.
    for (k, _) in std::env::vars_os().filter_map(|(k, v)| Some((k.into_string().ok()?, v))) {
        let set_for_tests = [
            "CARGO_MANIFEST_",
            "CARGO_PKG_",
            "CARGO_CRATE_",
            "CARGO_BIN_",
        ]
        .iter()
        .any(|p| k.starts_with(p))
            || [
                "CARGO_PRIMARY_PACKAGE",
                "CARGO_TARGET_TMPDIR",
                "CARGO_RUSTC_CURRENT_DIR",
            ]
            .contains(&k.as_str());
        if set_for_tests {
            cargo.env_remove(k);
        }
    }
    let out = cargo
        .args(["build", "--workspace"])
        .args(["--bin", &api, "--bin", &worker])
        .env("CARGO_TARGET_DIR", &target)
        .current_dir(&src)
        .output()
        .expect("run cargo build");
    assert!(
        out.status.success(),
        "building the old release:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!(
        "old release {short} built in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let bin = target.join("debug");
    let version = std::fs::read_to_string(src.join("Cargo.toml"))
        .expect("old Cargo.toml")
        .lines()
        .find_map(|l| l.strip_prefix("version = \""))
        .expect("the workspace version")
        .trim_end_matches('"')
        .to_owned();
    Some(OldRelease {
        version,
        api: bin.join(api),
        worker: bin.join(worker),
        migrations: src.join("migrations"),
    })
}

/// Extracts [`COMMIT`] into `src` and renames its binaries; `src/.complete` marks it done.
fn unpack(ws: &Path, src: &Path, short: &str) {
    let partial = src.with_extension("partial");
    let _ = std::fs::remove_dir_all(&partial);
    let _ = std::fs::remove_dir_all(src);
    std::fs::create_dir_all(&partial).expect("old source dir");
    let mut archive = Command::new("git")
        .arg("-C")
        .arg(ws)
        .args(["archive", "--format=tar", COMMIT])
        .stdout(Stdio::piped())
        .spawn()
        .expect("run git archive");
    let tar = Command::new("tar")
        .arg("-x")
        .arg("-C")
        .arg(&partial)
        .stdin(archive.stdout.take().expect("git archive stdout"))
        .status()
        .expect("run tar");
    assert!(archive.wait().is_ok_and(|s| s.success()) && tar.success());
    let root = partial.join("Cargo.toml");
    let text = std::fs::read_to_string(&root).expect("old Cargo.toml");
    let version = text
        .lines()
        .find(|l| l.starts_with("version = \""))
        .expect("the workspace version");
    let marked = format!("{}-old.{short}\"", version.trim_end_matches('"'));
    edit(&root, version, &marked);
    for krate in ["api", "worker"] {
        let bin = format!("[[bin]]\nname = \"paliadin-{krate}\"");
        let renamed = format!("[[bin]]\nname = \"paliadin-{krate}-{short}\"");
        edit(&partial.join(krate).join("Cargo.toml"), &bin, &renamed);
    }
    std::fs::write(partial.join(".complete"), COMMIT).expect("mark complete");
    std::fs::rename(&partial, src).expect("old sources in place");
}

/// Replaces the one occurrence of `from` in `file` with `to`.
fn edit(file: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(file).expect("old Cargo.toml");
    assert_eq!(
        text.matches(from).count(),
        1,
        "{}: {from:?}",
        file.display()
    );
    std::fs::write(file, text.replacen(from, to, 1)).expect("edit old Cargo.toml");
}
