#!/usr/bin/env bash
# The cold path (issue 15, item 3), one release instance on SQLite, wrk on the same 2
# cores: (1) a flood of fresh wrong secrets, each from a new address, refused by check
# tags without argon2: its rate as a ratio of /healthz, and honest warm clients meanwhile;
# (2) a flood of right secrets on a cold instance (every one of 1,000 keys once, as after
# a restart) against the argon2 ceiling, and honest warm clients meanwhile.
#
# Usage: bench/cold.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
DUR=${DUR:-10}
KEYS=1000
cargo build --release --quiet --bin keymint --example bench_tool
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/keymint"
TOOL="${CARGO_TARGET_DIR:-$ROOT/target}/release/examples/bench_tool"
source "$ROOT/bench/lib.sh"
SECRET=$("$TOOL" seed "sqlite://$WORK/keymint.db" $KEYS)
start warm "sqlite://$WORK/keymint.db" "$BIN"
"$TOOL" warm "$URL_warm" "$SECRET" 1
CEILING=$("$TOOL" ceiling 5)
HEALTHZ=$(wrk_run "$URL_warm/healthz" healthz.lua 1 x 64)
ALONE=$(wrk_run "$URL_warm" token.lua 1 "$SECRET" 8)

# (1) The guessers, and honest clients of key 1 at the same time.
KEYS=$KEYS wrk -t1 -c32 -d"${DUR}s" --timeout 5s -s "$ROOT/bench/guess_flood.lua" "$URL_warm" > "$WORK/flood.txt" 2>&1 &
FLOOD_PID=$!
HONEST=$(wrk_run "$URL_warm" token.lua 1 "$SECRET" 8)
wait $FLOOD_PID
FLOOD=$(awk '/^RESULT/ { for (i = 2; i <= NF; i++) { split($i, kv, "="); printf "%s ", kv[2] } print "" }' "$WORK/flood.txt")

# (2) A cold instance on the same database: key 1 warmed, then every key once while the
# honest clients of key 1 run.
start cold "sqlite://$WORK/keymint.db" "$BIN"
"$TOOL" warm "$URL_cold" "$SECRET" 1
wrk_run "$URL_cold" token.lua 1 "$SECRET" 8 > "$WORK/honest_cold.txt" &
HONEST_PID=$!
STARTED=$(date +%s.%N)
"$TOOL" warm "$URL_cold" "$SECRET" $KEYS
ENDED=$(date +%s.%N)
wait $HONEST_PID
HONEST_COLD=$(cat "$WORK/honest_cold.txt")
RIGHT=$(awk -v n=$KEYS -v a="$STARTED" -v b="$ENDED" 'BEGIN { printf "%.1f", (n - 1) / (b - a) }')

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
ok() { awk -v r="$(field "$1" 4)" -v e="$(field "$1" 5)" 'BEGIN { printf "%.2f %%", 100 * (r - e) / r }'; }
echo
echo "| measure | figure |"
echo "|---|---|"
echo "| /healthz requests/s (64 connections) | $(field "$HEALTHZ" 1) |"
echo "| argon2id ceiling, verifications/s | $CEILING |"
echo "| honest warm tokens/s alone (8 connections): rate, p99 ms | $(field "$ALONE" 1), $(field "$ALONE" 3) |"
echo "| (1) wrong-secret flood, a new address per request (32 connections): refusals/s, p99 ms, answers other than 401 | $(field "$FLOOD" 1), $(field "$FLOOD" 3), $(field "$FLOOD" 5) |"
echo "| (1) flood / healthz | $(ratio "$(field "$FLOOD" 1)" "$(field "$HEALTHZ" 1)") |"
echo "| (1) honest warm clients meanwhile: tokens/s, p99 ms, success | $(field "$HONEST" 1), $(field "$HONEST" 3), $(ok "$HONEST") |"
echo "| (2) right secrets on a cold instance, every key once: verifications/s | $RIGHT |"
echo "| (2) cold flood / argon2 ceiling | $(ratio "$RIGHT" "$CEILING") |"
echo "| (2) honest warm clients meanwhile: tokens/s, p99 ms, success | $(field "$HONEST_COLD" 1), $(field "$HONEST_COLD" 3), $(ok "$HONEST_COLD") |"
