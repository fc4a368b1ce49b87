-- Zero-downtime secret rotation, last use, and expiry sweeps (SQLite).
ALTER TABLE api_keys ADD COLUMN previous_secret_hash TEXT;        -- still accepted until ...
ALTER TABLE api_keys ADD COLUMN previous_secret_expires_at TEXT;  -- ... this instant
ALTER TABLE api_keys ADD COLUMN last_used_at TEXT;                -- to the minute, written in batches
CREATE INDEX api_keys_expiry ON api_keys (expires_at) WHERE enabled AND expires_at IS NOT NULL;
