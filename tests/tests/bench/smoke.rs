//! Pins that `paliadin-bench` runs end to end with tiny counts (the CI smoke): it starts a real
//! system, measures the floor, runs an open-loop, a closed-loop and a fan-out phase, and prints
//! every table. With `--compare graphile` it also runs the open-loop phase against
//! graphile-worker where Node.js is installed (CI's machines: the install is ≈ 5 s, cached in
//! `target/bench-graphile/`) and says why it skipped where it is not. `paliadin-bench fleet`
//! runs at its smallest beside it (two SSH hosts, two workers). Asserts nothing about time.

use paliadin_e2e::procs::binary;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bench_prints_its_tables() {
    let text = bench(&[
        "--workers",
        "1",
        "--users",
        "2",
        "--rates",
        "4",
        "--secs",
        "1",
        "--max-turns",
        "4",
        "--floor-samples",
        "5",
        "--idle-streams",
        // More than one user may open by default (16): the bench's API must allow them.
        "20",
        "--compare",
        "graphile",
    ])
    .await;
    holds(
        &text,
        &[
            "## Floor (same run)",
            "| one durable commit | 5 |",
            "## Open loop, 4 turns/s offered",
            "| dispatch (POST → agent's `.ack`) | 4 |",
            "## Closed loop, 2 users back to back",
            "## SSE fan-out: 20 idle streams on one API process",
            "throughput: ",
            "paliadin-bench: done",
        ],
    );
    let node = std::process::Command::new("node").arg("--version").output();
    if node.is_ok_and(|o| o.status.success()) {
        holds(
            &text,
            &[
                "## graphile-worker beside ours, 4 turns/s offered",
                "| graphile-worker: enqueue → start (`add_job` sent → task called) | 4 |",
                "per-user order kept: yes",
            ],
        );
    } else {
        assert!(
            text.contains("graphile comparison skipped: `node` not found"),
            "no graphile skip line in:\n{text}"
        );
    }
}

/// `paliadin-bench fleet` at its smallest (20 owners on 2 SSH hosts, 2 workers, 5 s of load at
/// a tenth of real time): the hosts come up with one channel per worker, the active owners'
/// turns — a permission request among them, answered by the bench — all end, and the
/// configuration's section and the summary are printed. Asserts nothing about time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fleet_mode_prints_its_table() {
    let text = bench(&[
        "fleet",
        "--owners",
        "20",
        "--hosts",
        "2",
        "--workers",
        "2",
        "--concurrency",
        "4",
        "--active",
        "0.5",
        "--think",
        "10",
        // One turn in three asks, so that 5 s of load surely holds one.
        "--ask",
        "0.34",
        "--time-scale",
        "0.1",
        "--secs",
        "5",
        "--idle-secs",
        "1",
        "--max-secs",
        "150",
        "--seed",
        "26",
    ])
    .await;
    holds(
        &text,
        &[
            "## Fleet: 20 owners on 2 hosts, 2 workers × 4 slots",
            "4 SSH channels (2 per host; sshd sees 4)",
            "warm-up: 10 agents started",
            "| dispatch (POST → agent's `.ack`) |",
            "SSH channels: 4 ssh clients under the workers, 4 connections on the sshds",
            "## Fleet summary (time scale 0.1; CPU in % of one core)",
            "| 20 | 2 | 2 × 4 (2) | 10 |",
            "paliadin-bench fleet: done",
        ],
    );
    let line = |start: &str| {
        text.lines()
            .find(|l| l.starts_with(start))
            .unwrap_or_else(|| panic!("no line {start:?} in:\n{text}"))
    };
    let done = line("throughput: ");
    assert!(done.contains("; 0 failed"), "{done}");
    let asked: usize = done
        .split(" turns in all, ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("no permission count in {done:?}"));
    assert!(asked >= 1, "no permission answered: {done}");
    assert!(line("turns in the database: ").contains("; handed back (`releases`): 0"));
}

/// Runs `paliadin-bench` with `args`; its standard output, once it exited successfully.
async fn bench(args: &[&str]) -> String {
    let out = tokio::process::Command::new(binary("paliadin-bench"))
        .args(args)
        .output()
        .await
        .expect("run paliadin-bench");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "bench failed: {text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

/// Asserts that `text` holds every one of `needles`.
fn holds(text: &str, needles: &[&str]) {
    for needle in needles {
        assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
    }
}
