-- paliadin: compatible
-- Conversations side by side (issue 21): a turn queue's FIFO group becomes the turn's
-- conversation. From this release every turn message is sent with `x-pgmq-group =
-- <session_id>` instead of `<user_id>` (`TurnQueue::payload`), so the head read serialises each
-- conversation's turns and runs an owner's conversations at the same time.
--
-- The messages already in every turn queue (`pgmq.q_turns_<host>`, one per host, as
-- `pgmq.meta` lists them) were accepted under the earlier promise: an owner's turns run one at
-- a time, in the order posted. They keep it: each owner's messages stay one group, now named
-- after the owner's latest conversation (the one a turn posted without `session_id`
-- continues, `conversations::latest`), so a turn of that conversation posted after the upgrade
-- waits behind every one of them, while a turn of another conversation runs beside them.
-- (Releases before conversations gave every turn posted without `session_id` a conversation of
-- its own: grouping the queued turns by their own conversations would have run them all at
-- once.) Queued and in-flight (leased, being run) messages alike; nothing else of them changes
-- (msg_id, vt, read_ct, body), so a lease in progress keeps running and still holds its
-- owner's older turns back, and no message is added or removed. A message whose body names no
-- turn keeps its header. One statement per queue, in the migrate's transaction: a worker's head
-- read skips the rows it locks (SKIP LOCKED), a lease renewal waits for its commit.
--
-- Marked compatible: no DDL, so no table, column, index or function that a released binary
-- reads or writes changes shape, and all their statements still run; what changes is the
-- header's value, which every release reads only as "the group":
-- - An older API keeps sending `x-pgmq-group = <user_id>`: a group of one owner's turns, served
--   in order by every worker (this release's too), just not side by side. Until every API runs
--   this release, a conversation that receives turns through an old and a new API has them in
--   two groups, and the order between those two is not kept.
-- - An older worker serialises by whatever the header says: for every message a new API sends,
--   one head per conversation, so it may claim two turns of one owner at once, which its one
--   tmux session per owner was not built for (a turn of the other conversation replaces the
--   agent, after waiting a bounded time for it to be idle). The upgrade procedure avoids it:
--   start this release's workers before its APIs (docs/operations.md, "Upgrades", "Upgrading
--   to conversations side by side").
DO $do$
DECLARE
    queue text;
BEGIN
    FOR queue IN
        SELECT queue_name FROM pgmq.meta WHERE queue_name LIKE 'turns\_%' ORDER BY queue_name
    LOOP
        EXECUTE format($q$
            UPDATE pgmq.%I m
               SET headers = COALESCE(m.headers, '{}'::jsonb)
                             || jsonb_build_object('x-pgmq-group', g.latest::text)
              FROM turns t
                   CROSS JOIN LATERAL (
                       SELECT l.session_id AS latest FROM turns l
                        WHERE l.user_id = t.user_id
                        ORDER BY l.queued_at DESC LIMIT 1) g
             WHERE t.id = CASE WHEN m.message->>'turn_id'
                                    ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
                               THEN (m.message->>'turn_id')::uuid END
               AND m.headers->>'x-pgmq-group' IS DISTINCT FROM g.latest::text
        $q$, pgmq.format_table_name(queue, 'q'));
    END LOOP;
END
$do$;
