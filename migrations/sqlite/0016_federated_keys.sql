-- Federated keys (sqlite): a key whose clients present an outside issuer's token (a CI job's
-- or a cluster's own), auth_method 'federated', with the rule it must match as JSON:
-- {"issuer", "subject", "audience", "claims": [[name, value], ...]}. No secret
-- (secret_hash '').
ALTER TABLE api_keys ADD COLUMN federation TEXT;
