//! The owners' side: a realistic mix over real HTTP and SSE. Most owners stay idle; each active
//! owner posts a turn, reads its stream to the end, answers its agent's permission request when
//! one comes (after a person's delay), thinks, and posts the next, until the window closes.
//! Turn lengths come from the demo agent's `/slow <ms>`; permission waits from its `/ask`.

use crate::http::{Client, SseEvent};
use eventsource_stream::Eventsource;
use futures::StreamExt;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};
use tokio::sync::Mutex;

/// The mix, every duration already multiplied by the time scale.
#[derive(Debug, Clone, Copy)]
pub struct Mix {
    /// Mean pause between an owner's turns, seconds (exponential).
    pub think_secs: f64,
    /// The agent's work per turn, milliseconds, log-uniform between the two.
    pub turn_min_ms: f64,
    pub turn_max_ms: f64,
    /// Share of turns that ask for permission.
    pub ask: f64,
    /// The person's delay before answering, milliseconds (uniform between the two).
    pub answer_min_ms: f64,
    pub answer_max_ms: f64,
}

/// Share of permission requests the person allows (the rest are denied).
pub const ALLOW_SHARE: f64 = 0.8;

/// What one turn is.
#[derive(Debug, Clone)]
pub enum Spec {
    /// `/slow <ms>`: the agent works `ms` milliseconds, then replies.
    Work { ms: u64 },
    /// `/ask Bash …`: the agent asks; the person answers after `answer_ms`.
    Ask { answer_ms: u64, allow: bool },
    /// `/echo warm`: an instant reply (the warm-up turn that starts the owner's agent).
    Warm,
}

impl Spec {
    pub fn draw(mix: &Mix, rng: &mut StdRng) -> Spec {
        if rng.random::<f64>() < mix.ask {
            let span = (mix.answer_max_ms - mix.answer_min_ms).max(0.0);
            Spec::Ask {
                answer_ms: (mix.answer_min_ms + rng.random::<f64>() * span) as u64,
                allow: rng.random::<f64>() < ALLOW_SHARE,
            }
        } else {
            let (lo, hi) = (mix.turn_min_ms.max(1.0).ln(), mix.turn_max_ms.max(1.0).ln());
            let ms = (lo + rng.random::<f64>() * (hi - lo).max(0.0)).exp();
            Spec::Work { ms: ms as u64 }
        }
    }

    fn message(&self, n: usize) -> String {
        match self {
            Spec::Work { ms } => format!("/slow {ms} fleet turn {n}"),
            Spec::Ask { .. } => format!("/ask Bash touch /tmp/fleet-{n}"),
            Spec::Warm => format!("/echo warm {n}"),
        }
    }

    /// How long the turn may take before the client gives up on it.
    fn limit(&self) -> Duration {
        let own = match self {
            Spec::Work { ms } => *ms,
            Spec::Ask { answer_ms, .. } => *answer_ms,
            Spec::Warm => 0,
        };
        Duration::from_millis(own) + Duration::from_secs(180)
    }
}

/// What the owner saw of one turn.
#[derive(Debug, Clone)]
pub struct Seen {
    pub id: String,
    pub owner: usize,
    pub spec: Spec,
    /// Wall clock just before the POST.
    pub posted: SystemTime,
    /// Wall clock when the terminal event arrived.
    pub ended: SystemTime,
    /// The terminal event was `end`.
    pub ok: bool,
    /// The terminal event's kind and, for an error, its code.
    pub outcome: String,
}

/// Exponential with mean `mean`.
fn exponential(rng: &mut StdRng, mean: f64) -> f64 {
    -mean * (1.0 - rng.random::<f64>()).ln()
}

/// Posts one turn and reads its stream to the terminal event, answering a permission request
/// as the person would. `Err` says what went wrong (a rejected post, a broken stream, a time-out).
pub async fn turn(c: &Client, owner: usize, n: usize, spec: Spec) -> Result<Seen, String> {
    let posted = SystemTime::now();
    let token = c.token.clone().unwrap_or_default();
    let r = c
        .http
        .post(format!("{}/api/paliadin/turn", c.base))
        .bearer_auth(&token)
        .json(&json!({ "user_message": spec.message(n) }))
        .send()
        .await
        .map_err(|e| format!("post: {e}"))?;
    let status = r.status().as_u16();
    let v: serde_json::Value = r.json().await.unwrap_or_default();
    if status != 200 {
        return Err(format!("post: {status} {v}"));
    }
    let (Some(id), Some(sse)) = (v["turn_id"].as_str(), v["sse_url"].as_str()) else {
        return Err(format!("post: no turn in {v}"));
    };
    let id = id.to_owned();
    let read = async {
        let r = c
            .http
            .get(format!("{}{sse}", c.base))
            .bearer_auth(&token)
            .send()
            .await
            .map_err(|e| format!("stream: {e}"))?;
        if !r.status().is_success() {
            return Err(format!("stream: {}", r.status()));
        }
        let mut events = r.bytes_stream().eventsource();
        while let Some(e) = events.next().await {
            let e = e.map_err(|e| format!("stream: {e}"))?;
            let ev = SseEvent {
                id: e.id.parse().unwrap_or(0),
                event: e.event,
                data: serde_json::from_str(&e.data).unwrap_or_default(),
            };
            if ev.event == "permission"
                && let Spec::Ask { answer_ms, allow } = &spec
            {
                tokio::time::sleep(Duration::from_millis(*answer_ms)).await;
                let request = ev.data["request_id"].as_str().unwrap_or_default();
                let decision = if *allow { "allow" } else { "deny" };
                let url = format!("{}/api/paliadin/turn/{id}/permission/{request}", c.base);
                let d = c
                    .http
                    .post(url)
                    .bearer_auth(&token)
                    .json(&json!({ "decision": decision, "message": "fleet bench" }))
                    .send()
                    .await
                    .map_err(|e| format!("decide: {e}"))?;
                if !d.status().is_success() {
                    return Err(format!("decide: {}", d.status()));
                }
            }
            if ev.is_terminal() {
                let code = ev.data["code"].as_str().unwrap_or("");
                return Ok((ev.event == "end", format!("{} {code}", ev.event)));
            }
        }
        Err("stream ended before the turn did".to_owned())
    };
    let (ok, outcome) = tokio::time::timeout(spec.limit(), read)
        .await
        .map_err(|_| format!("turn {id}: no terminal event in time"))??;
    Ok(Seen {
        id,
        owner,
        spec,
        posted,
        ended: SystemTime::now(),
        ok,
        outcome: outcome.trim().to_owned(),
    })
}

