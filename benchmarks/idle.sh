#!/usr/bin/env bash
# CPU used by an idle server: the release build on the shipped config and a new database, no
# traffic. Prints the user + system CPU time the process used over [seconds] (30), after a
# 5-second settle, from /proc/PID/stat (fields 14 and 15, in clock ticks).
#   benchmarks/idle.sh [seconds]
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-30}
swift build -c release --product gatehouse --scratch-path .build-release >/dev/null 2>&1
binary=.build-release/release/gatehouse

work=$(mktemp -d)
server_pid=""
cleanup() {
    [[ -n "$server_pid" ]] && kill "$server_pid" 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

GATEHOUSE_DATABASE_PATH="$work/gatehouse.sqlite" GATEHOUSE_SERVER_HOST=127.0.0.1 GATEHOUSE_SERVER_PORT=0 \
    "$binary" serve --config etc/gatehouse.yaml >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 300); do grep -q "listening on" "$work/server.log" && break; sleep 0.1; done
grep -q "listening on" "$work/server.log" || { cat "$work/server.log" >&2; exit 1; }
ticks() { awk '{print $14 + $15}' "/proc/$server_pid/stat"; }
hz=$(getconf CLK_TCK)
sleep 5
before=$(ticks)
sleep "$seconds"
after=$(ticks)
awk -v t=$((after - before)) -v hz="$hz" -v s="$seconds" 'BEGIN {
    printf "idle server (release build), %d s: %d ticks = %.2f s of CPU (%.2f%% of one core)\n", s, t, t / hz, 100 * t / hz / s
}'
