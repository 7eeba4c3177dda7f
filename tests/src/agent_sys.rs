//! One whole system around any of the three agents, for the agent-adapter contract suite
//! (`tests/tests/agent_demo/contract.rs`): the API in-process, an owner with a client and a
//! `paliadin-worker` process on a private tmux rig whose agent is the real Claude Code or Codex
//! CLI (each against its scripted model: [`crate::claude`], [`crate::codex`]) or the demo
//! agent. What differs per agent — the words that make it hang, fail or ask, what its model was
//! sent, how its own rewrites change a message — is answered here, so that each contract case
//! is one body run for every agent.

use crate::claude::Claude;
use crate::codex::Codex;
use crate::db::TestDb;
use crate::http::{Client, SseEvent, user};
use crate::procs::{TmuxRig, session_of};
use crate::system::{Api, start_api};
use paliadin_api::config::ApiConfig;
use paliadin_shared::db::users::{Role, UserRow};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use tokio::process::Child;
use uuid::Uuid;

/// The agent a contract case runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which {
    Claude,
    Codex,
    Demo,
}

impl Which {
    /// The `agent` a turn it answered names (`end` event, history).
    pub fn name(self) -> &'static str {
        match self {
            Which::Claude => "claude",
            Which::Codex => "codex",
            Which::Demo => "demo",
        }
    }
}

/// The agent itself, with its scripted model where it has one.
pub enum Backend {
    Claude(Claude),
    Codex(Codex),
    Demo,
}

/// Fields drop in this order: the client and worker before the agent's model, the rig (its
/// tmux server) after them, the database last.
pub struct AgentSys {
    pub c: Client,
    pub worker: Child,
    pub agent: Backend,
    pub rig: TmuxRig,
    pub owner: UserRow,
    pub api: Api,
    pub db: TestDb,
    pub which: Which,
}

impl AgentSys {
    /// None when a real agent's suite is skipped (see [`Claude::setup`], [`Codex::setup`]).
    /// Claude is let retry a failed model request once (a failure must end the turn promptly).
    pub async fn start(which: Which, worker_id: &str, env: &[(&str, String)]) -> Option<AgentSys> {
        let rig = TmuxRig::new();
        let agent = match which {
            Which::Claude => {
                let claude = Claude::setup(&rig).await?;
                claude.shorten_retries(1);
                Backend::Claude(claude)
            }
            Which::Codex => Backend::Codex(Codex::setup(&rig).await?),
            Which::Demo => Backend::Demo,
        };
        let db = TestDb::new().await;
        let api = start_api(&db, ApiConfig::default()).await;
        let (owner, token) = user(&db, &format!("owner@{}", which.name()), Role::Owner).await;
        let worker = spawn(&rig, &db, &agent, worker_id, env);
        Some(AgentSys {
            c: Client::new(&api.base, Some(&token)),
            worker,
            agent,
            rig,
            owner,
            api,
            db,
            which,
        })
    }

