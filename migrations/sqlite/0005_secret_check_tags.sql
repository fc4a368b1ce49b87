-- Check tags (Sqlite): a short SHA-256 fingerprint of each secret next to its argon2id hash, so
-- wrong secrets are refused without argon2. NULL for keys made before; filled in at the
-- key's next successful verification.
ALTER TABLE api_keys ADD COLUMN secret_check TEXT;
ALTER TABLE api_keys ADD COLUMN previous_secret_check TEXT;
