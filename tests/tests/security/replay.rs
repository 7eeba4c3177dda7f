//! Pins that an SSE replay is read in pages, not loaded whole (docs/security.md): eight slow
//! readers of one 32 MB turn, each of which has its stream open and stopped reading, grow the
//! real `paliadin-api` process by far less than eight copies of the turn.

use paliadin_e2e::db::TestDb;
use paliadin_e2e::fault::ApiProc;
use paliadin_e2e::http::{Client, user};
use paliadin_shared::db::users::Role;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn rss_mb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap();
    kb / 1024
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_readers_of_a_huge_turn_do_not_each_load_it() {
    let db = TestDb::new().await;
    let api = ApiProc::start_with(&db, &[("PALIADIN_MAX_STREAMS_PER_USER", "100")]).await;
    let pid = api.child.id().unwrap();
    let (_, token) = user(&db, "o@x", Role::Owner).await;
    let c = Client::new(&api.base, Some(&token));
    let (id, sse) = c.turn("a big turn").await;
    let uuid: uuid::Uuid = id.parse().unwrap();
    paliadin_e2e::db::seed_big_turn(&db.pool, uuid).await;
    let before = rss_mb(pid);
    let addr = api.base.trim_start_matches("http://").to_owned();
    let mut readers = Vec::new();
    for _ in 0..8 {
        let mut s = TcpStream::connect(&addr).await.unwrap();
        let head =
            format!("GET {sse} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\r\n");
        s.write_all(head.as_bytes()).await.unwrap();
        // Wait for the first event: the server has read (at least) its first page.
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        while !String::from_utf8_lossy(&got).contains("event: content") {
            let n = s.read(&mut buf).await.unwrap();
            assert!(n > 0, "the stream ended");
            got.extend_from_slice(&buf[..n]);
        }
        readers.push(s);
    }
    let grown = rss_mb(pid).saturating_sub(before);
    eprintln!("8 slow readers of a 32 MB turn: API grew by {grown} MB");
    assert!(grown < 120, "the API grew by {grown} MB for 8 readers");
    drop(readers);
}
