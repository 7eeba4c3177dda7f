//! The whole site with the demo agent, for browser suites that drive it as a person would: a
//! test database, the API in-process, a real `paliadin-worker` process driving
//! `paliadin-demo-agent` in a private tmux server ([`TmuxRig`]), an owner and an admin with
//! their tokens. The demo agent's directives (`/echo`, `/ask`, `/hang`, `/bad-trailer`; see
//! `paliadin-demo-agent --help`) script what each reply does.

use crate::browser::Browser;
use crate::db::TestDb;
use crate::procs::TmuxRig;
use crate::system::{Api, start_api};
use paliadin_api::config::ApiConfig;
use paliadin_shared::db::users::Role;
use tokio::process::Child;

/// A running site. Fields drop in order: the worker before its tmux rig.
pub struct DemoSite {
    pub owner_token: String,
    pub admin_token: String,
    pub worker: Child,
    pub rig: TmuxRig,
    pub api: Api,
    pub db: TestDb,
}

impl DemoSite {
    pub async fn start(worker_id: &str) -> DemoSite {
        let db = TestDb::new().await;
        let api = start_api(&db, ApiConfig::default()).await;
        let (_, owner_token) = crate::http::user(&db, "owner@x", Role::Owner).await;
        let (_, admin_token) = crate::http::user(&db, "admin@x", Role::Admin).await;
        let rig = TmuxRig::new();
        let worker = rig.worker(&db.url, worker_id);
        DemoSite {
            owner_token,
            admin_token,
            worker,
            rig,
            api,
            db,
        }
    }

    /// `base` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.api.base)
    }

    /// Signs `b` in with `token` through the form; waits for the role's page to have loaded.
    pub async fn sign_in(&self, b: &Browser, token: &str, page: &str) {
        b.goto(&self.url("/login")).await;
        b.type_into("#token", token).await;
        b.click("button[type=submit]").await;
        b.until(
            15,
            "the signed-in page",
            &format!("return location.pathname === '{page}' && document.readyState === 'complete'"),
        )
        .await;
    }
}

/// Puts `text` (newlines and all) in the chat composer and presses Enter.
pub async fn send_text(b: &Browser, text: &str) {
    b.js_with(
        "const i = document.getElementById('composer-input'); i.value = arguments[0]; i.focus();",
        vec![serde_json::json!(text)],
    )
    .await;
    b.type_into(
        "#composer-input",
        &char::from(fantoccini::key::Key::Enter).to_string(),
    )
    .await;
}
