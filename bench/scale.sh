#!/usr/bin/env bash
# Scale benchmark (issue 15, item 4), one release instance on PostgreSQL at a time:
#   1. warm tokens, 10,000 keys round-robin, with 10,000 keys in the database, then on a
#      fresh instance with 1,000,000 (the same 10,000 measured, the other 990,000 added in
#      SQL); /healthz is measured beside each run, so the ratio cancels the machine's drift;
#   2. start-up (exec to the first 200 from /readyz) on an empty database and on the one
#      with 1,000,000 keys;
#   3. memory per cached key: RSS of a fresh instance on the 1,000,000-key database before
#      and after warming 100,000 of its keys (KEYMINT_CACHE_CAPACITY's default) that it
#      has not seen before.
# The keys share one secret whose stored hash uses the smallest argon2id parameters
# (bench_tool's `cheap` seeding), so warming 100,000 keys takes seconds: what the cache
# holds per key does not depend on the hashing cost, which bench/crypto.sh measures.
#
# Usage: bench/scale.sh            (PostgreSQL 15 on 127.0.0.1:5432, as in .ci/run)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
DUR=${DUR:-10}
KEYS=10000
cargo build --release --quiet --bin keymint --example bench_tool
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/keymint"
TOOL="${CARGO_TARGET_DIR:-$ROOT/target}/release/examples/bench_tool"
source "$ROOT/bench/lib.sh"
need_postgres "keymint_scale_$$"
PG="postgres://postgres:$PGPASSWORD@127.0.0.1:5432/$DB"
EMPTY_DB="${DB}_empty"
psql -h 127.0.0.1 -U postgres -d postgres -qc "CREATE DATABASE $EMPTY_DB"
trap 'cleanup; psql -h 127.0.0.1 -U postgres -d postgres -qc "DROP DATABASE IF EXISTS $EMPTY_DB WITH (FORCE)" >/dev/null 2>&1 || true' EXIT

rss_kib() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
stop() { kill "$1"; wait "$1" 2>/dev/null || true; }
# Milliseconds from exec to the first 200 from /readyz of a fresh instance on $1; stops it.
startup_ms() { # database_url
  local t0 t1 pid addr=""
  mkdir -p "$WORK/startup"
  t0=$(date +%s%N)
  (cd "$WORK/startup" && exec env DATABASE_URL="$1" KEYMINT_LISTEN=127.0.0.1:0 RUST_LOG=warn,keymint::cli::serve=info "$BIN" serve) 2> "$WORK/startup.log" &
  pid=$!
  until [ -n "$addr" ]; do
    addr=$(grep -o 'address=[0-9.:]*' "$WORK/startup.log" | head -1 | cut -d= -f2 || true)
    sleep 0.005
  done
  until curl -sf -o /dev/null "http://$addr/readyz"; do sleep 0.005; done
  t1=$(date +%s%N)
  stop "$pid"
  echo $(( (t1 - t0) / 1000000 ))
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

echo "seeding $KEYS keys..." >&2
SECRET=$("$TOOL" seed "$PG" $KEYS 0 cheap)
start small "$PG" "$BIN" KEYMINT_CACHE_TTL=7200
"$TOOL" warm "$URL_small" "$SECRET" $KEYS
declare -A R
for round in 1 2; do
  R[h10k,$round]=$(wrk_run "$URL_small/healthz" healthz.lua 1 x 64)
  R[w10k,$round]=$(wrk_run "$URL_small" token.lua $KEYS "$SECRET" 64)
  echo "10k keys, round $round: healthz ${R[h10k,$round]}| warm ${R[w10k,$round]}" >&2
done

echo "seeding 990,000 more keys..." >&2
SEED_T0=$(date +%s)
stop "$PID_small"
# The other keys share a second secret (their own template key's).
SECRET2=$("$TOOL" seed "$PG" 990000 $KEYS cheap)
SEED_S=$(( $(date +%s) - SEED_T0 ))
psql -h 127.0.0.1 -U postgres -d "$DB" -qc "ANALYZE api_keys"
TOTAL=$(psql -h 127.0.0.1 -U postgres -d "$DB" -tAc "SELECT COUNT(*) FROM api_keys")
start big "$PG" "$BIN" KEYMINT_CACHE_TTL=7200
"$TOOL" warm "$URL_big" "$SECRET" $KEYS
for round in 1 2; do
  R[h1m,$round]=$(wrk_run "$URL_big/healthz" healthz.lua 1 x 64)
  R[w1m,$round]=$(wrk_run "$URL_big" token.lua $KEYS "$SECRET" 64)
  echo "$TOTAL keys, round $round: healthz ${R[h1m,$round]}| warm ${R[w1m,$round]}" >&2
done
stop "$PID_big"

echo "start-up..." >&2
UP_EMPTY=(); UP_FULL=()
for round in 1 2 3; do
  UP_EMPTY+=("$(startup_ms "postgres://postgres:$PGPASSWORD@127.0.0.1:5432/$EMPTY_DB")")
  UP_FULL+=("$(startup_ms "$PG")")
done

echo "memory: warming 100,000 keys on a fresh instance..." >&2
start mem "$PG" "$BIN" KEYMINT_CACHE_TTL=7200
sleep 1
RSS0=$(rss_kib "$PID_mem")
WARM_T0=$(date +%s)
"$TOOL" warm "$URL_mem" "$SECRET2" 100000 $KEYS
WARM_S=$(( $(date +%s) - WARM_T0 ))
sleep 1
RSS1=$(rss_kib "$PID_mem")
ENTRIES=$(curl -s "$URL_mem/metrics" | awk '/^keymint_token_cache_entries/ { print $2 }')

avg() { for r in 1 2; do field "${R[$1,$r]}" "$2"; done | mean; }
W10=$(avg w10k 1); H10=$(avg h10k 1); W1M=$(avg w1m 1); H1M=$(avg h1m 1)
echo
echo "| figure | 10,000 keys in the database | $TOTAL keys |"
echo "|---|---|---|"
echo "| /healthz requests/s | $H10 | $H1M |"
echo "| warm tokens/s, 10,000 keys round-robin (2 runs each) | $W10 | $W1M |"
echo "| warm p50 / p99 ms | $(avg w10k 2) / $(avg w10k 3) | $(avg w1m 2) / $(avg w1m 3) |"
echo "| warm / healthz | $(ratio "$W10" "$H10") | $(ratio "$W1M" "$H1M") |"
echo "| errors | $(for r in 1 2; do field "${R[w10k,$r]}" 5; done | paste -sd+ | bc) | $(for r in 1 2; do field "${R[w1m,$r]}" 5; done | paste -sd+ | bc) |"
echo
echo "| figure | value |"
echo "|---|---|"
echo "| 1M keys vs 10k keys, warm tokens/s | $(ratio "$W1M" "$W10") |"
echo "| 1M keys vs 10k keys, warm / healthz | $(ratio "$(ratio "$W1M" "$H1M")" "$(ratio "$W10" "$H10")") |"
echo "| seeding 990,000 keys in SQL | ${SEED_S} s |"
echo "| start-up to /readyz, empty database (3 runs, ms) | ${UP_EMPTY[*]} |"
echo "| start-up to /readyz, $TOTAL keys (3 runs, ms) | ${UP_FULL[*]} |"
echo "| RSS before / after warming 100,000 keys | $((RSS0 / 1024)) / $((RSS1 / 1024)) MiB ($ENTRIES cache entries, warmed in ${WARM_S} s) |"
echo "| memory per cached key | $(( (RSS1 - RSS0) * 1024 / 100000 )) bytes |"
