-- Token status list indexes (draft-ietf-oauth-status-list) (sqlite). Every credential a key
-- has (its secret, or its registration when it has none) holds one index in its
-- environment's status list; tokens name it. A regenerated secret gets a new index and the
-- old one moves to previous_status_index for its grace period. Indexes come from
-- status_list_counters, one row per environment, bumped in the transaction that creates
-- or rotates the key: allocated once, never reused, and every index below a committed
-- next_index belongs to a committed key (or to a deleted one).
ALTER TABLE api_keys ADD COLUMN status_index INTEGER;
ALTER TABLE api_keys ADD COLUMN previous_status_index INTEGER;
CREATE TABLE status_list_counters (
    environment TEXT PRIMARY KEY,
    next_index  INTEGER NOT NULL
);
-- Keys from before: numbered per environment in creation order, then the previous secrets
-- still on record after them.
UPDATE api_keys SET status_index = n.idx
  FROM (SELECT seq, ROW_NUMBER() OVER (PARTITION BY environment ORDER BY seq) - 1 AS idx
          FROM api_keys) AS n
 WHERE n.seq = api_keys.seq;
UPDATE api_keys SET previous_status_index = n.idx
  FROM (SELECT seq,
               (SELECT COUNT(*) FROM api_keys b WHERE b.environment = a.environment)
                 + ROW_NUMBER() OVER (PARTITION BY environment ORDER BY seq) - 1 AS idx
          FROM api_keys a WHERE previous_secret_hash IS NOT NULL) AS n
 WHERE n.seq = api_keys.seq;
INSERT INTO status_list_counters (environment, next_index)
SELECT environment, MAX(MAX(status_index, COALESCE(previous_status_index, -1))) + 1
  FROM api_keys GROUP BY environment;
CREATE INDEX api_keys_status_index ON api_keys (environment, status_index);
