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
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
if [ -z "${BIN:-}" ]; then
  cargo build --release --quiet --bin keymint --example bench_tool
  BIN="$ROOT/target/release/keymint"
  TOOL="$ROOT/target/release/examples/bench_tool"
fi
WORK=$(mktemp -d)
trap 'kill $PID 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$WORK"' EXIT

SECRET=$("$TOOL" seed "sqlite://$WORK/k.db" 3000)
(cd "$WORK" && exec env DATABASE_URL="sqlite://$WORK/k.db" KEYMINT_LISTEN=127.0.0.1:0 \
  RUST_LOG=warn,keymint::cli::serve=info "$BIN" serve) 2> "$WORK/log" &
PID=$!
for _ in $(seq 1 300); do
  ADDR=$(grep 'keymint serving' "$WORK/log" | grep -o 'address=[0-9.:]*' | head -1 | cut -d= -f2 || true)
  [ -n "$ADDR" ] && break
  sleep 0.1
done
[ -n "$ADDR" ] || { cat "$WORK/log" >&2; exit 1; }
URL="http://$ADDR"
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$PID/stat"; }
result() { awk '/^RESULT/ { $1 = ""; print }'; }
field() { echo "$1" | tr ' ' '\n' | awk -F= -v k="$2" '$1 == k { print $2 }'; }

# Key 1 warm for the warm-token runs.
curl -s -o /dev/null -d "grant_type=client_credentials&client_id=kmc_bench00000001&client_secret=$SECRET" "$URL/production/oauth2/token"

echo "1. hostile bodies..." >&2
before=$(cpu_ticks)
HOSTILE=$(SECRET=$SECRET wrk -t1 -c4 -d"${DUR}s" --timeout 5s -s bench/hostile.lua "$URL" 2>&1 | result)
after=$(cpu_ticks)
HOSTILE_CPU_MS=$(awk -v t=$((after - before)) -v n="$(field "$HOSTILE" requests)" 'BEGIN { printf "%.2f", t * 10 / n }')
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
echo "| hostile body (~$(field "$HOSTILE" names) names, 64 KiB): server CPU per request | $HOSTILE_CPU_MS ms |"
echo "| hostile bodies/s answered (4 connections), non-2xx | $(field "$HOSTILE" rps), $(field "$HOSTILE" non2xx) of $(field "$HOSTILE" requests) |"
echo "| warm tokens/s and p99, alone | $(field "$ALONE" rps), $(field "$ALONE" p99_ms) ms |"
echo "| warm tokens/s and p99, during a hostile-body flood ($(field "$HOSTILE2" rps)/s) | $(field "$FLOODED" rps), $(field "$FLOODED" p99_ms) ms |"
echo "| guesser, one address, 16 connections: answers/s, statuses | $(field "$GUESS" rps), $(field "$GUESS" statuses) |"
echo "| cold honest clients on the guesser's address: right secrets served | $HONEST_OK of $HONEST_N |"
