//! `paliadin-bench fleet`: a fleet of tmux hosts, workers and owners simulated on this machine
//! (docs/performance.md, "Fleet"). For each (owners, hosts) pair: a fresh database, one
//! `paliadin-api`, the hosts (a real sshd each on loopback, whose key forces the host agent
//! with the demo agent on the host's own tmux server) and the workers ([`rig`]); every owner
//! pinned to a host round-robin; then
//!
//! 1. **warm-up**: one `/echo` turn for each active owner at once (their agents start);
//! 2. **at rest**: every channel up, every active owner's agent idle, no turn, `--idle-secs`:
//!    what the fleet costs doing nothing;
//! 3. **load**: the active owners' loops ([`load`]) for `--secs`, then until every started
//!    turn has ended.
//!
//! Figures per configuration: turns/s, dispatch (POST → the agent's receipt), queue wait
//! (`claimed_at − queued_at`), reply (reply file in place → terminal SSE event), CPU by part
//! at rest and under load ([`probe`]), PostgreSQL connections per process and turns running at
//! once (peaks of a 1 s sampler), SSH channels; then one summary table. Asserts nothing about
//! time. Bounded: every phase in time, the owners and hosts by their flags, the whole run by
//! `--max-secs`.

pub mod load;
pub mod probe;
pub mod rig;

use super::load::between;
use super::stats::{Samples, Table};
use load::{Mix, Seen};
use probe::{Part, Peaks};
use rig::{FleetRig, Size};
use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

/// Options of the fleet run; every phase is bounded in time and in count.
#[derive(clap::Args, Debug, Clone)]
pub struct FleetArgs {
    /// Owners of each configuration, comma separated (each 1..=2000); every owners × hosts pair
    /// runs, fewest hosts first.
    #[arg(long, value_delimiter = ',', default_values_t = vec![100u32, 1000],
        value_parser = clap::value_parser!(u32).range(1..=2000))]
    pub owners: Vec<u32>,
    /// tmux hosts of each configuration, comma separated (each 1..=50): one sshd on loopback
    /// each, with its own host key, host agent and tmux server.
    #[arg(long, value_delimiter = ',', default_values_t = vec![5u32, 20],
        value_parser = clap::value_parser!(u32).range(1..=50))]
    pub hosts: Vec<u32>,
    /// Worker processes.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=16))]
    pub workers: u32,
    /// Workers that serve each host, over one SSH channel each (default: every worker serves
    /// every host).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=16))]
    pub replicas: Option<u32>,
    /// Turns each worker runs at once (`PALIADIN_CONCURRENCY`; the worker's default when unset).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=256))]
    pub concurrency: Option<u32>,
    /// Share of the owners who send turns (0..=1); the others stay idle: pinned to their host,
    /// no agent running, no turn.
    #[arg(long, default_value_t = 0.2)]
    pub active: f64,
    /// Mean seconds an active owner waits after a turn before the next (exponential).
    #[arg(long, default_value_t = 30.0)]
    pub think: f64,
    /// Shortest turn, seconds of the agent's work (`/slow`; log-uniform up to `--turn-max`).
    #[arg(long, default_value_t = 1.0)]
    pub turn_min: f64,
    /// Longest turn, seconds of the agent's work.
    #[arg(long, default_value_t = 30.0)]
    pub turn_max: f64,
    /// Share of turns in which the agent asks for permission (`/ask`, 0..=1); the bench
    /// answers as the owner after 2–10 s, allowing four in five.
    #[arg(long, default_value_t = 0.1)]
    pub ask: f64,
    /// Multiplies every duration of the mix (turns, think times, the owner's answers;
    /// 0.01..=1): at 0.2 the same fleet runs five times faster, so its turns/s are five times
    /// a real fleet's while its turns in flight stay the same. Printed with every figure.
    #[arg(long, default_value_t = 1.0)]
    pub time_scale: f64,
    /// Seconds of load measured per configuration (1..=3600).
    #[arg(long, default_value_t = 60.0)]
    pub secs: f64,
    /// Seconds measured at rest per configuration (0 skips it; at most 600).
    #[arg(long, default_value_t = 10.0)]
    pub idle_secs: f64,
    /// Bound of the whole run, seconds: a configuration that would not end within it is
    /// skipped, one still running at it is stopped (at most 7200).
    #[arg(long, default_value_t = 840.0)]
    pub max_secs: f64,
    /// The host agents' `PALIADIN_MAX_LIVE_AGENTS` (default: each host's own, from its memory).
    #[arg(long)]
    pub max_live_agents: Option<u32>,
    /// Seed of the owners' random choices (default: from the clock; printed).
    #[arg(long)]
    pub seed: Option<u64>,
}

