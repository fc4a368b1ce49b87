#!/usr/bin/env bash
# Side by side with a peer people deploy, per core: panva's oidc-provider (from npm,
# pinned in tests/oidc/package-lock.json; client credentials with ES256 JWT access
# tokens, configured as its docs say: bench/peer_provider.mjs) and Keymint (ES256,
# SQLite), each pinned to CPU 0 in turn, one client, client_secret_basic with
# scope=runs:read. The load is bench/pinned.sh's (examples/pinned_client.rs on CPU 1: 16
# requests in flight, a client that never sleeps), so each server's core is saturated
# and its CPU time per token is read from /proc. Both are warmed first (Node compiles
# hot code as it runs: 5 s of load; Keymint's secret verified once), then measured
# interleaved, ROUNDS (3) rounds of DUR (10) s. Prints tokens/s and CPU µs per token for
# each, and Keymint's ratio both ways (tokens/s, and the peer's CPU per token over
# Keymint's).
#
# Usage: bench/peers.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
DUR=${DUR:-10}
ROUNDS=${ROUNDS:-3}
command -v node >/dev/null || { apt-get update -qq && apt-get install -y -qq nodejs npm >/dev/null; }
cargo build --release --quiet --bin keymint --example pinned_client
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/keymint"
CLIENT="${CARGO_TARGET_DIR:-$ROOT/target}/release/examples/pinned_client"
PEER_DIR="${CARGO_TARGET_DIR:-$ROOT/target}/oidc-provider"
if [ ! -f "$PEER_DIR/node_modules/oidc-provider/package.json" ]; then
  mkdir -p "$PEER_DIR" && cp tests/oidc/package.json tests/oidc/package-lock.json "$PEER_DIR/"
  (cd "$PEER_DIR" && npm ci --silent --no-audit --no-fund)
fi
WORK=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
field() { python3 -c "import json,sys; print(json.load(sys.stdin)[sys.argv[1]])" "$1"; }
run() { # url path pid auth -> "rps cpu_us busy requests errors"
  taskset -c 1 "$CLIENT" "$1" "$2" "$DUR" "$3" basic "$4" runs:read |
    awk '/^RESULT/ { for (i = 2; i <= NF; i++) { split($i, kv, "="); printf "%s ", kv[2] } print "" }'
}

# The peer.
PEER_PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
OIDC_PROVIDER_DIR="$PEER_DIR" taskset -c 0 node "$ROOT/bench/peer_provider.mjs" "$PEER_PORT" bench bench-secret-0123456789 > "$WORK/peer.log" 2>&1 &
PEER_PID=$!
PIDS+=($PEER_PID)
PEER_AUTH=$(printf 'bench:bench-secret-0123456789' | base64 -w0)
for _ in $(seq 1 100); do grep -q listening "$WORK/peer.log" && break; sleep 0.1; done
curl -sf -H "Authorization: Basic $PEER_AUTH" -d grant_type=client_credentials -d scope=runs:read \
  "http://127.0.0.1:$PEER_PORT/token" | grep -q '"access_token"' || { cat "$WORK/peer.log" >&2; exit 1; }

# Keymint.
cd "$WORK"
export KEYMINT_LISTEN=127.0.0.1:0 RUST_LOG=warn,keymint::cli::serve=info
"$BIN" users upsert bench --permission runs:read >/dev/null 2>&1
key=$("$BIN" keys create --user bench --env production --json 2>/dev/null)
taskset -c 0 "$BIN" serve 2> serve.log &
KM_PID=$!
PIDS+=($KM_PID)
for _ in $(seq 1 100); do
  addr=$(grep 'keymint serving' serve.log | grep -o 'address=[0-9.:]*' | head -1 | cut -d= -f2 || true)
  [ -n "$addr" ] && break
  sleep 0.1
done
KM_AUTH=$(printf '%s:%s' "$(echo "$key" | field clientId)" "$(echo "$key" | field clientSecret)" | base64 -w0)
curl -sf -H "Authorization: Basic $KM_AUTH" -d grant_type=client_credentials -d scope=runs:read \
  "http://$addr/production/oauth2/token" | grep -q '"access_token"'
cd "$ROOT"

# Node compiles hot code as it runs: let the peer warm up before it is measured.
DUR=5 run "http://127.0.0.1:$PEER_PORT" /token "$PEER_PID" "$PEER_AUTH" >/dev/null
DUR=2 run "http://$addr" /production/oauth2/token "$KM_PID" "$KM_AUTH" >/dev/null
declare -A R
for round in $(seq 1 "$ROUNDS"); do
  R[peer,$round]=$(run "http://127.0.0.1:$PEER_PORT" /token "$PEER_PID" "$PEER_AUTH")
  R[keymint,$round]=$(run "http://$addr" /production/oauth2/token "$KM_PID" "$KM_AUTH")
  echo "round $round: oidc-provider ${R[peer,$round]}| keymint ${R[keymint,$round]}" >&2
done
avg() { for r in $(seq 1 "$ROUNDS"); do echo "${R[$1,$r]}" | awk -v n="$2" '{ print $n }'; done | awk '{ s += $1 } END { printf "%.1f", s / NR }'; }
errors() { for r in $(seq 1 "$ROUNDS"); do echo "${R[$1,$r]}" | awk '{ print $5 }'; done | paste -sd+ | bc; }
per_round=$(for r in $(seq 1 "$ROUNDS"); do
  awk -v k="$(echo "${R[keymint,$r]}" | awk '{ print $1 }')" -v p="$(echo "${R[peer,$r]}" | awk '{ print $1 }')" 'BEGIN { printf "%.1f ", k / p }'
done)
echo
echo "| issuer (one core) | tokens/s | CPU µs per token | core busy | errors |"
echo "|---|---|---|---|---|"
echo "| oidc-provider $(node -p "require('$PEER_DIR/node_modules/oidc-provider/package.json').version") (Node $(node --version)) | $(avg peer 1) | $(avg peer 2) | $(avg peer 3) | $(errors peer) |"
echo "| Keymint | $(avg keymint 1) | $(avg keymint 2) | $(avg keymint 3) | $(errors keymint) |"
echo "| ratio | $(awk -v a="$(avg keymint 1)" -v b="$(avg peer 1)" 'BEGIN { printf "%.1f x", a / b }') | $(awk -v a="$(avg peer 2)" -v b="$(avg keymint 2)" 'BEGIN { printf "%.1f x", a / b }') | | |"
echo
echo "tokens/s ratio per round: $per_round (means of $ROUNDS rounds of ${DUR} s)"
