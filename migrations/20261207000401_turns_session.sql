-- paliadin: compatible
-- An admin opening a conversation's terminal (PALIADIN_ADMIN_TERMINAL=true) knows only its
-- session_id: find its owner without a scan of every turn.
CREATE INDEX turns_session ON turns (session_id);
