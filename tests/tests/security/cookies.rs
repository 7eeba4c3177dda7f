//! Pins the session cookie and token hardening (docs/security.md, docs/web.md): the cookie is
//! `__Host-paliadin_session; Secure` by default, plain only when explicitly allowed on a
//! loopback bind; a request carrying the cookie twice has no session (no "first one wins");
//! one token can be revoked with `paliadin-api user revoke-token` while the others keep
//! working; `user enable` does not revive the tokens `user disable` revoked.

use paliadin_api::config::ApiConfig;
use paliadin_e2e::db::TestDb;
use paliadin_e2e::http::user;
use paliadin_e2e::procs::binary;
use paliadin_e2e::system::start_api;
use paliadin_e2e::web::{Auth, Web};
use paliadin_shared::db::users::Role;

fn cli(db: &TestDb, args: &[&str]) -> (bool, String) {
    let out = std::process::Command::new(binary("paliadin-api"))
        .env("DATABASE_URL", &db.url)
        .env("RUST_LOG", "warn")
        .arg("user")
        .args(args)
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

fn session_header(r: &paliadin_e2e::web::Resp) -> String {
    r.set_cookies()
        .into_iter()
        .find(|c| c.contains("paliadin_session="))
        .expect("a session cookie")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_session_cookie_is_host_prefixed_and_secure_by_default() {
    let db = TestDb::new().await;
    let api = start_api(&db, ApiConfig::default()).await;
    let (_, token) = user(&db, "o@x", Role::Owner).await;
    let web = Web::new(&api.base);
    let set = session_header(&web.login_form(&token).await);
    assert!(set.starts_with("__Host-paliadin_session="), "{set}");
    assert!(set.contains("; Secure") && set.contains("Path=/"), "{set}");
    assert!(!set.to_ascii_lowercase().contains("domain="), "{set}");
    // Plain HTTP only when explicitly allowed, and only on loopback.
    let open = ApiConfig {
        bind: "0.0.0.0:8080".parse().unwrap(),
        cookie_secure: false,
        ..ApiConfig::default()
    };
    assert!(open.validate().is_err(), "a plain cookie on a public bind");
    let local = ApiConfig {
        cookie_secure: false,
        ..ApiConfig::default()
    };
    assert!(local.validate().is_ok());
    let api = start_api(&db, local).await;
    let set = session_header(&Web::new(&api.base).login_form(&token).await);
    assert!(set.starts_with("paliadin_session="), "{set}");
    assert!(!set.contains("Secure"), "{set}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_with_two_session_cookies_has_no_session() {
    let db = TestDb::new().await;
    let api = start_api(&db, ApiConfig::default()).await;
    let (_, token) = user(&db, "o@x", Role::Owner).await;
    let web = Web::new(&api.base);
    let cookie = web.login(&token).await;
    let ask = |header: String| {
        let http = web.http().clone();
        let url = format!("{}/api/paliadin/turns", api.base);
        async move {
            http.get(url)
                .header("cookie", header)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    let name = "__Host-paliadin_session";
    assert_eq!(ask(format!("{name}={cookie}")).await, 200);
    let planted = "x".repeat(43);
    for header in [
        format!("{name}={cookie}; {name}={planted}"),
        format!("{name}={planted}; {name}={cookie}"),
    ] {
        assert_eq!(ask(header.clone()).await, 404, "{header}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_token_is_revoked_alone_and_enable_revives_none() {
    let db = TestDb::new().await;
    let api = start_api(&db, ApiConfig::default()).await;
    let web = Web::new(&api.base);
    let (ok, out) = cli(&db, &["add", "--email", "o@x", "--role", "owner"]);
    assert!(ok, "{out}");
    let first = out.lines().last().unwrap().to_owned();
    let (ok, out) = cli(&db, &["token", "--email", "o@x"]);
    assert!(ok, "{out}");
    let second = out.lines().last().unwrap().to_owned();
    let fingerprint = out
        .lines()
        .find_map(|l| l.strip_prefix("fingerprint "))
        .expect("token prints its fingerprint")
        .to_owned();
    let works = |t: &str| {
        let auth = Auth::Bearer(t.to_owned());
        let web = &web;
        async move { web.get("/api/paliadin/turns", &auth).await.status == 200 }
    };
    assert!(works(&first).await && works(&second).await);
    let (ok, out) = cli(
        &db,
        &[
            "revoke-token",
            "--email",
            "o@x",
            "--fingerprint",
            &fingerprint,
        ],
    );
    assert!(ok, "{out}");
    assert!(!works(&second).await, "the revoked token still works");
    assert!(works(&first).await, "the other token was revoked too");
    let (_, listed) = cli(&db, &["tokens", "--email", "o@x"]);
    assert!(listed.contains(&format!("{fingerprint}\t")), "{listed}");
    // Disable, then enable: the token revoked by the disable stays dead.
    assert!(cli(&db, &["disable", "--email", "o@x"]).0);
    assert!(!works(&first).await);
    assert!(cli(&db, &["enable", "--email", "o@x"]).0);
    assert!(!works(&first).await, "enable revived a token");
    let (_, out) = cli(&db, &["token", "--email", "o@x"]);
    assert!(
        works(out.lines().last().unwrap()).await,
        "a new token works"
    );
}
