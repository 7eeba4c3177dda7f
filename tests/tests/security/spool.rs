//! Pins that no one trusts a spool directory another local user could control
//! (docs/security.md): the worker, the demo agent and the Claude Code hooks each refuse a spool
//! that is writable by group or others, or is a symlink, with a clear error, and write nothing
//! into it.

use paliadin_e2e::procs::{TmuxRig, binary};
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};
use std::time::Duration;

fn open_dir(path: &std::path::Path) {
    std::fs::create_dir_all(path).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o777)).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_worker_refuses_a_spool_others_can_write() {
    let rig = TmuxRig::new();
    open_dir(&rig.spool);
    let mut cmd = tokio::process::Command::new(binary("paliadin-worker"));
    cmd.stderr(Stdio::piped()).kill_on_drop(true);
    let db = paliadin_e2e::db::TestDb::new().await;
    let child = rig.worker_via(cmd, &db.url, "w-open-spool", &[]);
    let out = tokio::time::timeout(Duration::from_secs(30), child.wait_with_output())
        .await
        .expect("the worker started on a spool others can write")
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("refusing the spool directory") && err.contains("writable by group or others"),
        "{err}"
    );
}

#[test]
fn the_demo_agent_refuses_a_symlinked_spool() {
    let rig = TmuxRig::new();
    let real = rig.spool.with_file_name("real");
    std::fs::create_dir_all(&real).unwrap();
    std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o700)).unwrap();
    std::os::unix::fs::symlink(&real, &rig.spool).unwrap();
    let out = Command::new(binary("paliadin-demo-agent"))
        .env("PALIADIN_SPOOL_DIR", &rig.spool)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains("symbolic link"), "{err}");
}

#[test]
fn the_hooks_refuse_a_spool_others_can_write() {
    let rig = TmuxRig::new();
    open_dir(&rig.spool);
    let hook = binary("paliadin-hook");
    let turn = uuid::Uuid::new_v4();
    let event = serde_json::json!({
        "prompt": format!("[PALIADIN:{turn}] hello"),
        "session_id": "s1",
    });
    let mut child = Command::new(hook)
        .arg("user-prompt-submit")
        .env("PALIADIN_SPOOL_DIR", &rig.spool)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(event.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("refusing the spool directory"), "{err}");
    let written: Vec<_> = std::fs::read_dir(&rig.spool).unwrap().collect();
    assert!(written.is_empty(), "the hook wrote into it: {written:?}");
}
