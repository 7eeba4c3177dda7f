//! Simulated users over real HTTP and SSE: one turn = POST, then the turn's stream read to its
//! terminal event. Open loop (fixed arrival rate, round-robin over users) and closed loop (each
//! user posts its next turn when the last one ended), bounded in time and in count.

use super::stats::Samples;
use crate::http::Client;
use futures::StreamExt;
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};
use tokio::sync::Mutex;

/// What the client saw of one turn.
pub struct Seen {
    pub id: String,
    /// Wall clock before the POST (compared with the agent's file times).
    pub posted: SystemTime,
    pub accept_ms: f64,
    /// Wall clock when the terminal event arrived.
    pub ended: SystemTime,
    pub ok: bool,
}

/// Posts one `/echo` turn and reads its stream to the end.
pub async fn one_turn(c: &Client, n: usize) -> Option<Seen> {
    let posted = SystemTime::now();
    let t = Instant::now();
    let (s, v) = c
        .post(
            "/api/paliadin/turn",
            &serde_json::json!({ "user_message": format!("/echo {n}") }),
        )
        .await;
    let accept_ms = t.elapsed().as_secs_f64() * 1000.0;
    if s != 200 {
        return None;
    }
    let id = v["turn_id"].as_str()?.to_owned();
    let (status, mut events) = c.open_stream(v["sse_url"].as_str()?, None).await;
    if status != 200 {
        return None;
    }
    let mut ok = false;
    let read = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(e) = events.next().await {
            if e.is_terminal() {
                ok = e.event == "end";
                return;
            }
        }
    });
    read.await.ok()?;
    Some(Seen {
        id,
        posted,
        accept_ms,
        ended: SystemTime::now(),
        ok,
    })
}

/// A phase's outcome: what the clients saw, the rejected posts, and the wall time it took.
pub struct Phase {
    pub seen: Vec<Seen>,
    pub failed: usize,
    pub wall: Duration,
}

/// Open loop: `rate` arrivals a second for `secs` seconds or `max` turns, whichever ends first.
pub async fn open_loop(users: &[Client], rate: f64, secs: f64, max: usize) -> Phase {
    let out = Arc::new(Mutex::new((Vec::new(), 0usize)));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..max {
        let at = Duration::from_secs_f64(i as f64 / rate);
        if at.as_secs_f64() >= secs {
            break;
        }
        tokio::time::sleep_until((start + at).into()).await;
        let (c, out) = (users[i % users.len()].clone(), out.clone());
        tasks.push(tokio::spawn(async move {
            let got = one_turn(&c, i).await;
            let mut o = out.lock().await;
            match got {
                Some(s) => o.0.push(s),
                None => o.1 += 1,
            }
        }));
    }
    futures::future::join_all(tasks).await;
    finish(out, start).await
}

/// Closed loop: every user runs turns back to back for `secs` seconds or until `max` started.
pub async fn closed_loop(users: &[Client], secs: f64, max: usize) -> Phase {
    let out = Arc::new(Mutex::new((Vec::new(), 0usize)));
    let started = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let start = Instant::now();
    let end = start + Duration::from_secs_f64(secs);
    let tasks = users.iter().cloned().map(|c| {
        let (out, started) = (out.clone(), started.clone());
        tokio::spawn(async move {
            loop {
                let n = started.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                if n >= max || Instant::now() >= end {
                    return;
                }
                let got = one_turn(&c, n).await;
                let mut o = out.lock().await;
                match got {
                    Some(s) => o.0.push(s),
                    None => o.1 += 1,
                }
            }
        })
    });
    futures::future::join_all(tasks.collect::<Vec<_>>()).await;
    finish(out, start).await
}

async fn finish(out: Arc<Mutex<(Vec<Seen>, usize)>>, start: Instant) -> Phase {
    let mut o = out.lock().await;
    Phase {
        seen: std::mem::take(&mut o.0),
        failed: o.1,
        wall: start.elapsed(),
    }
}

/// Per-turn figures, from the client's clocks, the agent's spool files and the database.
#[derive(Default)]
pub struct Figures {
    pub accept: Samples,
    pub dispatch: Samples,
    pub queue_wait: Samples,
    /// POST sent (client clock) → `claimed_at` (database clock, same machine): our
    /// enqueue → start, compared with graphile-worker's.
    pub to_claim: Samples,
    /// `finished_at − claimed_at`: how long a turn held its worker slot.
    pub hold: Samples,
    pub reply: Samples,
    pub overhead: Samples,
    pub end_to_end: Samples,
}

/// Reads the agent's receipt (`.ack`) and reply (`.md`) times from the spool, and queue waits
/// (`claimed_at - queued_at`), claims and slot holds (`finished_at - claimed_at`) from the
/// database.
pub async fn figures(phase: &Phase, spool: &Path, pool: &sqlx::PgPool) -> Figures {
    let mut f = Figures::default();
    let posted: HashMap<uuid::Uuid, SystemTime> = phase
        .seen
        .iter()
        .filter_map(|s| Some((s.id.parse().ok()?, s.posted)))
        .collect();
    let ids: Vec<uuid::Uuid> = posted.keys().copied().collect();
    let rows: Vec<(uuid::Uuid, f64, f64, Option<f64>)> = sqlx::query_as(
        "SELECT id, (extract(epoch FROM claimed_at - queued_at) * 1000)::float8,
                extract(epoch FROM claimed_at)::float8,
                (extract(epoch FROM finished_at - claimed_at) * 1000)::float8
           FROM turns WHERE id = ANY($1) AND claimed_at IS NOT NULL",
    )
    .bind(&ids)
    .fetch_all(pool)
    .await
    .unwrap_or_default();
    for (id, wait, claimed, hold) in rows {
        f.queue_wait.push(wait);
        let claimed = SystemTime::UNIX_EPOCH + Duration::from_secs_f64(claimed);
        f.to_claim.push(between(posted[&id], claimed));
        f.hold.0.extend(hold);
    }
    for s in phase.seen.iter().filter(|s| s.ok) {
        f.accept.push(s.accept_ms);
        f.end_to_end.push(between(s.posted, s.ended));
        let (Some(ack), Some(md)) = (mtime(spool, &s.id, "ack"), mtime(spool, &s.id, "md")) else {
            continue;
        };
        f.dispatch.push(between(s.posted, ack));
        f.reply.push(between(md, s.ended));
        f.overhead
            .push(between(s.posted, s.ended) - between(ack, md).max(0.0));
    }
    f
}

fn mtime(spool: &Path, id: &str, ext: &str) -> Option<SystemTime> {
    let name = format!("{id}.{ext}");
    [spool.join(&name), spool.join("done").join(&name)]
        .iter()
        .find_map(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok())
}

/// `b - a` in milliseconds (negative when `b` is earlier).
pub fn between(a: SystemTime, b: SystemTime) -> f64 {
    match b.duration_since(a) {
        Ok(d) => d.as_secs_f64() * 1000.0,
        Err(e) => -e.duration().as_secs_f64() * 1000.0,
    }
}
