#!/usr/bin/env bash
# Per-core cost of a warm token, A/B: each build serves 1,000 seeded keys on its own
# SQLite file with the server pinned to CPU 0 and wrk pinned to CPU 1 (1 thread, 16
# connections), so the server's core is the bottleneck and the figures are per-core.
# Rounds interleave A B A B; per round, /healthz then warm tokens (1,000 keys
# round-robin). Prints requests/s, µs per request (1e6 / rps) and µs per token beyond
# /healthz, per build, averaged over the rounds, beside the ES256 signature's own cost
# (bench/crypto.sh measures it).
#
# Usage: bench/pinned.sh BIN_A [BIN_B]   (BIN_B defaults to this checkout's release build)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
DUR=${DUR:-10}
KEYS=${KEYS:-1000}
ROUNDS=${ROUNDS:-3}
cargo build --release --quiet --bin keymint --example bench_tool
A=$(realpath "${1:?usage: bench/pinned.sh BIN_A [BIN_B]}")
B=$(realpath "${2:-${CARGO_TARGET_DIR:-$ROOT/target}/release/keymint}")
TOOL="${CARGO_TARGET_DIR:-$ROOT/target}/release/examples/bench_tool"
source "$ROOT/bench/lib.sh"
pinned_wrk() { # url script keys secret -> "rps p50 p99 requests errors"
  KEYS=$3 SECRET=$4 taskset -c 1 wrk -t1 -c16 -d"${DUR}s" --timeout 5s -s "$ROOT/bench/$2" "$1" 2>&1 |
    awk '/^RESULT/ { for (i = 2; i <= NF; i++) { split($i, kv, "="); printf "%s ", kv[2] } print "" }'
}
for build in A B; do
  printf -v "SECRET_$build" '%s' "$("$TOOL" seed "sqlite://$WORK/$build.db" "$KEYS")"
  # The server and all its threads on CPU 0 (the runtime sizes itself to that one core).
  printf '#!/bin/sh\nexec taskset -c 0 %s "$@"\n' "${!build}" > "$WORK/pinned_$build"
  chmod +x "$WORK/pinned_$build"
  start "$build" "sqlite://$WORK/$build.db" "$WORK/pinned_$build" KEYMINT_CACHE_TTL=7200
done
echo "warming $KEYS keys on each build..." >&2
for build in A B; do url="URL_$build"; secret="SECRET_$build"; "$TOOL" warm "${!url}" "${!secret}" "$KEYS"; done
declare -A R
for round in $(seq 1 "$ROUNDS"); do
  for build in A B; do
    url="URL_$build"; secret="SECRET_$build"
    R[$build,healthz,$round]=$(pinned_wrk "${!url}/healthz" healthz.lua 1 x)
    R[$build,warm,$round]=$(pinned_wrk "${!url}" token.lua "$KEYS" "${!secret}")
    echo "round $round $build: healthz ${R[$build,healthz,$round]}| warm ${R[$build,warm,$round]}" >&2
  done
done
avg() { for r in $(seq 1 "$ROUNDS"); do field "${R[$1,$2,$r]}" "$3"; done | mean; }
avg2() { for r in $(seq 1 "$ROUNDS"); do field "${R[$1,$2,$r]}" "$3"; done | awk '{ s += $1 } END { printf "%.2f", s / NR }'; }
echo
echo "A = $A"
echo "B = $B"
echo
echo "| build | /healthz req/s | µs | warm tokens/s | µs | p99 ms | µs per token beyond /healthz | errors |"
echo "|---|---|---|---|---|---|---|---|"
for build in A B; do
  h=$(avg $build healthz 1); w=$(avg $build warm 1)
  errors=$(for r in $(seq 1 "$ROUNDS"); do field "${R[$build,warm,$r]}" 5; done | paste -sd+ | bc)
  awk -v b="$build" -v h="$h" -v w="$w" -v p="$(avg2 $build warm 3)" -v e="$errors" 'BEGIN {
    printf "| %s | %.0f | %.1f | %.0f | %.1f | %s | %.1f | %s |\n", b, h, 1e6 / h, w, 1e6 / w, p, 1e6 / w - 1e6 / h, e }'
done
