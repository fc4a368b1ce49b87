-- IP allow-lists and the address of last use (sqlite). allowed_ips: the networks a key's
-- token requests may come from, CIDRs separated by spaces; NULL allows any address.
-- last_used_ip: the client address of the last successful token request (as resolved
-- through KEYMINT_TRUSTED_PROXIES), recorded with last_used_at.
ALTER TABLE api_keys ADD COLUMN allowed_ips TEXT;
ALTER TABLE api_keys ADD COLUMN last_used_ip TEXT;
