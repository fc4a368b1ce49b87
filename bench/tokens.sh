#!/usr/bin/env bash
# Token-path benchmark (fast path issue): one release build, Keymint on SQLite and on
# PostgreSQL, wrk over loopback, runs interleaved A B A B so drift cancels. Prints one
# table. Takes about 10 minutes on 2 cores (mostly warming 10,000 keys: one argon2id
# verification each).
#
# Usage: bench/tokens.sh            (PostgreSQL 15 on 127.0.0.1:5432, as in .ci/run)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
DUR=${DUR:-10}
KEYS=10000
cargo build --release --quiet --bin keymint --example bench_tool
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/keymint"
TOOL="${CARGO_TARGET_DIR:-$ROOT/target}/release/examples/bench_tool"
source "$ROOT/bench/lib.sh"
need_postgres "keymint_tokens_$$"

rss_mib() { awk '/VmRSS/ {printf "%.0f", $2/1024}' "/proc/$1/status"; }
reset_peak() { echo 5 > "/proc/$1/clear_refs"; }
peak_mib() { awk '/VmHWM/ {printf "%.0f", $2/1024}' "/proc/$1/status"; }

echo "seeding $KEYS keys in SQLite and PostgreSQL..." >&2
SECRET_sqlite=$("$TOOL" seed "sqlite://$WORK/sqlite.db" $KEYS)
SECRET_pg=$("$TOOL" seed "postgres://postgres:$PGPASSWORD@127.0.0.1:5432/$DB" $KEYS)
SECRET_cold=$("$TOOL" seed "sqlite://$WORK/cold.db" 1)
# The flood connects from loopback, a trusted proxy by default, so it can name addresses.
start sqlite "sqlite://$WORK/sqlite.db" "$BIN"
start pg "postgres://postgres:$PGPASSWORD@127.0.0.1:5432/$DB" "$BIN"
start cold "sqlite://$WORK/cold.db" "$BIN" KEYMINT_CACHE_CAPACITY=0
IDLE_sqlite=$(rss_mib "$PID_sqlite"); IDLE_pg=$(rss_mib "$PID_pg")

echo "argon2 ceiling..." >&2
CEILING=$("$TOOL" ceiling 5)
echo "warming $KEYS keys on each instance (one verification each)..." >&2
reset_peak "$PID_sqlite"; reset_peak "$PID_pg"
"$TOOL" warm "$URL_sqlite" "$SECRET_sqlite" $KEYS
"$TOOL" warm "$URL_pg" "$SECRET_pg" $KEYS
WARMUP_PEAK_sqlite=$(peak_mib "$PID_sqlite"); WARMUP_PEAK_pg=$(peak_mib "$PID_pg")

declare -A R PEAK
for round in 1 2; do
  for b in sqlite pg; do
    url_var="URL_$b"; pid_var="PID_$b"; secret_var="SECRET_$b"
    reset_peak "${!pid_var}"
    R[$b,healthz,$round]=$(wrk_run "${!url_var}/healthz" healthz.lua 1 x 64)
    R[$b,warm1,$round]=$(wrk_run "${!url_var}" token.lua 1 "${!secret_var}" 64)
    R[$b,warm10k,$round]=$(wrk_run "${!url_var}" token.lua $KEYS "${!secret_var}" 64)
    PEAK[$b,$round]=$(peak_mib "${!pid_var}")
    echo "round $round $b: healthz ${R[$b,healthz,$round]}| warm1 ${R[$b,warm1,$round]}| warm10k ${R[$b,warm10k,$round]}" >&2
  done
done

echo "cold (cache off: every request verifies)..." >&2
reset_peak "$PID_cold"
COLD=$(wrk_run "$URL_cold" token.lua 1 "$SECRET_cold" 8)
COLD_PEAK=$(peak_mib "$PID_cold")

echo "mixed: wrong-secret floods at 4x the argon2 ceiling + honest warm clients (SQLite)..." >&2
FLOOD_RATE=$(awk -v c="$CEILING" 'BEGIN { printf "%.0f", 4 * c }')
reset_peak "$PID_sqlite"
"$TOOL" flood "$URL_sqlite" "$FLOOD_RATE" "$DUR" > "$WORK/flood.txt" &
FLOOD_PID=$!
MIXED=$(wrk_run "$URL_sqlite" token.lua 1 "$SECRET_sqlite" 8)
wait $FLOOD_PID
FLOOD=$(cat "$WORK/flood.txt")
"$TOOL" flood "$URL_sqlite" "$FLOOD_RATE" "$DUR" distributed > "$WORK/dflood.txt" &
FLOOD_PID=$!
DMIXED=$(wrk_run "$URL_sqlite" token.lua 1 "$SECRET_sqlite" 8)
wait $FLOOD_PID
DFLOOD=$(cat "$WORK/dflood.txt")
MIXED_PEAK=$(peak_mib "$PID_sqlite")

