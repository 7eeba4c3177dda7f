//! The agent's transcript moves with its conversation (`docs/operations.md`, "Transcripts"),
//! with the demo agent's conversation log: after each turn it is copied to PostgreSQL byte for
//! byte; when the host's file is gone (a wiped home) the next turn's agent gets it back and
//! remembers the whole conversation; deleting the conversation drops the stored transcript and
//! removes the file from the host; past `PALIADIN_TRANSCRIPT_MAX_BYTES` it is capped.

use paliadin_api::config::ApiConfig;
use paliadin_e2e::db::TestDb;
use paliadin_e2e::http::{Client, user};
use paliadin_e2e::procs::{TmuxRig, session_of};
use paliadin_e2e::system::start_api;
use paliadin_shared::db::users::Role;
use serde_json::{Value, json};
use std::path::PathBuf;

async fn say(c: &Client, conversation: Option<&str>, message: &str) -> (String, String) {
    let mut body = json!({ "user_message": message });
    if let Some(id) = conversation {
        body["session_id"] = Value::from(id);
    }
    let (s, v) = c.post("/api/paliadin/turn", &body).await;
    assert_eq!(s, 200, "{v}");
    let evs = c.stream_all(v["sse_url"].as_str().unwrap(), None, 60).await;
    let end = evs.last().expect("events");
    assert_eq!(end.event, "end", "{message}: {evs:?}");
    (
        end.data["text"].as_str().unwrap_or_default().to_owned(),
        v["session_id"].as_str().unwrap().to_owned(),
    )
}

fn log_of(rig: &TmuxRig, conversation: &str) -> PathBuf {
    rig.spool
        .parent()
        .unwrap()
        .join("demo-state")
        .join(format!("{conversation}.jsonl"))
}

async fn stored(db: &TestDb, conversation: &str) -> Option<(i64, bool, Vec<u8>)> {
    let row: Option<(i64, bool)> =
        sqlx::query_as("SELECT bytes, capped FROM transcripts WHERE session_id = $1::uuid")
            .bind(conversation)
            .fetch_optional(&db.pool)
            .await
            .unwrap();
    let data: Vec<Vec<u8>> = sqlx::query_scalar(
        "SELECT data FROM transcript_chunks WHERE session_id = $1::uuid ORDER BY seq",
    )
    .bind(conversation)
    .fetch_all(&db.pool)
    .await
    .unwrap();
    row.map(|(b, c)| (b, c, data.concat()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wiped_home_gets_the_transcript_back_and_a_delete_removes_it() {
    let db = TestDb::new().await;
    let api = start_api(&db, ApiConfig::default()).await;
    let (owner, token) = user(&db, "o@transcript", Role::Owner).await;
    let rig = TmuxRig::new();
    let _w = rig.worker(&db.url, "ts-w1");
    let c = Client::new(&api.base, Some(&token));
    let (_, conv) = say(&c, None, "my name is Ada").await;
    say(&c, Some(&conv), "/echo the second turn").await;
    let file = log_of(&rig, &conv);
    let on_host = std::fs::read(&file).expect("the demo agent's log");
    let (bytes, capped, data) = stored(&db, &conv).await.expect("a stored transcript");
    assert_eq!((bytes as usize, capped), (on_host.len(), false));
    assert_eq!(data, on_host, "stored byte for byte, before the turn ended");

    // The home is wiped and the agent is gone: the next turn's agent remembers anyway.
    std::fs::remove_file(&file).unwrap();
    rig.kill_agent(&session_of(&owner.id));
    let (recalled, _) = say(&c, Some(&conv), "/recall").await;
    assert!(recalled.contains("my name is Ada"), "{recalled}");
    assert!(recalled.contains("the second turn"), "{recalled}");

    // Deleting the conversation drops the stored transcript and the host's file.
    let (s, v) = c
        .delete(&format!("/api/paliadin/conversations/{conv}"))
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(stored(&db, &conv).await, None);
    paliadin_e2e::wait_until(30, "the file removed from the host", || async {
        !file.exists()
    })
    .await;
    paliadin_e2e::wait_until(30, "the removal dequeued", || async {
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM transcript_removals")
            .fetch_one(&db.pool)
            .await
            .unwrap()
            == 0
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transcript_past_the_limit_is_capped() {
    let db = TestDb::new().await;
    let api = start_api(&db, ApiConfig::default()).await;
    let (_, token) = user(&db, "o@capped", Role::Owner).await;
    let rig = TmuxRig::new();
    let _w = rig.worker_with(
        &db.url,
        "ts-cap",
        &[("PALIADIN_TRANSCRIPT_MAX_BYTES", "1500")],
    );
    let c = Client::new(&api.base, Some(&token));
    let (_, conv) = say(&c, None, "/echo first, twenty-odd bytes").await;
    let (bytes, capped, _) = stored(&db, &conv).await.expect("stored");
    assert!(!capped && bytes > 0 && bytes <= 1500, "{bytes} {capped}");
    let long = format!("/echo {}", "x".repeat(1600));
    say(&c, Some(&conv), &long).await;
    let (after, capped, data) = stored(&db, &conv).await.expect("stored");
    assert!(capped, "past the limit the transcript is capped");
    assert_eq!(after, bytes, "nothing more stored");
    assert_eq!(data.len() as i64, after);
}
