#!/usr/bin/env bash
# Gatehouse against the physical limit of its own stack, in one run on this machine: every
# figure is set beside a bare Hummingbird 2 server (benchmarks/bare, one route answering what
# Gatehouse's GET /health answers) measured in the same run, or beside another figure of the
# same run, and checked against its target. Builds both release binaries, installs wrk, seeds
# users and sessions with SQL (benchmarks/seed.py), and prints one table.
#   benchmarks/run.sh [seconds per measure (10)] [connections (32)]
#   MANY_SECONDS=130 (the /me phase over 1,000 sessions, in 10-s windows: at least two minutes,
#   so that the sessions' once-a-minute last-seen touches come due twice)
#   BIG_USERS=1000000 (the users of the second half, against 1,000 in the first)
# The general rate limit is lifted for the run, and the sign-in lockout is not met (the
# password is right); the metrics listener takes a free port.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-10}
connections=${2:-32}
many_seconds=${MANY_SECONDS:-130}
big_users=${BIG_USERS:-1000000}
scripts/install-deps.sh --bench
source benchmarks/common.sh
swift build -c release --package-path benchmarks/bare --scratch-path .build-bare >"$work/build-bare.log" 2>&1 || {
    cat "$work/build-bare.log" >&2
    exit 1
}
bare_binary=.build-bare/release/bare

export GATEHOUSE_DATABASE_PATH="$work/gatehouse.sqlite"
export GATEHOUSE_SERVER_HOST=127.0.0.1 GATEHOUSE_SERVER_PORT=0 GATEHOUSE_LOG_LEVEL=notice
export GATEHOUSE_METRICS_PORT=0
export GATEHOUSE_POLICIES_RATE_LIMIT_GENERAL_LIMIT=10000000
export GATEHOUSE_POLICIES_RATE_LIMIT_REGISTER_LIMIT=1000000
hash_threads=$(($(nproc) > 1 ? $(nproc) - 1 : 1))
at_once=$((2 * hash_threads)) # sign-in and registration loops: twice the hashing threads

wrk_args=(-t2 -c"$connections" -d"${seconds}s")

# --- The bare route -------------------------------------------------------------------------
launch bare "$bare_binary" 0
bare_start=$started_ms
sleep 3
bare_rss=$(rss_mib)
read -r bare_rps bare_p99 _ < <(measure "${wrk_args[@]}" "http://127.0.0.1:$port/health")
stop

# --- Gatehouse with 1,000 users -------------------------------------------------------------
GATEHOUSE_PASSWORD='Load!Test42' "$binary" user create --config etc/gatehouse.yaml \
    --email bench@example.test --first-name Bench --last-name Mark --role admin >/dev/null
# The sign-in loops sign this one in (its sessions beyond 20 are pruned, nobody else's).
GATEHOUSE_PASSWORD='Load!Test42' "$binary" user create --config etc/gatehouse.yaml \
    --email signin@bench.test --first-name Sign --last-name In >/dev/null
python3 benchmarks/seed.py "$GATEHOUSE_DATABASE_PATH" 1000 1000 "$work/tokens"
# Started once to settle the files, then measured on a restart, as an operator restarts it.
launch gatehouse "$binary" serve --config etc/gatehouse.yaml
stop
launch gatehouse "$binary" serve --config etc/gatehouse.yaml
gh_start=$started_ms
sleep 3
gh_rss=$(rss_mib)
base="http://127.0.0.1:$port"
token=$(curl -sf -X POST "$base/api/auth/login" -H 'Content-Type: application/json' \
    -d '{"email":"bench@example.test","password":"Load!Test42"}' | sed -n 's/.*"token":"\([^"]*\)".*/\1/p')
[[ -n "$token" ]] || {
    echo "login failed" >&2
    exit 1
}
read -r health_rps health_p99 _ < <(measure "${wrk_args[@]}" "$base/health")
read -r me1_rps me1_p99 me1_bad < <(measure "${wrk_args[@]}" -H "Authorization: Bearer $token" "$base/api/users/me")

# /me over 1,000 sessions of 1,000 users, in 10-s windows for MANY_SECONDS.
windows=()
many_bad=0
for _ in $(seq $((many_seconds / 10))); do
    read -r rps p99 bad < <(measure -t2 -c"$connections" -d10s -s "$work/tokens.lua" "$base/api/users/me" -- "$work/tokens")
    windows+=("$rps:$p99")
    many_bad=$((many_bad + bad))
