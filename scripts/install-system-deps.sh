#!/usr/bin/env bash
# Install the Debian packages that the real-service tests and benches need, when missing:
#   PostgreSQL server, redis-server, and a JDK 17 + Maven (for Neo4j/Kafka from Maven Central)
#   only if `java` / `mvn` are not on PATH.
# Runs `apt-get update` once, and only if something has to be installed.
# Never starts the Debian system services: scripts/services.sh runs our own instances.
# Must run as root (or via sudo). Idempotent; prints nothing when all is present.
set -euo pipefail

log() { echo "install-system-deps: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

export DEBIAN_FRONTEND=noninteractive

wanted=()

# PostgreSQL server: any /usr/lib/postgresql/<ver>/bin/postgres will do.
if ! compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null; then
    wanted+=(postgresql)
fi
# psql / pg_isready come with postgresql-client-<ver>, pulled in by postgresql; check anyway.
if ! compgen -G '/usr/lib/postgresql/*/bin/pg_isready' >/dev/null && ! command -v pg_isready >/dev/null; then
    wanted+=(postgresql-client)
fi

# Redis: the plain Debian server binary (and redis-cli from redis-tools, a dependency).
if ! command -v redis-server >/dev/null; then
    wanted+=(redis-server)
fi
if ! command -v redis-cli >/dev/null; then
    wanted+=(redis-tools)
fi

# JVM toolchain for scripts/neo4j-launcher and scripts/kafka-launcher (Java 17 is enough for
# Neo4j 5.26 LTS and Kafka 4.x).
if ! command -v java >/dev/null || ! command -v javac >/dev/null; then
    wanted+=(openjdk-17-jdk-headless)
fi
if ! command -v mvn >/dev/null; then
    wanted+=(maven)
fi

# --- Browser for dashboard screenshot tests -------------------------------------------------
# Placeholder: Chromium goes here (or stays in scripts/install-browser.sh), e.g.:
#   if ! command -v chromium >/dev/null; then wanted+=(chromium chromium-driver); fi
# ---------------------------------------------------------------------------------------------

# De-duplicate.
todo=()
for p in "${wanted[@]+"${wanted[@]}"}"; do
    [[ " ${todo[*]-} " == *" $p "* ]] && continue
    todo+=("$p")
done

if ((${#todo[@]} == 0)); then
    exit 0
fi

if [[ $(id -u) -ne 0 ]]; then
    die "need root to install: ${todo[*]} (re-run as root or with sudo)"
fi
command -v apt-get >/dev/null || die "apt-get not found: install ${todo[*]} by hand"

# Keep maintainer scripts from starting the system postgres/redis services: a policy-rc.d that
# exits 101 ("action forbidden") is honoured by invoke-rc.d / deb-systemd-invoke. Only add one
# if the machine has none, and remove ours afterwards.
policy=/usr/sbin/policy-rc.d
our_policy=0
cleanup() { if ((our_policy)); then rm -f "$policy"; fi; }
trap cleanup EXIT
if [[ ! -e "$policy" ]]; then
    printf '#!/bin/sh\n# temporary, from scripts/install-system-deps.sh\nexit 101\n' >"$policy"
    chmod 755 "$policy"
    our_policy=1
fi

log "installing: ${todo[*]}"
out=$(mktemp)
if ! apt-get update -qq >"$out" 2>&1; then
    cat "$out" >&2; rm -f "$out"; die "apt-get update failed"
fi
if ! apt-get install -y -qq --no-install-recommends \
        -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
        "${todo[@]}" >"$out" 2>&1; then
    tail -n 40 "$out" >&2; rm -f "$out"; die "apt-get install failed: ${todo[*]}"
fi
rm -f "$out"

# Belt and braces: if some init system started the packaged services anyway, stop them via the
# same init system (not by process name). Harmless when nothing is running.
if command -v systemctl >/dev/null && [[ -d /run/systemd/system ]]; then
    systemctl disable --now redis-server.service postgresql.service >/dev/null 2>&1 || true
fi

# Sanity checks.
compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null || die "postgres binary still missing"
command -v redis-server >/dev/null || die "redis-server still missing"
command -v java >/dev/null || die "java still missing"
command -v mvn >/dev/null || die "mvn still missing"
log "done"
