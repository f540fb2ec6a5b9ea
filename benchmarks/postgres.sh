#!/usr/bin/env bash
# Gatehouse on PostgreSQL, against Gatehouse on SQLite, in one run on this machine: GET
# /api/users/me over 1,000 sessions of 1,000 users, and sign-ins, on SQLite (one process), on
# PostgreSQL with one process, and with two processes on the same database (the load split
# between them, their rates added). The PostgreSQL data is the SQLite data moved over with
# `gatehouse copy-store`. Every process, the database server and wrk share this machine's
# cores: the two-process figure says what a second process costs or gains here, not on two
# machines.
#   benchmarks/postgres.sh [seconds per measure (10)] [connections (32)]
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-10}
connections=${2:-32}
scripts/install-deps.sh --bench
scripts/install-deps.sh --test >/dev/null # PostgreSQL 15
source benchmarks/common.sh
cluster=$(mktemp -d /tmp/gatehouse-bench-pg.XXXXXX)
trap 'scripts/postgres-cluster.sh stop "$cluster"; cleanup' EXIT
url=$(scripts/postgres-cluster.sh start "$cluster")

export GATEHOUSE_DATABASE_PATH="$work/gatehouse.sqlite"
export GATEHOUSE_SERVER_HOST=127.0.0.1 GATEHOUSE_SERVER_PORT=0 GATEHOUSE_LOG_LEVEL=notice
export GATEHOUSE_METRICS_ENABLED=false
export GATEHOUSE_POLICIES_RATE_LIMIT_GENERAL_LIMIT=10000000
hash_threads=$(($(nproc) > 1 ? $(nproc) - 1 : 1))
at_once=$((2 * hash_threads))
half=$((connections / 2))

GATEHOUSE_PASSWORD='Load!Test42' "$binary" user create --config etc/gatehouse.yaml \
    --email bench@example.test --first-name Bench --last-name Mark --role admin >/dev/null
GATEHOUSE_PASSWORD='Load!Test42' "$binary" user create --config etc/gatehouse.yaml \
    --email signin@bench.test --first-name Sign --last-name In >/dev/null
python3 benchmarks/seed.py "$GATEHOUSE_DATABASE_PATH" 1000 1000 "$work/tokens"

# /me over the sessions and sign-ins against one process at `port`: "me signin".
one() {
    local me si
    read -r me _ _ < <(measure -t2 -c"$connections" -d"${seconds}s" -s "$work/tokens.lua" \
        "http://127.0.0.1:$port/api/users/me" -- "$work/tokens")
    read -r si _ _ < <(measure -t1 -c"$at_once" -d"${seconds}s" -s "$work/login.lua" \
        "http://127.0.0.1:$port/api/auth/login")
    echo "$me $si"
}

# The same, half the load on each of two processes at once, their rates added.
two() { # port1 port2 → "me signin"
    local a b
    measure -t1 -c"$half" -d"${seconds}s" -s "$work/tokens.lua" "http://127.0.0.1:$1/api/users/me" -- "$work/tokens" >"$work/a" &
    measure -t1 -c"$half" -d"${seconds}s" -s "$work/tokens.lua" "http://127.0.0.1:$2/api/users/me" -- "$work/tokens" >"$work/b"
    wait
    local me=$(($(cut -d' ' -f1 "$work/a") + $(cut -d' ' -f1 "$work/b")))
    measure -t1 -c"$hash_threads" -d"${seconds}s" -s "$work/login.lua" "http://127.0.0.1:$1/api/auth/login" >"$work/a" &
    measure -t1 -c"$hash_threads" -d"${seconds}s" -s "$work/login.lua" "http://127.0.0.1:$2/api/auth/login" >"$work/b"
    wait
    local si=$(($(cut -d' ' -f1 "$work/a") + $(cut -d' ' -f1 "$work/b")))
    echo "$me $si"
}

# --- SQLite, one process ----------------------------------------------------------------------
launch sqlite "$binary" serve --config etc/gatehouse.yaml
read -r sqlite_me sqlite_signin < <(one)
stop

