//! A `paliadin-worker` that can be cut off from the database: it runs inside its own network
//! namespace ([`Netns`]) and reaches PostgreSQL only through a forwarder on the host side of
//! the namespace's veth ([`Forwarder`]), so [`Partitioned::cut`] is a real partition (packets
//! dropped, connections hanging) while the worker keeps running and keeps its tmux server
//! (a Unix socket in the shared file system). Its log is JSON lines, kept for the test to read
//! what it did to a turn and when.

use crate::db::TestDb;
use crate::log_lines::LogLines;
use crate::netns::Netns;
use crate::procs::{TmuxRig, binary};
use crate::tcp_forward::Forwarder;
use serde_json::Value;
use std::net::{SocketAddr, ToSocketAddrs};
use std::process::Stdio;
use tokio::process::Child;

pub struct Partitioned {
    /// Declared first: the worker is killed before its namespace goes.
    pub child: Child,
    pub id: String,
    pub log: LogLines,
    pub ns: Netns,
    _forwarder: Forwarder,
}

/// One event of the worker's JSON log.
#[derive(Debug, Clone)]
pub struct LogEvent {
    /// RFC 3339, UTC (PostgreSQL reads it as a `timestamptz`).
    pub at: String,
    pub level: String,
    pub message: String,
    /// Every field of the event (`message`, `error`, …).
    pub fields: Value,
    /// The attempt it is about (a field, or the enclosing `turn` span's).
    pub attempt: Option<i64>,
}

/// `(host:port of the server, the URL with host:port replaced by `to`)`.
fn reroute(url: &str, to: SocketAddr) -> (SocketAddr, String) {
    let start = url
        .find('@')
        .map_or(url.find("//").expect("URL") + 2, |i| i + 1);
    let end = start + url[start..].find('/').expect("URL with a database");
    let server = &url[start..end];
    let server = if server.contains(':') {
        server.to_owned()
    } else {
        format!("{server}:5432")
    };
    let target = server
        .to_socket_addrs()
        .expect("resolve the database server")
        .next()
        .expect("an address");
    (target, format!("{}{to}{}", &url[..start], &url[end..]))
}

impl Partitioned {
    /// Starts worker `id` on `rig` inside a new namespace, or says why it cannot (no root, no
    /// namespaces): the caller skips with that reason.
    pub async fn start(
        db: &TestDb,
        rig: &TmuxRig,
        id: &str,
        env: &[(&str, &str)],
    ) -> Result<Partitioned, String> {
        let ns = Netns::create()?;
        let (target, _) = reroute(&db.url, SocketAddr::from(([127, 0, 0, 1], 0)));
        let forwarder = Forwarder::start(SocketAddr::from((ns.host_addr, 0)), target).await;
        let (_, url) = reroute(&db.url, forwarder.addr);
        let mut cmd = ns.command(&binary("paliadin-worker"));
        cmd.stderr(Stdio::piped());
        let mut all = vec![
            ("PALIADIN_LOG_JSON", "1"),
            ("RUST_LOG", "warn,paliadin_worker=info,paliadin_shared=info"),
        ];
        all.extend_from_slice(env);
        let mut child = rig.worker_via(cmd, &url, id, &all);
        let log = LogLines::follow(child.stderr.take().expect("piped stderr"), id);
        Ok(Partitioned {
            child,
            id: id.to_owned(),
            log,
            ns,
            _forwarder: forwarder,
        })
    }

    pub fn cut(&self) {
        self.ns.cut();
    }

    pub fn heal(&self) {
        self.ns.heal();
    }

    /// What the worker logged about `turn` (its id in a field or in an enclosing span), in order.
    pub fn events_of(&self, turn: &str) -> Vec<LogEvent> {
        self.log
            .lines()
            .iter()
            .filter(|l| l.contains(turn))
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .map(|v| LogEvent {
                at: v["timestamp"].as_str().unwrap_or_default().to_owned(),
                level: v["level"].as_str().unwrap_or_default().to_owned(),
                message: v["fields"]["message"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                fields: v["fields"].clone(),
                attempt: v["fields"]["attempt"]
                    .as_i64()
                    .or_else(|| v["spans"][0]["attempt"].as_i64()),
            })
            .collect()
    }

    /// Waits (up to `secs`) until the worker logged one of `messages` (a part of the message)
    /// about attempt `attempt` of `turn`; returns that event.
    pub async fn wait_event(
        &self,
        turn: &str,
        attempt: i32,
        messages: &[&str],
        secs: u64,
    ) -> LogEvent {
        let what = format!(
            "worker {} logs one of {messages:?} for attempt {attempt} of turn {turn}",
            self.id
        );
        let find = || {
            self.events_of(turn).into_iter().find(|e| {
                e.attempt == Some(attempt.into()) && messages.iter().any(|m| e.message.contains(m))
            })
        };
        crate::wait_until(secs, &what, || async { find().is_some() }).await;
        find().expect("found")
    }
}
