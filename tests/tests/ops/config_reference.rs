//! `docs/configuration.md` matches the binaries' clap definitions: regenerated here and
//! compared with the committed file, so the reference cannot drift from the code.

use paliadin_e2e::config_doc;
use std::path::Path;

#[test]
fn configuration_reference_matches_the_code() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(config_doc::PATH);
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    let generated = config_doc::render_all();
    if committed != generated {
        let first = committed
            .lines()
            .zip(generated.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(committed.lines().count().min(generated.lines().count()));
        panic!(
            "{} is out of date (first difference at line {}); regenerate it with\n  \
             cargo run -p paliadin-e2e --bin paliadin-config-reference -- --write",
            path.display(),
            first + 1
        );
    }
}

#[test]
fn every_setting_has_an_explanation_and_every_env_is_listed() {
    let text = config_doc::render_all();
    for line in text.lines().filter(|l| l.starts_with("| `")) {
        let meaning = line.trim_end_matches(" |").rsplit(" | ").next().unwrap();
        assert!(!meaning.trim().is_empty(), "no meaning: {line}");
    }
    for env in [
        "DATABASE_URL",
        "PALIADIN_BIND",
        "PALIADIN_DB_POOL",
        "PALIADIN_CONCURRENCY",
        "PALIADIN_SHUTDOWN_GRACE_SECS",
        "PALIADIN_HOSTS",
        "PALIADIN_TMUX_BIN",
        "RUST_LOG",
    ] {
        assert!(text.contains(&format!("`{env}`")), "{env} missing");
    }
}
