//! Headless Chromium for the web suites: chromedriver on a free loopback port, a fresh profile
//! per browser, driven through fantoccini (WebDriver). Helpers poll the DOM with a bounded wait
//! (never a fixed sleep) and save PNG screenshots to `tests/artifacts/`.
//!
//! The suites skip (saying so) only when Chromium is absent and `CI` is unset; in CI they run.

use crate::db::TestDb;
use crate::scripted::ScriptedDriver;
use crate::system::{Api, WorkerHandle, fast_runtime, start_api, start_worker};
use fantoccini::elements::Element;
use fantoccini::key::Key;
use fantoccini::wd::Capabilities;
use fantoccini::{Client, ClientBuilder, Locator};
use paliadin_api::config::ApiConfig;
use paliadin_shared::db::users::Role;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;
use tokio::process::{Child, Command};

pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// Whether a browser test should run; prints why not when it should not.
pub fn enabled(test: &str) -> bool {
    if Path::new(CHROMIUM).exists() || std::env::var_os("CI").is_some() {
        return true;
    }
    eprintln!(
        "SKIPPED {test}: {CHROMIUM} is not installed (deploy/ensure-deps.sh --browser installs it; in CI this test runs)"
    );
    false
}

/// Where screenshots go (`tests/artifacts/`, ignored by git).
pub fn artifacts() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("artifacts");
    std::fs::create_dir_all(&dir).expect("artifacts dir");
    dir
}

/// A running chromedriver + Chromium session.
pub struct Browser {
    pub client: Client,
    driver: Child,
    profile: PathBuf,
    /// Screenshot name prefix (the test's name).
    prefix: String,
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

impl Browser {
    /// Starts chromedriver and opens a headless Chromium session (window 1280×900).
    pub async fn start(prefix: &str) -> Browser {
        let port = free_port();
        let profile =
            std::env::temp_dir().join(format!("paliadin-chromium-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&profile).expect("profile dir");
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            // Its own process group, so Chromium (its child) can be ended with it, even after a
            // failed test (Chromium outlives a killed chromedriver).
            .process_group(0)
            .spawn()
            .expect("start chromedriver");
        let url = format!("http://127.0.0.1:{port}");
        let mut caps = Capabilities::new();
        caps.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": CHROMIUM,
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-background-networking", "--disable-component-update",
                    "--disable-sync", "--no-first-run", "--window-size=1280,900",
                    format!("--user-data-dir={}", profile.display()),
                ],
                // Notifications allowed, as if the person had said yes (web_notify).
                "prefs": { "profile.default_content_setting_values.notifications": 1 },
            }),
        );
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        let client = loop {
            let connector = hyper_util::client::legacy::connect::HttpConnector::new();
            match ClientBuilder::new(connector)
                .capabilities(caps.clone())
                .connect(&url)
                .await
            {
                Ok(c) => break c,
                Err(e) => {
                    assert!(
                        tokio::time::Instant::now() < deadline,
                        "chromedriver did not start: {e}"
                    );
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        };
        Browser {
            client,
            driver,
            profile,
            prefix: prefix.to_owned(),
        }
    }

    pub async fn goto(&self, url: &str) {
        self.client.goto(url).await.expect("goto");
    }

    /// The first element matching the CSS selector `css`.
    pub async fn find(&self, css: &str) -> Element {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("find {css}: {e}"))
    }

    /// Clicks the first element matching `css`.
    pub async fn click(&self, css: &str) {
        self.find(css)
            .await
            .click()
            .await
            .unwrap_or_else(|e| panic!("click {css}: {e}"));
    }

    /// Types `keys` into the first element matching `css` (special keys as `Key` chars).
    pub async fn type_into(&self, css: &str, keys: &str) {
        self.find(css)
            .await
            .send_keys(keys)
            .await
            .unwrap_or_else(|e| panic!("type into {css}: {e}"));
    }