# --- PostgreSQL: the same data, copied over ----------------------------------------------------
export GATEHOUSE_DATABASE_TLS=disable # the cluster listens on loopback only
copy_start=$(now_ms)
GATEHOUSE_DATABASE_URL="$url" GATEHOUSE_DATABASE_KEY_FILE="$GATEHOUSE_DATABASE_PATH.key" \
    "$binary" copy-store --config etc/gatehouse.yaml --from "sqlite:$GATEHOUSE_DATABASE_PATH" \
    >"$work/copy.log" 2>&1 || {
    cat "$work/copy.log" >&2
    exit 1
}
copy_ms=$(($(now_ms) - copy_start))
copied_rows=$(sed -n 's/.*: \([0-9]*\) rows in .*/\1/p' "$work/copy.log")
export GATEHOUSE_DATABASE_URL="$url"
export GATEHOUSE_DATABASE_KEY_FILE="$GATEHOUSE_DATABASE_PATH.key"
launch pg1 "$binary" serve --config etc/gatehouse.yaml
first_pid=$pid
first_port=$port
read -r pg_me pg_signin < <(one)
launch pg2 "$binary" serve --config etc/gatehouse.yaml
second_pid=$pid
read -r pg2_me pg2_signin < <(two "$first_port" "$port")
kill "$first_pid" "$second_pid" 2>/dev/null || true
wait "$first_pid" "$second_pid" 2>/dev/null || true

# Again with the general rate limit counted in each process (policies.rateLimit.general.
# perProcess): no shared-counter statement per request.
export GATEHOUSE_POLICIES_RATE_LIMIT_GENERAL_PER_PROCESS=true
launch pg1-local "$binary" serve --config etc/gatehouse.yaml
first_port=$port
read -r local_me _ _ < <(measure -t2 -c"$connections" -d"${seconds}s" -s "$work/tokens.lua" \
    "http://127.0.0.1:$port/api/users/me" -- "$work/tokens")
launch pg2-local "$binary" serve --config etc/gatehouse.yaml
# The database's own count of index reads of `sessions` over that run: the sessions come from
# each process's cache (a count, where a rate would be noise).
session_reads() {
    sleep 2 # the server reports its statistics about once a second
    psql "$url" -tAc "SELECT COALESCE(sum(idx_scan), 0) FROM pg_stat_user_tables WHERE relname = 'sessions'"
}
reads_before=$(session_reads)
read -r local2_me local2_signin < <(two "$first_port" "$port")
reads=$(($(session_reads) - reads_before))

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }
echo
echo "Gatehouse on PostgreSQL 15 and on SQLite, $(nproc) cores, $(date -u +%Y-%m-%d), ${seconds}-s measures, $connections connections:"
printf '%-56s %12s %10s\n' "figure" "per second" "vs SQLite"
printf '%-56s %12s %10s\n' "/me over 1,000 sessions, SQLite, one process" "$sqlite_me" "1.00"
printf '%-56s %12s %10s\n' "/me over 1,000 sessions, PostgreSQL, one process" "$pg_me" "$(ratio "$pg_me" "$sqlite_me")"
printf '%-56s %12s %10s\n' "/me over 1,000 sessions, PostgreSQL, two processes" "$pg2_me" "$(ratio "$pg2_me" "$sqlite_me")"
printf '%-56s %12s %10s\n' "/me, PostgreSQL, one process, general.perProcess" "$local_me" "$(ratio "$local_me" "$sqlite_me")"
printf '%-56s %12s %10s\n' "/me, PostgreSQL, two processes, general.perProcess" "$local2_me" "$(ratio "$local2_me" "$sqlite_me")"
printf '%-56s %12s %10s\n' "sign-ins, SQLite, one process" "$sqlite_signin" "1.00"
printf '%-56s %12s %10s\n' "sign-ins, PostgreSQL, one process" "$pg_signin" "$(ratio "$pg_signin" "$sqlite_signin")"
printf '%-56s %12s %10s\n' "sign-ins, PostgreSQL, two processes" "$pg2_signin" "$(ratio "$pg2_signin" "$sqlite_signin")"
echo "index reads of sessions over the two-process general.perProcess run: $reads (for about $((local2_me * seconds)) /me requests and $((local2_signin * seconds)) sign-ins)"
echo "copy-store: $copied_rows rows in $copy_ms ms ($(grep -E '^(users|sessions):' "$work/copy.log" | paste -sd ' '))"
