//! The shapes of the admin stats (`GET /api/admin/paliadin/stats`): what each figure means and
//! which turns it counts. Serialized as-is by the API and described in its OpenAPI document.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::FromRow;
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// Everything the dashboard shows, computed in one call.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Stats {
    /// The database's clock when the figures were taken; every age is relative to it.
    pub generated_at: DateTime<Utc>,
    /// The window the `sample` figures cover, as given (`1h`, `30m`, `7d`…).
    pub window: String,
    pub window_secs: i64,
    /// One entry per pgmq queue (`turns_<host>`).
    pub queues: Vec<QueueStats>,
    /// Turns per state: `queued`/`running` right now; terminal states among the sample.
    pub turns: StateCounts,
    /// Running turns waiting for the person to answer a permission request, right now.
    pub waiting: Waiting,
    /// Which finished turns the window figures (`turns`, `errors`, `latency`, `usage`) read.
    pub sample: Sample,
    /// Failed turns of the sample per error code, most frequent first.
    pub errors: Vec<NamedCount>,
    /// Turns of the sample per kind of agent that answered them (`claude`, `codex`, `demo`,
    /// `other`), most frequent first; turns no agent answered, or whose worker did not record
    /// it, are not counted.
    #[serde(default)]
    pub agents: Vec<NamedCount>,
    pub latency: Latencies,
    pub usage: Usage,
    /// The last hour, one entry per minute, oldest first (the last one is the current minute).
    pub throughput: Vec<Minute>,
    /// Running workers, and those stopped within the last day.
    pub workers: Vec<WorkerStats>,
    pub hosts: Vec<HostStats>,
    /// The model's tokens and cost per owner and per day (UTC) over the window, newest day
    /// first (at most `tokens::MAX_ROWS` rows).
    #[serde(default)]
    pub tokens: Vec<super::tokens::TokenDay>,
}

/// One pgmq queue, from `pgmq.metrics_all()`.
#[derive(Debug, Clone, Serialize, Deserialize, FromRow, ToSchema)]
pub struct QueueStats {
    pub queue: String,
    /// Messages in the queue: waiting plus leased (running) turns.
    pub length: i64,
    /// Messages a worker could read now (`vt <= now()`).
    pub visible_length: i64,
    pub oldest_age_secs: Option<i32>,
    pub newest_age_secs: Option<i32>,
    /// Messages ever sent to the queue.
    pub total_sent: i64,
}

/// Turns blocked on the person (`docs/agent-protocol.md` §7).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct Waiting {
    /// Running turns with an undecided permission request.
    pub turns: i64,
    /// How long the oldest undecided request has waited, in seconds (`null` when none).
    pub oldest_wait_secs: Option<f64>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct StateCounts {
    pub queued: i64,
    pub running: i64,
    pub succeeded: i64,
    pub failed: i64,
    pub cancelled: i64,
}

/// The window's figures read the turns finished within the window, newest first, at most
/// `cap` of them: the cost of a stats call stays bounded whatever the window and the traffic.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Sample {
    /// Finished turns read.
    pub turns: i64,
    pub cap: i64,
    /// True when the window held more than `cap` finished turns (only the newest were read).
    pub capped: bool,
    /// The oldest `finished_at` read; the figures cover `since..generated_at`.
    pub since: Option<DateTime<Utc>>,
}

/// Percentiles (`percentile_cont`) of one latency, in milliseconds; `None` without data.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct Latency {
    /// Turns that contributed.
    pub count: i64,
    pub p50_ms: Option<f64>,
    pub p95_ms: Option<f64>,
    pub p99_ms: Option<f64>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct Latencies {
    /// `claimed_at - queued_at`, every sampled turn that was claimed.
    pub queue_wait: Latency,
    /// `delivered_at - claimed_at`, every sampled turn that was delivered.
    pub delivery: Latency,
    /// `finished_at - delivered_at`, succeeded turns.
    pub answer: Latency,
    /// `finished_at - queued_at`, succeeded turns.
    pub end_to_end: Latency,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct NamedCount {
    pub name: String,
    pub count: i64,
}

/// What the agent reported in the trailers of the sampled turns.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct Usage {
    /// Tools used, by the number of turns that used each (top 20).
    pub tools: Vec<NamedCount>,
    /// Turns per classifier tag (top 20).
    pub classifier_tags: Vec<NamedCount>,
    pub rows_seen_total: i64,
    pub rows_seen_avg: Option<f64>,
    pub chips_total: i64,
    pub chips_avg: Option<f64>,
}

