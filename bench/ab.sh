#!/usr/bin/env bash
# A/B of two Keymint builds on the warm token path, interleaved so the noisy machine
# cancels out: both builds serve the same 10,000 seeded keys on one SQLite file and on one
# PostgreSQL database (two instances per database, the normal case), each warmed once;
# then, per round, /healthz and warm tokens (10,000 keys round-robin) for A, B, A, B on
# each backend. Prints requests/s and p99 per build and backend, and warm / healthz.
# Takes about 10 minutes on 2 cores (mostly warming: one argon2id verification per key
# per instance).
#
# Usage: bench/ab.sh BIN_A [BIN_B]   (BIN_B defaults to this checkout's release build)
#        TOOL_A=path/to/A/bench_tool bench/ab.sh BIN_A   when A's migrations differ from B's:
#        A then serves its own copies of the databases, seeded by its own tool.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
DUR=${DUR:-10}
KEYS=10000
ROUNDS=${ROUNDS:-2}
cargo build --release --quiet --bin keymint --example bench_tool
A=$(realpath "${1:?usage: bench/ab.sh BIN_A [BIN_B]}")
B=$(realpath "${2:-${CARGO_TARGET_DIR:-$ROOT/target}/release/keymint}")
TOOL="${CARGO_TARGET_DIR:-$ROOT/target}/release/examples/bench_tool"
source "$ROOT/bench/lib.sh"
need_postgres "keymint_ab_$$"
PG="postgres://postgres:$PGPASSWORD@127.0.0.1:5432/$DB"

echo "seeding $KEYS keys in SQLite and PostgreSQL..." >&2
DB_B_sqlite="sqlite://$WORK/keymint.db"; DB_B_pg="$PG"
SECRET_B_sqlite=$("$TOOL" seed "$DB_B_sqlite" $KEYS)
SECRET_B_pg=$("$TOOL" seed "$DB_B_pg" $KEYS)
if [ -n "${TOOL_A:-}" ]; then
  psql -h 127.0.0.1 -U postgres -d postgres -qc "CREATE DATABASE ${DB}_a"
  drop_a() { psql -h 127.0.0.1 -U postgres -d postgres -qc "DROP DATABASE IF EXISTS ${DB}_a WITH (FORCE)" >/dev/null 2>&1 || true; }
  trap 'cleanup; drop_a' EXIT
  DB_A_sqlite="sqlite://$WORK/a.db"; DB_A_pg="postgres://postgres:$PGPASSWORD@127.0.0.1:5432/${DB}_a"
  SECRET_A_sqlite=$("$TOOL_A" seed "$DB_A_sqlite" $KEYS)
  SECRET_A_pg=$("$TOOL_A" seed "$DB_A_pg" $KEYS)
else
  DB_A_sqlite=$DB_B_sqlite; DB_A_pg=$DB_B_pg
  SECRET_A_sqlite=$SECRET_B_sqlite; SECRET_A_pg=$SECRET_B_pg
fi
# Warming takes minutes and the runs after it more: keep cached verifications longer than
# the default 15 min, so late rounds do not measure the first-warmed instances cold.
for build in A B; do
  sqlite_db="DB_${build}_sqlite"; pg_db="DB_${build}_pg"
  start "${build}_sqlite" "${!sqlite_db}" "${!build}" KEYMINT_CACHE_TTL=7200
  start "${build}_pg" "${!pg_db}" "${!build}" KEYMINT_CACHE_TTL=7200
done
echo "warming $KEYS keys on each of the 4 instances..." >&2
for name in A_sqlite B_sqlite A_pg B_pg; do
  url="URL_$name"; secret="SECRET_$name"
  "$TOOL" warm "${!url}" "${!secret}" $KEYS
done

declare -A R
for round in $(seq 1 "$ROUNDS"); do
  for backend in sqlite pg; do
    for build in A B; do
      url="URL_${build}_$backend"; secret="SECRET_${build}_$backend"
      R[$build,$backend,healthz,$round]=$(wrk_run "${!url}/healthz" healthz.lua 1 x 64)
      R[$build,$backend,warm,$round]=$(wrk_run "${!url}" token.lua $KEYS "${!secret}" 64)
      echo "round $round $backend $build: healthz ${R[$build,$backend,healthz,$round]}| warm ${R[$build,$backend,warm,$round]}" >&2
    done
  done
done

avg() { for r in $(seq 1 "$ROUNDS"); do field "${R[$1,$2,$3,$r]}" "$4"; done | mean; }
avg2() { for r in $(seq 1 "$ROUNDS"); do field "${R[$1,$2,$3,$r]}" "$4"; done | awk '{ s += $1 } END { printf "%.2f", s / NR }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
echo
echo "A = $A"
echo "B = $B"
echo
echo "| backend | build | /healthz req/s | warm tokens/s ($KEYS keys) | warm p99 ms | warm / healthz | errors |"
echo "|---|---|---|---|---|---|---|"
for backend in sqlite pg; do
  for build in A B; do
    h=$(avg $build $backend healthz 1); w=$(avg $build $backend warm 1)
    errors=$(for r in $(seq 1 "$ROUNDS"); do field "${R[$build,$backend,warm,$r]}" 5; done | paste -sd+ | bc)
    echo "| $backend | $build | $h | $w | $(avg2 $build $backend warm 3) | $(ratio "$w" "$h") | $errors |"
  done
done
