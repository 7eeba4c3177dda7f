//! The Debian packages (`cargo deb`, from the debug binaries): `paliadin` and `paliadin-host`
//! hold the binaries, units, skill, hooks, documents and maintainer scripts
//! `docs/operations.md` lists, with the dependencies they need; the packed units and binaries
//! are the workspace's. Skips, saying why, only where cargo-deb is missing outside CI.

use paliadin_e2e::packages::{self, Scratch, extract};
use paliadin_e2e::{procs, units};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Builds `crate_name`'s package into `scratch`, or `None` (after saying why) when it cannot be.
fn build(crate_name: &str, bins: &[&str], scratch: &Scratch) -> Option<PathBuf> {
    if !packages::available() {
        return None;
    }
    for b in bins {
        procs::binary(b);
    }
    Some(packages::build(&units::workspace(), crate_name, &scratch.0))
}

fn assert_entry(entries: &[(String, String)], path: &str, mode: &str) {
    let found = entries.iter().find(|(_, p)| p == path);
    let Some((m, _)) = found else {
        panic!("{path} is not in the package: {entries:#?}");
    };
    assert_eq!(m, mode, "{path}");
}

fn assert_depends(deb: &Path, wanted: &[&str]) {
    let depends = packages::field(deb, "Depends");
    let names: Vec<&str> = depends
        .split(',')
        .map(|d| d.split_whitespace().next().unwrap_or_default())
        .collect();
    for w in wanted {
        assert!(names.contains(w), "Depends lacks {w}: {depends}");
    }
}

/// The maintainer script parses (`sh -n`) and creates the `paliadin` system user.
fn assert_creates_user(deb: &Path, scratch: &Scratch) -> String {
    let postinst = packages::control_file(deb, "postinst");
    assert!(postinst.starts_with("#!/bin/sh\n"), "{postinst}");
    assert!(
        postinst.contains("adduser --system --group --home /var/lib/paliadin"),
        "{postinst}"
    );
    assert!(postinst.contains("getent passwd paliadin"), "{postinst}");
    let file = scratch.0.join("postinst.check");
    std::fs::write(&file, &postinst).unwrap();
    let ok = Command::new("sh").arg("-n").arg(&file).status().unwrap();
    assert!(ok.success(), "postinst does not parse");
    postinst
}

#[test]
fn paliadin_package_holds_the_service_side() {
    let scratch = Scratch::new("deb-main");
    let bins = ["paliadin-api", "paliadin-worker"];
    procs::binary("paliadin-hook");
    let Some(deb) = build("paliadin-api", &bins, &scratch) else {
        return;
    };
    assert_eq!(packages::field(&deb, "Package"), "paliadin");
    assert_depends(&deb, &["adduser", "tmux", "openssh-client", "python3"]);
    let entries = packages::contents(&deb);
    for b in bins {
        assert_entry(&entries, &format!("/usr/bin/{b}"), "-rwxr-xr-x");
    }
    for u in [
        "paliadin-api.service",
        "paliadin-worker@.service",
        "paliadin-tmux.service",
    ] {
        assert_entry(&entries, &format!("/lib/systemd/system/{u}"), "-rw-r--r--");
    }
    assert_entry(
        &entries,
        "/usr/share/paliadin/paliadin.env.example",
        "-rw-r--r--",
    );
    // The worker's drop-in for `accounts://` hosts (docs/security.md), shipped, not enabled.
    assert_entry(
        &entries,
        "/usr/share/paliadin/systemd/accounts.conf",
        "-rw-r--r--",
    );
    assert_entry(
        &entries,
        "/usr/share/paliadin/skill/install.sh",
        "-rwxr-xr-x",
    );
    assert_entry(
        &entries,
        "/usr/share/paliadin/skill/paliadin/SKILL.md",
        "-rw-r--r--",
    );
    // The compiled Claude Code hooks, in a directory of the package's own (paliadin-host ships
    // its copy in /usr/lib/paliadin-host: both packages install side by side).
    assert_entry(&entries, "/usr/lib/paliadin/paliadin-hook", "-rwxr-xr-x");
    assert!(!entries.iter().any(|(_, p)| p.contains("/skill/hooks/")));
    for doc in ["operations.md", "configuration.md", "hosts.md", "README.md"] {
        assert_entry(
            &entries,
            &format!("/usr/share/doc/paliadin/{doc}"),
            "-rw-r--r--",
        );
    }
    let postinst = assert_creates_user(&deb, &scratch);
    // The environment file is the admin's: created from the example only when absent.
    assert!(
        postinst.contains("if [ ! -e /etc/paliadin/paliadin.env ]"),
        "{postinst}"
    );
    assert!(postinst.contains("-m 0640 /usr/share/paliadin/paliadin.env.example"));
    for script in ["prerm", "postrm"] {
        packages::control_file(&deb, script);
    }

    let root = scratch.0.join("root");
    extract(&deb, &root);
    run_version(&root, &bins);
    run_hook_version(&root, "usr/lib/paliadin/paliadin-hook");
    // The packed units are the ones in deploy/systemd (which ops::systemd verifies).
    let ws = units::workspace();
    for u in units::unit_files(&ws.join("deploy/systemd")) {
        let name = u.file_name().unwrap();
        let packed = std::fs::read(root.join("lib/systemd/system").join(name)).unwrap();
        assert_eq!(packed, std::fs::read(&u).unwrap(), "{name:?} differs");
    }
}

