//! `paliadin-bench`: a whole-system benchmark. Starts a real system ([`rig`]), measures the
//! floor ([`floor`]), drives it with simulated users over HTTP and SSE ([`load`]) and holds idle
//! streams open ([`fanout`]); prints one Markdown table per phase. Asserts nothing about time.

pub mod cpu;
pub mod fanout;
pub mod fleet;
pub mod floor;
pub mod graphile;
pub mod load;
pub mod pgprof;
pub mod rig;
pub mod stats;

use clap::Parser;
use stats::Table;

/// Options; every phase is bounded in time and in count.
#[derive(Parser, Debug)]
#[command(name = "paliadin-bench", about = "Whole-system benchmark of Paliadin")]
pub struct Args {
    /// Worker processes.
    #[arg(long, default_value_t = 2)]
    pub workers: usize,
    /// Turns each worker runs at once (the worker's default when unset).
    #[arg(long)]
    pub concurrency: Option<usize>,
    /// Simulated users (turns go round-robin over them).
    #[arg(long, default_value_t = 20)]
    pub users: usize,
    /// Open-loop arrival rates to run, turns per second, comma separated.
    #[arg(long, value_delimiter = ',', default_values_t = vec![10.0, 50.0])]
    pub rates: Vec<f64>,
    /// Seconds per phase.
    #[arg(long, default_value_t = 10.0)]
    pub secs: f64,
    /// At most this many turns per phase.
    #[arg(long, default_value_t = 5000)]
    pub max_turns: usize,
    /// Samples of each floor figure.
    #[arg(long, default_value_t = 200)]
    pub floor_samples: usize,
    /// Idle SSE streams for the fan-out phase (0 skips it).
    #[arg(long, default_value_t = 1000)]
    pub idle_streams: usize,
    /// Also run each open-loop rate against another queue on the same PostgreSQL (skipped,
    /// with a message, where it cannot run).
    #[arg(long, value_enum)]
    pub compare: Option<Compare>,
    /// Also print where PostgreSQL's time goes in each phase: per statement where the server
    /// preloads `pg_stat_statements`, WAL bytes, rows and index scans per table (`pgprof`).
    #[arg(long)]
    pub pg_profile: bool,
}

/// A queue to compare with, under the same open-loop load.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compare {
    /// graphile-worker (npm): one named queue per user, `--workers` runners of the workers'
    /// concurrency, each job holding its slot as long as our turns did at that rate.
    Graphile,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let rig = rig::Rig::start(args.workers, args.concurrency).await?;
    let users = rig.users("u", args.users.max(1)).await;
    println!(
        "# paliadin-bench: {} workers (concurrency {}), {} users, {} s per phase",
        args.workers,
        args.concurrency.map_or("default".into(), |c| c.to_string()),
        users.len(),
        args.secs
    );
    let mut graphile = match args.compare {
        Some(Compare::Graphile) => start_graphile(&args).await,
        None => None,
    };
    // Warm sessions: one turn per user, all at once.
    let warm = futures::future::join_all(users.iter().map(|c| load::one_turn(c, 0))).await;
    anyhow::ensure!(
        warm.iter().all(|s| s.as_ref().is_some_and(|s| s.ok)),
        "a warm-up turn failed"
    );
    let fl = floor::measure(&rig.db.pool, &rig.tmux.socket, args.floor_samples).await?;
    let mut table = Table { floor_ms: 0.0 };
    table.header("Floor (same run)");
    table.row("one durable commit", &fl.commit);
    table.row("one LISTEN/NOTIFY round trip", &fl.notify);
    table.row("one `tmux` command (process)", &fl.tmux);
    table.row("one `tmux` command (control client)", &fl.tmux_control);
    table.floor_ms = fl.total();
    let via = if fl.control {
        "control client"
    } else {
        "process"
    };
    println!(
        "\nfloor = sum of the three p50s (tmux: {via}, the workers' transport) = {:.2} ms",
        table.floor_ms
    );

    let prof = Profile {
        on: args.pg_profile,
        statements: args.pg_profile && pgprof::prepare(&rig.db.pool).await,
    };
    for &rate in &args.rates {
        let pg = prof.snapshot(&rig).await;
        let cpu = cpu::snapshot(&rig.pids().await);
        let p = load::open_loop(&users, rate, args.secs, args.max_turns).await;
        let title = format!("Open loop, {rate} turns/s offered");
        let ours = report(&table, &rig, &title, &p, (&cpu, &prof, pg)).await;
        if let Some(g) = graphile.as_mut() {
            let hold = ours.hold.mean();
            if hold.is_finite() {
                let bounds = (args.secs, args.max_turns);
                let o = g.phase(users.len(), rate, bounds, hold).await;
                graphile::phase::report(&table, g, rate, &ours, hold, &o);
            } else {
                println!("\ngraphile comparison skipped at {rate} turns/s: no turn of ours ended");
            }
        }
    }
    drop(graphile);
    let pg = prof.snapshot(&rig).await;
    let cpu = cpu::snapshot(&rig.pids().await);
    let p = load::closed_loop(&users, args.secs, args.max_turns).await;
    let closed = format!("Closed loop, {} users back to back", users.len());
    report(&table, &rig, &closed, &p, (&cpu, &prof, pg)).await;

    if args.idle_streams > 0 {
        let before = fanout::db_connections(&rig.db.pool).await;
        let idle = fanout::open_idle(&rig, args.idle_streams).await?;
        let after = fanout::db_connections(&rig.db.pool).await;
        println!(
            "\n## SSE fan-out: {} idle streams on one API process\n",
            args.idle_streams
        );
        println!(
            "opened in {:.1} s; API RSS {:.1} → {:.1} MiB ({:.2} KiB per stream); \
             DB connections (all, LISTEN) {:?} → {:?}",
            idle.open_secs,
            idle.rss_before_kib as f64 / 1024.0,
            idle.rss_after_kib as f64 / 1024.0,
            (idle.rss_after_kib.saturating_sub(idle.rss_before_kib)) as f64
                / args.idle_streams as f64,
            before,
            after
        );
        let cpu = cpu::snapshot(&rig.pids().await);
        let p = load::closed_loop(&users, args.secs, args.max_turns).await;
        let title = format!("Closed loop with {} idle streams open", args.idle_streams);
        report(&table, &rig, &title, &p, (&cpu, &Profile::OFF, None)).await;
    }
    println!("\npaliadin-bench: done");
    Ok(())
}

