//! Pins the deploy scripts' defences (docs/security.md), running the real scripts: `pg.sh`
//! refuses a `/tmp/paliadin-pg-…` data directory someone else made, and its private cluster
//! asks for a generated password (no local user gets in without it); `install-host.sh` refuses
//! a key file with more than one line before it touches anything.

use paliadin_e2e::claude::repo_root;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A scratch "repository" holding a copy of `deploy/pg.sh` (its data dirs follow its path).
fn scratch_repo() -> PathBuf {
    let repo = std::env::temp_dir().join(format!(
        "paliadin-pgrepo-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    ));
    std::fs::create_dir_all(repo.join("deploy")).unwrap();
    std::fs::copy(repo_root().join("deploy/pg.sh"), repo.join("deploy/pg.sh")).unwrap();
    repo
}

fn pg_sh(repo: &Path, args: &[&str], env: &[(&str, &str)]) -> (bool, String, String) {
    let out = Command::new("bash")
        .arg(repo.join("deploy/pg.sh"))
        .args(args)
        .envs(env.iter().copied())
        .env_remove("DATABASE_URL")
        .env_remove("PALIADIN_TEST_ADMIN_URL")
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The first 12 hex digits of the SHA-256 of `s`, as pg.sh computes them.
fn hash12(s: &str) -> String {
    let out = Command::new("sh")
        .args(["-c", "printf '%s' \"$1\" | sha256sum | cut -c1-12", "sh", s])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[test]
fn pg_sh_refuses_a_tmp_data_dir_someone_else_made() {
    let repo = scratch_repo();
    let fallback = PathBuf::from(format!(
        "/tmp/paliadin-pg-{}-test",
        hash12(&repo.display().to_string())
    ));
    // Another user got there first: an open directory that looks like a cluster.
    std::fs::create_dir_all(&fallback).unwrap();
    std::fs::write(fallback.join("PG_VERSION"), "15\n").unwrap();
    std::fs::set_permissions(&fallback, std::fs::Permissions::from_mode(0o777)).unwrap();
    let (_, out, err) = pg_sh(&repo, &["status", "test"], &[]);
    let _ = std::fs::remove_dir_all(&fallback);
    let _ = std::fs::remove_dir_all(&repo);
    assert!(
        !out.contains(&fallback.display().to_string()),
        "reused: {out}"
    );
    assert!(err.contains("refusing"), "{err}");
}

#[test]
fn pg_sh_clusters_need_their_generated_password() {
    let repo = scratch_repo();
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port().to_string()
    };
    let env = [("PALIADIN_PG_PORT", port.as_str())];
    let (ok, url, err) = pg_sh(&repo, &["start", "dev"], &env);
    let url = url.trim().to_owned();
    let psql = |u: &str| {
        Command::new("psql")
            .args(["-X", "-w", "-Atc", "SELECT 1", u])
            .env_remove("PGPASSWORD")
            .output()
            .unwrap()
            .status
            .success()
    };
    let with_password = ok && psql(&url);
    let without = psql(&format!("postgres://postgres@127.0.0.1:{port}/paliadin"));
    pg_sh(&repo, &["stop", "dev"], &env);
    let _ = std::fs::remove_dir_all(&repo);
    assert!(ok, "{err}");
    assert!(with_password, "the printed URL does not connect: {url}");
    assert!(!without, "a local user connects without the password");
}

#[test]
fn install_host_refuses_a_two_line_key_file() {
    let dir = std::env::temp_dir().join(format!("paliadin-keys-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let key = dir.join("worker.pub");
    std::fs::write(
        &key,
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeKeyForTheTestOnly worker\n\
         ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAISecondLineWouldBeUnrestricted attacker\n",
    )
    .unwrap();
    let prefix = dir.join("prefix");
    let out = Command::new("sh")
        .arg(repo_root().join("deploy/install-host.sh"))
        .arg("--worker-key")
        .arg(&key)
        .arg("--prefix")
        .arg(&prefix)
        .args(["--user", "nobody", "--no-skill"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    let installed = prefix.exists();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(!out.status.success());
    assert!(err.contains("exactly one"), "{err}");
    assert!(!installed, "it installed before refusing");
}

#[test]
fn no_documented_command_puts_a_token_on_a_command_line() {
    for file in [
        "README.md",
        "deploy/dev.sh",
        "docs/operations.md",
        "docs/web.md",
    ] {
        let text = std::fs::read_to_string(repo_root().join(file)).unwrap();
        for (n, line) in text.lines().enumerate() {
            assert!(
                !(line.contains("curl") && line.contains("Bearer")),
                "{file}:{}: a token in curl's argv shows in `ps`: {line}",
                n + 1
            );
        }
    }
}
