-- paliadin: compatible
-- Which agent answered each turn (docs/agents.md, "Choosing the agent"): `claude`, `codex`,
-- `demo` or `other`, from the `PALIADIN_AGENT` of the worker or host agent that drove it; NULL
-- for a turn no agent answered (failed, cancelled, a reset) and for turns finished by older
-- workers. Expand-only: a nullable column older binaries neither read nor write.
ALTER TABLE turns ADD COLUMN agent text
    CHECK (agent IN ('claude', 'codex', 'demo', 'other'));