impl FleetArgs {
    fn check(&self) -> anyhow::Result<()> {
        let within = |v: f64, lo: f64, hi: f64| v.is_finite() && (lo..=hi).contains(&v);
        anyhow::ensure!(within(self.active, 0.0, 1.0), "--active is a share, 0..=1");
        anyhow::ensure!(within(self.ask, 0.0, 1.0), "--ask is a share, 0..=1");
        anyhow::ensure!(within(self.time_scale, 0.01, 1.0), "--time-scale: 0.01..=1");
        anyhow::ensure!(within(self.think, 0.0, 3600.0), "--think: 0..=3600 s");
        anyhow::ensure!(
            within(self.turn_min, 0.0, 3600.0) && within(self.turn_max, self.turn_min, 3600.0),
            "--turn-min ≤ --turn-max, both 0..=3600 s"
        );
        anyhow::ensure!(within(self.secs, 1.0, 3600.0), "--secs: 1..=3600");
        anyhow::ensure!(within(self.idle_secs, 0.0, 600.0), "--idle-secs: 0..=600");
        anyhow::ensure!(within(self.max_secs, 1.0, 7200.0), "--max-secs: 1..=7200");
        anyhow::ensure!(
            self.replicas.is_none_or(|r| r <= self.workers),
            "--replicas cannot exceed --workers"
        );
        Ok(())
    }

    fn mix(&self) -> Mix {
        let s = self.time_scale;
        Mix {
            think_secs: self.think * s,
            turn_min_ms: self.turn_min * 1000.0 * s,
            turn_max_ms: self.turn_max * 1000.0 * s,
            ask: self.ask,
            answer_min_ms: 2000.0 * s,
            answer_max_ms: 10000.0 * s,
        }
    }

    fn concurrency(&self) -> usize {
        self.concurrency.map_or_else(
            || paliadin_worker::config::RuntimeConfig::default().concurrency,
            |c| c as usize,
        )
    }

    /// Mean seconds a turn holds its slot (the agent's work or the person's answer), scaled.
    fn mean_turn_secs(&self) -> f64 {
        let m = self.mix();
        let (a, b) = (m.turn_min_ms / 1000.0, m.turn_max_ms / 1000.0);
        let work = if b > a { (b - a) / (b / a).ln() } else { a };
        let answer = (m.answer_min_ms + m.answer_max_ms) / 2000.0;
        (1.0 - m.ask) * work + m.ask * answer
    }

    /// Seconds one configuration is expected to take (set-up and tear-down guessed from runs
    /// on the 2-core box).
    fn estimate(&self, owners: usize, hosts: usize) -> f64 {
        let active = load::pick_active(owners, self.active).len() as f64;
        let setup = 5.0 + 0.3 * hosts as f64 + 0.003 * owners as f64;
        let warm = 3.0 + 0.05 * active;
        let drain = (self.turn_max + 10.0) * self.time_scale + 5.0;
        setup + warm + self.idle_secs + self.secs + drain + 3.0
    }
}

/// One configuration's results, for the summary.
struct Row {
    size: Size,
    active: usize,
    turns: usize,
    failed: usize,
    tps: f64,
    dispatch: Samples,
    queue: Samples,
    reply: Samples,
    peaks: Peaks,
    /// CPU, % of one core: at rest and under load, by part.
    rest: HashMap<Part, f64>,
    busy: HashMap<Part, f64>,
    /// PostgreSQL backends' CPU ms per turn under load.
    pg_ms: f64,
    channels: (usize, usize),
}

