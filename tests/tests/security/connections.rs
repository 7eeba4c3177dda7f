//! Pins the API's connection limits (docs/security.md): a client that sends half a request
//! head is closed after `PALIADIN_HEADER_TIMEOUT_SECS` (slowloris); connections beyond
//! `PALIADIN_MAX_CONNECTIONS` wait in the backlog until a slot frees; shutdown finishes within
//! `PALIADIN_SHUTDOWN_GRACE_SECS` even with an SSE stream whose client stopped reading.

use paliadin_api::config::ApiConfig;
use paliadin_e2e::db::TestDb;
use paliadin_e2e::http::{Client, user};
use paliadin_shared::db::users::Role;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn addr(base: &str) -> String {
    base.trim_start_matches("http://").to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_a_request_head_is_closed_after_the_header_timeout() {
    let db = TestDb::new().await;
    let config = ApiConfig {
        header_timeout_secs: 1,
        ..ApiConfig::default()
    };
    let api = paliadin_e2e::system::start_api(&db, config).await;
    let mut slow = TcpStream::connect(addr(&api.base)).await.unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    // The server closes it (with or without a 408): read to the end of the stream.
    let mut got = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(10), slow.read_to_end(&mut got)).await;
    assert!(closed.is_ok(), "a slowloris connection is kept open");
    // A silent keep-alive connection is closed the same way.
    let mut idle = TcpStream::connect(addr(&api.base)).await.unwrap();
    let closed = tokio::time::timeout(Duration::from_secs(10), idle.read_to_end(&mut got)).await;
    assert!(closed.is_ok(), "an idle connection is kept open");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_over_the_cap_wait_until_a_slot_frees() {
    let db = TestDb::new().await;
    let config = ApiConfig {
        max_connections: 2,
        header_timeout_secs: 120,
        ..ApiConfig::default()
    };
    let api = paliadin_e2e::system::start_api(&db, config).await;
    let a = TcpStream::connect(addr(&api.base)).await.unwrap();
    let b = TcpStream::connect(addr(&api.base)).await.unwrap();
    let url = format!("{}/healthz", api.base);
    let third = tokio::spawn(async move { reqwest::get(url).await.map(|r| r.status().as_u16()) });
    // While both slots are held the third request gets no answer.
    tokio::task::yield_now().await;
    let early = tokio::time::timeout(Duration::from_millis(700), async {
        while !third.is_finished() {
            tokio::task::yield_now().await;
        }
    })
    .await;
    assert!(
        early.is_err(),
        "a third connection was served over a cap of 2"
    );
    drop(a);
    let status = tokio::time::timeout(Duration::from_secs(10), third)
        .await
        .expect("served once a slot freed")
        .unwrap()
        .unwrap();
    assert_eq!(status, 200);
    drop(b);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_is_bounded_with_a_stream_whose_client_stopped_reading() {
    let db = TestDb::new().await;
    let config = ApiConfig {
        shutdown_grace_secs: 1,
        ..ApiConfig::default()
    };
    let api = paliadin_e2e::system::start_api(&db, config).await;
    let (_, token) = user(&db, "o@x", Role::Owner).await;
    let c = Client::new(&api.base, Some(&token));
    let (id, sse) = c.turn("a big turn").await;
    // 32 MB of events: more than loopback socket buffers hold.
    let uuid: uuid::Uuid = id.parse().unwrap();
    paliadin_e2e::db::seed_big_turn(&db.pool, uuid).await;
    let mut reader = TcpStream::connect(addr(&api.base)).await.unwrap();
    let head = format!(
        "GET {sse} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nAccept: text/event-stream\r\n\r\n"
    );
    reader.write_all(head.as_bytes()).await.unwrap();
    let mut first = [0u8; 64];
    let n = reader.read(&mut first).await.unwrap();
    assert!(
        std::str::from_utf8(&first[..n])
            .unwrap()
            .starts_with("HTTP/1.1 200"),
        "stream opened"
    );
    // The client reads nothing more; the server's writes back up. Now shut down.
    api.shutdown.cancel();
    let done = tokio::time::timeout(Duration::from_secs(8), api.join).await;
    assert!(
        done.is_ok(),
        "the API is still serving 8 s after the shutdown signal (grace 1 s)"
    );
    drop(reader);
}
