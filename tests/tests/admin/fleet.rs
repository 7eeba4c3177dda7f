//! Pins the fleet part of `GET /api/admin/paliadin/stats`: a worker whose heartbeat is older
//! than 30 s shows as `stale`, a stopped one as `stopped`, one stopped days ago not at all; hosts
//! carry reachability, last error and the number of users pinned to them.

use paliadin_api::config::ApiConfig;
use paliadin_e2e::db::TestDb;
use paliadin_e2e::http::{Client, user};
use paliadin_e2e::system::start_api;
use paliadin_shared::db::users::Role;

#[tokio::test]
async fn workers_show_alive_stale_or_stopped_and_hosts_their_sessions() {
    let db = TestDb::new().await;
    let api = start_api(&db, ApiConfig::default()).await;
    let (_, admin) = user(&db, "admin@x", Role::Admin).await;
    let (u1, _) = user(&db, "u1@x", Role::Owner).await;
    let (u2, _) = user(&db, "u2@x", Role::Owner).await;
    sqlx::raw_sql(
        "INSERT INTO workers (id, hosts, version, heartbeat_at, in_flight, stopped_at) VALUES
           ('w-alive', '{local}', '1.2.3', now() - interval '2 seconds', 3, NULL),
           ('w-silent', '{local,gpu1}', '1.2.3', now() - interval '45 seconds', 1, NULL),
           ('w-stopped', '{local}', '1.2.2', now() - interval '10 minutes', 0, now() - interval '9 minutes'),
           ('w-ancient', '{local}', '1.0.0', now() - interval '3 days', 0, now() - interval '2 days');
         INSERT INTO hosts (name, address, reachable, last_error) VALUES
           ('local', 'local', true, NULL),
           ('gpu1', 'ops@gpu1', false, 'ssh: connection refused');",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    for u in [u1.id, u2.id] {
        sqlx::query("INSERT INTO agent_sessions (user_id, host) VALUES ($1, 'local')")
            .bind(u)
            .execute(&db.pool)
            .await
            .unwrap();
    }
    let (status, s) = Client::new(&api.base, Some(&admin))
        .get("/api/admin/paliadin/stats")
        .await;
    assert_eq!(status, 200, "{s}");
    let workers: Vec<(String, String, bool)> = s["workers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| {
            (
                w["id"].as_str().unwrap().into(),
                w["status"].as_str().unwrap().into(),
                w["alive"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        workers,
        [
            ("w-alive".into(), "alive".into(), true),
            ("w-silent".into(), "stale".into(), false),
            ("w-stopped".into(), "stopped".into(), false),
        ]
    );
    let silent = &s["workers"][1];
    assert!(
        silent["heartbeat_age_secs"].as_f64().unwrap() >= 45.0,
        "{silent}"
    );
    assert_eq!(silent["hosts"], serde_json::json!(["local", "gpu1"]));
    assert_eq!(s["workers"][0]["in_flight"], 3);
    let hosts = s["hosts"].as_array().unwrap();
    assert_eq!(hosts[0]["name"], "gpu1");
    assert_eq!(
        (&hosts[0]["reachable"], &hosts[0]["sessions"]),
        (&false.into(), &0.into())
    );
    assert_eq!(hosts[0]["last_error"], "ssh: connection refused");
    assert_eq!(
        (&hosts[1]["name"], &hosts[1]["sessions"]),
        (&"local".into(), &2.into())
    );
}
