-- paliadin: compatible
-- Reading the queue heads without scanning the queue. pgmq's `read_grouped_head` groups the
-- whole queue table on every call (its cost grows with the backlog: ≈ 40 ms per call at 100,000
-- queued messages, docs/performance.md); every worker calls it after every turn. Here each
-- queue gets a b-tree on (group, msg_id), and `paliadin_read_heads` walks it group by group (a
-- skip scan: one index probe per user with queued turns), with the same semantics: a group's
-- head is its oldest message whether visible or not, at most one message per group, oldest
-- first, skipping rows other readers hold. Expand-only: older binaries keep calling pgmq's.

-- The group-head index of one queue (idempotent; `TurnQueue::ensure` calls it for new queues).
CREATE FUNCTION paliadin_queue_heads_index(queue_name text) RETURNS void
LANGUAGE plpgsql AS $fn$
DECLARE
    qtable text := pgmq.format_table_name(queue_name, 'q');
BEGIN
    EXECUTE format(
        'CREATE INDEX IF NOT EXISTS %I ON pgmq.%I '
        '((COALESCE(headers->>''x-pgmq-group'', ''_default_fifo_group'')), msg_id)',
        qtable || '_group_head', qtable);
END
$fn$;

-- Leases up to `qty` group heads for `vt` seconds (pgmq.read_grouped_head's contract).
CREATE FUNCTION paliadin_read_heads(queue_name text, vt integer, qty integer)
RETURNS SETOF pgmq.message_record
LANGUAGE plpgsql AS $fn$
DECLARE
    qtable text := pgmq.format_table_name(queue_name, 'q');
BEGIN
    RETURN QUERY EXECUTE format($q$
        WITH RECURSIVE heads AS (
            (SELECT COALESCE(headers->>'x-pgmq-group', '_default_fifo_group') AS grp, msg_id
               FROM pgmq.%1$I
              ORDER BY COALESCE(headers->>'x-pgmq-group', '_default_fifo_group'), msg_id
              LIMIT 1)
            UNION ALL
            SELECT n.grp, n.msg_id
              FROM heads h,
                   LATERAL (SELECT COALESCE(headers->>'x-pgmq-group', '_default_fifo_group') AS grp,
                                   msg_id
                              FROM pgmq.%1$I
                             WHERE COALESCE(headers->>'x-pgmq-group', '_default_fifo_group') > h.grp
                             ORDER BY COALESCE(headers->>'x-pgmq-group', '_default_fifo_group'), msg_id
                             LIMIT 1) n
        ),
        selected AS (
            SELECT q.msg_id
              FROM heads h JOIN pgmq.%1$I q ON q.msg_id = h.msg_id
             WHERE q.vt <= clock_timestamp()
             ORDER BY q.msg_id
             LIMIT $1
               FOR UPDATE OF q SKIP LOCKED
        )
        UPDATE pgmq.%1$I m
           SET vt = clock_timestamp() + %2$L, read_ct = read_ct + 1, last_read_at = clock_timestamp()
          FROM selected s
         WHERE m.msg_id = s.msg_id
        RETURNING m.msg_id, m.read_ct, m.enqueued_at, m.last_read_at, m.vt, m.message, m.headers
    $q$, qtable, make_interval(secs => vt)) USING qty;
END
$fn$;

-- Existing turn queues get their index now.
SELECT paliadin_queue_heads_index(queue_name) FROM pgmq.meta WHERE queue_name LIKE 'turns\_%';
