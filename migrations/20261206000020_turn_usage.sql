-- paliadin: compatible
-- What the model spent on each turn, read from the agent's transcript (docs/claude-code.md,
-- "Usage of every turn"): tokens by kind, the model, the prompt size of the turn's last request
-- (the context fill) and a cost from the worker's price table (NULL: a model it has no price
-- for). One row per turn; a row may grow once afterwards, when the next turn of the
-- conversation finds the first one's closing request in the transcript. Expand-only: a new
-- table, which older binaries ignore. Its rows go with their turn (retention, user deletion).
CREATE TABLE turn_usage (
    turn_id                uuid PRIMARY KEY REFERENCES turns (id) ON DELETE CASCADE,
    user_id                uuid NOT NULL,
    session_id             uuid NOT NULL,
    model                  text NOT NULL,
    input_tokens           bigint NOT NULL CHECK (input_tokens >= 0),
    output_tokens          bigint NOT NULL CHECK (output_tokens >= 0),
    cache_read_tokens      bigint NOT NULL CHECK (cache_read_tokens >= 0),
    cache_creation_tokens  bigint NOT NULL CHECK (cache_creation_tokens >= 0),
    context_tokens         bigint NOT NULL CHECK (context_tokens >= 0),
    context_window         bigint,
    cost_usd               numeric(16, 6),
    recorded_at            timestamptz NOT NULL DEFAULT now()
);

-- An owner's usage of a day (the daily budget, the admin stats) in one index range.
CREATE INDEX turn_usage_user_day ON turn_usage (user_id, recorded_at)
    INCLUDE (input_tokens, output_tokens, cache_read_tokens, cache_creation_tokens);

-- The admin stats' usage per owner and per day over a window.
CREATE INDEX turn_usage_recorded ON turn_usage (recorded_at);
