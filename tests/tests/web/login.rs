//! Pins login and logout: a form or JSON token becomes an HttpOnly, SameSite=Strict session
//! cookie whose secret is stored only as a hash, with the configured lifetime; owners land on
//! `/paliadin`, admins on `/admin/paliadin`; a bad token gets the form again (400) or
//! `invalid_token`; logout and disabling a user end their sessions for good.

use paliadin_api::config::ApiConfig;
use paliadin_e2e::db::TestDb;
use paliadin_e2e::http::user;
use paliadin_e2e::system::start_api;
use paliadin_e2e::web::{Auth, Body, Web};
use paliadin_shared::db::users::{self, Role};
use paliadin_shared::secret;
use serde_json::json;

fn json_login(token: &str) -> Body {
    Body::Json(json!({ "token": token }))
}

#[tokio::test]
async fn login_sets_a_strict_cookie_and_logout_ends_the_session() {
    let db = TestDb::new().await;
    // Plain HTTP on loopback, explicitly (tests/tests/security/cookies.rs pins the default).
    let config = ApiConfig {
        session_hours: 5,
        cookie_secure: false,
        ..ApiConfig::default()
    };
    let api = start_api(&db, config).await;
    let web = Web::new(&api.base);
    let (owner, token) = user(&db, "o@x", Role::Owner).await;

    // Form login (the page), with surrounding whitespace from a paste.
    let r = web.login_form(&format!("  {token}\n")).await;
    assert_eq!(r.status, 303, "{}", r.text());
    assert_eq!(r.header("location"), Some("/paliadin"));
    let set = r.set_cookies();
    assert_eq!(set.len(), 1, "{set:?}");
    let attrs: Vec<&str> = set[0].split(';').map(str::trim).collect();
    for a in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=18000"] {
        assert!(attrs.contains(&a), "{a} missing in {set:?}");
    }
    assert!(!attrs.contains(&"Secure"), "Secure only when configured");
    let cookie = r.session_value().unwrap();
    assert_ne!(cookie, token, "the session secret is fresh, not the token");
    // Only the hash is stored, with the configured lifetime.
    let (hash, hours): (Vec<u8>, f64) = sqlx::query_as(
        "SELECT session_hash, extract(epoch FROM expires_at - created_at)::float8 / 3600 FROM web_sessions WHERE user_id = $1",
    )
    .bind(owner.id)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(hash, secret::hash(&cookie));
    assert!((hours - 5.0).abs() < 0.01, "{hours}");
    let auth = Auth::Cookie(cookie.clone());
    assert_eq!(web.get("/paliadin", &auth).await.status, 200);
    assert_eq!(web.get("/api/paliadin/turns", &auth).await.status, 200);

    // JSON login: {ok, role, redirect} and a cookie; logging in again replaces the old session.
    let r = web
        .send("POST", "/login", &auth, None, json_login(&token))
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.json(),
        json!({ "ok": true, "role": "owner", "redirect": "/paliadin" })
    );
    let second = r.session_value().expect("cookie");
    assert_eq!(
        web.get("/paliadin", &auth).await.status,
        404,
        "old session replaced"
    );
    let auth = Auth::Cookie(second);
    assert_eq!(web.get("/paliadin", &auth).await.status, 200);

    // Logout clears the cookie and kills the session server-side.
    let origin = web.origin();
    let r = web
        .send("POST", "/logout", &auth, Some(&origin), Body::Empty)
        .await;
    assert_eq!(r.status, 303);
    assert_eq!(r.header("location"), Some("/login"));
    let cleared = r.set_cookies().join("\n");
    assert!(
        cleared.contains("paliadin_session=;") && cleared.contains("Max-Age=0"),
        "{cleared}"
    );
    assert_eq!(web.get("/paliadin", &auth).await.status, 404);
    assert_eq!(web.get("/api/paliadin/turns", &auth).await.status, 404);
    // Logging out again (or without a session) is harmless.
    let r = web
        .send("POST", "/logout", &Auth::None, Some(&origin), Body::Empty)
        .await;
    assert_eq!(r.status, 303);
}

