//! Pins `GET /metrics` on the API and on a worker: both parse as strict Prometheus text format
//! (names, labels, escaping, TYPE before samples, counters named `_total`, cumulative histogram
//! buckets ending in `+Inf` = `_count`, no duplicate series), and the figures move when one turn
//! runs through a worker with the scripted driver. With `PALIADIN_METRICS_BIND` set, the main
//! listener has no `/metrics`.

use paliadin_api::config::ApiConfig;
use paliadin_e2e::db::TestDb;
use paliadin_e2e::http::{Client, user};
use paliadin_e2e::scripted::ScriptedDriver;
use paliadin_e2e::system::{fast_runtime, local_host, start_api};
use paliadin_e2e::wait_until;
use paliadin_shared::db::users::Role;
use paliadin_worker::runtime::Worker;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// Series (`name{a="x",b="y"}` with sorted labels) → value.
type Series = BTreeMap<String, f64>;

fn valid_name(s: &str, colon: bool) -> bool {
    let mut chars = s.chars();
    let ok = |c: char| c.is_ascii_alphabetic() || c == '_' || (colon && c == ':');
    chars.next().is_some_and(ok) && chars.all(|c| ok(c) || c.is_ascii_digit())
}

/// Parses `a="x",b="y"}` (after the `{`), returning the labels and the rest after `}`.
fn labels(mut s: &str) -> (Vec<(String, String)>, &str) {
    let mut out = Vec::new();
    loop {
        if let Some(rest) = s.strip_prefix('}') {
            return (out, rest);
        }
        let (name, rest) = s.split_once("=\"").expect("label name=\"value\"");
        assert!(valid_name(name, false), "bad label name {name:?}");
        let (mut value, mut chars) = (String::new(), rest.char_indices());
        let end = loop {
            match chars.next().expect("unterminated label value") {
                (_, '\\') => match chars.next().expect("escape").1 {
                    'n' => value.push('\n'),
                    c @ ('\\' | '"') => value.push(c),
                    c => panic!("bad escape \\{c}"),
                },
                (i, '"') => break i,
                (_, c) => value.push(c),
            }
        };
        out.push((name.to_owned(), value));
        s = &rest[end + 1..];
        s = s.strip_prefix(',').unwrap_or(s);
    }
}

/// A strict parser of the text format (version 0.0.4).
fn parse(text: &str) -> Series {
    assert!(text.ends_with('\n'), "must end with a newline");
    let mut types: HashMap<String, String> = HashMap::new();
    let mut series = Series::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# ") {
            let mut parts = rest.splitn(3, ' ');
            let (kw, name) = (parts.next().unwrap(), parts.next().expect("metric name"));
            assert!(valid_name(name, true), "bad name in {line:?}");
            if kw == "TYPE" {
                let t = parts.next().expect("type");
                assert!(
                    ["counter", "gauge", "histogram", "summary", "untyped"].contains(&t),
                    "{line}"
                );
                assert!(
                    types.insert(name.to_owned(), t.to_owned()).is_none(),
                    "TYPE twice: {line}"
                );
                if t == "counter" {
                    assert!(
                        name.ends_with("_total"),
                        "counter {name} must end in _total"
                    );
                }
            } else {
                assert_eq!(kw, "HELP", "unknown comment {line:?}");
            }
            continue;
        }
        assert!(
            !line.is_empty() && !line.starts_with('#'),
            "bad line {line:?}"
        );
        let cut = line.find(['{', ' ']).expect("sample value");
        let name = &line[..cut];
        assert!(valid_name(name, true), "bad sample name {line:?}");
        let (mut lbls, rest) = match line[cut..].strip_prefix('{') {
            Some(r) => labels(r),
            None => (vec![], &line[cut..]),
        };
        let value = rest
            .strip_prefix(' ')
            .expect("space before value")
            .split(' ')
            .next()
            .unwrap();
        let v: f64 = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => v
                .parse()
                .unwrap_or_else(|_| panic!("bad value in {line:?}")),
        };
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| {
                name.strip_suffix(s)
                    .filter(|f| types.get(*f).is_some_and(|t| t == "histogram"))
            })
            .unwrap_or(name);
        assert!(types.contains_key(family), "sample before its TYPE: {line}");
        assert!(name.starts_with("paliadin_"), "{name} is not ours");
        lbls.sort();
        let key = format!(
            "{name}{{{}}}",
            lbls.iter()
                .map(|(k, v)| format!("{k}={v:?}"))
                .collect::<Vec<_>>()
                .join(",")
        );
        assert!(series.insert(key, v).is_none(), "duplicate series {line}");
    }
    check_histograms(&series, &types);
    series
}

