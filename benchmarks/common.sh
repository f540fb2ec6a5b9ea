# Sourced by the benchmark scripts: the release build, a work folder removed on exit together
# with every process put in `pids`, waiting for a line in a log, and starting the server.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

work=$(mktemp -d)
# As `make release` builds it (the Swift runtime linked in), in a folder of its own.
swift build -c release --static-swift-stdlib --product gatehouse --scratch-path .build-release \
    >"$work/build.log" 2>&1 || {
    cat "$work/build.log" >&2
    rm -rf "$work"
    exit 1
}
binary=.build-release/release/gatehouse

pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

wait_for() { # file pattern seconds
    for _ in $(seq $((${3} * 10))); do
        if grep -q "$2" "$1" 2>/dev/null; then return 0; fi
        sleep 0.1
    done
    echo "timed out waiting for '$2' in $1" >&2
    cat "$1" >&2
    exit 1
}

# `gatehouse serve` on the shipped config and the environment as set; sets server_pid and port.
start_server() {
    "$binary" serve --config etc/gatehouse.yaml >"$work/server.log" 2>&1 &
    server_pid=$!
    pids+=("$server_pid")
    wait_for "$work/server.log" "listening on" 30
    port=$(sed -n 's/.*listening on [^ ]*:\([0-9]*\).*/\1/p' "$work/server.log" | head -1)
}
