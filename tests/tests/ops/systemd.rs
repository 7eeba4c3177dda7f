//! The systemd units of `deploy/systemd/` pass `systemd-analyze verify` without a single
//! warning, with their commands pointing at the built binaries, and keep the properties
//! `docs/operations.md` promises (sandboxing, environment file, stop timeout above the
//! worker's shutdown grace).

use paliadin_e2e::{procs, units};

#[test]
fn units_verify_without_warnings() {
    let root = units::workspace();
    let files = units::unit_files(&root.join("deploy/systemd"));
    assert_eq!(files.len(), 3, "{files:?}");
    for b in ["paliadin-api", "paliadin-worker"] {
        procs::binary(b);
    }
    let scratch = std::env::temp_dir().join(format!("paliadin-units-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).unwrap();
    let Some(out) = units::verify(&files, &procs::bin_dir(), &scratch) else {
        let _ = std::fs::remove_dir_all(&scratch);
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "systemd-analyze is missing (deploy/ensure-deps.sh installs systemd)"
        );
        eprintln!("SKIPPED: systemd-analyze is not installed (apt-get install systemd)");
        return;
    };
    let _ = std::fs::remove_dir_all(&scratch);
    assert!(out.trim().is_empty(), "systemd-analyze verify:\n{out}");
}

#[test]
fn units_keep_their_promises() {
    let dir = units::workspace().join("deploy/systemd");
    let read = |n: &str| std::fs::read_to_string(dir.join(n)).unwrap();
    let (api, worker, tmux) = (
        read("paliadin-api.service"),
        read("paliadin-worker@.service"),
        read("paliadin-tmux.service"),
    );
    for (name, unit) in [("api", &api), ("worker", &worker), ("tmux", &tmux)] {
        for line in [
            "User=paliadin",
            "NoNewPrivileges=yes",
            "ProtectSystem=strict",
            "ProtectHome=yes",
            "PrivateTmp=yes",
            "Restart=on-failure",
        ] {
            assert!(unit.lines().any(|l| l == line), "{name}: no {line}");
        }
    }
    for unit in [&api, &worker] {
        assert!(unit.contains("\nEnvironmentFile=/etc/paliadin/paliadin.env\n"));
    }
    // Agents must never inherit the database password.
    assert!(!tmux.lines().any(|l| l.starts_with("EnvironmentFile=")));
    // The worker's id comes from the instance, and it may use its whole shutdown grace.
    assert!(worker.contains("ExecStart=/usr/bin/paliadin-worker --worker-id %H-%i\n"));
    let stop: u64 = worker
        .lines()
        .find_map(|l| l.strip_prefix("TimeoutStopSec="))
        .and_then(|v| v.trim_end_matches('s').parse().ok())
        .expect("TimeoutStopSec in seconds");
    let grace = paliadin_worker::config::RuntimeConfig::default().shutdown_grace_secs;
    assert!(stop > grace + 10, "TimeoutStopSec={stop} vs grace {grace}");
    // Workers and the tmux server share the socket directory and spool.
    for unit in [&worker, &tmux] {
        assert!(unit.contains("/var/lib/paliadin/tmux/tmux.sock"));
        assert!(
            unit.contains("StateDirectory=paliadin paliadin/tmux paliadin/spool paliadin/work")
        );
    }
    assert!(worker.contains("PALIADIN_TMUX_SOCKET=/var/lib/paliadin/tmux/tmux.sock "));
    assert!(tmux.contains("/usr/bin/tmux -S /var/lib/paliadin/tmux/tmux.sock -f /dev/null "));
    assert!(tmux.contains("remain-on-exit on"));
}