/// Everything a phase saw.
#[derive(Default)]
pub struct Outcome {
    pub seen: Vec<Seen>,
    /// Turns that could not be posted or whose stream broke, with why (the first few).
    pub errors: Vec<String>,
    pub failed: usize,
}

/// One warm-up turn for each of `active` owners at once: every active owner's agent is
/// started, as in a fleet where they are in use.
pub async fn warm_up(owners: &[Client], active: &[usize]) -> Outcome {
    let runs = active.iter().map(|&o| {
        let c = owners[o].clone();
        async move { turn(&c, o, 0, Spec::Warm).await }
    });
    let mut out = Outcome::default();
    for r in futures::future::join_all(runs).await {
        record(&mut out, r);
    }
    out
}

fn record(out: &mut Outcome, r: Result<Seen, String>) {
    match r {
        Ok(s) => out.seen.push(s),
        Err(e) => {
            out.failed += 1;
            if out.errors.len() < 5 {
                out.errors.push(e);
            }
        }
    }
}

/// The active owners' loops for `window`: each begins after a random part of one think time
/// (so they do not all post at once), then turn, think, turn … ; no turn starts after the
/// window, and the call returns when every started turn has ended.
pub async fn run(
    owners: &[Client],
    active: &[usize],
    mix: Mix,
    window: Duration,
    seed: u64,
) -> Outcome {
    let out = Arc::new(Mutex::new(Outcome::default()));
    let end = Instant::now() + window;
    let tasks: Vec<_> = active
        .iter()
        .map(|&o| {
            let (c, out) = (owners[o].clone(), out.clone());
            tokio::spawn(async move {
                let mut rng = StdRng::seed_from_u64(seed ^ (o as u64).wrapping_mul(0x9e37_79b9));
                let first = rng.random::<f64>() * mix.think_secs;
                tokio::time::sleep(Duration::from_secs_f64(first)).await;
                let mut n = 1;
                while Instant::now() < end {
                    let spec = Spec::draw(&mix, &mut rng);
                    let r = turn(&c, o, n, spec).await;
                    record(&mut *out.lock().await, r);
                    n += 1;
                    let pause = Duration::from_secs_f64(exponential(&mut rng, mix.think_secs));
                    tokio::time::sleep(pause.min(end.saturating_duration_since(Instant::now())))
                        .await;
                }
            })
        })
        .collect();
    futures::future::join_all(tasks).await;
    let mut o = out.lock().await;
    std::mem::take(&mut *o)
}

/// The active owners: the first `share` of them. Owner `i` is pinned to host `i % hosts`, so
/// these are spread evenly over the hosts whatever their number (a stride over the owners
/// would alias with it: every fifth owner of 1,000 sits on one host of five).
pub fn pick_active(owners: usize, share: f64) -> Vec<usize> {
    let n = ((owners as f64 * share).round() as usize).min(owners);
    (0..n).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn active_owners_are_spread_evenly_over_the_hosts() {
        assert_eq!(pick_active(10, 0.2), [0, 1]);
        assert_eq!(pick_active(4, 1.0), [0, 1, 2, 3]);
        assert!(pick_active(100, 0.0).is_empty());
        for hosts in [1, 2, 3, 5, 7, 10, 20, 50] {
            let mut per = vec![0; hosts];
            for o in pick_active(1000, 0.2) {
                per[o % hosts] += 1;
            }
            let (lo, hi) = (per.iter().min().unwrap(), per.iter().max().unwrap());
            assert!(hi - lo <= 1, "{hosts} hosts: {per:?}");
        }
    }

    #[test]
    fn the_mix_stays_within_its_bounds() {
        let mix = Mix {
            think_secs: 1.0,
            turn_min_ms: 1000.0,
            turn_max_ms: 30000.0,
            ask: 0.1,
            answer_min_ms: 2000.0,
            answer_max_ms: 10000.0,
        };
        let mut rng = StdRng::seed_from_u64(7);
        let (mut asks, mut works) = (0, Vec::new());
        for _ in 0..2000 {
            match Spec::draw(&mix, &mut rng) {
                Spec::Ask { answer_ms, .. } => {
                    assert!((2000..=10000).contains(&answer_ms));
                    asks += 1;
                }
                Spec::Work { ms } => works.push(ms),
                Spec::Warm => unreachable!(),
            }
        }
        assert!((140..=260).contains(&asks), "{asks} asks of 2000");
        assert!(works.iter().all(|ms| (1000..=30000).contains(ms)));
        // Log-uniform: the median is near the geometric mean (≈ 5.5 s), not the middle.
        works.sort();
        let median = works[works.len() / 2];
        assert!((4000..=7500).contains(&median), "median {median}");
    }
}
