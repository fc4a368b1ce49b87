-- Signing keys, sealed (AES-256-GCM) under an encryption key of KEYMINT_ENCRYPTION_KEYS
-- (PostgreSQL). The private key is never stored in clear; the kid, environment and
-- algorithm are the associated data of the sealing. Keys are ordered by created_at (the
-- newest that may sign is active); retired keys stay for the record.
CREATE TABLE signing_keys (
    kid               TEXT PRIMARY KEY,   -- RFC 7638 thumbprint
    environment       TEXT NOT NULL,
    alg               TEXT NOT NULL,      -- ES256, RS256, EdDSA
    created_at        TIMESTAMPTZ NOT NULL,
    encryption_key_id TEXT NOT NULL,      -- the entry that sealed it
    nonce             BYTEA NOT NULL,
    ciphertext        BYTEA NOT NULL      -- PKCS#8 DER, sealed, with its tag
);
CREATE INDEX signing_keys_environment ON signing_keys (environment, created_at);
