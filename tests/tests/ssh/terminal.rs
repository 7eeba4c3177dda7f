//! The live terminal view of a conversation on a remote host: the worker looks at the pane
//! through the host agent over real SSH (its `pane` op), and the view is the same as on a
//! local host — the first frame is what `capture-pane -e -p` shows on that host, a line printed
//! there arrives within a second, another owner gets 404, and nothing reaches the pane.

use paliadin_api::config::ApiConfig;
use paliadin_e2e::db::TestDb;
use paliadin_e2e::http::{Client, user};
use paliadin_e2e::procs::session_of;
use paliadin_e2e::sshd::{SshHost, wait_host, worker};
use paliadin_e2e::system::start_api;
use paliadin_e2e::terminal::{capture_e, next_screen, pane_tty, path, print_and_see};
use paliadin_shared::db::users::Role;
use serde_json::json;
use std::time::Duration;
use uuid::Uuid;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_terminal_of_a_remote_conversation_comes_through_the_host_agent() {
    let db = TestDb::new().await;
    let api = start_api(&db, ApiConfig::default()).await;
    let (owner, token) = user(&db, "o@x", Role::Owner).await;
    let h1 = SshHost::start("h1");
    let _w = worker(&db.url, "ssh-term", &h1.entry(), &[]);
    wait_host(&db, "h1", true, 20).await;
    let c = Client::new(&api.base, Some(&token));
    let conversation = Uuid::new_v4();
    let (s, v) = c
        .post(
            "/api/paliadin/turn",
            &json!({ "user_message": "/echo on the remote host", "session_id": conversation }),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let turn = v["turn_id"].as_str().unwrap().to_owned();
    let evs = c.stream_all(v["sse_url"].as_str().unwrap(), None, 60).await;
    assert_eq!(evs.last().unwrap().event, "end", "{evs:?}");
    let session = session_of(&owner.id);
    assert!(h1.rig.has_session(&session), "no session on h1");

    // Another owner: the plain 404, and no view is opened.
    let (_, other_token) = user(&db, "other@x", Role::Owner).await;
    let other = Client::new(&api.base, Some(&other_token));
    assert_eq!(other.get(&path(conversation)).await.0, 404);

    // The owner: the first frame is the remote pane, as tmux on that host prints it.
    let (status, mut frames) = c.open_stream(&path(conversation), None).await;
    assert_eq!(status, 200);
    let first = next_screen(&mut frames).await;
    let screen = first.data["screen"].as_str().unwrap();
    assert_eq!(screen, capture_e(&h1.rig, &session));
    assert!(screen.contains(&format!("wrote {turn}.md")), "{screen}");
    let host: String = sqlx::query_scalar("SELECT host FROM terminal_views")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(host, "h1");

    // Lines printed on the remote pane arrive within a second.
    let tty = pane_tty(&h1.rig.socket, &session);
    for n in 0..3 {
        let took = print_and_see(&mut frames, &tty, &format!("remote line {n}")).await;
        println!(
            "terminal over ssh: a printed line reached the view in {:.0} ms",
            took.as_secs_f64() * 1000.0
        );
        assert!(took < Duration::from_secs(1), "line {n} took {took:?}");
    }
    drop(frames);
    paliadin_e2e::wait_until(10, "the view closed", || async {
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM terminal_views")
            .fetch_one(&db.pool)
            .await
            .unwrap()
            == 0
    })
    .await;

    // The view sent nothing: the agent received exactly its one turn and is idle, and the next
    // turn still goes through normally.
    assert_eq!(h1.rig.receipts(&turn), 1);
    let (s, v) = c
        .post(
            "/api/paliadin/turn",
            &json!({ "user_message": "/echo after the view", "session_id": conversation }),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let evs = c.stream_all(v["sse_url"].as_str().unwrap(), None, 60).await;
    assert_eq!(evs.last().unwrap().event, "end", "{evs:?}");
}
