-- paliadin: compatible
-- Live, read-only views of an agent's terminal (docs/web.md, "Terminal"; docs/architecture.md,
-- "The terminal view"). One row per open view: the API inserts it (and NOTIFYs
-- paliadin_terminal), a worker serving the host claims it and keeps the newest frame of the
-- pane in `screen` (NOTIFY paliadin_terminal_frames `id:seq` after each), the API renews
-- `lease_until` while its client is connected. A closed view loses its screen at once; an
-- owner's own view is deleted, an admin's stays as the durable record that it happened.
CREATE TABLE terminal_views (
    id              uuid PRIMARY KEY,
    owner_id        uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- who is watching (the owner, or an admin); no foreign key: the record outlives them
    viewer_id       uuid NOT NULL,
    by_admin        boolean NOT NULL,
    session_id      uuid NOT NULL,
    host            text NOT NULL,
    session_name    text NOT NULL,
    opened_at       timestamptz NOT NULL DEFAULT now(),
    lease_until     timestamptz NOT NULL,
    closed_at       timestamptz,
    worker_id       text,
    worker_seen_at  timestamptz,
    seq             integer NOT NULL DEFAULT 0,
    screen          text,
    cols            integer NOT NULL DEFAULT 0,
    rows            integer NOT NULL DEFAULT 0,
    cursor_x        integer NOT NULL DEFAULT 0,
    cursor_y        integer NOT NULL DEFAULT 0,
    -- why the worker cannot show the pane (no session yet, host unreachable), if it cannot
    problem         text,
    CHECK (octet_length(screen) <= 262144),
    CHECK (octet_length(problem) <= 512),
    CHECK (closed_at IS NULL OR screen IS NULL)
);

-- Workers look for open views of their hosts that nobody serves yet.
CREATE INDEX terminal_views_open ON terminal_views (host) WHERE closed_at IS NULL;
