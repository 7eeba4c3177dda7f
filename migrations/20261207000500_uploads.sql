-- paliadin: compatible
-- Files and images an owner hands the agent from the page (docs/web.md, "Files and images").
-- An upload is stored here on `POST /api/paliadin/uploads` (turn_id NULL: pending), then bound
-- to the turn that names it, in the enqueue's transaction (turn_id and position set together).
-- Its bytes live here until the turn goes (a forgotten conversation, user deletion, retention):
-- the rows go with their turn. A worker (or host agent) writes a bound upload into the agent's
-- working directory before it pastes the turn, and records the host there (`written_host`);
-- when such a row goes, the trigger below queues that host's files for removal
-- (`upload_purges`), which the host's workers carry out. Expand-only: new tables.
CREATE TABLE uploads (
    id            uuid PRIMARY KEY,
    user_id       uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    turn_id       uuid REFERENCES turns (id) ON DELETE CASCADE,
    position      smallint CHECK (position >= 0),
    name          text NOT NULL CHECK (octet_length(name) BETWEEN 1 AND 255),
    content_type  text NOT NULL CHECK (content_type <> ''),
    size          integer NOT NULL CHECK (size >= 0),
    data          bytea NOT NULL CHECK (octet_length(data) = size),
    created_at    timestamptz NOT NULL DEFAULT now(),
    written_host  text,
    CHECK ((turn_id IS NULL) = (position IS NULL)),
    UNIQUE (turn_id, position)
);

-- An owner's pending uploads (the cap, and the clean-up of ones no turn took).
CREATE INDEX uploads_pending ON uploads (user_id, created_at) WHERE turn_id IS NULL;

-- Hosts whose files of a turn's uploads must go (`uploads/<turn id>/` in the agent's working
-- directory), queued when the rows went.
CREATE TABLE upload_purges (
    host       text NOT NULL,
    turn_id    uuid NOT NULL,
    user_id    uuid NOT NULL,
    queued_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (host, turn_id)
);

CREATE FUNCTION uploads_queue_purge() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO upload_purges (host, turn_id, user_id)
    VALUES (OLD.written_host, OLD.turn_id, OLD.user_id)
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END;
$$;

CREATE TRIGGER uploads_queue_purge AFTER DELETE ON uploads
    FOR EACH ROW WHEN (OLD.written_host IS NOT NULL AND OLD.turn_id IS NOT NULL)
    EXECUTE FUNCTION uploads_queue_purge();
