-- paliadin: compatible
-- The work log's `step` events (docs/agent-protocol.md, "Work log"): a worker turns the agent's
-- transcript entries into durable `step` events. The check only widens, so a worker of the
-- previous release (which writes no steps) keeps serving.
ALTER TABLE turn_events DROP CONSTRAINT turn_events_kind_check;
ALTER TABLE turn_events ADD CONSTRAINT turn_events_kind_check
    CHECK (kind IN ('meta', 'status', 'activity', 'content', 'end', 'error', 'cancelled',
                    'permission', 'permission_decided', 'step'));
