//! Files sent with a message reach a remote host's working directory over real SSH: the worker
//! sends them to the host agent in `upload` pieces (a file larger than one piece included)
//! before the `run`, the host agent writes `<workdir>/uploads/<turn id>/<name>` (0700
//! directories, 0600 files) and the envelope names its paths there; deleting the conversation
//! has the host agent remove them. The same on the worker's own host: `agent_demo::uploads`.

use paliadin_api::config::ApiConfig;
use paliadin_e2e::db::TestDb;
use paliadin_e2e::http::{Client, user};
use paliadin_e2e::procs::TmuxRig;
use paliadin_e2e::sshd::{SshHost, wait_host, worker};
use paliadin_e2e::system::start_api;
use paliadin_e2e::uploads::{PNG, uploaded};
use paliadin_shared::db::users::Role;
use serde_json::json;
use std::os::unix::fs::MetadataExt;
use uuid::Uuid;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_reach_the_remote_workdir_in_pieces_and_go_with_the_conversation() {
    let db = TestDb::new().await;
    let api = start_api(&db, ApiConfig::default()).await;
    let (_, token) = user(&db, "o@ssh-up", Role::Owner).await;
    let c = &Client::new(&api.base, Some(&token));
    let rig = TmuxRig::new();
    let workdir = rig.spool.parent().unwrap().join("remote-work");
    std::fs::create_dir_all(&workdir).unwrap();
    let workdir = workdir.canonicalize().unwrap();
    let h1 = SshHost::start_on(
        rig,
        "h1",
        &[("PALIADIN_WORKDIR", workdir.display().to_string())],
    );
    let _w = worker(&db.url, "ssh-up", &h1.entry(), &[]);
    wait_host(&db, "h1", true, 20).await;

    // Three pieces' worth of text (96 KiB each on the wire).
    let big: Vec<u8> = (0..250_000u32)
        .map(|i| b"abcdefghij\n"[(i % 11) as usize])
        .collect();
    let ids = [
        uploaded(c, "screen shot.png", PNG).await,
        uploaded(c, "big.log", &big).await,
    ];
    let session = Uuid::now_v7();
    let body = json!({"user_message": "/echo over ssh", "session_id": session, "upload_ids": ids});
    let (s, v) = c.post("/api/paliadin/turn", &body).await;
    assert_eq!(s, 200, "{v}");
    let turn = v["turn_id"].as_str().unwrap().to_owned();
    let evs = c.stream_all(v["sse_url"].as_str().unwrap(), None, 60).await;
    let end = evs.last().unwrap();
    assert_eq!(end.event, "end", "{evs:?}");

    let dir = workdir.join("uploads").join(&turn);
    let (png, log) = (dir.join("screen shot.png"), dir.join("big.log"));
    assert_eq!(std::fs::read(&png).unwrap(), PNG);
    assert_eq!(std::fs::read(&log).unwrap(), big);
    for f in [&png, &log] {
        assert_eq!(std::fs::metadata(f).unwrap().mode() & 0o777, 0o600);
    }
    assert_eq!(std::fs::metadata(&dir).unwrap().mode() & 0o777, 0o700);
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 2, "no part left");
    let got = end.data["text"].as_str().unwrap();
    for line in [
        format!("- {} (image/png, {} bytes)", png.display(), PNG.len()),
        format!("- {} (text/plain, {} bytes)", log.display(), big.len()),
    ] {
        assert!(got.contains(&line), "{line} not in: {got}");
    }
    assert_eq!(h1.rig.receipts(&turn), 1, "one paste");

    let (s, v) = c
        .delete(&format!("/api/paliadin/conversations/{session}"))
        .await;
    assert_eq!(s, 200, "{v}");
    paliadin_e2e::wait_until(20, "the remote host removed the turn's uploads", || {
        let gone = !dir.exists();
        async move { gone }
    })
    .await;
}