#[tokio::test]
async fn admins_land_on_the_dashboard_and_bad_tokens_get_the_form_again() {
    let db = TestDb::new().await;
    let api = start_api(&db, ApiConfig::default()).await;
    let web = Web::new(&api.base);
    let (_, admin) = user(&db, "a@x", Role::Admin).await;
    let r = web.login_form(&admin).await;
    assert_eq!(
        (r.status, r.header("location")),
        (303, Some("/admin/paliadin"))
    );
    let r = web
        .send("POST", "/login", &Auth::None, None, json_login(&admin))
        .await;
    assert_eq!(r.json()["redirect"], "/admin/paliadin");
    assert_eq!(r.json()["role"], "admin");
    // An admin's session is no owner's: the chat page does not exist for it.
    let cookie = Auth::Cookie(r.session_value().unwrap());
    assert_eq!(web.get("/paliadin", &cookie).await.status, 404);

    for bad in ["pal_0000", "", "   ", &"x".repeat(5000)] {
        let r = web.login_form(bad).await;
        assert_eq!(r.status, 400, "form with {bad:?}");
        assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
        assert!(
            r.text().contains("That token was not accepted"),
            "{}",
            r.text()
        );
        assert!(r.set_cookies().is_empty());
        let r = web
            .send("POST", "/login", &Auth::None, None, json_login(bad))
            .await;
        assert_eq!(r.status, 400, "JSON with {bad:?}");
        assert_eq!(r.json()["error"], "invalid_token");
        assert!(r.set_cookies().is_empty());
    }
    let r = web
        .send("POST", "/login", &Auth::None, None, Body::Json(json!({})))
        .await;
    assert_eq!(r.json()["error"], "invalid_token");
    // A cross-site form cannot log this browser in (login CSRF).
    let r = web
        .send(
            "POST",
            "/login",
            &Auth::None,
            Some("https://evil.example"),
            Body::Form(vec![("token".into(), admin.clone())]),
        )
        .await;
    assert_eq!(r.status, 404);
    assert!(r.set_cookies().is_empty());
    // The page itself is public and strict.
    let r = web.get("/login", &Auth::None).await;
    assert_eq!(r.status, 200);
    assert!(r.text().contains("name=\"token\""));
    assert!(!r.text().contains("not accepted"));
}

#[tokio::test]
async fn secure_cookies_when_configured() {
    let db = TestDb::new().await;
    let config = ApiConfig {
        cookie_secure: true,
        ..ApiConfig::default()
    };
    let api = start_api(&db, config).await;
    let web = Web::new(&api.base);
    let (_, token) = user(&db, "o@x", Role::Owner).await;
    let r = web.login_form(&token).await;
    assert!(r.set_cookies()[0].split(';').any(|a| a.trim() == "Secure"));
}

#[tokio::test]
async fn disabling_a_user_ends_their_sessions_for_good() {
    let db = TestDb::new().await;
    let api = start_api(&db, ApiConfig::default()).await;
    let web = Web::new(&api.base);
    let (owner, token) = user(&db, "o@x", Role::Owner).await;
    let first = Auth::Cookie(web.login(&token).await);
    let second = Auth::Cookie(web.login(&token).await);
    assert_eq!(web.get("/paliadin", &first).await.status, 200);

    // What `paliadin-api user disable` runs.
    assert!(users::set_disabled(&db.pool, "o@x", true).await.unwrap());
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM web_sessions WHERE user_id = $1")
        .bind(owner.id)
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(left, 0, "disable deletes the sessions");
    for auth in [&first, &second, &Auth::Bearer(token.clone())] {
        assert_eq!(web.get("/paliadin", auth).await.status, 404);
        assert_eq!(web.get("/api/paliadin/turns", auth).await.status, 404);
    }
    assert_eq!(web.login_form(&token).await.status, 400, "no new sessions");

    // Re-enabled: the old token and the old cookies stay dead; a new token works.
    assert!(users::set_disabled(&db.pool, "o@x", false).await.unwrap());
    assert_eq!(web.get("/paliadin", &first).await.status, 404);
    assert_eq!(
        web.get("/paliadin", &Auth::Bearer(token.clone()))
            .await
            .status,
        404
    );
    let token = paliadin_shared::secret::new_token();
    let hash = paliadin_shared::secret::hash(&token);
    assert!(users::add_token(&db.pool, "o@x", &hash).await.unwrap());
    let fresh = Auth::Cookie(web.login(&token).await);
    assert_eq!(web.get("/paliadin", &fresh).await.status, 200);
}
