//! The units' sandboxing, checked on the running services: `systemd-analyze security` gives
//! each the exposure level `docs/operations.md` records (or a better one), and what the units
//! claim takes effect in the processes themselves: no new privileges, no capabilities, a
//! seccomp filter, a read-only system, `/home` out of reach, a private `/tmp`, other users'
//! processes invisible, and for the API no writable directory at all.

use paliadin_e2e::nspawn::Container;

/// The highest exposure each unit may have (`systemd-analyze security`, 0 = locked down,
/// 10 = none); docs/operations.md, "Sandboxing", records the measured levels.
const MAX_EXPOSURE: [(&str, f64); 3] = [
    ("paliadin-api.service", 1.3),
    ("paliadin-worker@1.service", 1.5),
    ("paliadin-tmux.service", 3.6),
];

/// Runs `script` as the `paliadin` user, without capabilities, in the mount namespace of
/// `unit`'s main process: what that service sees of the file system.
async fn as_service(c: &Container, unit: &str, script: &str) -> String {
    let out = c
        .sh(&format!(
            "pid=$(systemctl show -p MainPID --value {unit}) && \
             nsenter -t $pid -m -- setpriv --reuid paliadin --regid paliadin --clear-groups \
               --inh-caps=-all --bounding-set=-all sh -c '{script}' 2>&1"
        ))
        .await;
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub async fn check(c: &Container) {
    for (unit, max) in MAX_EXPOSURE {
        let out = c
            .run(&format!(
                "systemd-analyze security --no-pager {unit} 2>&1 | tail -n 1"
            ))
            .await;
        // "→ Overall exposure level for paliadin-api.service: 1.9 OK 🙂"
        let level: f64 = out
            .split(": ")
            .nth(1)
            .and_then(|r| r.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no exposure level: {out}"));
        eprintln!("{}", out.trim());
        assert!(level <= max, "{unit}: exposure {level} above {max}");
    }
    for unit in ["paliadin-api", "paliadin-worker@1", "paliadin-tmux"] {
        let status = c
            .run(&format!(
                "cat /proc/$(systemctl show -p MainPID --value {unit})/status"
            ))
            .await;
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .map(|v| v.trim().to_owned())
                .unwrap_or_default()
        };
        assert_eq!(field("NoNewPrivs:"), "1", "{unit}");
        for caps in ["CapEff:", "CapPrm:", "CapBnd:", "CapAmb:"] {
            assert_eq!(field(caps), "0000000000000000", "{unit} {caps}");
        }
        // A filter for all three: the tmux server's only fixes the architecture.
        assert_eq!(field("Seccomp:"), "2", "{unit}: no seccomp filter");
        let umask = if unit == "paliadin-api" {
            "0077"
        } else {
            "0027"
        };
        assert_eq!(field("Umask:"), umask, "{unit}");
    }
    // The system is read-only to every unit, /home is out of reach; only the state directory
    // is writable to the worker and the tmux server; /tmp is private.
    c.run("mkdir -p /home/someone && echo secret >/home/someone/file")
        .await;
    for unit in ["paliadin-api", "paliadin-worker@1", "paliadin-tmux"] {
        let out = as_service(
            c,
            unit,
            "for d in /usr /etc /var /var/lib; do touch $d/.x || true; done; \
             cat /home/someone/file 2>/dev/null && echo READ-HOME; \
             ls /home 2>/dev/null | grep -q someone && echo LISTED-HOME; \
             test -e /proc/1 && echo SEES-PID1; \
             echo private >/tmp/sandbox-probe",
        )
        .await;
        assert_eq!(
            out.matches("Read-only file system").count(),
            4,
            "{unit}: {out}"
        );
        assert!(!out.contains("-HOME"), "{unit} reaches /home: {out}");
        assert!(
            !out.contains("SEES-PID1"),
            "{unit} sees other users' processes"
        );
    }
    c.run("test ! -e /tmp/sandbox-probe").await;
    let api = as_service(c, "paliadin-api", "touch /var/lib/paliadin/.x; echo").await;
    assert!(
        api.contains("Read-only file system"),
        "the API writes its state: {api}"
    );
    let worker = as_service(
        c,
        "paliadin-worker@1",
        "touch /var/lib/paliadin/spool/.x /var/lib/paliadin/tmux/.x && echo writable",
    )
    .await;
    assert_eq!(
        worker.trim(),
        "writable",
        "the worker's state directory: {worker}"
    );
}
