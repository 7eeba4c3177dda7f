//! One tracing initialiser for every binary: `RUST_LOG` filter (default `info`), human format by
//! default, JSON lines when `PALIADIN_LOG_JSON=1`. Logs go to stderr so stdout stays for output
//! that scripts read (e.g. the token printed by `user add`).

use tracing_subscriber::{EnvFilter, fmt};

pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let json = std::env::var("PALIADIN_LOG_JSON").is_ok_and(|v| v == "1" || v == "true");
    let builder = fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}