#[test]
fn paliadin_host_package_holds_the_host_side() {
    let scratch = Scratch::new("deb-host");
    let bins = ["paliadin-shim", "paliadin-demo-agent"];
    procs::binary("paliadin-hook");
    let Some(deb) = build("paliadin-worker", &bins, &scratch) else {
        return;
    };
    assert_eq!(packages::field(&deb, "Package"), "paliadin-host");
    assert_depends(&deb, &["adduser", "tmux", "openssh-server", "python3"]);
    let entries = packages::contents(&deb);
    for b in bins {
        assert_entry(&entries, &format!("/usr/bin/{b}"), "-rwxr-xr-x");
    }
    assert_entry(
        &entries,
        "/usr/share/paliadin-host/install-host.sh",
        "-rwxr-xr-x",
    );
    assert_entry(
        &entries,
        "/usr/share/paliadin-host/skill/install.sh",
        "-rwxr-xr-x",
    );
    assert_entry(
        &entries,
        "/usr/lib/paliadin-host/paliadin-hook",
        "-rwxr-xr-x",
    );
    assert!(!entries.iter().any(|(_, p)| p.contains("/skill/hooks/")));
    assert_entry(
        &entries,
        "/usr/share/paliadin-host/ssh/authorized_keys.example",
        "-rw-r--r--",
    );
    // Per-owner agent accounts (docs/security.md): the provisioning script and sudoers example.
    assert_entry(
        &entries,
        "/usr/share/paliadin-host/add-owner-account.sh",
        "-rwxr-xr-x",
    );
    assert_entry(
        &entries,
        "/usr/share/paliadin-host/sudoers/paliadin-agents.example",
        "-rw-r--r--",
    );
    // The API and worker are the other package's.
    assert!(!entries.iter().any(|(_, p)| p == "/usr/bin/paliadin-worker"));
    assert_creates_user(&deb, &scratch);

    let root = scratch.0.join("root");
    extract(&deb, &root);
    run_version(&root, &bins);
    run_hook_version(&root, "usr/lib/paliadin-host/paliadin-hook");
}

/// The packed hook program runs and reports the workspace's version.
fn run_hook_version(root: &Path, rel: &str) {
    let out = Command::new(root.join(rel))
        .arg("--version")
        .output()
        .unwrap_or_else(|e| panic!("{rel}: {e}"));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text == format!("paliadin-hook {}\n", env!("CARGO_PKG_VERSION")),
        "{rel} --version: {text}"
    );
}

/// The packed binaries run and report the workspace's version.
fn run_version(root: &Path, bins: &[&str]) {
    for b in bins {
        let out = Command::new(root.join("usr/bin").join(b))
            .arg("--version")
            .output()
            .unwrap_or_else(|e| panic!("{b}: {e}"));
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && text.contains(env!("CARGO_PKG_VERSION")),
            "{b} --version: {text}"
        );
    }
}