done
# The same during sign-ins flat out (twice the hashing threads, each in a loop).
wrk -t1 -c"$at_once" -d"$((seconds + 4))s" -s "$work/login.lua" "$base/api/auth/login" >"$work/signins.log" 2>&1 &
signins=$!
sleep 2
read -r busy_rps busy_p99 _ < <(measure -t2 -c"$connections" -d"${seconds}s" -s "$work/tokens.lua" "$base/api/users/me" -- "$work/tokens")
wait "$signins"
signin_rate=$(awk '/Requests\/sec/ {printf "%.1f", $2}' "$work/signins.log")
shed=$(curl -sf "http://127.0.0.1:$(sed -n 's/.*metrics on [^ ]*:\([0-9]*\).*/\1/p' "$work/gatehouse.log" | head -1)/metrics" 2>/dev/null |
    awk '/^gatehouse_password_hashes_shed_total/ {print $2}' || true)

# Registrations against the bare hashing rate of the same pool.
read -r reg_rps _ reg_bad < <(measure -t1 -c"$at_once" -d"${seconds}s" -s "$work/register.lua" "$base/api/users/register")
hash_rate=$("$binary" hash-rate --config etc/gatehouse.yaml --seconds "$seconds" --concurrency "$at_once" |
    sed -n 's/.*: \([0-9.]*\) hashes\/s.*/\1/p')

# The flat-with-users measures: run at 1,000 users here and at BIG_USERS below.
flat() { # → "me signin first deep_cursor deep_offset account_me"
    local users=$1 deep_id deep_offset
    deep_offset=$((users * 9 / 10))
    deep_id=$(printf 'cbench%019d' "$deep_offset")
    local me si first cursor offset account
    read -r me _ _ < <(measure "${wrk_args[@]}" -s "$work/tokens.lua" "$base/api/users/me" -- "$work/tokens")
    read -r si _ _ < <(measure -t1 -c"$at_once" -d"${seconds}s" -s "$work/login.lua" "$base/api/auth/login")
    read -r first _ _ < <(measure "${wrk_args[@]}" -H "Authorization: Bearer $token" "$base/api/account/users?limit=50")
    read -r cursor _ _ < <(measure "${wrk_args[@]}" -H "Authorization: Bearer $token" "$base/api/account/users?limit=50&before=$deep_id")
    read -r offset _ _ < <(measure -t2 -c"$connections" -d"$((seconds / 2 > 0 ? seconds / 2 : 1))s" -H "Authorization: Bearer $token" "$base/api/account/users?limit=50&offset=$deep_offset")
    read -r account _ _ < <(measure "${wrk_args[@]}" -H "Authorization: Bearer $token" "$base/api/account/me")
    echo "$me $si $first $cursor $offset $account"
}
read -r small_me small_signin small_first small_cursor small_offset small_account < <(flat 1000)
stop

# --- Gatehouse with BIG_USERS users ---------------------------------------------------------
seed_start=$(now_ms)
python3 benchmarks/seed.py "$GATEHOUSE_DATABASE_PATH" "$big_users"
seed_ms=$(($(now_ms) - seed_start))
launch gatehouse "$binary" serve --config etc/gatehouse.yaml
base="http://127.0.0.1:$port"
total=$(curl -sf -D - -o /dev/null -H "Authorization: Bearer $token" "$base/api/account/users?limit=1" |
    tr -d '\r' | sed -n 's/^[Xx]-[Tt]otal-[Cc]ount: //p')
read -r big_me big_signin big_first big_cursor big_offset big_account < <(flat "$big_users")
stop

# --- The table ------------------------------------------------------------------------------
bad_total=$(awk '/Non-2xx/ {n += $NF} END {print n + 0}' "$work/wrk.log")
{
    echo "bare_rps $bare_rps"
    echo "bare_p99 $bare_p99"
    echo "bare_rss $bare_rss"
    echo "bare_start $bare_start"
    echo "health_rps $health_rps"
    echo "me1_rps $me1_rps"
    echo "me1_p99 $me1_p99"
    echo "busy_p99 $busy_p99"
    echo "busy_rps $busy_rps"
    echo "signin_rate ${signin_rate:-0}"
    echo "shed ${shed:-0}"
    echo "reg_rps $reg_rps"
    echo "hash_rate ${hash_rate:-0}"
    echo "gh_rss $gh_rss"
    echo "gh_start $gh_start"
    for m in me signin first cursor offset account; do
        eval "echo small_$m \$small_$m"
        eval "echo big_$m \$big_$m"
    done
    echo "users_big ${total:-0}"
    echo "seed_ms $seed_ms"
    echo "bad $bad_total"
    echo "connections $connections"
    echo "seconds $seconds"
    echo "many_seconds $many_seconds"
    echo "at_once $at_once"
    echo "windows ${windows[*]}"
} >"$work/figures"
python3 benchmarks/table.py "$work/figures"