    /// Another worker process on the same rig and agent.
    pub fn spawn_worker(&self, id: &str, env: &[(&str, String)]) -> Child {
        spawn(&self.rig, &self.db, &self.agent, id, env)
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

    /// Sends `message` in `conversation` (None: the owner's latest) and reads it to its end,
    /// which must be a reply; returns the turn id, the conversation and the reply's text.
    pub async fn say(&self, conversation: Option<&str>, message: &str) -> (Uuid, String, String) {
        let mut body = json!({ "user_message": message });
        if let Some(c) = conversation {
            body["session_id"] = Value::from(c);
        }
        let (s, v) = self.c.post("/api/paliadin/turn", &body).await;
        assert_eq!(s, 200, "{v}");
        let evs = self
            .c
            .stream_all(v["sse_url"].as_str().unwrap(), None, 90)
            .await;
        self.assert_end(&evs, message);
        let text = last(&evs).data["text"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let id = v["turn_id"].as_str().unwrap().parse().unwrap();
        (id, v["session_id"].as_str().unwrap().to_owned(), text)
    }

    /// Asserts that a turn ended with `end`; otherwise fails with what the pane shows.
    #[track_caller]
    pub fn assert_end(&self, evs: &[SseEvent], what: &str) {
        let end = last(evs);
        if end.event != "end" {
            let screen = self.rig.screen(&self.session());
            panic!(
                "{}: {what:.60}: ended with {} {}\n--- the agent's pane:\n{screen}\n--- events: {evs:?}",
                self.which.name(),
                end.event,
                end.data
            );
        }
    }

    /// Waits until the agent has finished its turn (its Stop hook removed the busy marker; the
    /// demo agent writes none): an agent killed inside its Stop hook has not written its last
    /// answer to its transcript yet.
    pub async fn idle(&self) {
        crate::wait_until(30, "the agent finished its turn", || {
            let gone = !self.rig.busy(&self.session());
            async move { gone }
        })
        .await;
    }

    /// The turns the agent's model was asked, in order, with their messages (one per turn that
    /// reached it); for the demo agent, the envelopes it took, from its conversation files.
    pub fn prompts(&self) -> Vec<(String, String)> {
        let got = match &self.agent {
            Backend::Claude(c) => c.server.prompts(),
            Backend::Codex(c) => c.server.prompts(),
            Backend::Demo => demo_prompts(&self.demo_state()),
        };
        got.into_iter().map(|(id, m)| (id.to_string(), m)).collect()
    }

    /// Whether `got`, what the model received, is `sent` up to the agent's own input rewrites
    /// (measured: [`crate::claude::as_claude_reads`], [`crate::codex::as_codex_reads`]; the
    /// demo agent takes the text as it is).
    pub fn arrived_as_sent(&self, got: &str, sent: &str) -> bool {
        match self.which {
            // Claude's request may end the text with a newline of its own.
            Which::Claude => got.trim_end() == crate::claude::as_claude_reads(sent),
            Which::Codex => got == crate::codex::as_codex_reads(sent),
            Which::Demo => got == sent,
        }
    }

    /// Text that shows a first-start or approval screen of the agent is open.
    pub fn dialog_on(&self, screen: &str) -> Option<&'static str> {
        match self.which {
            Which::Claude => crate::claude::dialog_on(screen),
            Which::Codex => crate::codex::dialog_on(screen),
            Which::Demo => screen
                .contains("Do you want to proceed?")
                .then_some("Do you want to proceed?"),
        }
    }

    /// Whether `reply` is the one an ordinary `message` gets: the scripted models' default
    /// body, or the demo agent's greeting that quotes the message.
    pub fn is_ordinary_reply(&self, reply: &str, message: &str) -> bool {
        match self.which {
            Which::Claude | Which::Codex => reply == crate::model::script::default_body(message),
            Which::Demo => {
                reply.starts_with("**Hello from the Paliadin demo agent.**")
                    && reply.contains(&format!("\n> {message}\n"))
            }
        }
    }

    /// The `classifier_tag` of an ordinary reply.
    pub fn ordinary_tag(&self) -> &'static str {
        match self.which {
            Which::Claude | Which::Codex => "test",
            Which::Demo => "demo",
        }
    }

    /// A message the agent starts on and never finishes (cancel and timeout end it).
    pub fn hanging(&self, what: &str) -> String {
        match self.which {
            Which::Claude | Which::Codex => format!("hang {what}"),
            Which::Demo => "/hang".to_owned(),
        }
    }

