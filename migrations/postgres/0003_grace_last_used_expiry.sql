-- Zero-downtime secret rotation, last use, and expiry sweeps (PostgreSQL).
ALTER TABLE api_keys ADD COLUMN previous_secret_hash TEXT;               -- still accepted until ...
ALTER TABLE api_keys ADD COLUMN previous_secret_expires_at TIMESTAMPTZ;  -- ... this instant
ALTER TABLE api_keys ADD COLUMN last_used_at TIMESTAMPTZ;                -- to the minute, written in batches
CREATE INDEX api_keys_expiry ON api_keys (expires_at) WHERE enabled AND expires_at IS NOT NULL;
