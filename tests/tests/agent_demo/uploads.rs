//! Files sent with a message reach the agent's working directory through a real worker process
//! and the demo agent: before the paste, `<workdir>/uploads/<turn id>/<name>` (directories 0700,
//! files 0600, a repeated name numbered), and the envelope names their absolute paths (the
//! demo agent's `/echo` replies with what it received); deleting the conversation removes the
//! files from the host. The same over SSH: `ssh::uploads`.

use paliadin_api::config::ApiConfig;
use paliadin_e2e::db::TestDb;
use paliadin_e2e::http::{Client, user};
use paliadin_e2e::procs::TmuxRig;
use paliadin_e2e::system::start_api;
use paliadin_e2e::uploads::{PNG, uploaded};
use paliadin_shared::db::users::Role;
use serde_json::json;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use uuid::Uuid;

/// Mode bits of `p` (permissions only).
fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().mode() & 0o777
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_land_private_under_the_turn_and_go_with_the_conversation() {
    let db = TestDb::new().await;
    let api = start_api(&db, ApiConfig::default()).await;
    let (_, token) = user(&db, "o@up", Role::Owner).await;
    let c = &Client::new(&api.base, Some(&token));
    let rig = TmuxRig::new();
    let workdir = rig.spool.parent().unwrap().join("work");
    std::fs::create_dir_all(&workdir).unwrap();
    let workdir = workdir.canonicalize().unwrap();
    let _worker = rig.worker_with(
        &db.url,
        "up-w1",
        &[("PALIADIN_WORKDIR", workdir.to_str().unwrap())],
    );

    let text = b"line one\nline two\n";
    let ids = [
        uploaded(c, "shot.png", PNG).await,
        uploaded(c, "notes.txt", text).await,
        uploaded(c, "notes.txt", b"second").await,
    ];
    let session = Uuid::now_v7();
    let body =
        json!({"user_message": "/echo here they are", "session_id": session, "upload_ids": ids});
    let (s, v) = c.post("/api/paliadin/turn", &body).await;
    assert_eq!(s, 200, "{v}");
    let turn = v["turn_id"].as_str().unwrap().to_owned();
    let evs = c.stream_all(v["sse_url"].as_str().unwrap(), None, 60).await;
    let end = evs.last().unwrap();
    assert_eq!(end.event, "end", "{evs:?}");

    let dir = workdir.join("uploads").join(&turn);
    let (png, notes, notes2) = (
        dir.join("shot.png"),
        dir.join("notes.txt"),
        dir.join("notes (2).txt"),
    );
    assert_eq!(std::fs::read(&png).unwrap(), PNG);
    assert_eq!(std::fs::read(&notes).unwrap(), text);
    assert_eq!(std::fs::read(&notes2).unwrap(), b"second");
    for f in [&png, &notes, &notes2] {
        assert_eq!(mode(f), 0o600, "{}", f.display());
    }
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(dir.parent().unwrap()), 0o700);
    let names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(
        names.len(),
        3,
        "nothing else (no half-written part): {names:?}"
    );

    // What the agent received names each file by its absolute path, its type and size.
    let got = end.data["text"].as_str().unwrap();
    assert!(
        got.starts_with("here they are\n\n[Files sent with this message"),
        "{got}"
    );
    for line in [
        format!("- {} (image/png, {} bytes)", png.display(), PNG.len()),
        format!("- {} (text/plain, {} bytes)", notes.display(), text.len()),
        format!("- {} (text/plain, 6 bytes)", notes2.display()),
    ] {
        assert!(got.contains(&line), "{line} not in: {got}");
    }

    // Forgetting the conversation removes the files from the host too.
    let (s, v) = c
        .delete(&format!("/api/paliadin/conversations/{session}"))
        .await;
    assert_eq!(s, 200, "{v}");
    paliadin_e2e::wait_until(20, "the turn's uploads removed from the host", || {
        let gone = !dir.exists();
        async move { gone }
    })
    .await;
    // The worker dequeues the purge once the files are gone: a moment after they went.
    let pool = &db.pool;
    paliadin_e2e::wait_until(20, "the purge dequeued once done", || async move {
        let queued: i64 = sqlx::query_scalar("SELECT count(*) FROM upload_purges")
            .fetch_one(pool)
            .await
            .unwrap();
        queued == 0
    })
    .await;
}
