-- paliadin: compatible
-- Which conversations have a live agent (issue 21; docs/web.md, "Conversations"): the ☰ panel
-- tells a conversation whose agent is live (`idle`) from one whose agent was stopped
-- (`stopped`, its next turn resumes it). A worker that serves a local tmux host lists the
-- host's live agent windows with each idle sweep and replaces the host's rows here in one
-- transaction: one row per window (`<tmux_session>:c-<32 hex of session_id>`), all with the
-- time the listing began (`counted_at`), which `hosts.agents_listed_at` repeats. A host that
-- was never listed (NULL; e.g. an SSH host behind a host agent) has unknown agents: the API
-- then says neither live nor stopped. Expand-only: a new table and a nullable column that
-- older binaries neither read nor write.
CREATE TABLE live_agents (
    host          text NOT NULL,
    tmux_session  text NOT NULL,
    session_id    uuid NOT NULL,
    counted_at    timestamptz NOT NULL,
    PRIMARY KEY (host, tmux_session, session_id)
);
CREATE INDEX live_agents_session ON live_agents (session_id);
ALTER TABLE hosts ADD COLUMN agents_listed_at timestamptz;