echo "scale: 990,000 more keys in PostgreSQL..." >&2
"$TOOL" seed "postgres://postgres:$PGPASSWORD@127.0.0.1:5432/$DB" 990000 $KEYS >/dev/null
reset_peak "$PID_pg"
SCALE_A=$(wrk_run "$URL_pg" token.lua $KEYS "$SECRET_pg" 64)
SCALE_B=$(wrk_run "$URL_pg" token.lua $KEYS "$SECRET_pg" 64)
SCALE_PEAK=$(peak_mib "$PID_pg")
TOTAL_KEYS=$(psql -h 127.0.0.1 -U postgres -d "$DB" -tAc "SELECT COUNT(*) FROM api_keys")

avg() { for r in 1 2; do field "${R[$1,$2,$r]}" "$3"; done | mean; }
echo
echo "| phase | SQLite | PostgreSQL |"
echo "|---|---|---|"
echo "| /healthz requests/s (HTTP ceiling) | $(avg sqlite healthz 1) | $(avg pg healthz 1) |"
echo "| warm tokens/s, 1 key | $(avg sqlite warm1 1) | $(avg pg warm1 1) |"
echo "| warm p50 / p99 ms, 1 key | $(avg sqlite warm1 2) / $(avg sqlite warm1 3) | $(avg pg warm1 2) / $(avg pg warm1 3) |"
echo "| warm tokens/s, $KEYS keys round-robin | $(avg sqlite warm10k 1) | $(avg pg warm10k 1) |"
echo "| warm p50 / p99 ms, $KEYS keys | $(avg sqlite warm10k 2) / $(avg sqlite warm10k 3) | $(avg pg warm10k 2) / $(avg pg warm10k 3) |"
echo "| warm / healthz | $(awk -v a="$(avg sqlite warm10k 1)" -v b="$(avg sqlite healthz 1)" 'BEGIN{printf "%.2f", a/b}') | $(awk -v a="$(avg pg warm10k 1)" -v b="$(avg pg healthz 1)" 'BEGIN{printf "%.2f", a/b}') |"
echo "| errors in warm runs | $(for r in 1 2; do field "${R[sqlite,warm1,$r]}" 5; field "${R[sqlite,warm10k,$r]}" 5; done | paste -sd+ | bc) | $(for r in 1 2; do field "${R[pg,warm1,$r]}" 5; field "${R[pg,warm10k,$r]}" 5; done | paste -sd+ | bc) |"
echo "| idle RSS MiB (after start) | $IDLE_sqlite | $IDLE_pg |"
echo "| peak RSS MiB: warm-up / warm runs | $WARMUP_PEAK_sqlite / $(printf '%s\n' "${PEAK[sqlite,1]}" "${PEAK[sqlite,2]}" | sort -n | tail -1) | $WARMUP_PEAK_pg / $(printf '%s\n' "${PEAK[pg,1]}" "${PEAK[pg,2]}" | sort -n | tail -1) |"
echo
echo "| phase | figure |"
echo "|---|---|"
echo "| argon2id ceiling (verifications/s, all cores) | $CEILING |"
echo "| cold tokens/s (cache off, SQLite) | $(field "$COLD" 1) (p99 $(field "$COLD" 3) ms, peak RSS $COLD_PEAK MiB) |"
echo "| cold / ceiling | $(awk -v a="$(field "$COLD" 1)" -v b="$CEILING" 'BEGIN{printf "%.2f", a/b}') |"
echo "| mixed: flood of new wrong secrets from one address at ${FLOOD_RATE}/s (4x ceiling), answers | $FLOOD |"
echo "| mixed: honest warm clients meanwhile: tokens/s, p99 ms, success | $(field "$MIXED" 1), $(field "$MIXED" 3), $(awk -v r="$(field "$MIXED" 4)" -v e="$(field "$MIXED" 5)" 'BEGIN{printf "%.2f%%", 100*(r-e)/r}') |"
echo "| mixed: the same flood from a new address per request, answers | $DFLOOD |"
echo "| mixed: honest warm clients meanwhile: tokens/s, p99 ms, success | $(field "$DMIXED" 1), $(field "$DMIXED" 3), $(awk -v r="$(field "$DMIXED" 4)" -v e="$(field "$DMIXED" 5)" 'BEGIN{printf "%.2f%%", 100*(r-e)/r}') |"
echo "| mixed: peak RSS MiB | $MIXED_PEAK |"
echo "| scale: warm tokens/s, $KEYS keys of $TOTAL_KEYS in PostgreSQL (2 runs) | $(field "$SCALE_A" 1), $(field "$SCALE_B" 1) (peak RSS $SCALE_PEAK MiB) |"
