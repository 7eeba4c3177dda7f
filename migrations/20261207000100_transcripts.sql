-- paliadin: compatible
-- The agent's transcript moves with its conversation (issue 21): after each finished turn the
-- worker appends what the agent added to its transcript file (Claude Code's
-- `~/.claude/projects/<slug>/<session>.jsonl`, the demo agent's conversation log) as one chunk;
-- before an agent resumes a conversation on a host that lacks the file (another host after a
-- failover, a wiped home), the worker writes it back from here. Bounded per conversation by
-- PALIADIN_TRANSCRIPT_MAX_BYTES (docs/operations.md, "Transcripts"). Expand-only.
CREATE TABLE transcripts (
    session_id  uuid PRIMARY KEY,
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- Bytes stored: the length of the file's prefix held in transcript_chunks.
    bytes       bigint NOT NULL DEFAULT 0 CHECK (bytes >= 0),
    chunks      integer NOT NULL DEFAULT 0 CHECK (chunks >= 0),
    -- The file outgrew the limit: nothing more is copied (the stored prefix stays usable).
    capped      boolean NOT NULL DEFAULT false,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX transcripts_user ON transcripts (user_id);

CREATE TABLE transcript_chunks (
    session_id  uuid NOT NULL REFERENCES transcripts (session_id) ON DELETE CASCADE,
    seq         integer NOT NULL CHECK (seq >= 0),
    -- Where in the file the chunk starts; the chunks of a conversation tile [0, bytes).
    start_at    bigint NOT NULL CHECK (start_at >= 0),
    data        bytea NOT NULL,
    PRIMARY KEY (session_id, seq)
);

-- A forgotten conversation's transcript files still to be removed from each host that ran it
-- (the API cannot reach hosts; the workers serving them do, and stop the agent holding it).
CREATE TABLE transcript_removals (
    session_id   uuid NOT NULL,
    user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    host         text NOT NULL,
    requested_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (session_id, host)
);
CREATE INDEX transcript_removals_host ON transcript_removals (host, requested_at);
