#!/usr/bin/env bash
# Outbox throughput: queues N test mails (default 1000) in a release-built Gatehouse whose
# provider is a local SMTP server (aiosmtpd), and prints how fast they are delivered.
#   benchmarks/mail.sh [N]
# Only loopback is used. The release build goes to .build-release (about 13 minutes the first
# time).
set -euo pipefail
cd "$(dirname "$0")/.."

count=${1:-1000}
make -s test-deps
source benchmarks/common.sh

.venv/bin/python Tests/Support/smtp_server.py --port 0 --maildir "$work/mail" >"$work/smtp.log" 2>&1 &
pids+=($!)
wait_for "$work/smtp.log" READY 20
smtp_port=$(awk '/READY/ {print $2}' "$work/smtp.log")

export GATEHOUSE_DATABASE_PATH="$work/gatehouse.sqlite"
export GATEHOUSE_SERVER_HOST=127.0.0.1 GATEHOUSE_SERVER_PORT=0 GATEHOUSE_LOG_LEVEL=notice
export GATEHOUSE_MAIL_PROVIDER=smtp GATEHOUSE_MAIL_FROM="Gatehouse <bench@example.test>"
export GATEHOUSE_MAIL_SMTP_HOST=127.0.0.1 GATEHOUSE_MAIL_SMTP_PORT="$smtp_port" GATEHOUSE_MAIL_SMTP_SECURITY=none

start_server

start=$(date +%s.%N)
"$binary" mail queue-test --config etc/gatehouse.yaml --to bench@example.test --count "$count" >/dev/null
delivered=0
for _ in $(seq 6000); do
    delivered=$(find "$work/mail" -name '*.eml' | wc -l)
    [[ $delivered -ge $count ]] && break
    sleep 0.05
done
end=$(date +%s.%N)

if [[ $delivered -lt $count ]]; then
    echo "only $delivered of $count mails arrived" >&2
    exit 1
fi
awk -v n="$count" -v s="$start" -v e="$end" 'BEGIN {
    printf "outbox -> SMTP (aiosmtpd on loopback), %d mails: %.2f s, %.0f mails/second\n", n, e - s, n / (e - s)
}'
