#!/usr/bin/env bash
# CPU used by an idle server: the release build on the shipped config and a new database, no
# traffic. Prints the user + system CPU time the process used over [seconds] (30), after a
# 5-second settle, from /proc/PID/stat (fields 14 and 15, in clock ticks).
#   benchmarks/idle.sh [seconds]
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-30}
source benchmarks/common.sh

export GATEHOUSE_DATABASE_PATH="$work/gatehouse.sqlite" GATEHOUSE_SERVER_HOST=127.0.0.1 GATEHOUSE_SERVER_PORT=0
start_server
ticks() { awk '{print $14 + $15}' "/proc/$server_pid/stat"; }
hz=$(getconf CLK_TCK)
sleep 5
before=$(ticks)
sleep "$seconds"
after=$(ticks)
awk -v t=$((after - before)) -v hz="$hz" -v s="$seconds" 'BEGIN {
    printf "idle server (release build), %d s: %d ticks = %.2f s of CPU (%.2f%% of one core)\n", s, t, t / hz, 100 * t / hz / s
}'
