//! HTTP and SSE helpers: users with tokens, a small JSON client, and an SSE reader built on
//! `eventsource-stream`.

use crate::db::TestDb;
use eventsource_stream::Eventsource;
use futures::{Stream, StreamExt};
use paliadin_shared::db::users::{self, Role, UserRow};
use serde_json::Value;
use std::time::Duration;

/// Creates a user and returns it with a fresh bearer token.
pub async fn user(db: &TestDb, email: &str, role: Role) -> (UserRow, String) {
    let token = paliadin_shared::secret::new_token();
    let u = users::create(
        &db.pool,
        email,
        role,
        &paliadin_shared::secret::hash(&token),
    )
    .await
    .expect("create user");
    (u, token)
}

/// One received SSE event.
#[derive(Debug, Clone, PartialEq)]
pub struct SseEvent {
    pub id: i32,
    pub event: String,
    pub data: Value,
}

impl SseEvent {
    pub fn is_terminal(&self) -> bool {
        matches!(self.event.as_str(), "end" | "error" | "cancelled")
    }
}

#[derive(Clone)]
pub struct Client {
    pub base: String,
    pub token: Option<String>,
    pub http: reqwest::Client,
}

impl Client {
    pub fn new(base: &str, token: Option<&str>) -> Client {
        Client {
            base: base.to_owned(),
            token: token.map(str::to_owned),
            http: reqwest::Client::new(),
        }
    }

    fn auth(&self, rb: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.token {
            Some(t) => rb.bearer_auth(t),
            None => rb,
        }
    }

    /// POST with a JSON body; returns status and parsed JSON (Null if not JSON).
    pub async fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        let r = self
            .auth(self.http.post(format!("{}{path}", self.base)).json(body))
            .send()
            .await
            .expect("send");
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// POST with a raw body and content type.
    pub async fn post_raw(&self, path: &str, content_type: &str, body: Vec<u8>) -> (u16, Value) {
        let rb = self
            .http
            .post(format!("{}{path}", self.base))
            .header("content-type", content_type)
            .body(body);
        let r = self.auth(rb).send().await.expect("send");
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        let r = self
            .auth(self.http.get(format!("{}{path}", self.base)))
            .send()
            .await
            .expect("send");
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    pub async fn delete(&self, path: &str) -> (u16, Value) {
        let r = self
            .auth(self.http.delete(format!("{}{path}", self.base)))
            .send()
            .await
            .expect("send");
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// Posts a turn and returns `(turn_id, sse_url)`, asserting 200.
    pub async fn turn(&self, message: &str) -> (String, String) {
        let (s, v) = self
            .post(
                "/api/paliadin/turn",
                &serde_json::json!({ "user_message": message }),
            )
            .await;
        assert_eq!(s, 200, "post turn: {v}");
        (
            v["turn_id"].as_str().expect("turn_id").to_owned(),
            v["sse_url"].as_str().expect("sse_url").to_owned(),
        )
    }

    /// Opens an SSE stream (optionally resuming after `last_event_id`); returns status and events.
    pub async fn open_stream(
        &self,
        path: &str,
        last_event_id: Option<i32>,
    ) -> (u16, impl Stream<Item = SseEvent> + Unpin + use<>) {
        let mut rb = self.auth(self.http.get(format!("{}{path}", self.base)));
        if let Some(id) = last_event_id {
            rb = rb.header("Last-Event-ID", id.to_string());
        }
        let r = rb.send().await.expect("send");
        let status = r.status().as_u16();
        let events = r.bytes_stream().eventsource().filter_map(|e| async move {
            let e = e.ok()?;
            Some(SseEvent {
                id: e.id.parse().expect("numeric id"),
                event: e.event,
                data: serde_json::from_str(&e.data).expect("JSON data"),
            })
        });
        (status, Box::pin(events))
    }

    /// Reads a stream to its end (the server closes it after the terminal event).
    pub async fn stream_all(
        &self,
        path: &str,
        last_event_id: Option<i32>,
        secs: u64,
    ) -> Vec<SseEvent> {
        let (status, stream) = self.open_stream(path, last_event_id).await;
        assert_eq!(status, 200, "stream status");
        tokio::time::timeout(Duration::from_secs(secs), stream.collect::<Vec<_>>())
            .await
            .expect("stream ended in time")
    }
}

/// The next event of an open stream; fails after `secs` seconds, or if the stream ends first.
pub async fn next_event(
    stream: &mut (impl Stream<Item = SseEvent> + Unpin),
    secs: u64,
) -> SseEvent {
    tokio::time::timeout(Duration::from_secs(secs), stream.next())
        .await
        .expect("event in time")
        .expect("stream open")
}

/// Reads events until one of `kind` arrives (each within `secs`); returns everything read, that
/// one last. Fails if the turn ends first.
pub async fn read_until(
    stream: &mut (impl Stream<Item = SseEvent> + Unpin),
    kind: &str,
    secs: u64,
) -> Vec<SseEvent> {
    let mut seen = Vec::new();
    loop {
        let ev = next_event(stream, secs).await;
        let done = ev.event == kind;
        assert!(done || !ev.is_terminal(), "ended before {kind}: {ev:?}");
        seen.push(ev);
        if done {
            return seen;
        }
    }
}

/// Reads events up to and including the terminal one (each within `secs`).
pub async fn read_to_terminal(
    stream: &mut (impl Stream<Item = SseEvent> + Unpin),
    secs: u64,
) -> Vec<SseEvent> {
    let mut seen = Vec::new();
    loop {
        let ev = next_event(stream, secs).await;
        let done = ev.is_terminal();
        seen.push(ev);
        if done {
            return seen;
        }
    }
}

/// Checks the events of a finished turn: it ended with `end`, its reply came as at least two
/// `content` deltas, and those add up to the final text.
#[track_caller]
pub fn assert_streamed_reply(evs: &[SseEvent]) {
    let end = evs.last().unwrap();
    assert_eq!(end.event, "end", "{evs:?}");
    assert!(
        evs.iter().filter(|e| e.event == "content").count() >= 2,
        "the reply was not streamed: {evs:?}"
    );
    assert_eq!(concat_deltas(evs), end.data["text"].as_str().unwrap());
}

/// The reply text assembled from `content` deltas.
pub fn concat_deltas(events: &[SseEvent]) -> String {
    events
        .iter()
        .filter(|e| e.event == "content")
        .map(|e| e.data["delta"].as_str().expect("delta"))
        .collect()
}
