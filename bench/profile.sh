#!/usr/bin/env bash
# Where a warm token's CPU time goes, beside /healthz's: one release instance (SQLite,
# 1,000 warm keys) pinned to CPU 0 under bench/pinned.sh's load (examples/pinned_client.rs
# on CPU 1), `perf record` of the server for 8 s per phase (software cpu-clock sampling:
# this VM exposes no hardware counters), samples grouped by the library their function
# belongs to and turned into µs per answer with the CPU time the client measured.
#
# Usage: bench/profile.sh [BIN]   (default: this checkout's release build); needs `perf`.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
DUR=12
command -v perf >/dev/null || { apt-get update -qq && apt-get install -y -qq linux-perf >/dev/null; }
cargo build --release --quiet --bin keymint --example bench_tool --example pinned_client
BIN=$(realpath "${1:-${CARGO_TARGET_DIR:-$ROOT/target}/release/keymint}")
TOOL="${CARGO_TARGET_DIR:-$ROOT/target}/release/examples/bench_tool"
CLIENT="${CARGO_TARGET_DIR:-$ROOT/target}/release/examples/pinned_client"
source "$ROOT/bench/lib.sh"
SECRET=$("$TOOL" seed "sqlite://$WORK/k.db" 1000)
printf '#!/bin/sh\nexec taskset -c 0 %s "$@"\n' "$BIN" > "$WORK/pinned"
chmod +x "$WORK/pinned"
start server "sqlite://$WORK/k.db" "$WORK/pinned" KEYMINT_CACHE_TTL=7200
"$TOOL" warm "$URL_server" "$SECRET" 1000
# category of a symbol (perf's "[k]"/"[.]" marker, then the name)
categorise='{ p = $1; sub("%", "", p); k = $2; $1 = ""; $2 = ""; s = $0; c = "other (std, hashing, time, fmt)"
  if (k == "[k]") c = "kernel (TCP over loopback, syscalls, scheduling)"
  else if (s ~ /nistz256|bignum|bn_|BN_|ecdsa|ECDSA|ec_|EC_|p256|sha512|rdrand|aes_hw|CRYPTO_|EVP|evp/) c = "ES256 signature (aws-lc: P-256, its nonce, DER)"
  else if (s ~ /sha256|hmac|HMAC/) c = "SHA-256 (the token signature hash, the cache HMAC)"
  else if (s ~ /mi_|malloc|free|memmove|memcpy|memset|memcmp/) c = "allocation (mimalloc), memcpy"
  else if (s ~ /hyper|axum|tower|tokio|http::|http_body|bytes::|mio::|atomic_waker/) c = "hyper / axum / tokio"
  else if (s ~ /keymint::/) c = "Keymint"
  else if (s ~ /serde|base64/) c = "serde_json, base64"
  t[c] += p }
  END { for (c in t) printf "%s\t%.2f\n", c, t[c] }'
profile() { # name path kind...
  local name=$1 path=$2; shift 2
  taskset -c 1 "$CLIENT" "$URL_server" "$path" "$DUR" "$PID_server" "$@" > "$WORK/$name.client" &
  local client=$!
  sleep 2
  perf record -q -F 1999 -p "$PID_server" -o "$WORK/$name.data" -- sleep 8 >/dev/null 2>&1
  wait "$client"
  perf report -i "$WORK/$name.data" --no-children --sort sym --stdio -g none 2>/dev/null | grep '%' |
    awk "$categorise" > "$WORK/$name.shares"
  awk '/^RESULT/ { split($3, kv, "="); print kv[2] }' "$WORK/$name.client"
}
healthz_us=$(profile healthz /healthz healthz)
token_us=$(profile token /production/oauth2/token post 1000 "$SECRET")
echo "CPU per answer: /healthz $healthz_us µs, warm token $token_us µs ($BIN)"
echo
echo "| where | µs per token | µs per /healthz | beyond /healthz |"
echo "|---|---|---|---|"
join -t$'\t' -a1 -a2 -e0 -o 0,1.2,2.2 <(sort "$WORK/token.shares") <(sort "$WORK/healthz.shares") |
  awk -F'\t' -v t="$token_us" -v h="$healthz_us" '{ a = $2 * t / 100; b = $3 * h / 100; printf "%.2f\t| %s | %.1f | %.1f | %.1f |\n", a, $1, a, b, a - b }' |
  sort -rn | cut -f2
awk -v t="$token_us" -v h="$healthz_us" 'BEGIN { printf "| total | %.1f | %.1f | %.1f |\n", t, h, t - h }'
