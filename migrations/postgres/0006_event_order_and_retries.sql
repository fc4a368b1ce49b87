-- Directory events of one user take effect in the order the directory emitted them: the
-- time of the last one applied (postgres).
ALTER TABLE users ADD COLUMN last_event_at TIMESTAMPTZ;
-- Rows that keep failing for a reason other than their content are retried a few times,
-- then set aside with their error, so one row never blocks the queue.
ALTER TABLE keymint_user_events ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