    /// Messages whose model call fails, each with the `kind` its `agent_error` must carry.
    pub fn failing(&self) -> Vec<(String, &'static str)> {
        let words: &[(&str, &'static str)] = match self.which {
            Which::Claude => &[
                ("fail-auth", "authentication_failed"),
                ("fail-long", "invalid_request"),
                ("fail-rate", "rate_limit"),
                ("fail-overloaded", "overloaded"),
                ("fail-billing", "billing_error"),
            ],
            Which::Codex => &[
                ("fail-auth", "authentication_failed"),
                ("fail-rate", "rate_limit"),
                ("fail-server", "server_error"),
            ],
            Which::Demo => {
                return vec![(
                    "/fail rate_limit Rate limit reached for requests.".to_owned(),
                    "rate_limit",
                )];
            }
        };
        words
            .iter()
            .map(|(w, kind)| (format!("{w} please"), *kind))
            .collect()
    }

    /// A message that makes the agent ask before running `touch <file>` (a shell command).
    pub fn asking(&self, file: &Path) -> String {
        match self.which {
            Which::Claude | Which::Codex => format!("bash touch {}", file.display()),
            Which::Demo => format!("/ask Bash touch {}", file.display()),
        }
    }

    /// Whether the allowed command ran: its file is there (the demo agent runs nothing; its
    /// reply says it was allowed).
    pub fn ran(&self, file: &Path, reply: &str) -> bool {
        match self.which {
            Which::Claude | Which::Codex => file.exists() && reply == "Ran it.",
            Which::Demo => reply.starts_with("Allowed"),
        }
    }

    /// Whether the reply says the denied command did not run, with the person's reason where
    /// the agent passes it on.
    pub fn says_not_run(&self, reply: &str, why: &str) -> bool {
        match self.which {
            Which::Claude => reply.contains(&format!("Denied by the person: {why}")),
            Which::Codex => reply.starts_with("Not run."),
            Which::Demo => reply.starts_with("Denied:") && reply.contains(why),
        }
    }

    /// A message after which the agent shows what its conversation holds: any message for a
    /// real agent (its model is sent the conversation), `/recall` for the demo agent.
    pub fn recalling(&self, what: &str) -> String {
        match self.which {
            Which::Claude | Which::Codex => what.to_owned(),
            Which::Demo => "/recall".to_owned(),
        }
    }

    /// Asserts that turn `id` (its reply `reply`) was answered knowing each of `earlier`: the
    /// model was sent each earlier prompt and its reply (the demo agent's `/recall` lists them).
    #[track_caller]
    pub fn assert_remembers(&self, id: Uuid, reply: &str, earlier: &[&str], what: &str) {
        let (context, encode): (String, fn(&str) -> String) = match &self.agent {
            Backend::Claude(c) => (c.server.context_of(id), crate::model::json_text),
            // Codex's earlier reply is the heredoc inside a call's arguments.
            Backend::Codex(c) => (c.server.context_of(id), str::to_owned),
            Backend::Demo => (reply.to_owned(), str::to_owned),
        };
        assert!(
            !context.is_empty(),
            "{what}: the turn never reached the model"
        );
        for prompt in earlier {
            let (prompt_text, reply_text) = match self.which {
                Which::Demo => (prompt.to_string(), None),
                _ => (
                    crate::model::json_text(prompt),
                    Some(encode(&crate::model::script::default_body(prompt))),
                ),
            };
            assert!(
                context.contains(&prompt_text),
                "{}: {what}: no {prompt:?} in {context}",
                self.which.name()
            );
            if let Some(r) = reply_text {
                assert!(
                    context.contains(&r),
                    "{}: {what}: no reply {r:?} in {context}",
                    self.which.name()
                );
            }
        }
    }

    /// What turn `id` (its reply `reply`) was answered with: the whole input its model was sent
    /// (the demo agent: its reply, which is all it shows).
    pub fn context(&self, id: Uuid, reply: &str) -> String {
        match &self.agent {
            Backend::Claude(c) => c.server.context_of(id),
            Backend::Codex(c) => c.server.context_of(id),
            Backend::Demo => reply.to_owned(),
        }
    }

    /// The agent's conversations on disk, where it keeps one file each: Codex's rollouts, the
    /// demo agent's conversation files; None for Claude Code (its project directory holds
    /// other files too).
    pub fn conversations_on_disk(&self) -> Option<Vec<PathBuf>> {
        match &self.agent {
            Backend::Claude(_) => None,
            Backend::Codex(c) => Some(c.rollouts()),
            Backend::Demo => Some(jsonl_files(&self.demo_state())),
        }
    }

    /// Where the rig's demo agents keep their conversations.
    fn demo_state(&self) -> PathBuf {
        self.rig.spool.parent().expect("rig dir").join("demo-state")
    }
}

fn spawn(rig: &TmuxRig, db: &TestDb, agent: &Backend, id: &str, env: &[(&str, String)]) -> Child {
    let mut all = match agent {
        Backend::Claude(c) => c.worker_env(),
        Backend::Codex(c) => c.worker_env(),
        Backend::Demo => vec![("PALIADIN_TURN_TIMEOUT_SECS", "60".to_owned())],
    };
    all.extend(env.iter().map(|(k, v)| (*k, v.clone())));
    let all: Vec<(&str, &str)> = all.iter().map(|(k, v)| (*k, v.as_str())).collect();
    rig.worker_with(&db.url, id, &all)
}

/// The `*.jsonl` files directly in `dir`, sorted by name.
fn jsonl_files(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .collect();
    out.sort();
    out
}

/// The envelopes the demo agent took (its transcript-shaped `user` entries), file by file in
/// the order of their first change, each file in its own order.
fn demo_prompts(state: &Path) -> Vec<(Uuid, String)> {
    let mut files = jsonl_files(state);
    files.sort_by_key(|p| std::fs::metadata(p).and_then(|m| m.created()).ok());
    let mut out = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap_or_default();
        for line in text.lines() {
            let Ok(v) = serde_json::from_str::<Value>(line) else {
                continue;
            };
            if v["type"] != "user" {
                continue;
            }
            let Some(content) = v["message"]["content"].as_str() else {
                continue;
            };
            let Some(rest) = content.strip_prefix("[PALIADIN:") else {
                continue;
            };
            let Some((id, message)) = rest.split_once("] ") else {
                continue;
            };
            if let Ok(id) = Uuid::try_parse(id) {
                out.push((id, message.to_owned()));
            }
        }
    }
    out
}

/// The terminal event of a finished turn's events.
pub fn last(evs: &[SseEvent]) -> &SseEvent {
    evs.last().expect("events")
}
