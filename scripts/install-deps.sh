#!/usr/bin/env bash
# Installs the Debian packages Gatehouse needs, only when some are missing.
#   scripts/install-deps.sh          what building and running need
#   scripts/install-deps.sh --test   also what the test suite needs
#   scripts/install-deps.sh --bench  also the load generator for the benchmarks
set -euo pipefail

packages=(libcurl4-openssl-dev libsqlite3-dev libargon2-dev libmaxminddb-dev)
if [[ "${1:-}" == "--bench" ]]; then
    packages+=(wrk curl sqlite3)
fi
if [[ "${1:-}" == "--test" ]]; then
    # argon2: the reference CLI for the hashing known-answer test; openssl: throw-away TLS
    # certificates; curl: scripts and benchmarks; oathtool: an independent TOTP; the MaxMind DB
    # writer: small .mmdb files for the geoblock tests; ssh-keygen: keys and fingerprints;
    # PostgreSQL 15: a throw-away cluster for the PostgreSQL store (scripts/postgres-cluster.sh).
    packages+=(argon2 openssl curl oathtool libmaxmind-db-writer-perl openssh-client postgresql-15)
fi

missing=()
for package in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$package")
    fi
done

if ((${#missing[@]} > 0)); then
    echo "installing: ${missing[*]}"
    sudo=""
    if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
