//! An upgrade under load, from an actually older release ([`old_release::COMMIT`], built from
//! this repository's history): that release's API enqueues several turns for two owners (its
//! schema: the queue's groups are the owners), and its worker, one turn at a time, is running
//! the first owner's first turn (a demo-agent `/slow`, delivered) while the rest wait. Then this
//! release's migrations run under it, the old worker dies (SIGKILL, as a host that goes in the
//! middle of a deploy), a worker of this release takes over and this release's API replaces
//! the old one. Every turn finishes exactly once (the agent's receipts), each owner's in the
//! order posted, none is lost, and the old worker's running turn is not pasted again.

use paliadin_e2e::db::TestDb;
use paliadin_e2e::fault::{ApiProc, signal};
use paliadin_e2e::http::Client;
use paliadin_e2e::old_release;
use paliadin_e2e::procs::{self, TmuxRig};
use paliadin_e2e::rollout::{add_owner, admin, assert_all_served, finished_by, running_on};
use tokio::process::Command;
use uuid::Uuid;

/// Turns each owner posts; the first owner's first is the one running across the upgrade.
const PER_OWNER: usize = 4;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_and_running_turns_of_the_old_release_finish_once_in_order_after_it() {
    let Some(old) = old_release::build() else {
        return;
    };
    let db = TestDb::empty().await;
    admin(&old.api, &["migrate"], &db.url);
    let tokens: Vec<String> = ["ada@example.com", "bob@example.com"]
        .iter()
        .map(|e| add_owner(&old.api, &db.url, e))
        .collect();
    let pool = [("PALIADIN_DB_POOL", "8")];
    let mut old_api = ApiProc::start_bin(&old.api, &db, &pool).await;
    let rig = TmuxRig::new();
    let old_worker = rig.worker_via(
        Command::new(&old.worker),
        &db.url,
        "w-old",
        &[("PALIADIN_CONCURRENCY", "1")],
    );

    // The old release takes the turns: the first runs on the old worker, the others wait.
    let old_clients: Vec<Client> = tokens
        .iter()
        .map(|t| Client::new(&old_api.base, Some(t)))
        .collect();
    let mut posted: Vec<Vec<(String, String)>> = vec![Vec::new(); tokens.len()];
    let first = old_clients[0]
        .turn("/slow 10000 running across the upgrade")
        .await;
    assert_eq!(running_on(&db, &first.0).await, "w-old");
    paliadin_e2e::wait_until(30, "the running turn is delivered", || {
        let q = sqlx::query_scalar::<_, bool>(
            "SELECT delivered_at IS NOT NULL FROM turns WHERE id = $1::uuid",
        )
        .bind(&first.0)
        .fetch_one(&db.pool);
        async move { q.await.unwrap() }
    })
    .await;
    posted[0].push(first.clone());
    for i in 0..PER_OWNER {
        for (u, c) in old_clients.iter().enumerate() {
            if (u, i) != (0, 0) {
                posted[u].push(c.turn(&format!("/slow 50 owner {u} turn {i}")).await);
            }
        }
    }
    let queued: i64 = sqlx::query_scalar("SELECT count(*) FROM turns WHERE state = 'queued'")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(
        queued as usize,
        posted.iter().map(Vec::len).sum::<usize>() - 1,
        "all but the running turn wait"
    );

    // The upgrade: this release's migrate under the running old worker, which then dies.
    admin(&procs::binary("paliadin-api"), &["migrate"], &db.url);
    let (state, by): (String, String) =
        sqlx::query_as("SELECT state, worker_id FROM turns WHERE id = $1::uuid")
            .bind(&first.0)
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!((state.as_str(), by.as_str()), ("running", "w-old"));
    signal(&old_worker, "-KILL");

    // This release takes over: its worker, then its API.
    let _new_worker = rig.worker_with(&db.url, "w-new", &[("PALIADIN_CONCURRENCY", "4")]);
    let new_api = ApiProc::start_with(&db, &pool).await;
    old_api.stop().await;
    let mut per_user: Vec<Vec<Uuid>> = Vec::new();
    for (t, turns) in tokens.iter().zip(&posted) {
        let c = Client::new(&new_api.base, Some(t));
        let mut ids = Vec::new();
        for (id, sse) in turns {
            let evs = c.stream_all(sse, None, 60).await;
            assert_eq!(evs.last().map(|e| e.event.as_str()), Some("end"), "{evs:?}");
            ids.push(Uuid::parse_str(id).unwrap());
        }
        per_user.push(ids);
    }
    let (by, _) = finished_by(&db, &first.0).await;
    assert_eq!(by, "w-new", "the new worker finished the old one's turn");
    assert_eq!(rig.receipts(&first.0), 1, "and did not paste it again");
    // Every turn of both owners: succeeded, received once, in order, nothing else in the table.
    assert_all_served(&db, &rig, &per_user).await;
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM pgmq.q_turns_local")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(left, 0, "no message left in the queue");
}
