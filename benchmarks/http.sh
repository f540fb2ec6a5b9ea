#!/usr/bin/env bash
# Request throughput of the release build, with wrk on loopback, all in one run: the bare
# GET /health; GET /api/users/me with a Bearer session token and with an API key; StellarStack's
# GET /api/account/me and GET /api/account/users?limit=50 (as an admin) with 10,000 users in the
# database (seeded with sqlite3 straight into the users table: hashing 10,000 passwords would
# take minutes and measure nothing).
#   benchmarks/http.sh [seconds] [connections]
# The general rate limit is lifted for the run (it would otherwise answer 429 after 600).
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-10}
connections=${2:-32}
scripts/install-deps.sh --bench
source benchmarks/common.sh

export GATEHOUSE_DATABASE_PATH="$work/gatehouse.sqlite"
export GATEHOUSE_SERVER_HOST=127.0.0.1 GATEHOUSE_SERVER_PORT=0 GATEHOUSE_LOG_LEVEL=notice
export GATEHOUSE_POLICIES_RATE_LIMIT_GENERAL_LIMIT=10000000
GATEHOUSE_PASSWORD='Load!Test42' "$binary" user create --config etc/gatehouse.yaml \
    --email bench@example.test --first-name Bench --last-name Mark --role admin >/dev/null
users=${USERS:-10000}
sqlite3 "$GATEHOUSE_DATABASE_PATH" <<SQL
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $users - 1)
INSERT INTO users (id, email, passwordHash, firstName, lastName, role, portalType, emailVerified,
    twoFactorEnabled, suspended, settings, createdAt, updatedAt)
SELECT printf('cbench%019d', i), printf('user%d@bench.test', i),
    (SELECT passwordHash FROM users WHERE email = 'bench@example.test'), 'User', printf('%d', i),
    'user', 'free', 1, 0, 0, '{}', datetime('now', printf('-%d seconds', i)),
    datetime('now', printf('-%d seconds', i))
FROM n;
SQL

start_server
base="http://127.0.0.1:$port"

token=$(curl -sf -X POST "$base/api/auth/login" -H 'Content-Type: application/json' \
    -d '{"email":"bench@example.test","password":"Load!Test42"}' | sed -n 's/.*"token":"\([^"]*\)".*/\1/p')
[[ -n "$token" ]] || { echo "login failed" >&2; exit 1; }
apikey=$(curl -sf -X POST "$base/api/apikeys" -H 'Content-Type: application/json' \
    -H "Authorization: Bearer $token" -d '{"name":"benchmark"}' | sed -n 's/.*"key":"\([^"]*\)".*/\1/p')
[[ -n "$apikey" ]] || { echo "API key creation failed" >&2; exit 1; }

rps() { # wrk arguments...
    wrk -t2 -c"$connections" -d"${seconds}s" --latency "$@" | tee -a "$work/wrk.log" |
        awk '/Requests\/sec/ {print $2}'
}
bare=$(rps "$base/health")
me=$(rps -H "Authorization: Bearer $token" "$base/api/users/me")
key=$(rps -H "X-API-Key: $apikey" "$base/api/users/me")
account=$(rps -H "Authorization: Bearer $token" "$base/api/account/me")
list=$(rps -H "Authorization: Bearer $token" "$base/api/account/users?limit=50")
total=$(curl -sf -D - -o /dev/null -H "Authorization: Bearer $token" "$base/api/account/users?limit=50" |
    tr -d '\r' | sed -n 's/^[Xx]-[Tt]otal-[Cc]ount: //p')
non2xx=$(grep -c "Non-2xx" "$work/wrk.log" || true)
awk -v b="$bare" -v m="$me" -v k="$key" -v a="$account" -v l="$list" -v t="$total" \
    -v c="$connections" -v s="$seconds" -v n="$non2xx" 'BEGIN {
    printf "wrk, %d connections, %d s each (release build, loopback)\n", c, s
    printf "  GET /health (bare route):          %10.0f requests/s\n", b
    printf "  GET /api/users/me (session token): %10.0f requests/s   ratio %.2f\n", m, m / b
    printf "  GET /api/users/me (API key):       %10.0f requests/s   ratio %.2f\n", k, k / b
    printf "  GET /api/account/me:               %10.0f requests/s   ratio %.2f\n", a, a / b
    printf "  GET /api/account/users?limit=50:   %10.0f requests/s   (%d users)\n", l, t
    if (n > 0) print "  (some replies were not 2xx!)"
}'