/// Buckets are cumulative and the `+Inf` bucket equals `_count`, per label set.
fn check_histograms(series: &Series, types: &HashMap<String, String>) {
    for (name, _) in types.iter().filter(|(_, t)| *t == "histogram") {
        let mut groups: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
        for (k, v) in series
            .range(format!("{name}_bucket{{")..)
            .take_while(|(k, _)| k.starts_with(&format!("{name}_bucket{{")))
        {
            let labels = &k[name.len() + 8..k.len() - 1];
            let (le, rest): (Vec<&str>, Vec<&str>) =
                labels.split(',').partition(|l| l.starts_with("le="));
            let le = le[0].trim_start_matches("le=").trim_matches('"');
            let le = if le == "+Inf" {
                f64::INFINITY
            } else {
                le.parse().unwrap()
            };
            groups.entry(rest.join(",")).or_default().push((le, *v));
        }
        for (rest, mut buckets) in groups {
            buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
            assert!(
                buckets.windows(2).all(|w| w[0].1 <= w[1].1),
                "{name}{{{rest}}} not cumulative"
            );
            let inf = buckets.last().expect("buckets");
            assert!(inf.0.is_infinite(), "{name} has no +Inf bucket");
            assert_eq!(
                Some(&inf.1),
                series.get(&format!("{name}_count{{{rest}}}")),
                "{name}{{{rest}}}"
            );
        }
    }
}

async fn scrape(url: &str) -> Series {
    let r = reqwest::get(url).await.expect("scrape");
    assert_eq!(r.status(), 200);
    let ct = r.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(ct.starts_with("text/plain; version=0.0.4"), "{ct}");
    parse(&r.text().await.unwrap())
}

