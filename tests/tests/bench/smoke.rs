//! Pins that `paliadin-bench` runs end to end with tiny counts (the CI smoke): it starts a real
//! system, measures the floor, runs an open-loop, a closed-loop and a fan-out phase, and prints
//! every table. With `--compare graphile` it also runs the open-loop phase against
//! graphile-worker where Node.js is installed (CI's machines: the install is ≈ 5 s, cached in
//! `target/bench-graphile/`) and says why it skipped where it is not. Asserts nothing about time.

use paliadin_e2e::procs::binary;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bench_prints_its_tables() {
    let out = tokio::process::Command::new(binary("paliadin-bench"))
        .args([
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
        .output()
        .await
        .expect("run paliadin-bench");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "bench failed: {text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for needle in [
        "## Floor (same run)",
        "| one durable commit | 5 |",
        "## Open loop, 4 turns/s offered",
        "| dispatch (POST → agent's `.ack`) | 4 |",
        "## Closed loop, 2 users back to back",
        "## SSE fan-out: 20 idle streams on one API process",
        "throughput: ",
        "paliadin-bench: done",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
    }
    let node = std::process::Command::new("node").arg("--version").output();
    if node.is_ok_and(|o| o.status.success()) {
        for needle in [
            "## graphile-worker beside ours, 4 turns/s offered",
            "| graphile-worker: enqueue → start (`add_job` sent → task called) | 4 |",
            "per-user order kept: yes",
        ] {
            assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
        }
    } else {
        assert!(
            text.contains("graphile comparison skipped: `node` not found"),
            "no graphile skip line in:\n{text}"
        );
    }
}
