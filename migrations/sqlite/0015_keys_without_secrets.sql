-- Keys without a stored secret (sqlite). auth_method says how a key's clients authenticate:
-- 'client_secret' (a generated secret, as before) or 'private_key_jwt' (assertions signed
-- with the client's own keys: jwks_uri, fetched, or jwks, stored). A key without a secret
-- has secret_hash '' (which no secret matches; the column stays NOT NULL).
ALTER TABLE api_keys ADD COLUMN auth_method TEXT NOT NULL DEFAULT 'client_secret';
ALTER TABLE api_keys ADD COLUMN jwks_uri TEXT;
ALTER TABLE api_keys ADD COLUMN jwks TEXT;

-- Client assertions seen (RFC 7523 §3: a jti accepted once), kept until the assertion
-- expires, across every instance: the insert decides, a second one conflicts.
CREATE TABLE client_assertions (
    client_id  TEXT NOT NULL,
    jti        TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    PRIMARY KEY (client_id, jti)
);
CREATE INDEX client_assertions_expiry ON client_assertions (expires_at);