pub async fn run(args: FleetArgs) -> anyhow::Result<()> {
    args.check()?;
    let started = Instant::now();
    let seed = args.seed.unwrap_or_else(|| {
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64)
    });
    let conc = args.concurrency();
    let mix = args.mix();
    let s = args.time_scale;
    println!(
        "# paliadin-bench fleet: {} workers × {conc} slots, each host served by {}; owners {:?} × \
         hosts {:?}",
        args.workers,
        args.replicas
            .map_or("every worker".to_owned(), |r| format!("{r} workers")),
        args.owners,
        args.hosts,
    );
    println!(
        "\nmix: {:.0} % of owners active; think {:.1} s mean (exponential); turns {:.2}–{:.2} s \
         of agent work (log-uniform, `/slow`); {:.0} % ask permission (`/ask`), answered after \
         {:.2}–{:.2} s, {:.0} % allowed",
        args.active * 100.0,
        mix.think_secs,
        mix.turn_min_ms / 1000.0,
        mix.turn_max_ms / 1000.0,
        args.ask * 100.0,
        mix.answer_min_ms / 1000.0,
        mix.answer_max_ms / 1000.0,
        load::ALLOW_SHARE * 100.0,
    );
    if s < 1.0 {
        println!(
            "time scale {s}: every duration of the mix is {s} × a real fleet's (turns of \
             {}–{} s, think {} s), so turns/s are {:.1} × a real fleet's; turns in flight, slots \
             and connections are the real fleet's",
            args.turn_min,
            args.turn_max,
            args.think,
            1.0 / s
        );
    }
    let (turn, cycle) = (
        args.mean_turn_secs(),
        mix.think_secs + args.mean_turn_secs(),
    );
    println!(
        "expected: a turn holds its slot {turn:.2} s on average; per 100 active owners \
         {:.1} turns/s and {:.0} turns in flight",
        100.0 / cycle,
        100.0 * turn / cycle
    );
    println!(
        "{} s of load and {} s at rest per configuration; whole run bounded to {} s; seed {seed}",
        args.secs, args.idle_secs, args.max_secs
    );
    print_load("machine at the start");
    server_budget(&args, conc).await;

    let mut rows = Vec::new();
    let mut hosts = args.hosts.clone();
    hosts.sort_unstable();
    hosts.dedup();
    let mut owners = args.owners.clone();
    owners.sort_unstable();
    owners.dedup();
    'all: for &h in &hosts {
        for &o in &owners {
            let (h, o) = (h as usize, o as usize);
            let left = args.max_secs - started.elapsed().as_secs_f64();
            let need = args.estimate(o, h);
            if need > left {
                println!(
                    "\n## {o} owners on {h} hosts: skipped (needs ≈ {need:.0} s, {left:.0} s \
                     left of --max-secs)"
                );
                continue;
            }
            let size = Size {
                owners: o,
                hosts: h,
                workers: args.workers as usize,
                replicas: args.replicas.unwrap_or(args.workers) as usize,
                concurrency: conc,
                max_live_agents: args.max_live_agents,
            };
            let cap = Duration::from_secs_f64(left.max(1.0));
            match tokio::time::timeout(cap, one(&args, size, seed)).await {
                Ok(Ok(r)) => rows.push(r),
                Ok(Err(e)) => println!("\nconfiguration failed: {e:#}"),
                Err(_) => {
                    println!("\n{o} owners on {h} hosts: stopped at --max-secs");
                    break 'all;
                }
            }
        }
    }
    summary(&args, &rows);
    print_load("machine at the end");
    println!(
        "\npaliadin-bench fleet: done in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// One configuration: set up, warm up, at rest, load, report, tear down.
async fn one(args: &FleetArgs, size: Size, seed: u64) -> anyhow::Result<Row> {
    let slots = size.workers * size.concurrency;
    println!(
        "\n## Fleet: {} owners on {} hosts, {} workers × {} slots\n",
        size.owners, size.hosts, size.workers, size.concurrency
    );
    print_load("machine");
    let t = Instant::now();
    let rig = FleetRig::start(size).await?;
    let channels = rig.ssh_channels();
    println!(
        "set up in {:.1} s: {} sshd, {} SSH channels ({} per host; sshd sees {}), {} owners \
         pinned round-robin ({:.0} per host)",
        t.elapsed().as_secs_f64(),
        size.hosts,
        channels.0,
        size.replicas,
        channels.1,
        size.owners,
        size.owners as f64 / size.hosts as f64
    );
    let active = load::pick_active(size.owners, args.active);

    let t = Instant::now();
    let warm = load::warm_up(&rig.owners, &active).await;
    let warm_secs = t.elapsed().as_secs_f64();
    let wf = figures(&rig, &warm.seen).await;
    println!(
        "warm-up: {} agents started (one `/echo` turn each, all posted at once) in {warm_secs:.1} \
         s; {} failed{}; dispatch (agent start) p50 {:.0} / p99 {:.0} ms; live agents now {}",
        warm.seen.iter().filter(|s| s.ok).count(),
        warm.failed + warm.seen.iter().filter(|s| !s.ok).count(),
        first_errors(&warm),
        wf.dispatch.pct(50.0),
        wf.dispatch.pct(99.0),
        rig.live_agents()
    );

    // At rest: every channel up, the active owners' agents idle.
    let rest_secs = args.idle_secs;
    let mut rest = HashMap::new();
    let mut rest_peaks = Peaks::default();
    if rest_secs > 0.0 {
        settle(&rig).await;
        let sampler = probe::Sampler::start(&rig);
        let before = probe::snapshot(&rig).await;
        let t = Instant::now();
        tokio::time::sleep(Duration::from_secs_f64(rest_secs)).await;
        let after = probe::snapshot(&rig).await;
        rest = percent(&after.since(&before), t.elapsed().as_secs_f64());
        rest_peaks = sampler.finish().await;
        println!(
            "\nat rest ({rest_secs} s, {} idle agents, no turn), CPU % of one core: {}",
            active.len(),
            parts_line(&rest, |v| format!("{v:.1}"))
        );
        println!(
            "at rest, PostgreSQL connections: {} to this database; API {}, workers {:?}",
            rest_peaks.db_total, rest_peaks.api, rest_peaks.workers
        );
    }

    // Load.
    let sampler = probe::Sampler::start(&rig);
    let before = probe::snapshot(&rig).await;
    let t = Instant::now();
    let window = Duration::from_secs_f64(args.secs);
    let started_at = SystemTime::now();
    let out = load::run(&rig.owners, &active, args.mix(), window, seed).await;
    let wall = t.elapsed().as_secs_f64();
    let after = probe::snapshot(&rig).await;
    let peaks = sampler.finish().await;
    let channels_end = rig.ssh_channels();
    let spent = after.since(&before);
    let busy = percent(&spent, wall);
    let ok: Vec<&Seen> = out.seen.iter().filter(|s| s.ok).collect();
    let window_end = started_at + window;
    let in_window = ok.iter().filter(|s| s.ended <= window_end).count();
    let tps = in_window as f64 / args.secs;
    let f = figures(&rig, &out.seen).await;
    let table = Table { floor_ms: 0.0 };
    table.header(&format!(
        "{} owners on {} hosts: load ({} active owners, {} s, then until every turn ended: {wall:.1} s)",
        size.owners,
        size.hosts,
        active.len(),
        args.secs
    ));
    table.row("dispatch (POST → agent's `.ack`)", &f.dispatch);
    table.row("queue wait (`claimed_at − queued_at`)", &f.queue_wait);
    table.row("reply (`.md` in place → terminal SSE event)", &f.reply);
    table.row(
        "overhead (end to end − agent's `.ack` → `.md`)",
        &f.overhead,
    );
    table.row("end to end (POST → terminal SSE event)", &f.end_to_end);
    let failed = out.failed + out.seen.len() - ok.len();
    let asks = ok
        .iter()
        .filter(|s| matches!(s.spec, load::Spec::Ask { .. }))
        .count();
    println!(
        "\nthroughput: {in_window} turns ended in the {} s window = {tps:.2} turns/s ({:.2}/s at \
         real time); {} turns in all, {asks} of them with a permission answered; {failed} failed{}",
        args.secs,
        tps * args.time_scale,
        ok.len(),
        first_errors(&out)
    );
    let (releases, outcomes) = db_outcomes(&rig).await;
    println!("turns in the database: {outcomes}; handed back (`releases`): {releases}");
    let n = ok.len().max(1) as f64;
    println!(
        "CPU under load, % of one core: {}",
        parts_line(&busy, |v| format!("{v:.1}"))
    );
    println!(
        "CPU ms per turn: {}",
        parts_line(&spent, |v| format!("{:.1}", v * 1000.0 / n))
    );
    let per_host = |m: &HashMap<Part, f64>, parts: &[Part]| {
        parts.iter().map(|p| m.get(p).unwrap_or(&0.0)).sum::<f64>() / size.hosts as f64
    };
    let worker = [Part::Workers, Part::SshClients];
    let host = [Part::HostAgents, Part::TmuxServers, Part::Agents];
    println!(
        "per host, % of one core (at rest / under load): worker side (worker + ssh) {:.2} / \
         {:.2}; host side (sshd, host agent, tmux, agents) {:.2} / {:.2}",
        per_host(&rest, &worker),
        per_host(&busy, &worker),
        per_host(&rest, &host),
        per_host(&busy, &host),
    );
    println!(
        "PostgreSQL connections, peak: {} to this database (the bench's probe included); API {}; \
         workers {:?} (each pool may open {}); turns running at once: peak {} of {slots} slots, \
         queued peak {}",
        peaks.db_total,
        peaks.api,
        peaks.workers,
        2 * size.concurrency + 4,
        peaks.running,
        peaks.queued
    );
    println!(
        "SSH channels: {} ssh clients under the workers, {} connections on the sshds (at the \
         start {} / {}); live agents {}; largest worker RSS {:.1} MiB",
        channels_end.0,
        channels_end.1,
        channels.0,
        channels.1,
        rig.live_agents(),
        peaks.worker_rss_kib as f64 / 1024.0
    );
    let pg_ms = spent.get(&Part::Postgres).unwrap_or(&0.0) * 1000.0 / n;
    rig.stop().await;
    Ok(Row {
        size,
        active: active.len(),
        turns: ok.len(),
        failed,
        tps,
        dispatch: f.dispatch,
        queue: f.queue_wait,
        reply: f.reply,
        peaks: merge(peaks, &rest_peaks),
        rest,
        busy,
        pg_ms,
        channels: channels_end,
    })
}

/// Waits until every worker has reported no turn in flight in a heartbeat after now (a slot
/// is held past the terminal event: the transcript copy, the session's touch), at most 20 s:
/// the measurement at rest must not see the warm-up's tail.
async fn settle(rig: &FleetRig) {
    let deadline = Instant::now() + Duration::from_secs(20);
    let since = SystemTime::now();
    let since = epoch_secs(since);
    while Instant::now() < deadline {
        let busy: Option<(i64, i64)> = sqlx::query_as(
            "SELECT coalesce(sum(in_flight), 0)::int8,
                    count(*) FILTER (WHERE extract(epoch FROM heartbeat_at) < $1)
               FROM workers WHERE stopped_at IS NULL",
        )
        .bind(since)
        .fetch_optional(&rig.db.pool)
        .await
        .ok()
        .flatten();
        if busy == Some((0, 0)) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
}

/// Seconds since the epoch, as PostgreSQL's `extract(epoch …)` gives them.
fn epoch_secs(t: SystemTime) -> f64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// The larger of two samplers' connection peaks (at rest and under load).
fn merge(mut load: Peaks, rest: &Peaks) -> Peaks {
    load.db_total = load.db_total.max(rest.db_total);
    load.api = load.api.max(rest.api);
    for (l, r) in load.workers.iter_mut().zip(&rest.workers) {
        *l = (*l).max(*r);
    }
    load
}

/// Per-turn figures from the owners' clocks, the hosts' spools and the database.
#[derive(Default)]
struct Figures {
    dispatch: Samples,
    queue_wait: Samples,
    reply: Samples,
    overhead: Samples,
    end_to_end: Samples,
}

async fn figures(rig: &FleetRig, seen: &[Seen]) -> Figures {
    let mut f = Figures::default();
    let ids: Vec<uuid::Uuid> = seen.iter().filter_map(|s| s.id.parse().ok()).collect();
    let waits: Vec<f64> = sqlx::query_scalar(
        "SELECT (extract(epoch FROM claimed_at - queued_at) * 1000)::float8
           FROM turns WHERE id = ANY($1) AND claimed_at IS NOT NULL",
    )
    .bind(&ids)
    .fetch_all(&rig.db.pool)
    .await
    .unwrap_or_default();
    f.queue_wait.0 = waits;
    for s in seen.iter().filter(|s| s.ok) {
        f.end_to_end.push(between(s.posted, s.ended));
        let spool = &rig.host_of(s.owner).rig.spool;
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

/// `(sum of releases, "state n, …" with failed turns' codes)` of every turn of the run.
async fn db_outcomes(rig: &FleetRig) -> (i64, String) {
    let rows: Vec<(String, Option<String>, i64, i64)> = sqlx::query_as(
        "SELECT state, error_code, count(*), sum(releases)::int8 FROM turns
          GROUP BY state, error_code ORDER BY count(*) DESC",
    )
    .fetch_all(&rig.db.pool)
    .await
    .unwrap_or_default();
    let releases = rows.iter().map(|r| r.3).sum();
    let text = rows
        .iter()
        .map(|(state, code, n, _)| match code {
            Some(c) => format!("{state} ({c}) {n}"),
            None => format!("{state} {n}"),
        })
        .collect::<Vec<_>>()
        .join(", ");
    (releases, text)
}

fn first_errors(o: &load::Outcome) -> String {
    let mut why: Vec<String> = o.errors.clone();
    why.extend(
        o.seen
            .iter()
            .filter(|s| !s.ok)
            .take(3)
            .map(|s| s.outcome.clone()),
    );
    if why.is_empty() {
        String::new()
    } else {
        format!(" (e.g. {})", why.join("; "))
    }
}

/// CPU seconds by part over `secs` of wall time, as % of one core.
fn percent(spent: &HashMap<Part, f64>, secs: f64) -> HashMap<Part, f64> {
    spent
        .iter()
        .map(|(p, v)| (*p, v * 100.0 / secs.max(1e-9)))
        .collect()
}

fn parts_line(m: &HashMap<Part, f64>, fmt: impl Fn(f64) -> String) -> String {
    let total: f64 = m.values().sum();
    let mut out: Vec<String> = Part::ALL
        .iter()
        .map(|p| format!("{} {}", p.name(), fmt(*m.get(p).unwrap_or(&0.0))))
        .collect();
    out.push(format!("total {}", fmt(total)));
    out.join(", ")
}

fn print_load(when: &str) {
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "{when}: load average {} ({cores} cores)",
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
}

/// Prints the server's `max_connections` beside what the fleet's pools may open.
async fn server_budget(args: &FleetArgs, conc: usize) {
    let pools = args.workers as usize * (2 * conc + 4) + 32 + 20;
    let got: Option<(String, i64)> = async {
        let mut c = <sqlx::PgConnection as sqlx::Connection>::connect(&crate::db::admin_url())
            .await
            .ok()?;
        sqlx::query_as(
            "SELECT current_setting('max_connections'), (SELECT count(*) FROM pg_stat_activity)",
        )
        .fetch_one(&mut c)
        .await
        .ok()
    }
    .await;
    let Some((max, used)) = got else {
        println!("PostgreSQL: cannot read max_connections");
        return;
    };
    println!(
        "PostgreSQL: max_connections {max}, {used} in use now; the fleet's pools may open up to \
         {pools} (workers {} × {}, API 32, bench 20) — they open what they use: see the peaks",
        args.workers,
        2 * conc + 4
    );
    if max.parse::<i64>().is_ok_and(|m| m - used < pools as i64) {
        println!(
            "warning: the pools could exhaust the server; a run that reaches the limit fails \
             turns (and other clients of the server) with `too many clients`"
        );
    }
}

fn summary(args: &FleetArgs, rows: &[Row]) {
    if rows.is_empty() {
        return;
    }
    let s = args.time_scale;
    println!("\n## Fleet summary (time scale {s}; CPU in % of one core)\n");
    println!(
        "| owners | hosts | workers × slots (hosts each serves) | active | turns/s (real time) | dispatch p50 / p99 ms | queue wait p50 / \
         p99 ms | reply p50 / p99 ms | running peak / slots | PG conns peak: all (API; worker max) \
         | PG CPU at rest / load; ms per turn | worker CPU per host at rest / load | host side \
         per host at rest / load | SSH channels | failed |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    for r in rows {
        let z = r.size;
        let per_host = |m: &HashMap<Part, f64>, parts: &[Part]| {
            parts.iter().map(|p| m.get(p).unwrap_or(&0.0)).sum::<f64>() / z.hosts as f64
        };
        let worker = [Part::Workers, Part::SshClients];
        let host = [Part::HostAgents, Part::TmuxServers, Part::Agents];
        let pg = |m: &HashMap<Part, f64>| *m.get(&Part::Postgres).unwrap_or(&0.0);
        println!(
            "| {} | {} | {} × {} ({}) | {} | {:.1} ({:.2}) | {:.0} / {:.0} | {:.0} / {:.0} | {:.0} / {:.0} | {} / {} \
             | {} ({}; {}) | {:.1} / {:.1}; {:.1} | {:.2} / {:.2} | {:.2} / {:.2} | {} | {} of {} |",
            z.owners,
            z.hosts,
            z.workers,
            z.concurrency,
            (0..z.hosts).filter(|&h| rig::serves(z, 0, h)).count(),
            r.active,
            r.tps,
            r.tps * s,
            r.dispatch.pct(50.0),
            r.dispatch.pct(99.0),
            r.queue.pct(50.0),
            r.queue.pct(99.0),
            r.reply.pct(50.0),
            r.reply.pct(99.0),
            r.peaks.running,
            z.workers * z.concurrency,
            r.peaks.db_total,
            r.peaks.api,
            r.peaks.workers.iter().max().unwrap_or(&0),
            pg(&r.rest),
            pg(&r.busy),
            r.pg_ms,
            per_host(&r.rest, &worker),
            per_host(&r.busy, &worker),
            per_host(&r.rest, &host),
            per_host(&r.busy, &host),
            r.channels.0,
            r.failed,
            r.turns + r.failed,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        fleet: FleetArgs,
    }

    #[test]
    fn defaults_are_the_issue_s_fleet_and_bounds_hold() {
        let a = Cli::parse_from(["x"]).fleet;
        assert_eq!(
            (a.owners.as_slice(), a.hosts.as_slice()),
            (&[100, 1000][..], &[5, 20][..])
        );
        assert_eq!(a.workers, 4);
        a.check().unwrap();
        // Log-uniform 1–30 s: mean (30 − 1) / ln 30 ≈ 8.53 s; answers 6 s; 10 % ask.
        assert!((a.mean_turn_secs() - (0.9 * 29.0 / 30f64.ln() + 0.6)).abs() < 1e-9);
        for bad in [
            vec!["x", "--active", "1.5"],
            vec!["x", "--time-scale", "0"],
            vec!["x", "--turn-min", "5", "--turn-max", "2"],
            vec!["x", "--replicas", "5"],
        ] {
            assert!(Cli::parse_from(&bad).fleet.check().is_err(), "{bad:?}");
        }
        assert!(Cli::try_parse_from(["x", "--owners", "3000"]).is_err());
        assert!(Cli::try_parse_from(["x", "--hosts", "0"]).is_err());
    }
}
