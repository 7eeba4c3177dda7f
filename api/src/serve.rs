//! The HTTP connection loop: every connection has a deadline for its request head (which also
//! closes idle keep-alive connections), at most `max_connections` are served at once (the rest
//! wait in the listen backlog until a slot frees), and shutdown is bounded: after the signal no
//! connection is accepted, open ones get `shutdown_grace` to finish, then are dropped.

use axum::Router;
use axum::body::Body;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

/// Connection limits (from [`crate::config::ApiConfig`]).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Longest a client may take to send a request head, and longest an idle keep-alive
    /// connection is kept.
    pub header_timeout: Duration,
    /// Most connections served at once.
    pub max_connections: usize,
    /// Longest open connections may take to finish after the shutdown signal.
    pub shutdown_grace: Duration,
}

/// Sends each write at once (`TCP_NODELAY`). Every SSE event is a small write of its own: with
/// Nagle's algorithm the next one waits for the client's delayed ACK, up to 40 ms on Linux —
/// that was most of the time from a turn's commit to its `end` event at the client (20–40 of
/// ≈ 35 ms, docs/performance.md).
fn no_delay(stream: tokio::net::TcpStream) -> tokio::net::TcpStream {
    if let Err(e) = stream.set_nodelay(true) {
        tracing::debug!(error = %e, "cannot set TCP_NODELAY");
    }
    stream
}

/// Serves `app` on `listener` under `limits` until `shutdown`, then drains within the grace.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let mut conns = JoinSet::new();
    loop {
        while conns.try_join_next().is_some() {}
        // Take a slot before accepting: over the cap, clients wait in the kernel's backlog.
        let slot = tokio::select! {
            _ = shutdown.cancelled() => break,
            slot = slots.clone().acquire_owned() => slot.expect("the semaphore is never closed"),
        };
        let stream = tokio::select! {
            _ = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => no_delay(stream),
                Err(e) => {
                    // Out of descriptors and the like: retry once a connection has ended.
                    tracing::warn!(error = %e, "accept failed");
                    drop(slot);
                    if conns.join_next().await.is_none() {
                        tokio::task::yield_now().await;
                    }
                    continue;
                }
            },
        };
        let service = TowerToHyperService::new(
            app.clone()
                .map_request(|req: axum::http::Request<Incoming>| req.map(Body::new)),
        );
        let stop = shutdown.clone();
        conns.spawn(async move {
            let _slot = slot;
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_timeout);
            let conn = builder.serve_connection(TokioIo::new(stream), service);
            tokio::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => return,
                _ = stop.cancelled() => conn.as_mut().graceful_shutdown(),
            }
            let _ = conn.await;
        });
    }
    drop(listener);
    let drained = tokio::time::timeout(limits.shutdown_grace, async {
        while conns.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            open = conns.len(),
            "connections still open after the shutdown grace; dropping them"
        );
        conns.shutdown().await;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn accepted_connections_send_small_writes_at_once() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let client = tokio::spawn(tokio::net::TcpStream::connect(addr));
        let (stream, _) = listener.accept().await.unwrap();
        assert!(
            !stream.nodelay().unwrap(),
            "the kernel's default is Nagle on"
        );
        assert!(super::no_delay(stream).nodelay().unwrap());
        client.await.unwrap().unwrap();
    }
}
