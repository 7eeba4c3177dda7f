-- paliadin: compatible
-- A turn that ended `agent_error` keeps the failure's kind (`rate_limit`, `overloaded`,
-- `authentication_failed`, …; docs/agent-protocol.md §3, `.failure`), so the history shows the
-- same sentence per kind as the live `error` event. NULL for every other turn. Expand-only.
ALTER TABLE turns ADD COLUMN error_kind text;
