//! Pins remote hosts over real SSH: a `paliadin-worker` process whose `PALIADIN_HOSTS` names
//! hosts reached through a real `sshd` (forced command `paliadin-shim serve`, demo agent, one
//! private tmux server per host). A turn posted over HTTP is answered in the user's session on
//! the remote host with streamed deltas and one paste; users are spread over two hosts, each
//! user's session living only on their host; reset works remotely; the hosts table shows both
//! hosts reachable with their ssh addresses; a draining host (`PALIADIN_DRAIN`) takes no new
//! users and its idle users move to the other host. The host agent says which agent answered.

use paliadin_api::config::ApiConfig;
use paliadin_e2e::db::TestDb;
use paliadin_e2e::http::{Client, assert_streamed_reply, user};
use paliadin_e2e::procs::{session_of, window_of};
use paliadin_e2e::sshd::{SshHost, wait_host, worker};
use paliadin_e2e::system::start_api;
use paliadin_shared::db::users::Role;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_turn_runs_end_to_end_over_ssh() {
    let db = TestDb::new().await;
    let api = start_api(&db, ApiConfig::default()).await;
    let (owner, token) = user(&db, "o@x", Role::Owner).await;
    let h1 = SshHost::start("h1");
    let _w = worker(&db.url, "ssh-w1", &h1.entry(), &[]);
    wait_host(&db, "h1", true, 20).await;
    let c = Client::new(&api.base, Some(&token));
    let (id, sse) = c.turn("/stream 4 tell me a story").await;
    let evs = c.stream_all(&sse, None, 60).await;
    assert_streamed_reply(&evs);
    assert_eq!(
        evs.last().unwrap().data["agent"],
        "demo",
        "the host agent names its agent"
    );
    let hosts: Vec<&str> = evs
        .iter()
        .filter(|e| e.event == "status")
        .filter_map(|e| e.data["host"].as_str())
        .collect();
    assert!(hosts.iter().all(|h| *h == "h1"), "{hosts:?}");
    assert!(
        h1.rig.has_session(&session_of(&owner.id)),
        "no session on h1"
    );
    assert_eq!(h1.rig.receipts(&id), 1);
    let address: String = sqlx::query_scalar("SELECT address FROM hosts WHERE name = 'h1'")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(address, format!("ssh://{}@127.0.0.1:{}", whoami(), h1.port));
    // A new conversation (reset): its first turn gets an agent of its own on the remote host.
    let before = h1
        .rig
        .agent_pid(&session_of(&owner.id))
        .expect("an agent on h1");
    let (s, v) = c.post("/api/paliadin/reset", &serde_json::json!({})).await;
    assert_eq!((s, v["ok"].as_bool()), (200, Some(true)), "{v}");
    let fresh: uuid::Uuid = v["session_id"].as_str().unwrap().parse().unwrap();
    let (_, sse) = c.turn("/echo again").await;
    assert_eq!(
        c.stream_all(&sse, None, 60).await.last().unwrap().event,
        "end"
    );
    assert!(h1.rig.has_session(&session_of(&owner.id)));
    // A window of its own, next to the first conversation's agent.
    let theirs = h1.rig.agent_pid(&window_of(&owner.id, &fresh));
    assert!(theirs.is_some(), "no agent for the new conversation on h1");
    assert_ne!(theirs, Some(before));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_are_spread_over_two_hosts_and_each_session_lives_on_its_host() {
    let db = TestDb::new().await;
    let api = start_api(&db, ApiConfig::default()).await;
    let (h1, h2) = (SshHost::start("h1"), SshHost::start("h2"));
    let hosts = format!("{},{}", h1.entry(), h2.entry());
    let _w = worker(
        &db.url,
        "ssh-both",
        &hosts,
        &[("PALIADIN_CONCURRENCY", "4")],
    );
    wait_host(&db, "h1", true, 20).await;
    wait_host(&db, "h2", true, 20).await;
    let mut posted = Vec::new();
    for i in 0..4 {
        let (u, token) = user(&db, &format!("u{i}@x"), Role::Owner).await;
        let c = Client::new(&api.base, Some(&token));
        let (id, sse) = c.turn(&format!("/echo hello from user {i}")).await;
        posted.push((u, c, id, sse));
    }
    let mut on = std::collections::HashMap::<String, usize>::new();
    for (u, c, id, sse) in &posted {
        let evs = c.stream_all(sse, None, 60).await;
        let end = evs.last().unwrap();
        assert_eq!(end.event, "end", "{evs:?}");
        let host: String = sqlx::query_scalar("SELECT host FROM turns WHERE id = $1::uuid")
            .bind(id)
            .fetch_one(&db.pool)
            .await
            .unwrap();
        let (mine, other) = if host == "h1" { (&h1, &h2) } else { (&h2, &h1) };
        assert!(
            mine.rig.has_session(&session_of(&u.id)),
            "no session on {host}"
        );
        assert!(
            !other.rig.has_session(&session_of(&u.id)),
            "session on both hosts"
        );
        assert_eq!(mine.rig.receipts(id), 1);
        *on.entry(host).or_default() += 1;
    }
    assert_eq!(on.get("h1"), Some(&2), "{on:?}");
    assert_eq!(on.get("h2"), Some(&2), "{on:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_draining_host_takes_no_new_users_and_its_idle_users_move_off() {
    let db = TestDb::new().await;
    let api = start_api(&db, ApiConfig::default()).await;
    let (h1, h2) = (SshHost::start("h1"), SshHost::start("h2"));
    let hosts = format!("{},{}", h1.entry(), h2.entry());
    let mut before = worker(&db.url, "ssh-before", &hosts, &[]);
    wait_host(&db, "h1", true, 20).await;
    wait_host(&db, "h2", true, 20).await;
    let (old, token) = user(&db, "old@x", Role::Owner).await;
    let c = Client::new(&api.base, Some(&token));
    let (_, sse) = c.turn("/echo pinned to h1").await;
    assert_eq!(
        c.stream_all(&sse, None, 60).await.last().unwrap().event,
        "end"
    );
    let host_of = |u: uuid::Uuid| {
        let pool = db.pool.clone();
        async move {
            sqlx::query_scalar::<_, String>("SELECT host FROM agent_sessions WHERE user_id = $1")
                .bind(u)
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };
    assert_eq!(host_of(old.id).await, "h1");
    before.kill().await.unwrap();
    let _w = worker(&db.url, "ssh-drain", &hosts, &[("PALIADIN_DRAIN", "h1")]);
    wait_host(&db, "h1", false, 20).await;
    paliadin_e2e::wait_until(30, "the idle user moved off h1", || async {
        host_of(old.id).await == "h2"
    })
    .await;
    let (_, sse) = c.turn("/echo now on h2").await;
    assert_eq!(
        c.stream_all(&sse, None, 60).await.last().unwrap().event,
        "end"
    );
    assert!(h2.rig.has_session(&session_of(&old.id)));
    let (new, token) = user(&db, "new@x", Role::Owner).await;
    let c = Client::new(&api.base, Some(&token));
    let (_, sse) = c.turn("/echo hello").await;
    assert_eq!(
        c.stream_all(&sse, None, 60).await.last().unwrap().event,
        "end"
    );
    assert_eq!(
        host_of(new.id).await,
        "h2",
        "a new user was pinned to a draining host"
    );
}

fn whoami() -> String {
    let out = std::process::Command::new("id")
        .arg("-un")
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}