/// One minute of the last hour.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Minute {
    /// Start of the minute.
    pub minute: DateTime<Utc>,
    pub succeeded: i64,
    pub failed: i64,
    /// Failed turns of this minute per error code.
    pub failed_by_code: BTreeMap<String, i64>,
    pub cancelled: i64,
    /// End-to-end latency of the turns that succeeded in this minute.
    pub e2e_p50_ms: Option<f64>,
    pub e2e_p95_ms: Option<f64>,
    /// Turns waiting to be claimed at the end of the minute (now, for the current one).
    pub waiting: i64,
}

/// Worker liveness: `alive`, `stale` (no heartbeat for [`super::STALE_SECS`]), or `stopped`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct WorkerStats {
    pub id: String,
    pub hosts: Vec<String>,
    pub version: String,
    pub started_at: DateTime<Utc>,
    pub heartbeat_at: DateTime<Utc>,
    pub heartbeat_age_secs: f64,
    pub in_flight: i32,
    pub stopped_at: Option<DateTime<Utc>>,
    pub status: String,
    /// `status == "alive"`.
    pub alive: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, FromRow, ToSchema)]
pub struct HostStats {
    pub name: String,
    pub address: String,
    pub reachable: bool,
    /// Users pinned to this host (one tmux session each).
    pub sessions: i64,
    pub last_error: Option<String>,
    pub last_seen_at: DateTime<Utc>,
    /// Its live agents (`docs/operations.md`, "Live agents").
    #[serde(default)]
    #[sqlx(flatten)]
    pub agents: HostAgents,
}

/// The agents of one tmux host, as the workers serving it record them with their heartbeat.
/// Hosts behind a host agent (SSH, `accounts://`) report none of these to their workers: there
/// `live` stays `null` and the counters 0.
#[derive(Debug, Clone, Default, Serialize, Deserialize, FromRow, ToSchema)]
pub struct HostAgents {
    /// Live agents on the host's tmux server when a worker last counted them (at each agent
    /// start under a limit, and each idle sweep: every minute at most); `null`: never counted.
    #[sqlx(rename = "agents_live")]
    pub live: Option<i32>,
    /// `PALIADIN_MAX_LIVE_AGENTS` as that worker applies it; `null`: no limit (or not counted).
    #[sqlx(rename = "agents_max")]
    pub max: Option<i32>,
    /// When `live` was counted.
    #[sqlx(rename = "agents_counted_at")]
    pub counted_at: Option<DateTime<Utc>>,
    /// Agents started for a conversation without earlier turns, since the host was first served.
    #[sqlx(rename = "agent_starts")]
    pub starts: i64,
    /// Agents started to resume a conversation with earlier turns (after any stop).
    #[sqlx(rename = "agent_resumes")]
    pub resumes: i64,
    /// Agents stopped or found gone, by reason.
    #[sqlx(flatten)]
    pub stops: AgentStops,
    /// Times a turn went back to the queue because every agent of the host was at work.
    #[sqlx(rename = "turns_deferred")]
    pub deferred: i64,
}

/// Why agents stopped (`paliadin_agent_stops_total{reason}`), since the host was first served.
#[derive(Debug, Clone, Default, Serialize, Deserialize, FromRow, ToSchema)]
pub struct AgentStops {
    /// No turn for `PALIADIN_AGENT_IDLE_SECS`.
    #[sqlx(rename = "agent_stops_idle")]
    pub idle: i64,
    /// The least recently used idle agent, stopped to make room on a full host.
    #[sqlx(rename = "agent_stops_capacity")]
    pub capacity: i64,
    /// Found gone during a turn or just before the next paste.
    #[sqlx(rename = "agent_stops_crash")]
    pub crash: i64,
}
