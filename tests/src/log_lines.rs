//! A child process's log, line by line: a task reads its stderr, keeps every line and echoes it
//! (prefixed) to the test's stderr, so a test can look for what the process said — e.g. that
//! a worker let go of a turn — and wait for it instead of sleeping.

use std::sync::{Arc, Mutex};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::ChildStderr;

#[derive(Clone, Default)]
pub struct LogLines {
    lines: Arc<Mutex<Vec<String>>>,
}

impl LogLines {
    /// Starts reading `stderr` (of a child spawned with `Stdio::piped()`).
    pub fn follow(stderr: ChildStderr, prefix: &str) -> LogLines {
        let log = LogLines::default();
        let (lines, prefix) = (log.lines.clone(), prefix.to_owned());
        tokio::spawn(async move {
            let mut reader = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = reader.next_line().await {
                eprintln!("{prefix}: {line}");
                lines.lock().expect("log lines").push(line);
            }
        });
        log
    }

    /// Every line so far.
    pub fn lines(&self) -> Vec<String> {
        self.lines.lock().expect("log lines").clone()
    }
}
