//! The usage of every turn with the real Codex CLI and the scripted Responses API model (which
//! reports distinct token counts in every answer): the `end` event and the history carry what
//! the model reported on the turn, read from Codex's rollout (`input` without the cached
//! tokens, which are `cache_read`), its model, and the worker's `paliadin_agent_tokens_total`
//! counts the same.

use paliadin_e2e::codex::usage_counts;
use paliadin_e2e::codex_sys::{CodexSys, last};
use uuid::Uuid;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_turn_records_what_the_model_reported_from_the_rollout() {
    let metrics = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").to_string()
    };
    let env = [("PALIADIN_WORKER_METRICS_BIND", metrics.clone())];
    let Some(sys) = CodexSys::start("cx-u1", &env).await else {
        return;
    };
    let (first, evs) = sys.turn("hello, count me").await;
    sys.assert_end(&evs, "hello, count me");
    let first: Uuid = first.parse().unwrap();
    let usage = &last(&evs).data["usage"];
    assert!(usage.is_object(), "the end event carries usage: {evs:?}");
    assert_eq!(usage["model"], "gpt-scripted");
    assert_eq!(usage_counts(usage), sys.codex.reported(first), "{usage}");

    // A turn with several model requests (two shell commands, then the reply).
    let path = sys.codex.workdir.join("notes.txt");
    let msg = format!("tools 2 {}", path.display());
    let (second, evs) = sys.turn(&msg).await;
    sys.assert_end(&evs, &msg);
    let second: Uuid = second.parse().unwrap();
    let two = usage_counts(&last(&evs).data["usage"]);
    assert_eq!(two, sys.codex.reported(second));
    assert_ne!(two, usage_counts(usage), "each turn has its own counts");

    let (s, items) = sys.c.get("/api/paliadin/turns").await;
    assert_eq!(s, 200, "{items}");
    for id in [first, second] {
        let item = items
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["turn_id"] == id.to_string())
            .unwrap_or_else(|| panic!("{id} in {items}"));
        assert_eq!(
            usage_counts(&item["usage"]),
            sys.codex.reported(id),
            "{item}"
        );
    }

    let want = [sys.codex.reported(first), sys.codex.reported(second)];
    let lines: Vec<String> = ["input", "output", "cache_read"]
        .iter()
        .enumerate()
        .map(|(k, kind)| {
            let n = want[0][k] + want[1][k];
            format!("paliadin_agent_tokens_total{{kind=\"{kind}\",model=\"gpt-scripted\"}} {n}")
        })
        .collect();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let text = reqwest::get(format!("http://{metrics}/metrics"))
            .await
            .expect("scrape the worker")
            .text()
            .await
            .unwrap();
        if lines.iter().all(|line| text.lines().any(|l| l == line)) {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{lines:?} in\n{text}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}
