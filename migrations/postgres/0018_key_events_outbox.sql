-- Outgoing lifecycle events (postgres): the outbox. Each row is written in the same
-- transaction as the change it reports, so a crash between commit and send loses nothing.
-- Delivered rows are deleted; an event not delivered before deliver_until is set aside
-- (state 'set_aside') with its last error until redelivered by hand. subject orders
-- delivery: the client id of a key event, 'user:ID' of a user event. A deliverer holds a
-- row until lease_until, so no two instances send one event at once.
CREATE TABLE key_events (
    seq             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id              TEXT NOT NULL UNIQUE,
    type            TEXT NOT NULL,
    subject         TEXT NOT NULL,
    body            TEXT NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL,
    state           TEXT NOT NULL DEFAULT 'pending',
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ NOT NULL,
    deliver_until   TIMESTAMPTZ NOT NULL,
    lease_until     TIMESTAMPTZ,
    last_error      TEXT
);
CREATE INDEX key_events_due ON key_events (state, next_attempt_at);
CREATE INDEX key_events_subject ON key_events (subject, seq);
-- Expiry warnings: sent once per key (expiring_warned_at set in the transaction that
-- writes the key.expiring event); the scan reads enabled keys by expiry through
-- api_keys_expiry (0003).
ALTER TABLE api_keys ADD COLUMN expiring_warned_at TIMESTAMPTZ;
CREATE INDEX api_keys_expiry_unwarned ON api_keys (expires_at)
    WHERE enabled AND expires_at IS NOT NULL AND expiring_warned_at IS NULL;
