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

# --- Shared by run.sh and postgres.sh ----------------------------------------------------------

now_ms() { date +%s%3N; }

# Starts "$@" in the background, logging to $work/NAME.log; sets pid, port and started_ms
# (milliseconds from the spawn to the first 200 of GET /health).
launch() { # name command...
    local name=$1
    shift
    local t0
    t0=$(now_ms)
    "$@" >"$work/$name.log" 2>&1 &
    pid=$!
    pids+=("$pid")
    port=""
    for _ in $(seq 3000); do
        if [[ -z "$port" ]]; then
            port=$(sed -n 's/.*listening on [^ ]*:\([0-9]*\).*/\1/p' "$work/$name.log" | head -1)
        fi
        if [[ -n "$port" ]] && curl -sf -o /dev/null "http://127.0.0.1:$port/health"; then
            started_ms=$(($(now_ms) - t0))
            return 0
        fi
        sleep 0.005
    done
    echo "$name did not answer" >&2
    cat "$work/$name.log" >&2
    exit 1
}
stop() { kill "$pid" && wait "$pid" 2>/dev/null || true; }
rss_mib() { awk '/VmRSS/ {printf "%.1f", $2 / 1024}' "/proc/$pid/status"; }

# wrk's requests/s, p99 in ms and count of non-2xx replies, as "rps p99 bad".
measure() { # wrk arguments...
    local out
    out=$(wrk --latency "$@")
    echo "$out" >>"$work/wrk.log"
    awk '
        function ms(v) {
            if (v ~ /us$/) return v * 0.001
            if (v ~ /ms$/) return v + 0
            if (v ~ /s$/) return v * 1000
            return v
        }
        /Requests\/sec/ { rps = $2 }
        $1 == "99%" { p99 = ms($2) }
        /Non-2xx/ { bad = $NF }
        END { printf "%.0f %.2f %d\n", rps, p99, bad }' <<<"$out"
}

cat >"$work/tokens.lua" <<'LUA'
-- Each request a Bearer token from the file named after `--`, in rotation, each thread starting
-- at its own place.
local tokens, i = {}, 0
function init(args)
    for line in io.lines(args[1]) do tokens[#tokens + 1] = line end
    math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16))
    i = math.random(#tokens)
end
function request()
    i = i % #tokens + 1
    return wrk.format("GET", nil, { ["Authorization"] = "Bearer " .. tokens[i] })
end
LUA
cat >"$work/login.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"email":"signin@bench.test","password":"Load!Test42"}'
LUA
cat >"$work/register.lua" <<'LUA'
-- New accounts, each with its own address.
local counter = 0
function setup(thread)
    counter = counter + 1
    thread:set("tid", counter)
end
local n = 0
function request()
    n = n + 1
    local body = string.format('{"email":"r%d-%d-%d@bench.test","password":"Load!Test42",'
        .. '"firstName":"Reg","lastName":"Ister","dateOfBirth":"1990-01-01","billingCountry":"US"}',
        tid, n, os.time())
    return wrk.format("POST", "/api/users/register", { ["Content-Type"] = "application/json" }, body)
end
LUA
