//! A rolling upgrade from an actually older release, by the procedure of `docs/operations.md`
//! ("Upgrades"): the old release ([`old_release::COMMIT`], built from this repository's history)
//! runs its own `migrate`, `user add`, API and worker; turns finish, one runs and one waits
//! when this release's `paliadin-api migrate` upgrades the schema under them. The old worker
//! keeps serving on the migrated schema (the newer migration is marked compatible): the turns
//! running and queued across the migration, and new ones, all end on it. Then a worker of this
//! release starts and the old one is drained (SIGTERM) while it runs a turn, which is handed
//! over; then this release's API replaces the old API. Every turn succeeded, reached the agent
//! exactly once and kept its user's order; the finished turns' events are unchanged. Before the
//! upgrade, this release's worker refuses the old schema naming both versions.

use paliadin_e2e::db::TestDb;
use paliadin_e2e::fault::{ApiProc, signal};
use paliadin_e2e::http::Client;
use paliadin_e2e::old_release;
use paliadin_e2e::procs::{self, TmuxRig};
use paliadin_e2e::rollout::{add_owner, admin, assert_all_served, finished_by, running_on};
use paliadin_shared::db::schema;
use serde_json::Value;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;
use tokio::process::Command;
use uuid::Uuid;

const USERS: usize = 3;

/// Posts `message` and follows its stream to the end; returns the turn's id.
async fn turn_to_end(c: &Client, message: &str) -> Uuid {
    let (id, sse) = c.turn(message).await;
    follow(c, &id, &sse).await
}

async fn follow(c: &Client, id: &str, sse: &str) -> Uuid {
    let evs = c.stream_all(sse, None, 60).await;
    assert_eq!(evs.last().map(|e| e.event.as_str()), Some("end"), "{evs:?}");
    Uuid::parse_str(id).unwrap()
}

/// The versions of the migrations in `dir` (`<version>_<name>.sql`), ascending.
fn versions(dir: &Path) -> Vec<i64> {
    let mut v: Vec<i64> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| {
            let name = e.ok()?.file_name().into_string().ok()?;
            name.split('_').next()?.parse().ok()
        })
        .collect();
    v.sort();
    v
}

async fn worker_of(db: &TestDb, turn: Uuid) -> String {
    sqlx::query_scalar("SELECT worker_id FROM turns WHERE id = $1")
        .bind(turn)
        .fetch_one(&db.pool)
        .await
        .unwrap()
}

