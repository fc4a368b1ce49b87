#!/usr/bin/env bash
# Propagation benchmark (issue: deactivation listener): two Keymint instances on one
# PostgreSQL database; 200 deactivations, half through instance A's webhook, half as rows
# in keymint_user_events; time from the sender's commit to the first refusal of the
# user's key by instance B. Prints p50, p99 and max.
#
# With LOAD=1, bench/write_load.py keeps writing through instance A's webhook meanwhile
# (user upserts of bystanders, each with change-feed rows), so the feed B follows is busy;
# LOAD_CONNECTIONS (default 4) sets how many connections it writes over. With
# LOAD=revoke, bench/revoke_load.py floods A with revocations instead (LOAD_CONNECTIONS
# keys, default 8, each minting and revoking its own tokens).
#
# Usage: bench/propagation.sh [N]      (PostgreSQL 15 on 127.0.0.1:5432, as in .ci/run)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-200}
export PGPASSWORD=${KEYMINT_CI_PG_PASSWORD:-postgres}
pg_isready -h 127.0.0.1 -q || pg_ctlcluster --skip-systemctl-redirect 15 main start

cargo build --release --quiet --bin keymint --example propagation
DB="keymint_bench_$$"
psql -h 127.0.0.1 -U postgres -d postgres -qc "CREATE DATABASE $DB"
WORK=$(mktemp -d)
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  psql -h 127.0.0.1 -U postgres -d postgres -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" || true
  rm -rf "$WORK"
}
trap cleanup EXIT

export DATABASE_URL="postgres://postgres:$PGPASSWORD@127.0.0.1:5432/$DB"
export KEYMINT_WEBHOOK_SECRET="whsec_$(head -c 32 /dev/urandom | base64)"
export KEYMINT_LISTEN=127.0.0.1:0 RUST_LOG=warn,keymint::cli::serve=info
# Instances sharing a database share its signing keys, so they need the same encryption key.
KEYMINT_ENCRYPTION_KEYS="ek_bench:$(head -c 32 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')"
export KEYMINT_ENCRYPTION_KEYS
TARGET="${CARGO_TARGET_DIR:-$(pwd)/target}"
BIN="$TARGET/release/keymint"
start() { # name: starts an instance in its own folder (the same signing keys, from the database)
  mkdir -p "$WORK/$1"
  (cd "$WORK/$1" && exec "$BIN" serve) 2> "$WORK/$1.log" &
  PIDS+=($!)
}
address() { # name -> prints the base URL once the instance listens
  for _ in $(seq 1 100); do
    addr=$(grep 'keymint serving' "$WORK/$1.log" | grep -o 'address=[0-9.:]*' | head -1 | cut -d= -f2 || true)
    [ -n "$addr" ] && { echo "http://$addr"; return; }
    sleep 0.1
  done
  echo "instance $1 did not start" >&2; cat "$WORK/$1.log" >&2; exit 1
}
start a
start b
A=$(address a)
B=$(address b)
echo "instance A $A, instance B $B, $N deactivations"
if [ "${LOAD:-0}" = 1 ]; then
  python3 bench/write_load.py "$A" "$KEYMINT_WEBHOOK_SECRET" 600 "${LOAD_CONNECTIONS:-4}" > "$WORK/load.txt" &
  LOAD_PID=$!
  PIDS+=("$LOAD_PID")
  sleep 1
fi
if [ "${LOAD:-0}" = revoke ]; then
  # A revocation flood through A: LOAD_CONNECTIONS keys (default 8), each minting and
  # revoking its own tokens as fast as A answers (each key within its revocation quota).
  "$BIN" users upsert flooder --permission runs:read >/dev/null
  for _ in $(seq 1 "${LOAD_CONNECTIONS:-8}"); do
    "$BIN" keys create --user flooder --env production --json \
      | python3 -c 'import json,sys; k=json.load(sys.stdin); print(k["clientId"], k["clientSecret"])'
  done > "$WORK/flood-keys.txt"
  python3 bench/revoke_load.py "$A" "$WORK/flood-keys.txt" 600 > "$WORK/load.txt" &
  PIDS+=($!)
  sleep 1
fi
STARTED=$(date +%s)
"$TARGET/release/examples/propagation" "$A" "$B" "$DATABASE_URL" "$KEYMINT_WEBHOOK_SECRET" "$N"
if [ "${LOAD:-0}" = revoke ]; then
  REVOKED=$(psql -h 127.0.0.1 -U postgres -d "$DB" -tAc "SELECT COUNT(*) FROM keymint_changes WHERE kind = 'token'")
  echo "concurrent revocation flood: $REVOKED revocations in $(( $(date +%s) - STARTED )) s over ${LOAD_CONNECTIONS:-8} keys"
fi
if [ "${LOAD:-0}" = 1 ]; then
  CHANGES=$(psql -h 127.0.0.1 -U postgres -d "$DB" -tAc "SELECT COUNT(*) FROM keymint_changes WHERE kind = 'user' AND subject LIKE 'bystander-%'")
  echo "concurrent write load: $CHANGES bystander changes in $(( $(date +%s) - STARTED )) s (write_load.py over ${LOAD_CONNECTIONS:-4} connections)"
fi
