-- Secret hints (sqlite): the last four characters of a key's current secret, stored when the
-- secret is made, so people can tell which secret a client holds without seeing it (the
-- console shows kms_…WXYZ). NULL for keys made before this column existed.
ALTER TABLE api_keys ADD COLUMN secret_hint TEXT;
