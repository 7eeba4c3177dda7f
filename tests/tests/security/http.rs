//! Pins HTTP hardening of the API (docs/security.md): a wrong method on a real route answers
//! the plain 404 of an unrouted path (no 405, no `Allow:` revealing the route), for anyone;
//! requests with invented methods add no metrics series (the `method` label is a closed set);
//! every API answer, errors included, carries `Cache-Control: no-store` unless it says
//! otherwise; `/readyz` tells anonymous callers nothing about the database's error.

use paliadin_api::config::ApiConfig;
use paliadin_e2e::db::TestDb;
use paliadin_e2e::system::start_api;
use paliadin_e2e::web::{Auth, Body, Cast, Who};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_method_on_a_real_route_is_a_plain_404_for_everyone() {
    let db = TestDb::new().await;
    let api = start_api(&db, ApiConfig::default()).await;
    let cast = Cast::new(&db, &api.base).await;
    let wrong = [
        ("POST", "/admin/paliadin"),
        ("DELETE", "/paliadin"),
        ("GET", "/api/paliadin/turn"),
        ("PUT", "/api/paliadin/reset"),
        ("POST", "/api/admin/paliadin/stats"),
        ("PATCH", "/healthz"),
    ];
    for who in [Who::Anonymous, Who::Owner, Who::Admin] {
        for (method, path) in wrong {
            let r = cast
                .web
                .send(method, path, &cast.auth(who, false), None, Body::Empty)
                .await;
            let what = format!("{who:?} {method} {path}");
            cast.assert_plain_404(&r, &what);
            assert!(
                r.header("allow").is_none(),
                "{what}: Allow reveals the route"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invented_methods_add_no_metrics_series() {
    let db = TestDb::new().await;
    let api = start_api(&db, ApiConfig::default()).await;
    let cast = Cast::new(&db, &api.base).await;
    for method in ["BREW", "X-INVENTED-1", "X-INVENTED-2"] {
        for path in ["/no/such/route", "/api/paliadin/turn"] {
            let r = cast
                .web
                .send(method, path, &Auth::None, None, Body::Empty)
                .await;
            assert_eq!(r.status, 404, "{method} {path}");
        }
    }
    let text = cast.web.get("/metrics", &Auth::None).await.text();
    assert!(
        !text.contains("INVENTED") && !text.contains("BREW"),
        "{text}"
    );
    assert!(
        text.contains("method=\"other\""),
        "the requests are counted"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_answers_are_not_for_caches() {
    let db = TestDb::new().await;
    let api = start_api(&db, ApiConfig::default()).await;
    let cast = Cast::new(&db, &api.base).await;
    let owner = cast.auth(Who::Owner, false);
    for (path, auth) in [
        ("/api/paliadin/turns", &owner),
        ("/api/paliadin/stream/not-a-uuid", &owner),
        ("/no/such/route", &Auth::None),
        ("/readyz", &Auth::None),
    ] {
        let r = cast.web.get(path, auth).await;
        assert_eq!(r.header("cache-control"), Some("no-store"), "{path}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_keeps_the_database_error_to_the_log() {
    let db = TestDb::new().await;
    let api = start_api(&db, ApiConfig::default()).await;
    let web = paliadin_e2e::web::Web::new(&api.base);
    assert_eq!(web.get("/readyz", &Auth::None).await.status, 200);
    // The schema falls behind the binary (a migration is missing).
    sqlx::query(
        "DELETE FROM _sqlx_migrations WHERE version = (SELECT max(version) FROM _sqlx_migrations)",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    let r = web.get("/readyz", &Auth::None).await;
    assert_eq!(r.status, 503, "{}", r.text());
    let body = r.json();
    assert_eq!(body["error"], "not_ready");
    let message = body["message"].as_str().unwrap();
    assert_eq!(message, "the database is unreachable or not migrated");
}
