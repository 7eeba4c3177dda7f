-- Indexes for the admin stats (`GET /api/admin/paliadin/stats`, `shared/src/db/stats.rs`),
-- which must answer in well under 50 ms with a million turns: every stats query reads a
-- bounded range through one of these, index-only, never the whole table.

-- Finished turns by time, carrying every column the per-minute series and the window figures
-- (outcomes, latencies, usage) read. Supersedes `turns_finished_at` (same key, same predicate).
CREATE INDEX turns_finished_stats ON turns (finished_at)
    INCLUDE (state, error_code, queued_at, claimed_at, delivered_at,
             used_tools, rows_seen, chip_count, classifier_tag)
    WHERE finished_at IS NOT NULL;
DROP INDEX turns_finished_at;

-- When a turn stopped waiting in its queue: claimed, or finished without a claim (cancelled
-- while queued); 'infinity' while it still waits. A turn waited at some point of the last hour
-- exactly when this is within it or later (it is never before `queued_at`), so the queue-depth
-- series is one range scan. The columns of the expression are included for index-only scans.
CREATE INDEX turns_wait_end
    ON turns ((COALESCE(claimed_at, finished_at, 'infinity'::timestamptz)))
    INCLUDE (queued_at, claimed_at, finished_at);
