//! Pins that `paliadin-bench` runs end to end with tiny counts (the CI smoke): it starts a real
//! system, measures the floor, runs an open-loop, a closed-loop and a fan-out phase, and prints
//! every table. Asserts nothing about time.

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
}
