# Shared by the bench scripts (sourced after ROOT and DUR are set): wrk present, a work
# folder (and database) removed on exit with every instance started, instance start-up,
# wrk runs and means.
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
export PGPASSWORD=${KEYMINT_CI_PG_PASSWORD:-postgres}
# Instances sharing a database share its signing keys, so they need the same encryption key.
KEYMINT_ENCRYPTION_KEYS="ek_bench:$(head -c 32 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')"
export KEYMINT_ENCRYPTION_KEYS
PIDS=()
DB=""
WORK=$(mktemp -d)
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ -n "$DB" ]; then
    psql -h 127.0.0.1 -U postgres -d postgres -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

need_postgres() { # name: starts the local PostgreSQL 15 if down, creates database $1 (dropped on exit)
  pg_isready -h 127.0.0.1 -q || pg_ctlcluster --skip-systemctl-redirect 15 main start
  DB=$1
  psql -h 127.0.0.1 -U postgres -d postgres -qc "CREATE DATABASE $DB"
}

start() { # name database_url binary [VAR=value...]: starts an instance, sets URL_<name> and PID_<name>
  local name=$1 url=$2 bin=$3; shift 3
  mkdir -p "$WORK/$name"
  (cd "$WORK/$name" && exec env DATABASE_URL="$url" KEYMINT_LISTEN=127.0.0.1:0 RUST_LOG=warn,keymint::cli::serve=info "$@" "$bin" serve) 2> "$WORK/$name.log" &
  local pid=$!
  PIDS+=("$pid")
  for _ in $(seq 1 300); do
    addr=$(grep 'keymint serving' "$WORK/$name.log" | grep -o 'address=[0-9.:]*' | head -1 | cut -d= -f2 || true)
    [ -n "$addr" ] && break
    sleep 0.1
  done
  [ -n "$addr" ] || { cat "$WORK/$name.log" >&2; exit 1; }
  printf -v "URL_$name" 'http://%s' "$addr"
  printf -v "PID_$name" '%s' "$pid"
}
wrk_run() { # url script keys secret connections -> "rps p50 p99 requests errors"
  KEYS=$3 SECRET=$4 wrk -t2 -c"$5" -d"${DUR}s" --timeout 5s -s "$ROOT/bench/$2" "$1" 2>&1 |
    awk '/^RESULT/ { for (i = 2; i <= NF; i++) { split($i, kv, "="); printf "%s ", kv[2] } print "" }'
}
mean() { awk '{ s += $1 } END { printf "%.0f", s / NR }'; }
field() { echo "$1" | awk -v n="$2" '{ print $n }'; }
