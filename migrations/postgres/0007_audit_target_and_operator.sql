-- What an audit entry concerns beyond a key or user (the jti of a revoked token, the kid
-- of a new signing key), and who ran a CLI command (OS user@host, or --actor) (postgres).
ALTER TABLE audit_events ADD COLUMN target TEXT;
ALTER TABLE audit_events ADD COLUMN operator TEXT;
