//! Installs the pinned graphile-worker (`tests/bench-graphile/`: `package.json`, its lock and
//! the runner script, built into the bench) into `target/bench-graphile/` with `npm ci`, once
//! per lock: a stamp (the lock that was installed) makes later runs skip the install.

use anyhow::{Context, bail, ensure};
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::process::Command;

const PACKAGE: &str = include_str!("../../../bench-graphile/package.json");
const LOCK: &str = include_str!("../../../bench-graphile/package-lock.json");
const RUNNER: &str = include_str!("../../../bench-graphile/runner.mjs");

/// How long `npm ci` may take (a cold install is ≈ 5 s: 68 packages, 13 MB).
const INSTALL_TIMEOUT: Duration = Duration::from_secs(180);

/// The pinned graphile-worker version (from `package.json`).
pub fn version() -> String {
    serde_json::from_str::<serde_json::Value>(PACKAGE)
        .ok()
        .and_then(|v| {
            v["dependencies"]["graphile-worker"]
                .as_str()
                .map(str::to_owned)
        })
        .unwrap_or_default()
}

/// `target/bench-graphile/`, beside the profile directory the bench runs from.
pub fn cache_dir() -> PathBuf {
    let bin = crate::procs::bin_dir();
    bin.parent().unwrap_or(&bin).join("bench-graphile")
}

/// Node's version, then the installed directory (the runner script is `runner.mjs` in it).
/// Errors say why the comparison cannot run: no Node.js or npm, or the install failed.
pub async fn install() -> anyhow::Result<(String, PathBuf)> {
    let node = tool_version("node").await?;
    tool_version("npm").await?;
    let dir = cache_dir();
    std::fs::create_dir_all(&dir).with_context(|| format!("create {}", dir.display()))?;
    std::fs::write(dir.join("runner.mjs"), RUNNER)?;
    let stamp = dir.join("installed.lock");
    if std::fs::read_to_string(&stamp).is_ok_and(|s| s == LOCK) {
        return Ok((node, dir));
    }
    std::fs::write(dir.join("package.json"), PACKAGE)?;
    std::fs::write(dir.join("package-lock.json"), LOCK)?;
    let _ = std::fs::remove_file(&stamp);
    npm_ci(&dir).await?;
    std::fs::write(&stamp, LOCK)?;
    Ok((node, dir))
}

async fn npm_ci(dir: &Path) -> anyhow::Result<()> {
    let run = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
        .current_dir(dir)
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(INSTALL_TIMEOUT, run)
        .await
        .with_context(|| format!("`npm ci` took over {} s", INSTALL_TIMEOUT.as_secs()))?
        .context("run `npm ci`")?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let head: Vec<&str> = err
            .lines()
            .map(|l| l.trim_start_matches("npm error").trim())
            .filter(|l| !l.is_empty())
            .take(4)
            .collect();
        bail!("`npm ci` in {} failed: {}", dir.display(), head.join(" / "));
    }
    Ok(())
}

async fn tool_version(tool: &str) -> anyhow::Result<String> {
    let out = Command::new(tool)
        .arg("--version")
        .output()
        .await
        .with_context(|| format!("`{tool}` not found (Node.js and npm are needed)"))?;
    ensure!(out.status.success(), "`{tool} --version` failed");
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}
