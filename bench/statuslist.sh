#!/usr/bin/env bash
# Token status list at a million keys (issue 30): for SQLite and PostgreSQL, one release
# instance on a database of 1,000,000 keys of one environment, PCT percent of them (10 by
# default) disabled at random (scattered bits compress worst), measures:
#   - the first fetch of /production/statuslists/1: every key read, rendered, compressed
#     and signed (until the first 200: past the 4.5 s request deadline the first answer
#     is a 503 while the load goes on), and the server's own build time (the
#     keymint_status_list_build_seconds gauge: render + compress + sign);
#   - a fetch served from memory (the median of 20);
#   - the fetch after one key is disabled by another process (the CLI): what a change
#     costs (the change read, the million statuses rendered again, compressed, signed);
#   - the list token's bytes, and the instance's RSS before and after the first fetch.
#
# Usage: [PCT=10] [KEYS=1000000] bench/statuslist.sh [sqlite|postgres|both]   (PostgreSQL 15 on 127.0.0.1:5432)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
DUR=1
KEYS=${KEYS:-1000000}
PCT=${PCT:-10}   # percent of keys disabled at random
WHICH=${1:-both}
cargo build --release --quiet --bin keymint --example bench_tool
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/keymint"
TOOL="${CARGO_TARGET_DIR:-$ROOT/target}/release/examples/bench_tool"
source "$ROOT/bench/lib.sh"

rss_kib() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
ms() { curl -s -o "$WORK/list.jwt" -w '%{time_total}' "$1" | awk '{ printf "%.1f", $1 * 1000 }'; }
# Milliseconds until the list is first served: a first load longer than the request
# deadline answers 503 and goes on in the background, so ask again until 200.
first_ms() {
  local t0 t1
  t0=$(date +%s%N)
  until [ "$(curl -s -o "$WORK/list.jwt" -w '%{http_code}' "$1")" = 200 ]; do sleep 0.05; done
  t1=$(date +%s%N)
  awk -v ns=$((t1 - t0)) 'BEGIN { printf "%.0f", ns / 1e6 }'
}
metric() { curl -s "$1/metrics" | awk -v n="$2" '$1 == n { print $2 }'; }

run() { # backend database_url disable_sql
  local backend=$1 url=$2
  echo "seeding $KEYS keys ($backend)..." >&2
  "$TOOL" seed "$url" "$KEYS" 0 cheap >/dev/null
  psql_or_sqlite "$url" "$3"
  start "$backend" "$url" "$BIN"
  local base pid before after cold warm change build bytes
  base=$(eval echo "\$URL_$backend")
  pid=$(eval echo "\$PID_$backend")
  before=$(rss_kib "$pid")
  cold=$(first_ms "$base/production/statuslists/1")
  after=$(rss_kib "$pid")
  build=$(metric "$base" keymint_status_list_build_seconds)
  bytes=$(wc -c < "$WORK/list.jwt")
  warm=$(for _ in $(seq 1 20); do ms "$base/production/statuslists/1"; echo; done | sort -n | awk 'NR == 10')
  (cd "$WORK/$backend" && DATABASE_URL="$url" "$BIN" keys disable kmc_bench00000002 >/dev/null)
  sleep 0.5
  change=$(ms "$base/production/statuslists/1")
  local rebuild
  rebuild=$(metric "$base" keymint_status_list_build_seconds)
  printf '| %s | %s | %s ms (build %.0f ms) | %s ms | %s ms (build %.0f ms) | %s | %s MiB |\n' \
    "$backend" "$KEYS" "$cold" "$(awk -v s="$build" 'BEGIN { print s * 1000 }')" "$warm" "$change" \
    "$(awk -v s="$rebuild" 'BEGIN { print s * 1000 }')" "$bytes" "$(( (after - before) / 1024 ))"
  kill "$pid"; wait "$pid" 2>/dev/null || true
}

psql_or_sqlite() { # url sql
  if [[ $1 == postgres* ]]; then psql -q "$1" -c "$2"; else sqlite3 "${1#sqlite://}" "$2"; fi
}

echo "| backend | keys | first fetch (all keys read) | from memory (median) | after one disable | list token bytes | RSS added |"
echo "|---|---|---|---|---|---|---|"
if [ "$WHICH" != postgres ]; then
  command -v sqlite3 >/dev/null || { apt-get update -qq && apt-get install -y -qq sqlite3 >/dev/null; }
  run sqlite "sqlite://$WORK/statuslist.db" "UPDATE api_keys SET enabled = FALSE, disabled_reason = 'manual' WHERE abs(random()) % 100 < $PCT"
fi
if [ "$WHICH" != sqlite ]; then
  need_postgres "keymint_statuslist_$$"
  run postgres "postgres://postgres:$PGPASSWORD@127.0.0.1:5432/$DB" "UPDATE api_keys SET enabled = FALSE, disabled_reason = 'manual' WHERE random() < $PCT / 100.0"
fi
