#!/usr/bin/env bash
# Keys without a secret against warm secret tokens, in one run: on SQLite and on
# PostgreSQL, one release instance each, wrk over loopback at 64 connections, rounds
# interleaved A B A B. Per backend: warm secret tokens/s (the reference), private_key_jwt
# tokens/s (every request a fresh assertion: one signature check and one jti insert) and
# federated tokens/s (one outside token reused: discovery and keys cached, the token remembered once verified), with p99, and
# the ratios the issue sets (private_key_jwt >= 0.25 x, federated >= 0.5 x, p99 < 20 ms).
#
# Usage: bench/assertions.sh        (PostgreSQL 15 on 127.0.0.1:5432, as in .ci/run)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
DUR=${DUR:-8}
ASSERTIONS=${ASSERTIONS:-150000}
cargo build --release --quiet --bin keymint --example bench_tool --example assertion_bench
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/keymint"
TOOL="${CARGO_TARGET_DIR:-$ROOT/target}/release/examples/bench_tool"
AB="${CARGO_TARGET_DIR:-$ROOT/target}/release/examples/assertion_bench"
source "$ROOT/bench/lib.sh"
need_postgres "keymint_assertions_$$"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

declare -A DBURL=([sqlite]="sqlite://$WORK/sqlite.db" [pg]="postgres://postgres:$PGPASSWORD@127.0.0.1:5432/$DB")
declare -A SECRET
for b in sqlite pg; do
  SECRET[$b]=$("$TOOL" seed "${DBURL[$b]}" 1)
  start "$b" "${DBURL[$b]}" "$BIN"
done
for b in sqlite pg; do
  url_var="URL_$b"
  mkdir -p "$WORK/bodies-$b"
  echo "signing $ASSERTIONS assertions for $b..." >&2
  "$AB" setup "${DBURL[$b]}" "${!url_var}" "$ASSERTIONS" "$WORK/bodies-$b" "$PORT" "$WORK/issuer.der"
  "$TOOL" warm "${!url_var}" "${SECRET[$b]}" 1
done
# The outside issuer both federated keys trust (discovery and JWKS on loopback).
"$AB" issuer "$PORT" "$WORK/issuer.der" &
PIDS+=("$!")
sleep 0.5

assertions() { # url bodies once connections
  BODIES=$2 ONCE=$3 wrk -t2 -c"$4" -d"${DUR}s" --timeout 5s -s "$ROOT/bench/assertion.lua" "$1" 2>&1 |
    awk '/^RESULT/ { for (i = 2; i <= NF; i++) { split($i, kv, "="); printf "%s ", kv[2] } print "" }'
}

declare -A R
for round in 1 2; do
  for b in sqlite pg; do
    url_var="URL_$b"
    R[$b,secret,$round]=$(wrk_run "${!url_var}" token.lua 1 "${SECRET[$b]}" 64)
    # Each round its own half of the assertions, so none is replayed.
    split_file="$WORK/bodies-$b/round$round.txt"
    half=$((ASSERTIONS / 2))
    if [ "$round" = 1 ]; then head -n "$half" "$WORK/bodies-$b/assertions.txt" > "$split_file"
    else tail -n "$half" "$WORK/bodies-$b/assertions.txt" > "$split_file"; fi
    R[$b,pkj,$round]=$(assertions "${!url_var}" "$split_file" 1 64)
    R[$b,fed,$round]=$(assertions "${!url_var}" "$WORK/bodies-$b/federated.txt" 0 64)
    echo "round $round $b: secret ${R[$b,secret,$round]}| pkj ${R[$b,pkj,$round]}| federated ${R[$b,fed,$round]}" >&2
  done
done

printf '\n| backend | warm secret tokens/s (p99 ms) | private_key_jwt tokens/s (p99 ms per round, errors) | federated tokens/s (p99 ms per round, errors) | pkj / secret | federated / secret |\n|---|---|---|---|---|---|\n'
for b in sqlite pg; do
  s=$( (field "${R[$b,secret,1]}" 1; field "${R[$b,secret,2]}" 1) | mean)
  sp=$( (field "${R[$b,secret,1]}" 3; field "${R[$b,secret,2]}" 3) | mean)
  p=$( (field "${R[$b,pkj,1]}" 1; field "${R[$b,pkj,2]}" 1) | mean)
  pp="$(field "${R[$b,pkj,1]}" 3) / $(field "${R[$b,pkj,2]}" 3)"; pe=$(( $(field "${R[$b,pkj,1]}" 5) + $(field "${R[$b,pkj,2]}" 5) ))
  f=$( (field "${R[$b,fed,1]}" 1; field "${R[$b,fed,2]}" 1) | mean)
  fp="$(field "${R[$b,fed,1]}" 3) / $(field "${R[$b,fed,2]}" 3)"; fe=$(( $(field "${R[$b,fed,1]}" 5) + $(field "${R[$b,fed,2]}" 5) ))
  printf '| %s | %s (%s) | %s (%s, %s) | %s (%s, %s) | %s | %s |\n' "$b" "$s" "$sp" "$p" "$pp" "$pe" "$f" "$fp" "$fe" \
    "$(awk -v a="$p" -v b="$s" 'BEGIN { printf "%.2f", a / b }')" "$(awk -v a="$f" -v b="$s" 'BEGIN { printf "%.2f", a / b }')"
done