async fn events_of(db: &TestDb, turns: &[Uuid]) -> Vec<(Uuid, i32, String, Value)> {
    sqlx::query_as(
        "SELECT turn_id, seq, kind, data FROM turn_events WHERE turn_id = ANY($1) ORDER BY 1, 2",
    )
    .bind(turns)
    .fetch_all(&db.pool)
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_old_worker_serves_through_the_migration_until_a_new_one_replaces_it() {
    let Some(old) = old_release::build() else {
        return;
    };
    let old_set = versions(&old.migrations);
    let (old_version, new_version) = (*old_set.last().unwrap(), schema::binary_version());
    let newer: Vec<i64> = paliadin_shared::db::migration_versions()
        .into_iter()
        .filter(|v| !old_set.contains(v))
        .collect();
    assert!(!newer.is_empty(), "the old release has every migration");
    let compatible = schema::compatible_versions();
    assert!(
        newer.iter().all(|v| compatible.contains(v)),
        "migrations {newer:?} are not all marked compatible, so no worker of the old release \
         may serve past them: move old_release::COMMIT to the last commit before the first \
         unmarked one"
    );

    // The old release, installed and serving.
    let db = TestDb::empty().await;
    admin(&old.api, &["migrate"], &db.url);
    let tokens: Vec<String> = (0..USERS)
        .map(|u| add_owner(&old.api, &db.url, &format!("user{u}@example.com")))
        .collect();
    let pool = [("PALIADIN_DB_POOL", "8")];
    let mut old_api = ApiProc::start_bin(&old.api, &db, &pool).await;
    let rig = TmuxRig::new();
    let env = [
        ("PALIADIN_CONCURRENCY", "4"),
        ("PALIADIN_SHUTDOWN_GRACE_SECS", "1"),
    ];
    let mut old_worker = rig.worker_via(Command::new(&old.worker), &db.url, "w-old", &env);

    // This release's worker refuses the old schema, naming both versions.
    let mut cmd = Command::new(procs::binary("paliadin-worker"));
    cmd.stderr(Stdio::piped());
    let refused = rig.worker_via(cmd, &db.url, "w-too-new", &env);
    let out = tokio::time::timeout(Duration::from_secs(20), refused.wait_with_output())
        .await
        .expect("the new worker exits")
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success()
            && err.contains(&format!("at migration {old_version} "))
            && err.contains(&format!("needs migration {new_version} ")),
        "{err}"
    );

    let clients =
        |base: &str| -> Vec<Client> { tokens.iter().map(|t| Client::new(base, Some(t))).collect() };
    let users = clients(&old_api.base);
    let mut per_user: Vec<Vec<Uuid>> = vec![Vec::new(); USERS];
    for (u, c) in users.iter().enumerate() {
        per_user[u].push(turn_to_end(c, "/slow 100 before the upgrade").await);
    }
    let finished: Vec<Uuid> = per_user.iter().flatten().copied().collect();
    let (across, across_sse) = users[0].turn("/slow 4000 running across it").await;
    let (behind, behind_sse) = users[0].turn("/slow 100 queued across it").await;
    assert_eq!(running_on(&db, &across).await, "w-old");
    let stored = events_of(&db, &finished).await;

    // The upgrade: this release's migrate, under the running old release.
    admin(&procs::binary("paliadin-api"), &["migrate"], &db.url);
    let state: String = sqlx::query_scalar("SELECT state FROM turns WHERE id = $1::uuid")
        .bind(&behind)
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(state, "queued", "the second turn waits behind the first");
    assert_eq!(
        events_of(&db, &finished).await,
        stored,
        "finished turns kept"
    );

    // The old worker serves on: the turns across the migration, and new ones.
    per_user[0].push(follow(&users[0], &across, &across_sse).await);
    per_user[0].push(follow(&users[0], &behind, &behind_sse).await);
    for (u, c) in users.iter().enumerate().skip(1) {
        per_user[u].push(turn_to_end(c, "/slow 100 after the migration").await);
    }
    for turns in &per_user {
        let t = *turns.last().unwrap();
        assert_eq!(worker_of(&db, t).await, "w-old", "served by the old worker");
    }

    // Roll the worker: a new one starts, the old one drains with a turn in hand.
    let (handed, handed_sse) = users[1].turn("/slow 3000 handed over").await;
    assert_eq!(running_on(&db, &handed).await, "w-old");
    let new_worker = rig.worker_via(
        Command::new(procs::binary("paliadin-worker")),
        &db.url,
        "w-new",
        &env,
    );
    paliadin_e2e::wait_until(20, "the new worker registers", || {
        let q = sqlx::query_scalar::<_, i64>("SELECT count(*) FROM workers WHERE id = 'w-new'")
            .fetch_one(&db.pool);
        async move { q.await.unwrap() == 1 }
    })
    .await;
    signal(&old_worker, "-TERM");
    let status = tokio::time::timeout(Duration::from_secs(30), old_worker.wait())
        .await
        .expect("the old worker exits within the grace")
        .unwrap();
    assert!(status.success(), "the old worker exited with {status}");
    per_user[1].push(follow(&users[1], &handed, &handed_sse).await);
    let (by, releases) = finished_by(&db, &handed).await;
    assert!(
        by == "w-new" && releases >= 1,
        "{by} after {releases} releases"
    );

    // Roll the API.
    let new_api = ApiProc::start_with(&db, &pool).await;
    old_api.stop().await;
    for (u, c) in clients(&new_api.base).iter().enumerate() {
        let t = turn_to_end(c, "/slow 100 after the upgrade").await;
        assert_eq!(worker_of(&db, t).await, "w-new");
        per_user[u].push(t);
    }
    assert_all_served(&db, &rig, &per_user).await;
    let recorded: Vec<(String, String)> =
        sqlx::query_as("SELECT id, version FROM workers ORDER BY started_at")
            .fetch_all(&db.pool)
            .await
            .unwrap();
    assert_eq!(
        recorded,
        [
            ("w-old".to_owned(), old.version.clone()),
            ("w-new".to_owned(), env!("CARGO_PKG_VERSION").to_owned())
        ]
    );
    drop(new_worker);
}
