//! Where the CPU goes: per phase, CPU time of each part of the system (from `/proc`) divided by
//! the turns it ran. The API, each worker with its children (the `tmux` clients: the exited
//! per-command processes and the live control-mode client), the tmux server, the agents in it,
//! this database's PostgreSQL backends, and the bench itself.

use std::collections::HashMap;

/// CPU seconds of a process: `(own, exited children)`.
fn times(pid: u32) -> Option<(f64, f64)> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let f: Vec<&str> = s[s.rfind(')')? + 2..].split_whitespace().collect();
    let t = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0) / 100.0;
    Some((t(11) + t(12), t(13) + t(14)))
}

fn children(ppid: u32) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .and_then(|s| {
                    s[s.rfind(')')? + 2..]
                        .split_whitespace()
                        .nth(1)?
                        .parse()
                        .ok()
                })
                == Some(ppid)
        })
        .collect()
}

/// The processes to account, found at snapshot time.
pub struct Pids {
    pub api: u32,
    pub workers: Vec<u32>,
    pub tmux_server: Option<u32>,
    pub backends: Vec<u32>,
}

/// CPU seconds by part.
#[derive(Clone, Default)]
pub struct Snapshot(HashMap<&'static str, f64>);

pub fn snapshot(p: &Pids) -> Snapshot {
    let mut m = HashMap::new();
    let mut add = |k: &'static str, v: f64| *m.entry(k).or_insert(0.0) += v;
    if let Some((own, _)) = times(p.api) {
        add("api", own);
    }
    for &w in &p.workers {
        if let Some((own, kids)) = times(w) {
            add("workers", own);
            // A live child is the control-mode client (or a command process still running).
            let live: f64 = children(w)
                .into_iter()
                .filter_map(times)
                .map(|(o, k)| o + k)
                .sum();
            add("tmux clients (children of workers)", kids + live);
        }
    }
    if let Some(t) = p.tmux_server {
        add("tmux server", times(t).map_or(0.0, |x| x.0));
        for a in children(t) {
            let agent: f64 = std::iter::once(a)
                .chain(children(a))
                .filter_map(times)
                .map(|(o, k)| o + k)
                .sum();
            add("agents (in tmux)", agent);
        }
    }
    for &b in &p.backends {
        add("postgres backends (this db)", times(b).map_or(0.0, |x| x.0));
    }
    add(
        "bench client",
        times(std::process::id()).map_or(0.0, |x| x.0),
    );
    Snapshot(m)
}

/// Prints CPU milliseconds per turn by part between two snapshots.
pub fn report(before: &Snapshot, after: &Snapshot, turns: usize) {
    if turns == 0 {
        return;
    }
    let mut parts: Vec<(&str, f64)> = after
        .0
        .iter()
        .map(|(k, v)| (*k, v - before.0.get(k).copied().unwrap_or(0.0)))
        .collect();
    parts.sort_by(|a, b| b.1.total_cmp(&a.1));
    let total: f64 = parts.iter().map(|p| p.1).sum();
    let line: Vec<String> = parts
        .iter()
        .map(|(k, v)| format!("{k} {:.1}", v * 1000.0 / turns as f64))
        .collect();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    println!(
        "CPU ms per turn: {} | total {:.1} → at most {:.0} turns/s on {cores} cores",
        line.join(", "),
        total * 1000.0 / turns as f64,
        cores * turns as f64 / total.max(1e-9)
    );
}
