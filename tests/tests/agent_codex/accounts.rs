//! Codex on an `accounts://` host, and one owner's agent chosen apart from another's: one
//! worker serves two owners on one `accounts://` host; `deploy/add-owner-account.sh --agent codex
//! --agent-cmd …` gives the first owner Codex (its instructions, hooks and API-key login
//! installed as that owner's account, the account map line naming `codex` and its command),
//! while the second owner keeps the worker's own agent (the demo agent). Each owner's turn is
//! answered by their agent and says so (the `end` event and the history); Codex runs as the
//! first owner's account (its conversation is in that account's home, owned by it) against the
//! scripted model on loopback. Needs root (real accounts, real sudo); skipped loudly otherwise.

use paliadin_api::config::ApiConfig;
use paliadin_e2e::accounts::{TestAccounts, is_root};
use paliadin_e2e::codex::{API_KEY, codex_bin};
use paliadin_e2e::db::TestDb;
use paliadin_e2e::http::{Client, SseEvent, user};
use paliadin_e2e::model_openai::OpenAiModel;
use paliadin_e2e::model_openai::script::default_body;
use paliadin_e2e::sshd::wait_host;
use paliadin_e2e::system::start_api;
use paliadin_shared::db::users::Role;
use serde_json::Value;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;

#[track_caller]
fn end(evs: &[SseEvent]) -> &Value {
    let end = evs.last().expect("events");
    assert_eq!(end.event, "end", "{evs:?}");
    &end.data
}

/// The `agent` of turn `id` in its owner's history.
async fn answered_by(c: &Client, id: &str) -> Value {
    let (s, items) = c.get("/api/paliadin/turns").await;
    assert_eq!(s, 200, "{items}");
    let item = items
        .as_array()
        .expect("turns")
        .iter()
        .find(|t| t["turn_id"] == id)
        .unwrap_or_else(|| panic!("{id} in {items}"))
        .clone();
    item["agent"].clone()
}

/// Every `*.jsonl` file under `dir`.
fn rollouts(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "jsonl") {
                out.push(p);
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_owner_chats_with_codex_as_their_account_and_another_with_the_worker_s_agent() {
    if !is_root() {
        eprintln!("\n*** SKIPPED: agent accounts need root (CI runs the suite as root) ***\n");
        return;
    }
    let Some(codex) = codex_bin() else {
        match std::env::var("PALIADIN_CODEX_SKIP") {
            Ok(why) => {
                eprintln!("\n!!! SKIPPED: needs codex: {why}\n");
                return;
            }
            Err(_) => panic!("no codex binary: run deploy/ensure-codex.sh"),
        }
    };
    let server = OpenAiModel::start().await;
    let db = TestDb::new().await;
    let api = start_api(&db, ApiConfig::default()).await;
    let (cx, cx_token) = user(&db, "codex@accounts", Role::Owner).await;
    let (dm, dm_token) = user(&db, "demo@accounts", Role::Owner).await;
    let codex_cmd = codex.display().to_string();
    let acc = TestAccounts::create_with(
        &[cx.id, dm.id],
        &[vec![
            "--agent".into(),
            "codex".into(),
            "--agent-cmd".into(),
            codex_cmd.clone(),
        ]],
        &[("OPENAI_API_KEY", API_KEY)],
    );
    let (cx_account, dm_account) = (&acc.agents[0], &acc.agents[1]);
    let map = std::fs::read_to_string(acc.map()).expect("map");
    assert!(
        map.contains(&format!("{} {cx_account} codex {codex_cmd}", cx.id)),
        "{map}"
    );
    // The operator's part of Codex's configuration in the owner's account: OpenAI's own
    // provider, moved to the scripted model for the test.
    let config = acc.home(cx_account).join(".codex/config.toml");
    let installed = std::fs::read_to_string(&config).expect("the installer's config.toml");
    let ours = format!(
        "model = \"gpt-scripted\"\napproval_policy = \"on-request\"\n\
         sandbox_mode = \"workspace-write\"\nopenai_base_url = \"{}/v1\"\n",
        server.base_url
    );
    std::fs::write(&config, ours + &installed).expect("config.toml");

    let hosts = format!(
        "acx=accounts://{}?shim={}",
        acc.map().display(),
        acc.bin("paliadin-shim").display()
    );
    let mut cmd: tokio::process::Command = acc
        .command_as(&acc.worker.clone(), &acc.bin("paliadin-worker"))
        .into();
    cmd.env("DATABASE_URL", &db.url)
        .env("PALIADIN_HOSTS", hosts)
        .env("PALIADIN_WORKER_ID", "acx-w")
        .env("PALIADIN_AGENT_CMD", acc.bin("paliadin-demo-agent"))
        .env("PALIADIN_TURN_TIMEOUT_SECS", "90")
        .env("PALIADIN_LEASE_SECS", "3")
        .env("PALIADIN_POLL_MS", "200")
        .env("PALIADIN_SHUTDOWN_GRACE_SECS", "5")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .kill_on_drop(true);
    let _worker = cmd.spawn().expect("start the worker as its account");
    wait_host(&db, "acx", true, 30).await;

    let c = Client::new(&api.base, Some(&cx_token));
    let m = "hello codex in my own account";
    let (cx_turn, sse) = c.turn(m).await;
    let evs = c.stream_all(&sse, None, 120).await;
    let data = end(&evs);
    assert_eq!(data["text"], default_body(m));
    assert_eq!(data["agent"], "codex", "the owner's agent answered");
    assert_eq!(answered_by(&c, &cx_turn).await, "codex");
    let asked = server.prompts();
    assert_eq!(asked.len(), 1, "{asked:?}");
    assert_eq!(asked[0].0.to_string(), cx_turn);
    let bearer = format!("Bearer {API_KEY}");
    assert!(
        server
            .requests()
            .iter()
            .filter(|r| !r.body.is_null())
            .all(|r| r.authorization.as_deref() == Some(bearer.as_str())),
        "every request carries the key the owner's Codex was logged in with"
    );
    let files = rollouts(&acc.home(cx_account).join(".codex/sessions"));
    assert_eq!(files.len(), 1, "one Codex conversation: {files:?}");
    let owner = std::fs::metadata(&files[0]).expect("rollout").uid();
    assert_eq!(
        owner,
        acc.uid(cx_account),
        "Codex ran as the owner's account"
    );

    let d = Client::new(&api.base, Some(&dm_token));
    let m = "hello from the other owner";
    let (dm_turn, sse) = d.turn(m).await;
    let evs = d.stream_all(&sse, None, 60).await;
    let data = end(&evs);
    assert_eq!(
        data["agent"], "demo",
        "the worker's own agent answered: {data}"
    );
    assert!(
        data["text"].as_str().unwrap_or_default().contains(m),
        "{data}"
    );
    assert_eq!(answered_by(&d, &dm_turn).await, "demo");
    assert!(
        !acc.home(dm_account).join(".codex").exists(),
        "no Codex for the other owner"
    );
    assert_eq!(
        server.prompts().len(),
        1,
        "the other owner's turn never reached Codex"
    );
}
