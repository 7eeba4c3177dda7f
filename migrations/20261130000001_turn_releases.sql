-- Handovers do not spend attempts: `releases` counts the claims of a turn that ended in a
-- graceful release (`set_vt 0` on shutdown, `shared/src/attempt/lease.rs`). The dead-letter
-- check (`PALIADIN_MAX_ATTEMPTS`) counts `attempt - releases`: only claims that crashed, lost
-- their lease or failed. `attempt` itself stays the fencing token and only ever grows.
ALTER TABLE turns
    ADD COLUMN releases integer NOT NULL DEFAULT 0,
    ADD CONSTRAINT turns_releases_within_attempts CHECK (releases >= 0 AND releases <= attempt);
