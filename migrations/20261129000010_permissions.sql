-- Permission requests: an agent asks the person before a tool runs (Claude Code's
-- PermissionRequest hook, the demo agent's `/ask`), the worker records the request here and
-- emits a `permission` event; the owner decides through the API (`permission_decided`), or
-- the request expires (decided `deny` by `expired`). A turn is *waiting* while it runs and has
-- an undecided request (`docs/agent-protocol.md` §7, `docs/web.md`).

ALTER TABLE turn_events DROP CONSTRAINT turn_events_kind_check;
ALTER TABLE turn_events ADD CONSTRAINT turn_events_kind_check
    CHECK (kind IN ('meta', 'status', 'activity', 'content', 'end', 'error', 'cancelled',
                    'permission', 'permission_decided'));

CREATE TABLE turn_permissions (
    turn_id     uuid NOT NULL REFERENCES turns (id) ON DELETE CASCADE,
    -- the agent's number for the request within the turn (`<turn>.perm-<n>.json`)
    n           integer NOT NULL CHECK (n BETWEEN 1 AND 100),
    request_id  uuid NOT NULL UNIQUE,
    tool        text NOT NULL CHECK (length(tool) BETWEEN 1 AND 64),
    summary     text NOT NULL CHECK (length(summary) <= 4096),
    options     text[] NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    expires_at  timestamptz NOT NULL,
    decision    text CHECK (decision IN ('allow', 'allow_always', 'deny')),
    decided_by  text CHECK (decided_by IN ('owner', 'expired')),
    message     text CHECK (length(message) <= 1000),
    decided_at  timestamptz,
    PRIMARY KEY (turn_id, n),
    CHECK (expires_at > created_at),
    CHECK ((decision IS NULL) = (decided_at IS NULL)),
    CHECK ((decision IS NULL) = (decided_by IS NULL))
);
-- Undecided requests, for the stats' waiting turns and their oldest wait.
CREATE INDEX turn_permissions_open ON turn_permissions (created_at) WHERE decision IS NULL;
