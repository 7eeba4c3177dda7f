//! The live terminal view's rig (`tests/tests/web/terminal.rs`, `tests/tests/security/terminal.rs`):
//! the API, an owner, and a real `paliadin-worker` on a private tmux server ([`TmuxRig`]); the
//! view's stream as events; and what tmux itself says the pane shows (`capture-pane -e -p`).

use crate::db::TestDb;
use crate::http::{Client, SseEvent, next_event, user};
use crate::procs::{TmuxRig, session_of};
use crate::system::{Api, start_api};
use futures::Stream;
use paliadin_api::config::ApiConfig;
use paliadin_shared::db::users::{Role, UserRow};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use tokio::process::Child;
use uuid::Uuid;

/// One test's system. Fields drop in this order (worker before the rig).
pub struct TermSys {
    pub c: Client,
    pub token: String,
    pub owner: UserRow,
    pub worker: Option<Child>,
    pub rig: TmuxRig,
    pub api: Api,
    pub db: TestDb,
}

impl TermSys {
    /// The API (with `config`), an owner and the rig; the worker starts with
    /// [`TermSys::start_worker`] (some tests prepare the session first).
    pub async fn new(config: ApiConfig) -> TermSys {
        let db = TestDb::new().await;
        let api = start_api(&db, config).await;
        let (owner, token) = user(&db, "owner@x", Role::Owner).await;
        let c = Client::new(&api.base, Some(&token));
        TermSys {
            c,
            token,
            owner,
            worker: None,
            rig: TmuxRig::new(),
            api,
            db,
        }
    }

    pub fn start_worker(&mut self, id: &str) {
        self.worker = Some(self.rig.worker(&self.db.url, id));
    }

    /// The owner's tmux session's name.
    pub fn session(&self) -> String {
        session_of(&self.owner.id)
    }

    /// Posts `message` in conversation `session_id` and reads its turn to the end.
    pub async fn turn_in(&self, session_id: Uuid, message: &str) -> (String, Vec<SseEvent>) {
        let (s, v) = self
            .c
            .post(
                "/api/paliadin/turn",
                &json!({ "user_message": message, "session_id": session_id }),
            )
            .await;
        assert_eq!(s, 200, "post turn: {v}");
        let id = v["turn_id"].as_str().expect("turn_id").to_owned();
        let evs = self
            .c
            .stream_all(v["sse_url"].as_str().expect("sse_url"), None, 60)
            .await;
        (id, evs)
    }

    /// `capture-pane -e -p` of the owner's pane, as tmux prints it.
    pub fn capture(&self) -> String {
        capture_e(&self.rig, &self.session())
    }

    /// A conversation whose owner's pane runs `program` (`sh -c`) in a `cols`×`rows` window
    /// instead of an agent: its only turn is cancelled while queued, so no agent is started,
    /// and the owner's session row names the pane. Call before [`TermSys::start_worker`].
    pub async fn pane_running(&self, program: &str, cols: u16, rows: u16) -> Uuid {
        let conversation = Uuid::new_v4();
        let (s, v) = self
            .c
            .post(
                "/api/paliadin/turn",
                &json!({ "user_message": "never delivered", "session_id": conversation }),
            )
            .await;
        assert_eq!(s, 200, "{v}");
        let turn = v["turn_id"].as_str().expect("turn_id").to_owned();
        let (s, v) = self
            .c
            .post(&format!("/api/paliadin/turn/{turn}/cancel"), &json!({}))
            .await;
        assert_eq!((s, v["state"].as_str()), (200, Some("cancelled")), "{v}");
        let session = self.session();
        let made = Command::new("tmux")
            .args(["-L", &self.rig.socket, "new-session", "-d", "-s", &session])
            // The conversation's window, as the worker names its agent's.
            .args(["-n", &format!("c-{}", conversation.simple())])
            .args(["-x", &cols.to_string(), "-y", &rows.to_string()])
            .args(["sh", "-c", program])
            .status()
            .expect("tmux new-session");
        assert!(made.success());
        sqlx::query("UPDATE agent_sessions SET session_name = $2 WHERE user_id = $1")
            .bind(self.owner.id)
            .bind(&session)
            .execute(&self.db.pool)
            .await
            .expect("name the session");
        conversation
    }

    /// Waits until no terminal view is open any more (the stream's end closes its view).
    pub async fn views_closed(&self) {
        let pool = self.db.pool.clone();
        crate::wait_until(10, "every terminal view closed", || {
            let pool = pool.clone();
            async move {
                sqlx::query_scalar::<_, i64>("SELECT count(*) FROM terminal_views")
                    .fetch_one(&pool)
                    .await
                    .expect("count views")
                    == 0
            }
        })
        .await;
    }
}

/// The terminal device of `session`'s pane on tmux server `socket`: what is written there is
/// shown by the pane as its program's output.
pub fn pane_tty(socket: &str, session: &str) -> PathBuf {
    let out = Command::new("tmux")
        .args(["-L", socket, "display-message", "-p", "-t"])
        .arg(format!("={session}:"))
        .arg("#{pane_tty}")
        .output()
        .expect("tmux display-message");
    assert!(out.status.success(), "no pane for {session}");
    PathBuf::from(String::from_utf8(out.stdout).expect("utf-8").trim())
}

/// Prints `line` on the pane whose terminal is `tty` and waits for the view's frame that shows
/// it: how long that took.
pub async fn print_and_see(
    stream: &mut (impl Stream<Item = SseEvent> + Unpin),
    tty: &Path,
    line: &str,
) -> Duration {
    let started = Instant::now();
    std::fs::write(tty, format!("{line}\r\n")).expect("write to the pane's terminal");
    screen_with(stream, line).await;
    started.elapsed()
}

/// The terminal view's path for a conversation.
pub fn path(session_id: impl std::fmt::Display) -> String {
    format!("/api/paliadin/conversations/{session_id}/terminal")
}

/// `capture-pane -e -p` of `session`'s pane on the rig's server.
pub fn capture_e(rig: &TmuxRig, session: &str) -> String {
    let out = std::process::Command::new("tmux")
        .args(["-L", &rig.socket, "capture-pane", "-e", "-p", "-t"])
        .arg(format!("={session}:"))
        .stderr(Stdio::null())
        .output()
        .expect("tmux capture-pane");
    assert!(out.status.success(), "capture-pane failed");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The next `screen` frame of a view (skipping `problem` notes, e.g. "no worker yet").
pub async fn next_screen(stream: &mut (impl Stream<Item = SseEvent> + Unpin)) -> SseEvent {
    loop {
        let ev = next_event(stream, 30).await;
        match ev.event.as_str() {
            "screen" => return ev,
            "problem" => continue,
            other => panic!("unexpected terminal event {other}: {ev:?}"),
        }
    }
}

/// Reads frames until one's screen contains `text`; returns it.
pub async fn screen_with(
    stream: &mut (impl Stream<Item = SseEvent> + Unpin),
    text: &str,
) -> SseEvent {
    loop {
        let ev = next_screen(stream).await;
        if ev.data["screen"].as_str().unwrap_or("").contains(text) {
            return ev;
        }
    }
}
