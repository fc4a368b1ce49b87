#!/usr/bin/env bash
# Introspection benchmark (gateways issue): throughput and p99 of RFC 7662 introspection
# on one instance (SQLite), as a ratio to the /healthz ceiling of the same server, with
# wrk over loopback, runs interleaved A B A B. Usage: bench/introspection.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
DUR=${DUR:-10}
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
cargo build --release --quiet --bin keymint
BIN="$ROOT/target/release/keymint"
WORK=$(mktemp -d)
PID=""
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
cd "$WORK"
export KEYMINT_LISTEN=127.0.0.1:0 RUST_LOG=warn,keymint::cli::serve=info
"$BIN" users upsert alice --permission runs:read >/dev/null 2>&1
"$BIN" users upsert gateway --permission IntrospectToken >/dev/null 2>&1
field() { python3 -c "import json,sys; print(json.load(sys.stdin)[sys.argv[1]])" "$1"; }
CLIENT=$("$BIN" keys create --user alice --env production --json 2>/dev/null)
GATEWAY=$("$BIN" keys create --user gateway --env production --json 2>/dev/null)
"$BIN" serve 2> serve.log &
PID=$!
for _ in $(seq 1 100); do
  ADDR=$(grep 'keymint serving' serve.log | grep -o 'address=[0-9.:]*' | head -1 | cut -d= -f2 || true)
  [ -n "$ADDR" ] && break
  sleep 0.1
done
URL="http://$ADDR"
TOKEN=$(curl -s -u "$(echo "$CLIENT" | field clientId):$(echo "$CLIENT" | field clientSecret)" \
  -d grant_type=client_credentials "$URL/production/oauth2/token" | field access_token)
export TOKEN
AUTH=$(printf '%s:%s' "$(echo "$GATEWAY" | field clientId)" "$(echo "$GATEWAY" | field clientSecret)" | base64 -w0)
export AUTH
ACTIVE=$(curl -s -H "Authorization: Basic $AUTH" -d "token=$TOKEN" "$URL/production/oauth2/introspect" | field active)
[ "$ACTIVE" = "True" ] || { echo "introspection does not answer active for a fresh token" >&2; exit 1; }
run() { wrk -t2 -c64 -d"${DUR}s" --timeout 5s -s "$ROOT/bench/$2" "$1" 2>&1 | awk '/^RESULT/ { for (i = 2; i <= NF; i++) { split($i, kv, "="); printf "%s ", kv[2] } print "" }'; }
for round in 1 2; do
  H[$round]=$(run "$URL/healthz" healthz.lua)
  I[$round]=$(run "$URL" introspect.lua)
  echo "round $round: healthz ${H[$round]}| introspect ${I[$round]}" >&2
done
f() { echo "$1" | awk -v n="$2" '{ print $n }'; }
HZ=$(( ($(f "${H[1]}" 1 | cut -d. -f1) + $(f "${H[2]}" 1 | cut -d. -f1)) / 2 ))
IN=$(( ($(f "${I[1]}" 1 | cut -d. -f1) + $(f "${I[2]}" 1 | cut -d. -f1)) / 2 ))
echo "| figure | value |"
echo "|---|---|"
echo "| /healthz requests/s | $HZ |"
echo "| introspections/s | $IN |"
echo "| introspection p50 / p99 ms (2 runs) | $(f "${I[1]}" 2) / $(f "${I[1]}" 3), $(f "${I[2]}" 2) / $(f "${I[2]}" 3) |"
echo "| errors | $(f "${I[1]}" 5), $(f "${I[2]}" 5) |"
echo "| introspection / healthz | $(awk -v a="$IN" -v b="$HZ" 'BEGIN { printf "%.2f", a / b }') |"
