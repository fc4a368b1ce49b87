-- Directory events of one user take effect in the order the directory emitted them: the
-- time of the last one applied (sqlite).
ALTER TABLE users ADD COLUMN last_event_at TEXT;
