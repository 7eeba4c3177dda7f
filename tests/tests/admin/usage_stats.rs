//! The model's usage in the admin stats: per owner and per UTC day, summed from what the
//! workers recorded (`turn_usage`), with the cost of the priced turns; admins only.

use paliadin_api::config::ApiConfig;
use paliadin_e2e::db::TestDb;
use paliadin_e2e::http::{Client, user};
use paliadin_e2e::system::start_api;
use paliadin_shared::db::users::Role;
use paliadin_shared::domain::usage::{TurnUsage, Usage};
use uuid::Uuid;

async fn spend(db: &TestDb, turn: &str, usage: Usage) {
    let turn: Uuid = turn.parse().unwrap();
    let (user, session): (Uuid, Uuid) =
        sqlx::query_as("SELECT user_id, session_id FROM turns WHERE id = $1")
            .bind(turn)
            .fetch_one(&db.pool)
            .await
            .unwrap();
    let t = TurnUsage {
        turn_id: turn,
        usage,
    };
    paliadin_shared::db::usage::record(&db.pool, user, session, &[t])
        .await
        .unwrap();
}

fn usage(model: &str, n: i64, cost: Option<f64>) -> Usage {
    Usage {
        model: model.into(),
        input: n,
        output: 2 * n,
        cache_read: 3 * n,
        cache_creation: 4 * n,
        context: 8 * n,
        cost_usd: cost,
        context_window: Some(200_000),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admins_see_usage_per_owner_and_day_and_owners_do_not() {
    let db = TestDb::new().await;
    let api = start_api(&db, ApiConfig::default()).await;
    let (_, a_token) = user(&db, "a@stats", Role::Owner).await;
    let (_, b_token) = user(&db, "b@stats", Role::Owner).await;
    let (_, admin_token) = user(&db, "admin@stats", Role::Admin).await;
    let a = Client::new(&api.base, Some(&a_token));
    let b = Client::new(&api.base, Some(&b_token));
    let admin = Client::new(&api.base, Some(&admin_token));
    let (a1, _) = a.turn("a one").await;
    let (a2, _) = a.turn("a two").await;
    let (b1, _) = b.turn("b one").await;
    spend(&db, &a1, usage("claude-x", 10, Some(0.25))).await;
    spend(&db, &a2, usage("unpriced", 5, None)).await;
    spend(&db, &b1, usage("claude-x", 100, Some(1.5))).await;

    let (status, stats) = admin.get("/api/admin/paliadin/stats?window=1d").await;
    assert_eq!(status, 200, "{stats}");
    let rows = stats["tokens"].as_array().expect("tokens");
    assert_eq!(rows.len(), 2, "{rows:?}");
    let today: String = sqlx::query_scalar("SELECT ((now() AT TIME ZONE 'UTC')::date)::text")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    // The largest user of the day first.
    assert_eq!(rows[0]["email"], "b@stats");
    assert_eq!(rows[0]["turns"], 1);
    assert_eq!(rows[0]["input"], 100);
    assert_eq!(rows[0]["cost_usd"], 1.5);
    let r = &rows[1];
    assert_eq!(
        (r["email"].as_str(), r["day"].as_str()),
        (Some("a@stats"), Some(today.as_str()))
    );
    assert_eq!(
        (
            r["turns"].as_i64(),
            r["input"].as_i64(),
            r["output"].as_i64()
        ),
        (Some(2), Some(15), Some(30))
    );
    assert_eq!(
        (r["cache_read"].as_i64(), r["cache_creation"].as_i64()),
        (Some(45), Some(60))
    );
    assert_eq!(r["cost_usd"], 0.25, "only the priced turn has a cost");

    let (status, _) = a.get("/api/admin/paliadin/stats?window=1d").await;
    assert_eq!(status, 404, "owners do not see the stats");
}
