#!/usr/bin/env bash
# Per-core cost of a warm token, A/B, measured as the server's CPU time per answer.
#
# Method: each build serves 1,000 seeded keys on its own SQLite file, the server and all
# its threads pinned to CPU 0; the load client (examples/pinned_client.rs) is pinned to
# CPU 1 and keeps 16 requests in flight over 16 connections, polling its non-blocking
# sockets without ever sleeping. So the server always has a request waiting, and its
# answers never pay for waking a sleeping client on the other CPU (a cross-CPU wake-up,
# several µs of the server's kernel time on a VM, is the benchmark's cost: with wrk,
# which sleeps between answers, it had inflated a token's cost and not /healthz's). The
# client reads the server's CPU time (user + system, all threads) from /proc/PID/stat
# before and after each interval: µs per answer is that time over the answers.
# Rounds interleave A B A B (8 rounds of 4 s by default); per round /healthz, then warm
# tokens (1,000 keys round-robin, client_secret_post). This machine is a VM whose
# neighbours slow it by up to a fifth for seconds at a time, so each figure is the
# median of the rounds, and each round's B/A ratio of token cost is printed too. Also
# measures, pinned to CPU 0 with no server load, one ES256 signature with Keymint's key
# (the part of a token nothing can take out), and prints µs per token beyond /healthz
# and beyond /healthz + signature.
#
# Usage: bench/pinned.sh BIN_A [BIN_B]   (BIN_B defaults to this checkout's release build)
#        TOOL_A=path/to/A/bench_tool bench/pinned.sh BIN_A   when A's migrations differ from B's
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
DUR=${DUR:-4}
KEYS=${KEYS:-1000}
ROUNDS=${ROUNDS:-8}
cargo build --release --quiet --bin keymint --example bench_tool --example pinned_client
A=$(realpath "${1:?usage: bench/pinned.sh BIN_A [BIN_B]}")
B=$(realpath "${2:-${CARGO_TARGET_DIR:-$ROOT/target}/release/keymint}")
TOOL="${CARGO_TARGET_DIR:-$ROOT/target}/release/examples/bench_tool"
TOOL_A=${TOOL_A:-$TOOL}
TOOL_B=$TOOL
CLIENT="${CARGO_TARGET_DIR:-$ROOT/target}/release/examples/pinned_client"
source "$ROOT/bench/lib.sh"
pinned() { # url path pid kind... -> "rps cpu_us busy requests errors"
  local url=$1 path=$2 pid=$3; shift 3
  taskset -c 1 "$CLIENT" "$url" "$path" "$DUR" "$pid" "$@" |
    awk '/^RESULT/ { for (i = 2; i <= NF; i++) { split($i, kv, "="); printf "%s ", kv[2] } print "" }'
}
for build in A B; do
  tool="TOOL_$build"
  printf -v "SECRET_$build" '%s' "$("${!tool}" seed "sqlite://$WORK/$build.db" "$KEYS")"
  # The server and all its threads on CPU 0 (the runtime sizes itself to that one core).
  printf '#!/bin/sh\nexec taskset -c 0 %s "$@"\n' "${!build}" > "$WORK/pinned_$build"
  chmod +x "$WORK/pinned_$build"
  start "$build" "sqlite://$WORK/$build.db" "$WORK/pinned_$build" KEYMINT_CACHE_TTL=7200
done
echo "warming $KEYS keys on each build..." >&2
for build in A B; do url="URL_$build"; secret="SECRET_$build"; "$TOOL" warm "${!url}" "${!secret}" "$KEYS"; done
declare -A R
SIGN=()
for round in $(seq 1 "$ROUNDS"); do
  for build in A B; do
    url="URL_$build"; secret="SECRET_$build"; pid="PID_$build"
    R[$build,healthz,$round]=$(pinned "${!url}" /healthz "${!pid}" healthz)
    R[$build,warm,$round]=$(pinned "${!url}" /production/oauth2/token "${!pid}" post "$KEYS" "${!secret}")
    echo "round $round $build: healthz ${R[$build,healthz,$round]}| warm ${R[$build,warm,$round]}" >&2
  done
  SIGN+=("$(taskset -c 0 "$CLIENT" sign 2 | awk '/^RESULT/ { split($2, kv, "="); print kv[2] }')")
done
median() { sort -g | awk '{ v[NR] = $1 } END { printf "%.2f", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
sign=$(printf '%s\n' "${SIGN[@]}" | median)
avg() { for r in $(seq 1 "$ROUNDS"); do field "${R[$1,$2,$r]}" "$3"; done | median; }
ratios=$(for r in $(seq 1 "$ROUNDS"); do
  awk -v a="$(field "${R[A,warm,$r]}" 2)" -v b="$(field "${R[B,warm,$r]}" 2)" 'BEGIN { printf "%.2f ", b / a }'
done)
echo
echo "A = $A"
echo "B = $B"
echo "one ES256 signature, CPU 0, idle server: $sign µs (median; per round: ${SIGN[*]})"
echo "token µs CPU, B / A, per round: $ratios"
echo "(medians of $ROUNDS rounds of ${DUR} s)"
echo
echo "| build | /healthz req/s | /healthz µs CPU | warm tokens/s | token µs CPU | beyond /healthz | beyond /healthz + signature | server busy | errors |"
echo "|---|---|---|---|---|---|---|---|---|"
for build in A B; do
  errors=$(for r in $(seq 1 "$ROUNDS"); do field "${R[$build,warm,$r]}" 5; field "${R[$build,healthz,$r]}" 5; done | paste -sd+ | bc)
  awk -v b="$build" -v hr="$(avg $build healthz 1)" -v h="$(avg $build healthz 2)" -v wr="$(avg $build warm 1)" \
    -v w="$(avg $build warm 2)" -v busy="$(avg $build warm 3)" -v s="$sign" -v e="$errors" 'BEGIN {
    printf "| %s | %.0f | %.2f | %.0f | %.2f | %.2f | %.2f | %.2f | %s |\n", b, hr, h, wr, w, w - h, w - h - s, busy, e }'
done
# Neighbours only ever add time, so the least disturbed round of each measurement is the
# closest to what the code costs on an undisturbed core.
least() { for r in $(seq 1 "$ROUNDS"); do field "${R[$1,$2,$r]}" 2; done | sort -g | head -1; }
least_sign=$(printf '%s\n' "${SIGN[@]}" | sort -g | head -1)
echo
echo "least of the rounds (signature $least_sign µs):"
echo
echo "| build | /healthz µs CPU | token µs CPU | beyond /healthz | beyond /healthz + signature |"
echo "|---|---|---|---|---|"
for build in A B; do
  awk -v b="$build" -v h="$(least $build healthz)" -v w="$(least $build warm)" -v s="$least_sign" 'BEGIN {
    printf "| %s | %.2f | %.2f | %.2f | %.2f |\n", b, h, w, w - h, w - h - s }'
done
