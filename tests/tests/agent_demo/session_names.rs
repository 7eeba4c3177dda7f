//! Pins session naming: `<prefix>-<first 8 hex of the user id>`, stable per user, and two users
//! whose ids share the first 8 hex digits never share a session (the second gets `-1`).

use paliadin_e2e::db::TestDb;
use paliadin_shared::SessionPrefix;
use paliadin_shared::db::sessions;
use uuid::Uuid;

async fn user_with_id(db: &TestDb, id: &str, email: &str) -> Uuid {
    let id = Uuid::parse_str(id).unwrap();
    sqlx::query("INSERT INTO users (id, email, role) VALUES ($1, $2, 'owner')")
        .bind(id)
        .bind(email)
        .execute(&db.pool)
        .await
        .unwrap();
    id
}

#[tokio::test]
async fn colliding_user_id_prefixes_get_distinct_sessions() {
    let db = TestDb::new().await;
    let a = user_with_id(&db, "abcd1234-0000-4000-8000-000000000001", "a@x").await;
    let b = user_with_id(&db, "abcd1234-ffff-4000-8000-000000000002", "b@x").await;
    let prefix = SessionPrefix::default();
    for u in [a, b] {
        let mut conn = db.pool.acquire().await.unwrap();
        sessions::pin_host(&mut conn, u, &paliadin_shared::HostName::local())
            .await
            .unwrap();
    }
    let (na, nb) = tokio::join!(
        sessions::session_name(&db.pool, a, "local", &prefix),
        sessions::session_name(&db.pool, b, "local", &prefix)
    );
    let (na, nb) = (na.unwrap(), nb.unwrap());
    assert_ne!(na, nb, "two users share a tmux session");
    let mut names = [na.as_str().to_owned(), nb.as_str().to_owned()];
    names.sort();
    assert_eq!(names, ["paliadin-abcd1234", "paliadin-abcd1234-1"]);
    // Stable: asking again gives each user the same name.
    assert_eq!(
        sessions::session_name(&db.pool, a, "local", &prefix)
            .await
            .unwrap(),
        na
    );
    assert_eq!(
        sessions::session_name(&db.pool, b, "local", &prefix)
            .await
            .unwrap(),
        nb
    );
}
