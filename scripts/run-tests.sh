#!/usr/bin/env bash
# Runs the whole test suite (arguments go to `swift test`), keeping its output in
# .build/test.log. When it fails, ends with a digest of what failed, so that the last lines of
# the output (all a CI log may show) name the failing tests or the crash site.
set -uo pipefail
cd "$(dirname "$0")/.."
mkdir -p .build
log=.build/test.log

# A crash prints the crashed thread only (its frames are what matter, and printing every
# thread's registers and images took minutes).
export SWIFT_BACKTRACE="${SWIFT_BACKTRACE:-enable=yes,interactive=no,color=no,threads=crashed,registers=none,images=none}"

# A throw-away PostgreSQL cluster for the PostgreSQL store's tests (and its two-process
# end-to-end tests), stopped and deleted however the run ends.
if [[ -z "${TEST_POSTGRES_URL:-}" ]]; then
    cluster=$(mktemp -d /tmp/gatehouse-pg.XXXXXX)
    trap 'scripts/postgres-cluster.sh stop "$cluster"' EXIT
    TEST_POSTGRES_URL=$(scripts/postgres-cluster.sh start "$cluster") || {
        echo "cannot start the test PostgreSQL cluster" >&2
        exit 1
    }
    TEST_POSTGRES_CA="$cluster/ca.pem"
    export TEST_POSTGRES_URL TEST_POSTGRES_CA
fi

"${SWIFT:-swift}" test "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
# Then schemathesis against the binary, alone: it keeps both cores busy for a minute or two,
# which would stretch the timing of the suites above. (It is in the run above too, skipped.)
if [ "$status" -eq 0 ]; then
    SCHEMATHESIS_RUN=1 "${SWIFT:-swift}" test --skip-build --filter SchemathesisTests 2>&1 | tee -a "$log"
    status=${PIPESTATUS[0]}
fi
if [ "$status" -ne 0 ]; then
    echo
    echo "==== test digest (exit $status; whole output in $log) ===="
    grep -a -E "✘|Fatal error|Assertion failed|Precondition failed|error: |crashed|SWIFT TASK" "$log" | grep -a -v "^\s*$" | head -60
    crash=$(grep -a -n -m1 -E "^(💣|\*\*\* )|Thread [0-9]+ .*crashed" "$log" | cut -d: -f1)
    if [ -n "$crash" ]; then
        echo "---- crash ----"
        sed -n "$((crash > 10 ? crash - 10 : 1)),$((crash + 45))p" "$log"
    fi
    echo "---- tests started and not finished ----"
    grep -a -o -E "Test [A-Za-z0-9_]+\(\) started" "$log" | sed 's/ started//' | sort >"$log.started"
    grep -a -o -E "Test [A-Za-z0-9_]+\(\) (passed|failed|recorded|skipped)" "$log" | sed -E 's/ (passed|failed|recorded|skipped)$//' | sort -u >"$log.ended"
    comm -23 "$log.started" "$log.ended" | head -20
fi
exit "$status"
