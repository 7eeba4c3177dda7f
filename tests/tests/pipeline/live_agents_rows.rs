//! Pins how a host's live-agent listing is recorded (`paliadin_shared::db::live_agents`) in the
//! real PostgreSQL: each listing replaces the host's rows and stamps `hosts.agents_listed_at`;
//! a listing older than the host's last one (another worker's, on the same tmux server) is
//! dropped, whether or not that last one named any agent; other hosts' rows stay.

use paliadin_e2e::db::TestDb;
use paliadin_shared::db::live_agents::{LiveWindow, clock, replace};
use std::time::Duration;
use uuid::Uuid;

fn window(session: &str, conversation: Uuid) -> LiveWindow {
    LiveWindow {
        tmux_session: session.to_owned(),
        conversation,
    }
}

#[tokio::test]
async fn each_listing_replaces_the_hosts_rows_and_an_older_one_is_dropped() {
    let db = TestDb::new().await;
    let pool = &db.pool;
    for host in ["h1", "h2"] {
        sqlx::query("INSERT INTO hosts (name) VALUES ($1)")
            .bind(host)
            .execute(pool)
            .await
            .unwrap();
    }
    let rows = |host: &'static str| async move {
        sqlx::query_as::<_, (String, Uuid)>(
            "SELECT tmux_session, session_id FROM live_agents WHERE host = $1
              ORDER BY tmux_session, session_id",
        )
        .bind(host)
        .fetch_all(pool)
        .await
        .unwrap()
    };
    let listed_at = |host: &'static str| async move {
        sqlx::query_scalar::<_, Option<i64>>(
            "SELECT floor(extract(epoch FROM agents_listed_at))::bigint FROM hosts WHERE name = $1",
        )
        .bind(host)
        .fetch_one(pool)
        .await
        .unwrap()
    };
    let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
    let t0 = clock(pool).await.unwrap();
    let (t1, t2, t3) = (
        t0 + Duration::from_secs(1),
        t0 + Duration::from_secs(2),
        t0 + Duration::from_secs(3),
    );

    let counted = |host: &'static str| async move {
        sqlx::query_as::<_, (Option<i32>, Option<i32>)>(
            "SELECT agents_live, agents_max FROM hosts WHERE name = $1",
        )
        .bind(host)
        .fetch_one(pool)
        .await
        .unwrap()
    };
    assert!(
        replace(pool, "h2", &[window("p-2", b)], (1, None), t1)
            .await
            .unwrap()
    );
    assert!(
        replace(
            pool,
            "h1",
            &[window("p-1", a), window("p-1", b)],
            (2, Some(5)),
            t2
        )
        .await
        .unwrap()
    );
    assert_eq!(rows("h1").await, [("p-1".into(), a), ("p-1".into(), b)]);
    assert_eq!(listed_at("h1").await, Some(t2.timestamp()));
    // The host's live count and limit for the admin stats come with the listing.
    assert_eq!(counted("h1").await, (Some(2), Some(5)));

    // An older listing is dropped: the newer one stands.
    assert!(
        !replace(pool, "h1", &[window("p-1", b)], (1, Some(5)), t1)
            .await
            .unwrap()
    );
    assert_eq!(rows("h1").await.len(), 2);
    assert_eq!(counted("h1").await, (Some(2), Some(5)));

    // A newer one replaces it all, even with nothing live...
    assert!(replace(pool, "h1", &[], (0, Some(5)), t3).await.unwrap());
    assert_eq!(rows("h1").await, []);
    assert_eq!(listed_at("h1").await, Some(t3.timestamp()));
    // ...and an older one after it is still dropped (the host's row keeps its time).
    assert!(
        !replace(pool, "h1", &[window("p-1", a)], (1, Some(5)), t2)
            .await
            .unwrap()
    );
    assert_eq!(rows("h1").await, []);

    // The other host's rows were never touched.
    assert_eq!(rows("h2").await, [("p-2".into(), b)]);
    assert_eq!(listed_at("h2").await, Some(t1.timestamp()));
}
