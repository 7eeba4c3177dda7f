//! API settings: one typed struct, from flags and environment, validated at start.

use clap::Args;
use std::net::SocketAddr;

#[derive(Debug, Clone, Args)]
pub struct ApiConfig {
    /// Address the API listens on.
    #[arg(long, env = "PALIADIN_BIND", default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,
    /// Host a new user is pinned to when no worker has registered any host yet.
    #[arg(long, env = "PALIADIN_DEFAULT_HOST", default_value = "local")]
    pub default_host: String,
    /// Most turns one user may have waiting in the queue (more → 429).
    #[arg(long, env = "PALIADIN_MAX_QUEUED_PER_USER", default_value_t = 20)]
    pub max_queued_per_user: i64,
    /// Model tokens (input, output, cache read and cache write together) one owner's turns may
    /// use per UTC day; at or over it, new messages are refused with `429 budget_exceeded`
    /// until midnight UTC (turns already accepted finish). Unset: no budget.
    #[arg(long, env = "PALIADIN_DAILY_TOKEN_BUDGET_PER_USER", value_parser = clap::value_parser!(i64).range(1..))]
    pub daily_token_budget_per_user: Option<i64>,
    /// How long `POST /api/paliadin/reset` waits for a worker to kill the session before it
    /// answers `202` with the queued reset turn (at most 30 s: a request is not a queue).
    #[arg(long, env = "PALIADIN_RESET_WAIT_SECS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(0..=30))]
    pub reset_wait_secs: u64,
    /// Most SSE streams one user may have open on this API process (more → 429).
    #[arg(long, env = "PALIADIN_MAX_STREAMS_PER_USER", default_value_t = 16, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub max_streams_per_user: u64,
    /// Most reply and message bytes one history request returns (older turns are left out;
    /// at least one turn is always returned).
    #[arg(long, env = "PALIADIN_HISTORY_MAX_BYTES", default_value_t = 8 * 1024 * 1024)]
    pub history_max_bytes: i64,
    /// Largest file an owner may upload for the agent (`POST /api/paliadin/uploads`; larger →
    /// 413 `too_large`).
    #[arg(long, env = "PALIADIN_UPLOAD_MAX_BYTES", default_value_t = 5 * 1024 * 1024, value_parser = clap::value_parser!(u64).range(1..=16 * 1024 * 1024))]
    pub upload_max_bytes: u64,
    /// Most uploads one turn may carry (more `upload_ids` → 400 `too_many_uploads`).
    #[arg(long, env = "PALIADIN_UPLOAD_MAX_PER_TURN", default_value_t = 4, value_parser = clap::value_parser!(u64).range(1..=16))]
    pub upload_max_per_turn: u64,
    /// Most uploads one owner may hold that no turn took yet (more → 429
    /// `too_many_uploads`); pending uploads older than a day are dropped.
    #[arg(long, env = "PALIADIN_UPLOAD_MAX_PENDING", default_value_t = 16, value_parser = clap::value_parser!(u64).range(1..=1000))]
    pub upload_max_pending: u64,
    /// Longest a client may take to send a request head; also how long an idle keep-alive
    /// connection is kept (slow or silent clients are closed).
    #[arg(long, env = "PALIADIN_HEADER_TIMEOUT_SECS", default_value_t = 15, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub header_timeout_secs: u64,
    /// Most HTTP connections served at once; more wait in the listen backlog until one ends.
    #[arg(long, env = "PALIADIN_MAX_CONNECTIONS", default_value_t = 1024, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub max_connections: u64,
    /// Longest open connections may take to finish after SIGTERM; then they are dropped.
    #[arg(long, env = "PALIADIN_SHUTDOWN_GRACE_SECS", default_value_t = 10)]
    pub shutdown_grace_secs: u64,
    /// Lifetime of a browser session.
    #[arg(long, env = "PALIADIN_SESSION_HOURS", default_value_t = 24 * 14)]
    pub session_hours: i64,
    /// The session cookie is `__Host-paliadin_session; Secure` (the site is served over TLS,
    /// e.g. behind a proxy). `false` — plain `paliadin_session` without `Secure` — is accepted
    /// only with a loopback `PALIADIN_BIND` (local development over plain HTTP).
    #[arg(long, env = "PALIADIN_COOKIE_SECURE", default_value_t = true, action = clap::ArgAction::Set)]
    pub cookie_secure: bool,
    /// Keep-alive comment interval on SSE streams, seconds (15–25 per contract).
    #[arg(long, env = "PALIADIN_SSE_KEEPALIVE_SECS", default_value_t = 15)]
    pub sse_keepalive_secs: u64,
    /// Serve `GET /metrics` only on this separate address (e.g. `127.0.0.1:9090`) instead of
    /// on the main listener.
    #[arg(long, env = "PALIADIN_METRICS_BIND")]
    pub metrics_bind: Option<SocketAddr>,
    /// Most database connections this process holds (the SSE hub's LISTEN takes one).
    #[arg(long, env = "PALIADIN_DB_POOL", default_value_t = 32, value_parser = clap::value_parser!(u32).range(2..=1000))]
    pub db_pool: u32,
    /// The VAPID `sub` claim: how push services can reach the operator (`mailto:` or `https:`).
    #[arg(
        long,
        env = "PALIADIN_VAPID_SUBJECT",
        default_value = "mailto:paliadin@localhost"
    )]
    pub vapid_subject: String,
    /// Most push subscriptions (browsers) one user may register.
    #[arg(long, env = "PALIADIN_PUSH_MAX_SUBSCRIPTIONS", default_value_t = 10)]
    pub push_max_subscriptions: i64,
    /// Accept `http://` push endpoints on a loopback address (tests only; real push services
    /// are https).
    #[arg(
        long,
        env = "PALIADIN_PUSH_ALLOW_LOOPBACK_HTTP",
        default_value_t = false
    )]
    pub push_allow_loopback_http: bool,
    /// Let admins open any owner's live terminal view
    /// (`GET /api/paliadin/conversations/{id}/terminal`); each such view is logged and kept in
    /// `terminal_views`. Off: an admin gets 404 there like anyone else who is not the owner.
    #[arg(long, env = "PALIADIN_ADMIN_TERMINAL", default_value_t = false, action = clap::ArgAction::Set)]
    pub admin_terminal: bool,
}

impl ApiConfig {
    /// Settings that cannot work together are refused at start.
    pub fn validate(&self) -> Result<(), String> {
        if !self.cookie_secure && !self.bind.ip().is_loopback() {
            return Err(format!(
                "PALIADIN_COOKIE_SECURE=false is allowed only on a loopback bind, not {}: \
                 serve the site over TLS and keep the cookie Secure",
                self.bind
            ));
        }
        Ok(())
    }

    /// The connection limits of the HTTP listener.
    pub fn limits(&self) -> crate::serve::Limits {
        crate::serve::Limits {
            header_timeout: std::time::Duration::from_secs(self.header_timeout_secs),
            max_connections: usize::try_from(self.max_connections).unwrap_or(usize::MAX),
            shutdown_grace: std::time::Duration::from_secs(self.shutdown_grace_secs),
        }
    }
}

impl Default for ApiConfig {
    /// The flags' defaults (one source: the attributes above).
    fn default() -> Self {
        paliadin_shared::config::defaults()
    }
}