/// `--pg-profile`: whether it is on, and whether per-statement figures are there.
struct Profile {
    on: bool,
    statements: bool,
}

impl Profile {
    async fn snapshot(&self, rig: &rig::Rig) -> Option<pgprof::Probe> {
        match self.on {
            true => Some(pgprof::snapshot(&rig.db.pool, self.statements).await),
            false => None,
        }
    }

    const OFF: Profile = Profile {
        on: false,
        statements: false,
    };

    async fn after(
        &self,
        rig: &rig::Rig,
        before: Option<pgprof::Probe>,
    ) -> Option<(pgprof::Probe, pgprof::Probe)> {
        let before = before?;
        Some((
            before,
            pgprof::snapshot(&rig.db.pool, self.statements).await,
        ))
    }
}

/// Installs and starts graphile-worker; `None`, with a printed reason, where it cannot run.
async fn start_graphile(args: &Args) -> Option<graphile::Graphile> {
    let conc = args
        .concurrency
        .unwrap_or_else(|| paliadin_worker::config::RuntimeConfig::default().concurrency);
    match graphile::Graphile::start(args.workers, conc).await {
        Ok(g) => Some(g),
        Err(e) => {
            println!("\ngraphile comparison skipped: {e:#}");
            None
        }
    }
}

async fn report(
    table: &Table,
    rig: &rig::Rig,
    title: &str,
    p: &load::Phase,
    (cpu_before, prof, pg): (&cpu::Snapshot, &Profile, Option<pgprof::Probe>),
) -> load::Figures {
    let cpu_after = cpu::snapshot(&rig.pids().await);
    // Before the figures' own queries.
    let pg_after = prof.after(rig, pg).await;
    let f = load::figures(p, &rig.tmux.spool, &rig.db.pool).await;
    table.header(title);
    table.row("accept (POST → 200)", &f.accept);
    table.row("dispatch (POST → agent's `.ack`)", &f.dispatch);
    table.row("queue wait (`claimed_at − queued_at`)", &f.queue_wait);
    table.row("reply (`.md` in place → terminal SSE event)", &f.reply);
    table.row("overhead (end to end − agent's time)", &f.overhead);
    table.row("end to end (POST → terminal SSE event)", &f.end_to_end);
    let done = p.seen.iter().filter(|s| s.ok).count();
    println!(
        "\nthroughput: {done} turns ended in {:.1} s = {:.1} turns/s; {} failed or rejected",
        p.wall.as_secs_f64(),
        done as f64 / p.wall.as_secs_f64(),
        p.failed + p.seen.len() - done
    );
    cpu::report(cpu_before, &cpu_after, done);
    if let Some((before, after)) = pg_after {
        pgprof::report(&rig.db.pool, &before, &after, done).await;
    }
    f
}