fn get(s: &Series, key: &str) -> f64 {
    s.get(key).copied().unwrap_or(0.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_parse_and_move_when_a_turn_runs() {
    let db = TestDb::new().await;
    let api = start_api(&db, ApiConfig::default()).await;
    let driver = Arc::new(ScriptedDriver::default());
    let worker = Worker::new(
        db.pool.clone(),
        driver,
        fast_runtime("w-metrics"),
        local_host(),
    )
    .await
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let worker_url = format!("http://{}/metrics", listener.local_addr().unwrap());
    let stop = CancellationToken::new();
    tokio::spawn(paliadin_worker::metrics::serve(
        listener,
        worker.metrics(),
        stop.clone(),
    ));
    let run = tokio::spawn(worker.run(stop.clone()));
    let api_url = format!("{}/metrics", api.base);

    let before = scrape(&api_url).await;
    let enq = "paliadin_turns_enqueued_total{kind=\"message\"}";
    assert_eq!(get(&before, enq), 0.0);
    let (_, token) = user(&db, "o@x", Role::Owner).await;
    let owner = Client::new(&api.base, Some(&token));
    let (id, sse) = owner.turn("hello metrics").await;
    let events = owner.stream_all(&sse, None, 30).await;
    assert_eq!(events.last().unwrap().event, "end", "{events:?}");

    let after = scrape(&api_url).await;
    assert_eq!(get(&after, enq), 1.0);
    let posted =
        "paliadin_http_requests_total{method=\"POST\",route=\"/api/paliadin/turn\",status=\"200\"}";
    assert_eq!(get(&after, posted), 1.0);
    let streamed = "paliadin_http_requests_total{method=\"GET\",route=\"/api/paliadin/stream/{id}\",status=\"200\"}";
    assert_eq!(get(&after, streamed), 1.0, "the turn id is never a label");
    assert!(!after.keys().any(|k| k.contains(&id)));
    assert_eq!(
        get(&after, "paliadin_sse_events_sent_total{event=\"end\"}"),
        1.0
    );
    assert_eq!(
        get(&after, "paliadin_sse_events_sent_total{event=\"content\"}"),
        3.0
    );
    assert_eq!(get(&after, "paliadin_sse_streams_open{}"), 0.0);
    assert_eq!(
        get(&after, "paliadin_queue_messages{queue=\"turns_local\"}"),
        0.0
    );
    assert!(after.contains_key("paliadin_queue_visible_messages{queue=\"turns_local\"}"));
    assert_eq!(get(&after, "paliadin_turns_active{state=\"queued\"}"), 0.0);
    assert!(after.contains_key("paliadin_listener_reconnects_total{component=\"api\"}"));

    let done = "paliadin_turns_finished_total{error_code=\"none\",outcome=\"succeeded\"}";
    wait_until(10, "the worker's figures settle", || async {
        let w = scrape(&worker_url).await;
        get(&w, done) == 1.0 && get(&w, "paliadin_worker_turns_in_flight{}") == 0.0
    })
    .await;
    let w = scrape(&worker_url).await;
    assert_eq!(get(&w, "paliadin_worker_turns_claimed_total{}"), 1.0);
    assert_eq!(get(&w, "paliadin_turn_queue_wait_seconds_count{}"), 1.0);
    assert_eq!(
        get(
            &w,
            "paliadin_turn_end_to_end_seconds_count{outcome=\"succeeded\"}"
        ),
        1.0
    );
    assert!(
        get(
            &w,
            "paliadin_turn_end_to_end_seconds_sum{outcome=\"succeeded\"}"
        ) > 0.0
    );
    assert_eq!(get(&w, "paliadin_lease_losses_total{}"), 0.0);
    assert!(w.contains_key("paliadin_listener_reconnects_total{component=\"worker\"}"));
    stop.cancel();
    run.await.unwrap().unwrap();
}

#[tokio::test]
async fn a_separate_metrics_bind_takes_metrics_off_the_main_listener() {
    let db = TestDb::new().await;
    let config = ApiConfig {
        metrics_bind: Some("127.0.0.1:9".parse().unwrap()),
        ..ApiConfig::default()
    };
    let api = start_api(&db, config).await;
    let (status, body) = Client::new(&api.base, None).get("/metrics").await;
    assert_eq!((status, body["error"].as_str()), (404, Some("not_found")));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/metrics", listener.local_addr().unwrap());
    tokio::spawn(paliadin_api::metrics::serve(
        listener,
        api.state.clone(),
        api.shutdown.clone(),
    ));
    let s = scrape(&url).await;
    assert!(s.contains_key("paliadin_listener_reconnects_total{component=\"api\"}"));
    assert!(s.contains_key("paliadin_turns_active{state=\"running\"}"));
}

#[test]
fn example_alert_rules_use_only_metrics_that_exist() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let read = |p: &str| std::fs::read_to_string(root.join(p)).expect(p);
    let defined = read("api/src/metrics.rs")
        + &read("worker/src/metrics.rs")
        + &read("shared/src/metrics.rs");
    let rules = read("deploy/prometheus/alerts.yml");
    let mut used = std::collections::BTreeSet::new();
    for (at, _) in rules.match_indices("paliadin_") {
        let name: String = rules[at..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        let base = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| name.strip_suffix(s))
            .unwrap_or(&name);
        used.insert(base.to_owned());
    }
    assert!(used.len() >= 8, "{used:?}");
    for name in used {
        assert!(
            defined.contains(&format!("\"{name}\"")),
            "alerts.yml uses {name}, which no registry defines"
        );
    }
}