    /// Runs `script` (a function body; `arguments` holds `args`) and returns its value.
    pub async fn js_with(&self, script: &str, args: Vec<Value>) -> Value {
        self.client
            .execute(script, args)
            .await
            .unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
    }

    pub async fn js(&self, script: &str) -> Value {
        self.js_with(script, vec![]).await
    }

    /// Polls `script` every 50 ms until it returns something truthy (not null/false/0/""), and
    /// returns that; fails after `secs` with a screenshot.
    pub async fn until(&self, secs: u64, what: &str, script: &str) -> Value {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
        loop {
            // Errors (e.g. mid-navigation) count as "not yet".
            let v = self
                .client
                .execute(script, vec![])
                .await
                .unwrap_or(Value::Null);
            let truthy = match &v {
                Value::Null => false,
                Value::Bool(b) => *b,
                Value::Number(n) => n.as_f64() != Some(0.0),
                Value::String(s) => !s.is_empty(),
                _ => true,
            };
            if truthy {
                return v;
            }
            if tokio::time::Instant::now() >= deadline {
                let shot = self
                    .screenshot(&format!("timeout-{}", what.replace(' ', "-")))
                    .await;
                let log = self
                    .js("return document.body ? document.body.innerText : ''")
                    .await;
                panic!(
                    "timed out waiting for: {what} (screenshot {}):\n{log}",
                    shot.display()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Saves a PNG screenshot as `tests/artifacts/<prefix>-<name>.png`.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let png = self.client.screenshot().await.expect("screenshot");
        let path = artifacts().join(format!("{}-{name}.png", self.prefix));
        std::fs::write(&path, png).expect("write screenshot");
        path
    }

    /// Ends the session (Chromium exits) and stops chromedriver.
    pub async fn close(self) {
        let _ = self.client.clone().close().await;
        // Drop ends the process group.
    }

    /// Ends chromedriver's process group (chromedriver and the Chromium it started).
    fn kill_group(&mut self) {
        if let Some(pid) = self.driver.id() {
            let _ = std::process::Command::new("kill")
                .args(["-KILL", "--", &format!("-{pid}")])
                .stderr(Stdio::null())
                .status();
        }
        let _ = self.driver.start_kill();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        self.kill_group();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

/// The assistant replies on the chat page, oldest first (a JS expression).
pub const R: &str = "[...document.querySelectorAll('#log .msg.assistant')]";

/// A test database, the API, a worker with a scripted driver, and a browser signed in as an
/// owner through the login form.
pub struct Session {
    pub db: TestDb,
    pub api: Api,
    pub worker: WorkerHandle,
    pub driver: Arc<ScriptedDriver>,
    pub browser: Browser,
}

/// Starts everything and signs in through `/login`; the browser ends on `/paliadin`.
pub async fn signed_in(prefix: &str) -> Session {
    let db = TestDb::new().await;
    let api = start_api(&db, ApiConfig::default()).await;
    let driver = Arc::new(ScriptedDriver::default());
    let worker = start_worker(&db, driver.clone(), fast_runtime("w")).await;
    let (_, token) = crate::http::user(&db, "owner@x", Role::Owner).await;
    let b = Browser::start(prefix).await;
    log_in(&b, &api.base, &token).await;
    Session {
        db,
        api,
        worker,
        driver,
        browser: b,
    }
}

/// Signs `b` in at `base` with `token` through `/login`; the browser ends on `/paliadin`.
pub async fn log_in(b: &Browser, base: &str, token: &str) {
    b.goto(&format!("{base}/login")).await;
    b.type_into("#token", token).await;
    b.screenshot("01-login").await;
    b.click("button[type=submit]").await;
    b.until(
        10,
        "the chat page",
        "return location.pathname === '/paliadin' && document.readyState === 'complete'",
    )
    .await;
}

/// Types `text` into the chat composer and presses Enter.
pub async fn send(b: &Browser, text: &str) {
    b.type_into(
        "#composer-input",
        &format!("{text}{}", char::from(Key::Enter)),
    )
    .await;
}
