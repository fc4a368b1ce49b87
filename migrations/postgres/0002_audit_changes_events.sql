-- Audit trail, change feed, webhook de-duplication and the user-events table (PostgreSQL).

CREATE TABLE audit_events (
    seq             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at              TIMESTAMPTZ NOT NULL,
    action          TEXT NOT NULL,   -- key.created, key.disabled, user.deactivated, ...
    environment     TEXT,
    client_id       TEXT,
    user_id         TEXT,            -- the key's owner or the user concerned
    actor_user_id   TEXT,
    actor_client_id TEXT,
    source          TEXT NOT NULL,   -- cli, webhook, table, graphql
    request_id      TEXT,
    reason          TEXT
);
CREATE INDEX audit_events_client ON audit_events (client_id, seq);
CREATE INDEX audit_events_user ON audit_events (user_id, seq);

-- Every key or user change appends a row here in the change's own transaction; the
-- trigger wakes every instance (NOTIFY is delivered at commit), which then reads the rows.
CREATE TABLE keymint_changes (
    seq     BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at      TIMESTAMPTZ NOT NULL,
    kind    TEXT NOT NULL,           -- key | user
    subject TEXT NOT NULL            -- client id | user id
);
CREATE FUNCTION keymint_notify_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('keymint_changes', NEW.seq::text);
    RETURN NEW;
END
$$;
CREATE TRIGGER keymint_changes_notify AFTER INSERT ON keymint_changes
    FOR EACH ROW EXECUTE FUNCTION keymint_notify_change();

-- Standard Webhooks ids already applied, kept well past the 5-minute replay window.
CREATE TABLE processed_webhooks (
    id          TEXT PRIMARY KEY,
    received_at TIMESTAMPTZ NOT NULL
);

-- User-lifecycle events written by other systems:
--   INSERT INTO keymint_user_events (type, data) VALUES ('user.deactivated', '{"id": "u123"}');
-- Keymint applies each row once, in id order, and marks it processed in the same
-- transaction as the effect (or records why it could not be applied).
CREATE TABLE keymint_user_events (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    type         TEXT NOT NULL,
    data         JSONB NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    processed_at TIMESTAMPTZ,
    processed_by TEXT,
    error        TEXT
);
CREATE INDEX keymint_user_events_pending ON keymint_user_events (id) WHERE processed_at IS NULL;
CREATE FUNCTION keymint_notify_user_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('keymint_user_events', NEW.id::text);
    RETURN NEW;
END
$$;
CREATE TRIGGER keymint_user_events_notify AFTER INSERT ON keymint_user_events
    FOR EACH ROW EXECUTE FUNCTION keymint_notify_user_event();
