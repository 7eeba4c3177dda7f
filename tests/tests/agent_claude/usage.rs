//! The usage of every turn, against the real Claude Code and the scripted model (which reports
//! distinct token counts in every answer): the `end` event and the history carry what the model
//! reported for the turn, priced from `PALIADIN_PRICES`; a turn's closing request, which Claude
//! sends after the reply is in, is added to that turn when the next turn of the conversation
//! ends, and to the worker's token counter once Claude has stopped.

use paliadin_e2e::claude_sys::{ClaudeSys, last};
use paliadin_e2e::model::sse::Reported;
use serde_json::Value;
use uuid::Uuid;

/// Dollars per million tokens for the test's prices (input, output, cache read, cache write)
/// and its context window.
const PRICES: [f64; 4] = [2.0, 10.0, 0.5, 4.0];
const WINDOW: i64 = 1_000_000;

fn counts(u: &Value) -> Reported {
    let n = |k: &str| u[k].as_i64().unwrap_or_else(|| panic!("{k} in {u}"));
    Reported {
        input: n("input"),
        output: n("output"),
        cache_read: n("cache_read"),
        cache_creation: n("cache_creation"),
    }
}

fn cost(r: &Reported) -> f64 {
    let [i, o, cr, cw] = PRICES;
    (r.input as f64 * i
        + r.output as f64 * o
        + r.cache_read as f64 * cr
        + r.cache_creation as f64 * cw)
        / 1e6
}

/// The sums of the first 1, 2, … answers the model gave on `turn`.
fn prefix_sums(sys: &ClaudeSys, turn: Uuid) -> Vec<Reported> {
    let answers: Vec<Reported> = sys
        .claude
        .server
        .spent()
        .into_iter()
        .filter(|s| s.turn_id == Some(turn))
        .map(|s| s.usage)
        .collect();
    (1..=answers.len())
        .map(|k| Reported::sum(&answers[..k]))
        .collect()
}

async fn history(sys: &ClaudeSys) -> Vec<Value> {
    let (s, v) = sys.c.get("/api/paliadin/turns").await;
    assert_eq!(s, 200, "{v}");
    v.as_array().expect("history").clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_turn_records_what_the_model_reported_and_its_cost() {
    // The model Claude Code asks for is its default: read from a first run's requests, that
    // exact name gets the test's prices (an entry longer than any built-in prefix).
    let Some(probe) = ClaudeSys::start("cc-u0", &[]).await else {
        return;
    };
    let (_, evs) = probe.turn("which model").await;
    probe.assert_end(&evs, "which model");
    let model = probe
        .claude
        .server
        .requests()
        .iter()
        .find_map(|r| r.body["model"].as_str().map(str::to_owned))
        .expect("a request names its model");
    drop(probe);

    let [i, o, cr, cw] = PRICES;
    let prices = format!("{model}={i},{o},{cr},{cw},{WINDOW}");
    let metrics = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").to_string()
    };
    let env = [
        ("PALIADIN_PRICES", prices),
        ("PALIADIN_WORKER_METRICS_BIND", metrics.clone()),
    ];
    let Some(sys) = ClaudeSys::start("cc-u1", &env).await else {
        return;
    };
    let (first, evs) = sys.turn("first turn, counted").await;
    sys.assert_end(&evs, "first");
    let first: Uuid = first.parse().unwrap();
    let end = &last(&evs).data;
    let usage = &end["usage"];
    assert!(usage.is_object(), "the end event carries usage: {end}");
    assert_eq!(usage["model"], model.as_str());
    let got = counts(usage);
    let sums = prefix_sums(&sys, first);
    assert!(
        sums.contains(&got),
        "the end event's usage {got:?} is what the model reported up to the reply: {sums:?}"
    );
    let want_cost = cost(&got);
    let cost_usd = usage["cost_usd"].as_f64().expect("priced");
    assert!(
        (cost_usd - want_cost).abs() < 2e-6,
        "{cost_usd} vs {want_cost}"
    );
    assert_eq!(usage["context_window"], WINDOW);

    // The model takes its time over the request that closes this turn (after the reply file):
    // the end event cannot have it, the metric must get it once Claude stops.
    let (second, evs) = sys.turn("late-close 2000 second turn, counted too").await;
    sys.assert_end(&evs, "second");
    let second: Uuid = second.parse().unwrap();
    let two = counts(&last(&evs).data["usage"]);
    assert!(prefix_sums(&sys, second).contains(&two), "{two:?}");
    assert_ne!(two, got, "each turn has its own counts");

    // The first turn's closing request came in before the second turn's prompt: its usage now
    // is everything the model reported on it.
    let all = *prefix_sums(&sys, first).last().expect("answers");
    let items = history(&sys).await;
    let item = |id: Uuid| {
        items
            .iter()
            .find(|t| t["turn_id"] == id.to_string())
            .unwrap_or_else(|| panic!("{id} in history"))
            .clone()
    };
    let h1 = item(first);
    assert_eq!(counts(&h1["usage"]), all, "{h1}");
    let answers: Vec<Reported> = sys
        .claude
        .server
        .spent()
        .into_iter()
        .filter(|s| s.turn_id == Some(first))
        .map(|s| s.usage)
        .collect();
    let closing = answers.last().unwrap();
    assert_eq!(
        h1["usage"]["context"],
        closing.input + closing.cache_read + closing.cache_creation,
        "the context fill is the last request's prompt"
    );
    let c1 = h1["usage"]["cost_usd"].as_f64().unwrap();
    assert!((c1 - cost(&all)).abs() < 2e-6, "{c1} vs {}", cost(&all));
    assert_eq!(counts(&item(second)["usage"]), two);

    // The worker's counter has each turn whole, closing request included, once the agent has
    // stopped after it (`worker/src/usage/closing.rs`): not only what the end event gave.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while sys.rig.busy(&sys.session()) {
        assert!(std::time::Instant::now() < deadline, "the agent stops");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let want = Reported::sum(&[
        sys.claude.server.spent_on(first),
        sys.claude.server.spent_on(second),
    ]);
    assert_ne!(
        want,
        Reported::sum(&[got, two]),
        "the closing requests add tokens"
    );
    let lines: Vec<String> = [
        ("input", want.input),
        ("output", want.output),
        ("cache_read", want.cache_read),
        ("cache_creation", want.cache_creation),
    ]
    .iter()
    .map(|(kind, n)| {
        format!("paliadin_agent_tokens_total{{kind=\"{kind}\",model=\"{model}\"}} {n}")
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
