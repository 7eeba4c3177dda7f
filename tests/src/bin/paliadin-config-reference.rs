//! Prints `docs/configuration.md` as generated from the binaries' clap definitions; with
//! `--write`, writes it into the workspace (run from anywhere):
//! `cargo run -p paliadin-e2e --bin paliadin-config-reference -- --write`.

use paliadin_e2e::config_doc;
use std::path::Path;

fn main() -> std::io::Result<()> {
    let text = config_doc::render_all();
    if std::env::args().nth(1).as_deref() == Some("--write") {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join(config_doc::PATH);
        std::fs::write(&path, text)?;
        eprintln!("wrote {}", path.display());
    } else {
        print!("{text}");
    }
    Ok(())
}
