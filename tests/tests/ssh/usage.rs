//! Over SSH, the worker's token counter (`paliadin_agent_tokens_total`) gets every request of
//! a turn, the one that closes it included. Claude Code sends that request after the reply is
//! in, so the usage read with the reply lacks it; the host agent makes no second read, and the
//! worker counts what the next turn's read adds to the earlier turn (`worker/src/usage/later.rs`).
//! Without that, the counter stays short of what the scripted model reported.

use paliadin_e2e::claude::Claude;
use paliadin_e2e::http::{Client, SseEvent, user};
use paliadin_e2e::model::sse::Reported;
use paliadin_e2e::procs::TmuxRig;
use paliadin_e2e::sshd::{SshHost, wait_host, worker};
use uuid::Uuid;

fn end_usage(evs: &[SseEvent]) -> Reported {
    let end = evs.last().expect("events");
    assert_eq!(end.event, "end", "{evs:?}");
    let u = &end.data["usage"];
    let n = |k: &str| {
        u[k].as_i64()
            .unwrap_or_else(|| panic!("{k} in {u}: {end:?}"))
    };
    Reported {
        input: n("input"),
        output: n("output"),
        cache_read: n("cache_read"),
        cache_creation: n("cache_creation"),
    }
}

/// The worker's counter, summed over models, by kind.
async fn counted(metrics: &str) -> Reported {
    let text = reqwest::get(format!("http://{metrics}/metrics"))
        .await
        .expect("scrape the worker")
        .text()
        .await
        .expect("metrics text");
    let mut r = Reported::default();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("paliadin_agent_tokens_total{") else {
            continue;
        };
        let n: i64 = rest
            .rsplit(' ')
            .next()
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("a count in {line}"));
        let slot = match rest {
            _ if rest.contains("kind=\"input\"") => &mut r.input,
            _ if rest.contains("kind=\"output\"") => &mut r.output,
            _ if rest.contains("kind=\"cache_read\"") => &mut r.cache_read,
            _ if rest.contains("kind=\"cache_creation\"") => &mut r.cache_creation,
            _ => panic!("an unknown kind in {line}"),
        };
        *slot += n;
    }
    r
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_ssh_the_token_counter_gets_each_turns_closing_request() {
    let rig = TmuxRig::new();
    let Some(claude) = Claude::setup(&rig).await else {
        return;
    };
    let host = SshHost::start_on(rig, "ccus1", &claude.worker_env());
    let db = paliadin_e2e::db::TestDb::new().await;
    let api = paliadin_e2e::system::start_api(&db, Default::default()).await;
    let (_, token) = user(&db, "o@ssh-usage", paliadin_shared::db::users::Role::Owner).await;
    let metrics = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").to_string()
    };
    let _w = worker(
        &db.url,
        "cc-ssh-us",
        &host.entry(),
        &[
            ("PALIADIN_TURN_TIMEOUT_SECS", "90"),
            ("PALIADIN_WORKER_METRICS_BIND", metrics.as_str()),
        ],
    );
    wait_host(&db, "ccus1", true, 30).await;
    let c = Client::new(&api.base, Some(&token));

    // The model takes 2 s over the request that closes the first turn (after its reply file),
    // so the usage read with the reply cannot have it.
    let (first, sse) = c.turn("late-close 2000 first turn over ssh, counted").await;
    let evs = c.stream_all(&sse, None, 120).await;
    let one = end_usage(&evs);
    let first: Uuid = first.parse().expect("turn id");
    assert_eq!(counted(&metrics).await, one, "the first reply's usage");

    let (second, sse) = c.turn("second turn over ssh, counted too").await;
    let evs = c.stream_all(&sse, None, 120).await;
    let two = end_usage(&evs);
    let second: Uuid = second.parse().expect("turn id");

    // The first turn's closing request reached the model before the second turn's prompt: the
    // counter has it once the second turn has ended (it is counted before the end is written).
    let whole_first = claude.server.spent_on(first);
    assert_ne!(whole_first, one, "the closing request adds tokens");
    assert_eq!(
        counted(&metrics).await,
        Reported::sum(&[whole_first, two]),
        "the first turn whole and the second up to its reply (spent on the second: {:?})",
        claude.server.spent_on(second)
    );
}
