#!/usr/bin/env bash
# A throw-away PostgreSQL 15 cluster on a free loopback port, for the tests and benchmarks
# (Debian's postgresql-15; `scripts/install-deps.sh --test` installs it).
#   scripts/postgres-cluster.sh start DIR   creates a cluster in DIR and starts it; prints its URL
#                                           (it also speaks TLS, with DIR/ca.pem as its CA)
#   scripts/postgres-cluster.sh stop DIR    stops it and deletes DIR
# The cluster listens on 127.0.0.1 and 127.0.0.2 (loopback) only and asks for a password
# (SCRAM), as a real one would; the URL carries it. initdb refuses to run as root: as root, the
# cluster belongs to `postgres`.
set -euo pipefail

bin=/usr/lib/postgresql/15/bin
command=${1:?start or stop}
dir=${2:?a folder}

as_owner() {
    if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case "$command" in
start)
    [[ -x "$bin/initdb" ]] || { echo "no PostgreSQL 15 at $bin: run scripts/install-deps.sh --test" >&2; exit 1; }
    mkdir -p "$dir"
    chmod 0755 "$dir"
    if [[ $(id -u) -eq 0 ]]; then chown postgres "$dir"; fi
    password=$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
    as_owner bash -c "umask 077; printf '%s\n' '$password' > '$dir/password'"
    as_owner "$bin/initdb" -D "$dir/data" -U gatehouse --pwfile="$dir/password" --auth=scram-sha-256 \
        -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
    # TLS too (clients choose): a throw-away certificate for 127.0.0.1 and localhost, which is
    # its own CA ($dir/ca.pem), so the TLS modes can be tried against it.
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost \
        -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
        -keyout "$dir/server.key" -out "$dir/ca.pem" >/dev/null 2>&1
    chmod 0600 "$dir/server.key"
    chmod 0644 "$dir/ca.pem"
    if [[ $(id -u) -eq 0 ]]; then chown postgres "$dir/server.key"; fi
    # A free port: the kernel picks one, then the cluster takes it (retried if another took it).
    for _ in 1 2 3 4 5; do
        port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
        if as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start \
            -o "-p $port -k '$dir' -c listen_addresses=127.0.0.1,127.0.0.2 -c max_connections=300 -c ssl=on -c ssl_cert_file='$dir/ca.pem' -c ssl_key_file='$dir/server.key'" >/dev/null; then
            echo "$port" >"$dir/port"
            PGPASSWORD=$password "$bin/psql" -q -h 127.0.0.1 -p "$port" -U gatehouse -d postgres \
                -c "CREATE DATABASE gatehouse" >/dev/null
            echo "postgres://gatehouse:$password@127.0.0.1:$port/gatehouse"
            exit 0
        fi
    done
    echo "the cluster did not start; its log:" >&2
    cat "$dir/server.log" >&2
    exit 1
    ;;
stop)
    if [[ -d "$dir/data" ]]; then as_owner "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true; fi
    rm -rf "$dir"
    ;;
*)
    echo "usage: $0 start|stop DIR" >&2
    exit 2
    ;;
esac
