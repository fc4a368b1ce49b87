#!/usr/bin/env bash
# The change-feed lock's ceiling: WRITERS instances (default 2; 3 for the second figure)
# on one PostgreSQL database each take bystander writes as fast as they answer
# (bench/write_load.py over LOAD_CONNECTIONS connections per writer, default 4), while a
# further instance B is asked N deactivations' worth of refusals (half through A's
# webhook, half as keymint_user_events rows). Every write takes the one cluster-wide
# change-feed lock from its first keymint_changes row to its commit. Prints the changes
# per second the cluster committed, the lock waits PostgreSQL saw, and deactivation reach
# at B (p50, p99, max) under that load.
#
# Usage: bench/feed_ceiling.sh [N]   (WRITERS=2|3, LOAD_CONNECTIONS=4; PostgreSQL as in .ci/run)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-200}
WRITERS=${WRITERS:-2}
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
KEYMINT_ENCRYPTION_KEYS="ek_bench:$(head -c 32 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')"
export KEYMINT_ENCRYPTION_KEYS
TARGET="${CARGO_TARGET_DIR:-$(pwd)/target}"
BIN="$TARGET/release/keymint"
start() {
  mkdir -p "$WORK/$1"
  (cd "$WORK/$1" && exec "$BIN" serve) 2> "$WORK/$1.log" &
  PIDS+=($!)
}
address() {
  for _ in $(seq 1 100); do
    addr=$(grep 'keymint serving' "$WORK/$1.log" | grep -o 'address=[0-9.:]*' | head -1 | cut -d= -f2 || true)
    [ -n "$addr" ] && { echo "http://$addr"; return; }
    sleep 0.1
  done
  echo "instance $1 did not start" >&2; cat "$WORK/$1.log" >&2; exit 1
}
start b
for w in $(seq 1 "$WRITERS"); do start "w$w"; done
B=$(address b)
WRITER_URLS=()
for w in $(seq 1 "$WRITERS"); do WRITER_URLS+=("$(address "w$w")"); done
echo "observer B $B; $WRITERS writers: ${WRITER_URLS[*]}; $N deactivations"
for url in "${WRITER_URLS[@]}"; do
  python3 bench/write_load.py "$url" "$KEYMINT_WEBHOOK_SECRET" 600 "${LOAD_CONNECTIONS:-4}" \
    > "$WORK/load-${url##*:}.txt" &
  PIDS+=($!)
done
sleep 2
BEFORE=$(psql -h 127.0.0.1 -U postgres -d "$DB" -tAc "SELECT COALESCE(MAX(seq), 0) FROM keymint_changes")
STARTED=$(date +%s.%N)
LOCK_WAITS=0
( while true; do
    psql -h 127.0.0.1 -U postgres -d "$DB" -tAc \
      "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted" 2>/dev/null || true
    sleep 0.2
  done ) > "$WORK/lockwaits.txt" &
PIDS+=($!)
"$TARGET/release/examples/propagation" "${WRITER_URLS[0]}" "$B" "$DATABASE_URL" "$KEYMINT_WEBHOOK_SECRET" "$N"
AFTER=$(psql -h 127.0.0.1 -U postgres -d "$DB" -tAc "SELECT COALESCE(MAX(seq), 0) FROM keymint_changes")
ELAPSED=$(python3 -c "import time; print(f'{time.time() - $STARTED:.1f}')")
python3 - "$BEFORE" "$AFTER" "$ELAPSED" "$WORK/lockwaits.txt" "$WRITERS" <<'PY'
import sys
before, after, elapsed, waits_file, writers = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), sys.argv[4], sys.argv[5]
waits = [int(l) for l in open(waits_file) if l.strip().isdigit()]
print(f"{writers} writers: {(after - before) / elapsed:.0f} change-feed rows/s committed over {elapsed:.0f} s; "
      f"sessions waiting for the feed lock: mean {sum(waits) / max(len(waits), 1):.2f}, max {max(waits, default=0)} "
      f"({len(waits)} samples)")
PY
