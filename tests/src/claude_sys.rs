//! A whole system around the real Claude Code: the API in-process, an owner with a client,
//! `paliadin-worker` processes on a private tmux rig whose agent is Claude Code pointed at the
//! scripted model ([`crate::claude`]).

use crate::claude::Claude;
use crate::db::TestDb;
use crate::http::{Client, SseEvent, user};
use crate::procs::{TmuxRig, session_of};
use crate::system::{Api, start_api};
use paliadin_api::config::ApiConfig;
use paliadin_shared::db::users::{Role, UserRow};
use tokio::process::Child;

/// Fields drop in this order: the client and worker before Claude's model, the rig (its tmux
/// server) after them, the database last.
pub struct ClaudeSys {
    pub c: Client,
    pub worker: Child,
    pub claude: Claude,
    pub rig: TmuxRig,
    pub owner: UserRow,
    pub api: Api,
    pub db: TestDb,
}

impl ClaudeSys {
    /// None when the suite is skipped (see [`Claude::setup`]).
    pub async fn start(worker_id: &str, env: &[(&str, String)]) -> Option<ClaudeSys> {
        let rig = TmuxRig::new();
        let claude = Claude::setup(&rig).await?;
        let db = TestDb::new().await;
        let api = start_api(&db, ApiConfig::default()).await;
        let (owner, token) = user(&db, "owner@claude", Role::Owner).await;
        let worker = spawn(&rig, &db, &claude, worker_id, env);
        Some(ClaudeSys {
            c: Client::new(&api.base, Some(&token)),
            worker,
            claude,
            rig,
            owner,
            api,
            db,
        })
    }

    /// Another worker process on the same rig and Claude.
    pub fn spawn_worker(&self, id: &str, env: &[(&str, String)]) -> Child {
        spawn(&self.rig, &self.db, &self.claude, id, env)
    }

    /// The owner's tmux session.
    pub fn session(&self) -> String {
        session_of(&self.owner.id)
    }

    /// Posts a turn and reads its stream to the end.
    pub async fn turn(&self, message: &str) -> (String, Vec<SseEvent>) {
        let (id, sse) = self.c.turn(message).await;
        (id, self.c.stream_all(&sse, None, 90).await)
    }

    /// Asserts that a turn ended with `end`; otherwise fails with what the pane shows.
    #[track_caller]
    pub fn assert_end(&self, evs: &[SseEvent], what: &str) {
        let end = last(evs);
        if end.event != "end" {
            let screen = self.rig.screen(&self.session());
            panic!(
                "{what:.60}: ended with {} {}\n--- the agent's pane:\n{screen}\n--- events: {evs:?}",
                end.event, end.data
            );
        }
    }

    /// The messages of the turns the model was asked, in order (one per turn that reached it).
    pub fn prompts(&self) -> Vec<(String, String)> {
        self.claude
            .server
            .prompts()
            .into_iter()
            .map(|(id, m)| (id.to_string(), m))
            .collect()
    }
}

fn spawn(rig: &TmuxRig, db: &TestDb, claude: &Claude, id: &str, env: &[(&str, String)]) -> Child {
    let mut all = claude.worker_env();
    all.extend(env.iter().map(|(k, v)| (*k, v.clone())));
    let all: Vec<(&str, &str)> = all.iter().map(|(k, v)| (*k, v.as_str())).collect();
    rig.worker_with(&db.url, id, &all)
}

/// The terminal event of a finished turn's events.
pub fn last(evs: &[SseEvent]) -> &SseEvent {
    evs.last().expect("events")
}
