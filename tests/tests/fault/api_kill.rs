//! Fault scenario 2: the API process is SIGKILLed while clients stream; each client resumes on
//! a second API instance with `Last-Event-ID` and ends with exactly the full sequence — no gap,
//! no duplicate. `PALIADIN_FAULT_TRIALS` sets the number of API kills (default 1).

use paliadin_e2e::db::TestDb;
use paliadin_e2e::fault::{ApiProc, audit, trials};
use paliadin_e2e::fleet::Fleet;
use paliadin_e2e::http::{Client, SseEvent, next_event, user};
use paliadin_shared::db::users::Role;
use uuid::Uuid;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_of_a_killed_api_resume_on_another_with_the_full_sequence() {
    let db = TestDb::new().await;
    let fleet = Fleet::start(&db.url, 2, &[]);
    let second = ApiProc::start(&db).await;
    let mut tokens = Vec::new();
    for i in 0..3 {
        tokens.push(user(&db, &format!("s{i}@x"), Role::Owner).await.1);
    }
    let mut ids = Vec::new();
    for _ in 0..trials(1) {
        let mut first = ApiProc::start(&db).await;
        let mut open = Vec::new();
        for t in &tokens {
            let c = Client::new(&first.base, Some(t));
            let (id, sse) = c.turn("/stream 30 a long answer").await;
            let (_, mut stream) = c.open_stream(&sse, None).await;
            let mut seen = Vec::new();
            while seen.iter().all(|e: &SseEvent| e.event != "content") {
                seen.push(next_event(&mut stream, 30).await);
            }
            open.push((t, id, sse, seen, stream));
        }
        first.kill().await;
        for (t, id, sse, mut seen, stream) in open {
            // The rest of the old stream: whatever arrived before the kill, then its end.
            let rest: Vec<SseEvent> = futures::StreamExt::collect(stream).await;
            seen.extend(rest);
            let c = Client::new(&second.base, Some(t));
            let last = seen.last().map(|e| e.id);
            if !seen.last().is_some_and(|e| e.is_terminal()) {
                seen.extend(c.stream_all(&sse, last, 60).await);
            }
            let full = c.stream_all(&sse, None, 60).await;
            assert_eq!(seen, full, "resumed after {last:?}");
            ids.push(Uuid::parse_str(&id).unwrap());
        }
    }
    let found = audit(&db, &fleet.rig, &ids).await;
    eprintln!("scenario 2: {} streams resumed, {found:?}", ids.len());
    assert!(found.clean(), "{found:?}");
}
