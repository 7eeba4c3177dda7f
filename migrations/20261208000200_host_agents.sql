-- paliadin: compatible
-- The live agents of each tmux host for the admin dashboard (docs/operations.md, "Live
-- agents"): how many there are and the limit, as the workers serving the host last counted
-- them (`agents_counted_at`; NULL: no worker has reported them, e.g. a host behind a host
-- agent), and since the host was first served, its agents' starts, resumes, stops by reason
-- and the turns that waited for a free agent. Workers add their increments with their
-- heartbeat. Expand-only: older workers write `hosts` rows without these columns.
ALTER TABLE hosts
    ADD COLUMN agents_live integer CHECK (agents_live >= 0),
    ADD COLUMN agents_max integer CHECK (agents_max > 0),
    ADD COLUMN agents_counted_at timestamptz,
    ADD COLUMN agent_starts bigint NOT NULL DEFAULT 0,
    ADD COLUMN agent_resumes bigint NOT NULL DEFAULT 0,
    ADD COLUMN agent_stops_idle bigint NOT NULL DEFAULT 0,
    ADD COLUMN agent_stops_capacity bigint NOT NULL DEFAULT 0,
    ADD COLUMN agent_stops_crash bigint NOT NULL DEFAULT 0,
    ADD COLUMN turns_deferred bigint NOT NULL DEFAULT 0;
