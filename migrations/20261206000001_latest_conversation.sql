-- paliadin: compatible
-- A turn posted without a session_id continues the owner's latest conversation (durable
-- conversations: the agent of that conversation answers it). This index finds that
-- conversation with one probe, however many turns the owner has. Expand-only.
CREATE INDEX turns_user_latest ON turns (user_id, queued_at DESC);
