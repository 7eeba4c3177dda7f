//! The per-owner daily token budget (`PALIADIN_DAILY_TOKEN_BUDGET_PER_USER`), through the API,
//! a worker process and the demo agent: once an owner's recorded usage today reaches the
//! budget, a new message is refused with `429 budget_exceeded` and a sentence that says why and
//! until when; turns accepted before finish with their reply; another owner is not affected;
//! without a budget nothing is refused. Usage is inserted as the worker records it
//! (`turn_usage`), since the demo agent keeps no transcript.

use paliadin_api::config::ApiConfig;
use paliadin_e2e::db::TestDb;
use paliadin_e2e::http::{Client, user};
use paliadin_e2e::procs::TmuxRig;
use paliadin_e2e::system::start_api;
use paliadin_shared::db::users::Role;
use paliadin_shared::domain::usage::{TurnUsage, Usage};
use serde_json::json;
use uuid::Uuid;

const BUDGET: i64 = 5_000;

/// Records `tokens` for the owner's turn as the worker would (split over the four kinds).
async fn spend(db: &TestDb, owner: Uuid, turn: &str, tokens: i64) {
    let turn: Uuid = turn.parse().unwrap();
    let session: Uuid = sqlx::query_scalar("SELECT session_id FROM turns WHERE id = $1")
        .bind(turn)
        .fetch_one(&db.pool)
        .await
        .unwrap();
    let usage = Usage {
        model: "claude-test".into(),
        input: tokens / 4,
        output: tokens / 4,
        cache_read: tokens / 4,
        cache_creation: tokens - 3 * (tokens / 4),
        ..Usage::default()
    };
    let n = paliadin_shared::db::usage::record(
        &db.pool,
        owner,
        session,
        &[TurnUsage {
            turn_id: turn,
            usage,
        }],
    )
    .await
    .unwrap();
    assert_eq!(n, 1, "the owner's turn takes the usage");
}

/// Usage of another owner's turn (under the budget), recorded the same way.
async fn spend_as_other(db: &TestDb, turn: &str) {
    let owner: Uuid = sqlx::query_scalar("SELECT user_id FROM turns WHERE id = $1")
        .bind(turn.parse::<Uuid>().unwrap())
        .fetch_one(&db.pool)
        .await
        .unwrap();
    spend(db, owner, turn, BUDGET - 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_the_daily_budget_new_turns_are_refused_and_accepted_ones_finish() {
    let db = TestDb::new().await;
    let api = start_api(
        &db,
        ApiConfig {
            daily_token_budget_per_user: Some(BUDGET),
            ..ApiConfig::default()
        },
    )
    .await;
    let (owner, token) = user(&db, "spender@budget", Role::Owner).await;
    let (_, other_token) = user(&db, "other@budget", Role::Owner).await;
    let c = Client::new(&api.base, Some(&token));
    let other = Client::new(&api.base, Some(&other_token));
    let rig = TmuxRig::new();

    // Under the budget: accepted. Both are queued before any worker runs.
    let (first, first_sse) = c.turn("first, within the budget").await;
    let (second, second_sse) = c.turn("second, accepted before the budget ran out").await;
    spend(&db, owner.id, &first, BUDGET - 1).await;
    let (third, third_sse) = c.turn("third, one token left").await;
    // Another owner's usage never counts against this one.
    let (theirs, _) = other.turn("someone else's turn").await;
    spend_as_other(&db, &theirs).await;
    spend(&db, owner.id, &third, 1).await;

    let (status, body) = c
        .post(
            "/api/paliadin/turn",
            &json!({ "user_message": "over the budget" }),
        )
        .await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["error"], "budget_exceeded", "{body}");
    let message = body["message"].as_str().unwrap();
    assert!(
        message.contains(&format!("used {BUDGET} model tokens"))
            && message.contains(&format!("budget of {BUDGET}"))
            && message.contains("midnight UTC"),
        "the refusal says what and until when: {message}"
    );
    let refused: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM turns WHERE user_id = $1 AND message LIKE 'over the budget%'",
    )
    .bind(owner.id)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(refused, 0, "nothing of a refused turn is written");
    let (status, body) = other
        .post(
            "/api/paliadin/turn",
            &json!({ "user_message": "the other owner still may" }),
        )
        .await;
    assert_eq!(status, 200, "{body}");

    // The turns accepted before the budget ran out finish with their reply.
    let _worker = rig.worker(&db.url, "budget-w1");
    for (id, sse) in [
        (&first, &first_sse),
        (&second, &second_sse),
        (&third, &third_sse),
    ] {
        let evs = c.stream_all(sse, None, 60).await;
        let end = evs.last().expect("events");
        assert_eq!(end.event, "end", "{id}: {evs:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_budget_usage_refuses_nothing() {
    let db = TestDb::new().await;
    let api = start_api(&db, ApiConfig::default()).await;
    let (owner, token) = user(&db, "free@budget", Role::Owner).await;
    let c = Client::new(&api.base, Some(&token));
    let (first, _) = c.turn("first").await;
    spend(&db, owner.id, &first, 1_000_000_000).await;
    let (status, body) = c
        .post("/api/paliadin/turn", &json!({ "user_message": "second" }))
        .await;
    assert_eq!(status, 200, "{body}");
}
