-- Paliadin core schema: identities, turns and their durable events, agent sessions, hosts,
-- workers. pgmq's own schema is installed before this by the pgmq crate's embedded installer.

CREATE TABLE users (
    id          uuid PRIMARY KEY,
    email       text NOT NULL UNIQUE CHECK (email <> ''),
    role        text NOT NULL CHECK (role IN ('owner', 'admin')),
    disabled    boolean NOT NULL DEFAULT false,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- Bearer tokens for programs: only SHA-256 hashes are stored.
CREATE TABLE api_tokens (
    token_hash  bytea PRIMARY KEY CHECK (length(token_hash) = 32),
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz
);
CREATE INDEX api_tokens_user ON api_tokens (user_id);

-- Browser sessions behind the HttpOnly cookie: only hashes are stored.
CREATE TABLE web_sessions (
    session_hash bytea PRIMARY KEY CHECK (length(session_hash) = 32),
    user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    CHECK (expires_at > created_at)
);
CREATE INDEX web_sessions_user ON web_sessions (user_id);

-- tmux hosts known to the fleet; workers upsert the hosts they serve.
CREATE TABLE hosts (
    name          text PRIMARY KEY CHECK (name ~ '^[a-z0-9_]{1,32}$'),
    address       text NOT NULL DEFAULT 'local',
    reachable     boolean NOT NULL DEFAULT true,
    last_error    text,
    last_seen_at  timestamptz NOT NULL DEFAULT now()
);

-- One tmux session per user, pinned to a host.
CREATE TABLE agent_sessions (
    user_id       uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    host          text NOT NULL,
    session_name  text,          -- filled by the worker that first starts the session
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_used_at  timestamptz NOT NULL DEFAULT now(),
    health        text NOT NULL DEFAULT 'unknown',
    UNIQUE (host, session_name)
);

CREATE TABLE workers (
    id            text PRIMARY KEY,
    hosts         text[] NOT NULL,
    version       text NOT NULL,
    started_at    timestamptz NOT NULL DEFAULT now(),
    heartbeat_at  timestamptz NOT NULL DEFAULT now(),
    in_flight     integer NOT NULL DEFAULT 0 CHECK (in_flight >= 0),
    stopped_at    timestamptz
);

CREATE TABLE turns (
    id              uuid PRIMARY KEY,
    user_id         uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    session_id      uuid NOT NULL,
    client_turn_id  text CHECK (client_turn_id IS NULL OR length(client_turn_id) BETWEEN 1 AND 128),
    kind            text NOT NULL DEFAULT 'message' CHECK (kind IN ('message', 'reset')),
    message         text NOT NULL,
    page_origin     text,
    host            text NOT NULL,
    msg_id          bigint,
    state           text NOT NULL DEFAULT 'queued'
                    CHECK (state IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
    attempt         integer NOT NULL DEFAULT 0 CHECK (attempt >= 0),
    last_seq        integer NOT NULL DEFAULT 0 CHECK (last_seq >= 0),
    worker_id       text,
    cancel_requested boolean NOT NULL DEFAULT false,
    queued_at       timestamptz NOT NULL DEFAULT clock_timestamp(),
    claimed_at      timestamptz,
    delivered_at    timestamptz,
    finished_at     timestamptz,
    reply_text      text,
    used_tools      text[],
    rows_seen       integer,
    chip_count      integer,
    classifier_tag  text,
    error_code      text,
    error_message   text,
    UNIQUE (user_id, client_turn_id),
    -- state and timestamps stay consistent
    CHECK ((state IN ('succeeded', 'failed', 'cancelled')) = (finished_at IS NOT NULL)),
    CHECK (state <> 'running' OR claimed_at IS NOT NULL),
    CHECK (delivered_at IS NULL OR claimed_at IS NOT NULL),
    CHECK (claimed_at IS NULL OR claimed_at >= queued_at),
    CHECK (finished_at IS NULL OR finished_at >= queued_at),
    CHECK (state <> 'succeeded' OR reply_text IS NOT NULL),
    CHECK ((state = 'failed') = (error_code IS NOT NULL))
);
CREATE INDEX turns_user_session ON turns (user_id, session_id, queued_at);
CREATE INDEX turns_user_active ON turns (user_id) WHERE state IN ('queued', 'running');
CREATE INDEX turns_queued_at ON turns (queued_at DESC);
CREATE INDEX turns_finished_at ON turns (finished_at) WHERE finished_at IS NOT NULL;

CREATE TABLE turn_events (
    turn_id     uuid NOT NULL REFERENCES turns (id) ON DELETE CASCADE,
    seq         integer NOT NULL CHECK (seq >= 1),
    kind        text NOT NULL
                CHECK (kind IN ('meta', 'status', 'activity', 'content', 'end', 'error', 'cancelled')),
    data        jsonb NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (turn_id, seq)
);
