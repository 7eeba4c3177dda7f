//! A whole system around the real Codex CLI: the API in-process, an owner with a client,
//! `paliadin-worker` processes on a private tmux rig whose agent is Codex pointed at the
//! scripted OpenAI model ([`crate::codex`]).

use crate::codex::{Codex, Provider};
use crate::db::TestDb;
use crate::http::{Client, SseEvent, user};
use crate::procs::{TmuxRig, session_of};
use crate::system::{Api, start_api};
use paliadin_api::config::ApiConfig;
use paliadin_shared::db::users::{Role, UserRow};
use tokio::process::Child;

/// Fields drop in this order: the client and worker before Codex's model, the rig (its tmux
/// server) after them, the database last.
pub struct CodexSys {
    pub c: Client,
    pub worker: Child,
    pub codex: Codex,
    pub rig: TmuxRig,
    pub owner: UserRow,
    pub api: Api,
    pub db: TestDb,
}

impl CodexSys {
    /// None when the suite is skipped (see [`Codex::setup`]).
    pub async fn start(worker_id: &str, env: &[(&str, String)]) -> Option<CodexSys> {
        CodexSys::start_with(worker_id, Provider::Custom, env).await
    }

    /// [`CodexSys::start`] with Codex reaching the scripted model through `provider`.
    pub async fn start_with(
        worker_id: &str,
        provider: Provider,
        env: &[(&str, String)],
    ) -> Option<CodexSys> {
        let rig = TmuxRig::new();
        let codex = Codex::setup_with(&rig, provider).await?;
        let db = TestDb::new().await;
        let api = start_api(&db, ApiConfig::default()).await;
        let (owner, token) = user(&db, "owner@codex", Role::Owner).await;
        let worker = spawn(&rig, &db, &codex, worker_id, env);
        Some(CodexSys {
            c: Client::new(&api.base, Some(&token)),
            worker,
            codex,
            rig,
            owner,
            api,
            db,
        })
    }

    /// Another worker process on the same rig and Codex.
    pub fn spawn_worker(&self, id: &str, env: &[(&str, String)]) -> Child {
        spawn(&self.rig, &self.db, &self.codex, id, env)
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
        self.codex
            .server
            .prompts()
            .into_iter()
            .map(|(id, m)| (id.to_string(), m))
            .collect()
    }
}

fn spawn(rig: &TmuxRig, db: &TestDb, codex: &Codex, id: &str, env: &[(&str, String)]) -> Child {
    let mut all = codex.worker_env();
    all.extend(env.iter().map(|(k, v)| (*k, v.clone())));
    let all: Vec<(&str, &str)> = all.iter().map(|(k, v)| (*k, v.as_str())).collect();
    rig.worker_with(&db.url, id, &all)
}

/// The terminal event of a finished turn's events.
pub fn last(evs: &[SseEvent]) -> &SseEvent {
    evs.last().expect("events")
}
