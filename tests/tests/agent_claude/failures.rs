//! Pins what a person sees when the model's API fails, against the real Claude Code (offline,
//! its scripted model answering errors): the kinds no retry helps end the turn with
//! `agent_error` and their kind (that the common kinds end it at once, never as a timeout, and
//! the next turn is answered is the contract suite's, `agent_demo/contract.rs`); a model that is overloaded a few times and then answers ends normally, and the
//! turn said `retrying` meanwhile; the chat page (headless Chromium) tells the person what to
//! do about a failure, with **Try again** only where trying again can help.

use paliadin_e2e::browser::{self, Browser, R, log_in, send};
use paliadin_e2e::claude_sys::{ClaudeSys, last};
use paliadin_e2e::http::user;
use paliadin_e2e::model::script::default_body;
use paliadin_shared::db::users::Role;
use serde_json::json;
use std::time::{Duration, Instant};

/// Claude Code retries a failed request up to 10 times by default, waiting 0.5 s × 2^n (plus
/// a quarter of jitter) between them: almost three minutes. The failure tests let it retry
/// once; the recovery test more often, so that it is seen waiting (Claude Code 2.1.197 gives
/// up on the third 529 in a row for its default model: the model recovers before that).
const RETRIES: u32 = 1;
const RECOVERY_RETRIES: u32 = 4;

/// A failure must end the turn well before the turn's limit (60 s in these tests).
const PROMPTLY: Duration = Duration::from_secs(20);

async fn start(retries: u32) -> Option<ClaudeSys> {
    let sys = ClaudeSys::start("cc-fail", &[]).await?;
    sys.claude.shorten_retries(retries);
    Some(sys)
}

/// The kinds a person cannot fix by trying again, each from the answer that causes it: an
/// organisation that disallows OAuth logins (403), a model that does not exist (404), and a
/// model whose every answer is cut off at its output limit (Claude Code asks it to go on a few
/// times, then gives up).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn org_model_and_output_limit_failures_end_the_turn_with_their_kind() {
    let Some(sys) = start(RETRIES).await else {
        return;
    };
    let cases = [
        ("fail-org", "oauth_org_not_allowed", "organization"),
        ("fail-model", "model_not_found", "model"),
        ("fail-output", "max_output_tokens", "output token maximum"),
    ];
    for (word, kind, words) in cases {
        let t0 = Instant::now();
        let (_, evs) = sys.turn(&format!("{word} please")).await;
        let took = t0.elapsed();
        let end = last(&evs);
        let screen = sys.rig.screen(&sys.session());
        assert_eq!(
            (
                end.event.as_str(),
                end.data["code"].as_str(),
                end.data["kind"].as_str()
            ),
            ("error", Some("agent_error"), Some(kind)),
            "{word}: {end:?}\n--- pane:\n{screen}"
        );
        let message = end.data["message"].as_str().unwrap_or_default();
        assert!(
            message.contains(words),
            "{word}: Claude's own words: {message:?}"
        );
        assert!(took < PROMPTLY, "{word}: the turn took {took:?}");
        eprintln!("{word}: {kind} after {took:?}: {message}");
        let (_, evs) = sys.turn("after the failure").await;
        sys.assert_end(&evs, "after the failure");
        assert_eq!(last(&evs).data["text"], default_body("after the failure"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_stop_failure_hook_the_screen_tells_the_failure() {
    let Some(sys) = start(RETRIES).await else {
        return;
    };
    // An older Claude Code, without StopFailure: nothing reports the failure but its screen.
    let path = sys.claude.home.join(".claude/settings.json");
    let mut settings: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    settings["hooks"]
        .as_object_mut()
        .unwrap()
        .remove("StopFailure")
        .expect("the installer registers StopFailure");
    std::fs::write(&path, settings.to_string()).unwrap();
    let t0 = Instant::now();
    let (_, evs) = sys.turn("fail-auth no hook").await;
    let end = last(&evs);
    assert_eq!(
        (end.data["code"].as_str(), end.data["kind"].as_str()),
        (Some("agent_error"), Some("authentication_failed")),
        "{end:?}\n--- pane:\n{}",
        sys.rig.screen(&sys.session())
    );
    assert!(
        end.data["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("Invalid API key")),
        "{end:?}"
    );
    assert!(t0.elapsed() < PROMPTLY, "took {:?}", t0.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_overloaded_model_that_recovers_ends_normally_and_showed_retrying() {
    let Some(sys) = start(RECOVERY_RETRIES).await else {
        return;
    };
    let message = "flaky 2 then answer";
    let (_, evs) = sys.turn(message).await;
    sys.assert_end(&evs, message);
    assert_eq!(last(&evs).data["text"], default_body(message));
    let retrying: Vec<_> = evs
        .iter()
        .filter(|e| e.event == "status" && e.data["state"] == "retrying")
        .collect();
    assert!(!retrying.is_empty(), "a retrying status: {evs:?}");
    let first = &retrying[0].data;
    assert!(first["attempt"].as_u64().is_some_and(|a| a >= 1), "{first}");
    assert_eq!(
        first["of"].as_u64(),
        Some(u64::from(RECOVERY_RETRIES)),
        "{first}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_page_says_what_to_do_about_each_failure_and_offers_try_again_where_it_helps() {
    if !browser::enabled("the_page_says_what_to_do_about_each_failure") {
        return;
    }
    let Some(sys) = start(RETRIES).await else {
        return;
    };
    let (_, token) = user(&sys.db, "browser@claude", Role::Owner).await;
    let b = Browser::start("agent-failures").await;
    log_in(&b, &sys.api.base, &token).await;
    let cases = [
        (
            "fail-auth",
            "The agent's API key was rejected: an operator must fix its credentials.",
            false,
        ),
        (
            "fail-overloaded",
            "The model is overloaded: try again in a minute.",
            true,
        ),
    ];
    for (i, &(word, sentence, retry)) in cases.iter().enumerate() {
        send(&b, &format!("{word} from the page")).await;
        let notice = format!("{R}[{i}] && {R}[{i}].querySelector('.notice.error')");
        b.until(30, "the failure notice", &format!("return {notice}"))
            .await;
        let shown = b
            .js(&format!(
                "const n = {notice};
                 return {{ code: n.dataset.code, sentence: n.querySelector('strong').textContent,
                           detail: n.querySelector('.detail') && n.querySelector('.detail').textContent,
                           retry: !!{R}[{i}].querySelector('button.retry') }};"
            ))
            .await;
        b.screenshot(&format!("{i}-{word}")).await;
        assert_eq!(shown["code"], "agent_error", "{word}: {shown}");
        assert_eq!(shown["sentence"], sentence, "{word}: {shown}");
        assert!(
            shown["detail"].as_str().is_some_and(|d| !d.is_empty()),
            "{word}: Claude's own words under it: {shown}"
        );
        assert_eq!(shown["retry"], json!(retry), "{word}: Try again: {shown}");
    }
    // After a reload the history says the same: the kind is stored with the turn.
    b.client.refresh().await.unwrap();
    let first = format!("{R}[0] && {R}[0].querySelector('.notice.error[data-kind]')");
    b.until(15, "the failure in the history", &format!("return {first}"))
        .await;
    let again = b
        .js(&format!(
            "const n = {first};
             return [n.dataset.kind, n.querySelector('strong').textContent,
                     !!{R}[0].querySelector('button.retry')];"
        ))
        .await;
    assert_eq!(
        again,
        json!(["authentication_failed", cases[0].1, false]),
        "after a reload"
    );
    b.close().await;
}
