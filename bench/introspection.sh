#!/usr/bin/env bash
# Introspection benchmark: RFC 7662 introspection on one instance (SQLite) as a ratio to
# the /healthz ceiling of the same server, wrk over loopback (2 threads, 64 connections),
# for a gateway re-introspecting the token it has seen (one token, the common case) and
# for a stream of distinct tokens (each introspected once). Rounds interleave the builds
# and the phases so the noisy machine cancels out.
#
# Usage: bench/introspection.sh [BIN_A] [BIN_B]   (default: this checkout's release build
# alone; with BIN_A, A is compared with B = this checkout's build unless BIN_B is given)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
DUR=${DUR:-5}
ROUNDS=${ROUNDS:-2}
DISTINCT=${DISTINCT:-300000}
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
cargo build --release --quiet --bin keymint --example bench_tool
HERE="${CARGO_TARGET_DIR:-$ROOT/target}/release/keymint"
if [ $# -ge 1 ]; then
  BUILDS=(A B); A=$(realpath "$1"); B=$(realpath "${2:-$HERE}")
else
  BUILDS=(B); B=$HERE
fi
WORK=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
field() { python3 -c "import json,sys; print(json.load(sys.stdin)[sys.argv[1]])" "$1"; }
run() { # url script -> "rps p50 p99 requests errors"
  THREADS=2 wrk -t2 -c64 -d"${DUR}s" --timeout 5s -s "$ROOT/bench/$2" "$1" 2>&1 |
    awk '/^RESULT/ { for (i = 2; i <= NF; i++) { split($i, kv, "="); printf "%s ", kv[2] } print "" }'
}
for build in "${BUILDS[@]}"; do
  bin=${!build}
  mkdir -p "$WORK/$build" && cd "$WORK/$build"
  export KEYMINT_LISTEN=127.0.0.1:0 RUST_LOG=warn,keymint::cli::serve=info
  "$bin" users upsert alice --permission runs:read >/dev/null 2>&1
  "$bin" users upsert gateway --permission IntrospectToken >/dev/null 2>&1
  client=$("$bin" keys create --user alice --env production --json 2>/dev/null)
  gateway=$("$bin" keys create --user gateway --env production --json 2>/dev/null)
  "$bin" serve 2> serve.log &
  PIDS+=($!)
  for _ in $(seq 1 100); do
    addr=$(grep 'keymint serving' serve.log | grep -o 'address=[0-9.:]*' | head -1 | cut -d= -f2 || true)
    [ -n "$addr" ] && break
    sleep 0.1
  done
  printf -v "URL_$build" 'http://%s' "$addr"
  url="http://$addr"
  id=$(echo "$client" | field clientId); secret=$(echo "$client" | field clientSecret)
  echo "$build: minting $DISTINCT tokens..." >&2
  python3 "$ROOT/bench/mint_tokens.py" "$url" "$id" "$secret" "$DISTINCT" "$WORK/$build/tokens"
  printf -v "TOKEN_$build" '%s' "$(sed -n 1p "$WORK/$build/tokens")"
  printf -v "AUTH_$build" '%s' "$(printf '%s:%s' "$(echo "$gateway" | field clientId)" "$(echo "$gateway" | field clientSecret)" | base64 -w0)"
  # The gateway's own key warm (one argon2id verification), and the first token active.
  auth="AUTH_$build"; token="TOKEN_$build"
  curl -s -H "Authorization: Basic ${!auth}" -d "token=${!token}" "$url/production/oauth2/introspect" | grep -q '"active":true' \
    || { echo "$build: introspection does not answer active for a fresh token" >&2; exit 1; }
  cd "$ROOT"
done
declare -A R
for round in $(seq 1 "$ROUNDS"); do
  for build in "${BUILDS[@]}"; do
    url="URL_$build"; token="TOKEN_$build"; auth="AUTH_$build"
    R[$build,healthz,$round]=$(run "${!url}/healthz" healthz.lua)
    R[$build,same,$round]=$(TOKEN=${!token} AUTH=${!auth} run "${!url}" introspect.lua)
    # Each round takes its own slice of the distinct tokens, so none is seen twice.
    sed -n "$(( (round - 1) * DISTINCT / ROUNDS + 1 )),$(( round * DISTINCT / ROUNDS ))p" "$WORK/$build/tokens" > "$WORK/$build/slice"
    R[$build,distinct,$round]=$(TOKENS="$WORK/$build/slice" AUTH=${!auth} run "${!url}" introspect_many.lua)
    # A run that sends more requests than its slice holds repeats tokens (cache hits).
    sent=$(echo "${R[$build,distinct,$round]}" | awk '{ print $4 }')
    if [ "$sent" -gt "$(wc -l < "$WORK/$build/slice")" ]; then
      echo "$build round $round sent $sent requests for $(wc -l < "$WORK/$build/slice") distinct tokens: raise DISTINCT" >&2
      exit 1
    fi
    echo "round $round $build: healthz ${R[$build,healthz,$round]}| same ${R[$build,same,$round]}| distinct ${R[$build,distinct,$round]}" >&2
  done
done
avg() { for r in $(seq 1 "$ROUNDS"); do echo "${R[$1,$2,$r]}" | awk -v n="$3" '{ print $n }'; done | awk '{ s += $1 } END { printf "%.1f", s / NR }'; }
sum() { for r in $(seq 1 "$ROUNDS"); do echo "${R[$1,$2,$r]}" | awk -v n="$3" '{ print $n }'; done | paste -sd+ | bc; }
echo
for build in "${BUILDS[@]}"; do echo "$build = ${!build}"; done
echo
echo "| build | /healthz req/s | same token: introspections/s | p99 ms | / healthz | distinct tokens: introspections/s | p99 ms | / healthz | requests of distinct runs (tokens: $DISTINCT) | errors or inactive |"
echo "|---|---|---|---|---|---|---|---|---|---|"
for build in "${BUILDS[@]}"; do
  h=$(avg $build healthz 1); s=$(avg $build same 1); d=$(avg $build distinct 1)
  echo "| $build | ${h%.*} | ${s%.*} | $(avg $build same 3) | $(awk -v a="$s" -v b="$h" 'BEGIN { printf "%.2f", a / b }') | ${d%.*} | $(avg $build distinct 3) | $(awk -v a="$d" -v b="$h" 'BEGIN { printf "%.2f", a / b }') | $(sum $build distinct 4) | $(( $(sum $build same 5) + $(sum $build distinct 5) )) |"
done
