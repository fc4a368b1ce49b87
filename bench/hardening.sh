#!/usr/bin/env bash
# Hardening benchmark (second pass): what a hostile client costs and what an honest one
# keeps, on one release instance on SQLite, wrk over loopback on the same 2 cores.
#  1. CPU per request of a 64 KiB body of ~13,000 parameter names, and warm-token p99
#     alone vs. during a flood of such bodies;
#  2. a guesser flooding new wrong secrets from one address, while honest clients on the
#     same address present right secrets of keys never used before (every one cold).
# Takes about a minute. BIN and TOOL select the binaries (defaults: this checkout's
# release build), so the same script measures an older build for a before/after.
#
# Usage: bench/hardening.sh   or   BIN=/path/keymint TOOL=/path/bench_tool bench/hardening.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
DUR=${DUR:-10}
if [ -z "${BIN:-}" ]; then
  cargo build --release --quiet --bin keymint --example bench_tool
  BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/keymint"
  TOOL="${CARGO_TARGET_DIR:-$ROOT/target}/release/examples/bench_tool"
fi
source "$ROOT/bench/lib.sh"

SECRET=$("$TOOL" seed "sqlite://$WORK/k.db" 3000)
start k "sqlite://$WORK/k.db" "$BIN"
PID=$PID_k
URL=$URL_k
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$PID/stat"; }
result() { awk '/^RESULT/ { $1 = ""; print }'; }
# key=value fields of a wrk RESULT line (lib.sh's field() takes positions).
kv() { echo "$1" | tr ' ' '\n' | awk -F= -v k="$2" '$1 == k { print $2 }'; }

# Key 1 warm for the warm-token runs.
curl -s -o /dev/null -d "grant_type=client_credentials&client_id=kmc_bench00000001&client_secret=$SECRET" "$URL/production/oauth2/token"

echo "1. hostile bodies..." >&2
before=$(cpu_ticks)
HOSTILE=$(SECRET=$SECRET wrk -t1 -c4 -d"${DUR}s" --timeout 5s -s bench/hostile.lua "$URL" 2>&1 | result)
after=$(cpu_ticks)
HOSTILE_CPU_MS=$(awk -v t=$((after - before)) -v n="$(kv "$HOSTILE" requests)" 'BEGIN { printf "%.2f", t * 10 / n }')
ALONE=$(KEYS=1 SECRET=$SECRET wrk -t1 -c32 -d"${DUR}s" --timeout 5s -s bench/token.lua "$URL" 2>&1 | result)
SECRET=$SECRET wrk -t1 -c8 -d"${DUR}s" --timeout 5s -s bench/hostile.lua "$URL" > "$WORK/hostile2" 2>&1 &
FLOOD=$!
FLOODED=$(KEYS=1 SECRET=$SECRET wrk -t1 -c32 -d"${DUR}s" --timeout 5s -s bench/token.lua "$URL" 2>&1 | result)
wait $FLOOD || true  # wrk exits non-zero when it saw socket errors
HOSTILE2=$(result < "$WORK/hostile2")

echo "2. a guesser and cold honest clients on one address..." >&2
KEYS=3000 wrk -t1 -c16 -d"${DUR}s" --timeout 10s -s bench/guess.lua "$URL" > "$WORK/guess" 2>&1 &
FLOOD=$!
# Honest: keys 1001..3000, never used, so every request is a cold argon2 verification.
HONEST_OK=0; HONEST_N=0
end=$((SECONDS + DUR))
i=1000
while [ $SECONDS -lt $end ] && [ $i -lt 3000 ]; do
  i=$((i + 1)); HONEST_N=$((HONEST_N + 1))
  code=$(curl -s -o /dev/null -w '%{http_code}' -d "grant_type=client_credentials&client_id=kmc_bench$(printf %08d $i)&client_secret=$SECRET" "$URL/production/oauth2/token")
  if [ "$code" = 200 ]; then HONEST_OK=$((HONEST_OK + 1)); fi
done
wait $FLOOD || true  # wrk exits non-zero when it saw socket errors
GUESS=$(result < "$WORK/guess")

echo
echo "| measure | figure |"
echo "|---|---|"
echo "| hostile body (~$(kv "$HOSTILE" names) names, 64 KiB): server CPU per request | $HOSTILE_CPU_MS ms |"
echo "| hostile bodies/s answered (4 connections), non-2xx | $(kv "$HOSTILE" rps), $(kv "$HOSTILE" non2xx) of $(kv "$HOSTILE" requests) |"
echo "| warm tokens/s and p99, alone | $(kv "$ALONE" rps), $(kv "$ALONE" p99_ms) ms |"
echo "| warm tokens/s and p99, during a hostile-body flood ($(kv "$HOSTILE2" rps)/s) | $(kv "$FLOODED" rps), $(kv "$FLOODED" p99_ms) ms |"
echo "| guesser, one address, 16 connections: answers/s, statuses | $(kv "$GUESS" rps), $(kv "$GUESS" statuses) |"
echo "| cold honest clients on the guesser's address: right secrets served | $HONEST_OK of $HONEST_N |"
