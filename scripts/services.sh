#!/usr/bin/env bash
# Start / stop / inspect REAL services on loopback for tests and benches (no Docker needed).
#
#   scripts/services.sh start  [NAME...]   default: postgres redis neo4j
#   scripts/services.sh stop   [NAME...]   default: postgres redis neo4j
#   scripts/services.sh status [NAME...]   default: all; exit 3 if a named one is down
#   scripts/services.sh env                print export lines for the running services
#
# NAME: postgres redis neo4j kafka s3 s3proxy     (or "all")
#   s3 = moto's S3 emulator; s3proxy = S3Proxy, an independent S3 server
#   (FT_TEST_S3PROXY_PORT=29010, FT_TEST_S3PROXY_HEAP=256m)
#
# State (data, logs, pid files, env file) lives in ${FT_SERVICES_DIR:-<repo>/.services}:
#   <state>/<name>.pid   <state>/<name>.log   <state>/<name>/ (data)   <state>/env
# Processes are stopped by pid only: TERM (INT = "fast shutdown" for postgres), wait up to
# FT_SERVICES_STOP_TIMEOUT (20 s), then KILL.
#
# Ports (all bound to 127.0.0.1 only), overridable:
#   FT_TEST_PG_PORT=25432  FT_TEST_REDIS_PORT=26379  FT_TEST_NEO4J_PORT=27687
#   FT_TEST_KAFKA_PORT=29092 (controller: FT_TEST_KAFKA_CONTROLLER_PORT=29093)  FT_TEST_S3_PORT=29000
# Other knobs: PYTHON (moto's interpreter, default <repo>/.venv/bin/python), JAVA_HOME,
#   FT_TEST_NEO4J_HEAP=1g, FT_TEST_KAFKA_HEAP=512m, FT_SERVICES_START_TIMEOUT (seconds, all
#   services), FT_SERVICES_STOP_TIMEOUT=20, MVN (default mvn).
set -euo pipefail

SCRIPTS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$SCRIPTS_DIR/.." && pwd)
STATE=${FT_SERVICES_DIR:-$REPO/.services}

PG_PORT=${FT_TEST_PG_PORT:-25432}
REDIS_PORT=${FT_TEST_REDIS_PORT:-26379}
NEO4J_PORT=${FT_TEST_NEO4J_PORT:-27687}
KAFKA_PORT=${FT_TEST_KAFKA_PORT:-29092}
KAFKA_CONTROLLER_PORT=${FT_TEST_KAFKA_CONTROLLER_PORT:-29093}
S3_PORT=${FT_TEST_S3_PORT:-29000}
S3PROXY_PORT=${FT_TEST_S3PROXY_PORT:-29010}   # below 32768: outside the ephemeral port range
NEO4J_HEAP=${FT_TEST_NEO4J_HEAP:-1g}
KAFKA_HEAP=${FT_TEST_KAFKA_HEAP:-512m}
STOP_TIMEOUT=${FT_SERVICES_STOP_TIMEOUT:-20}
PYTHON=${PYTHON:-$REPO/.venv/bin/python}
MVN=${MVN:-mvn}
HOST=127.0.0.1

# Fixed credentials of the test instances.
PG_USER=ftel PG_PASSWORD=ftel PG_DB=ftel
NEO4J_USER=neo4j
NEO4J_PASSWORD=ftel-test   # auth is disabled in the launcher: any basic-auth credentials work
S3_ACCESS_KEY=testing S3_SECRET_KEY=testing S3_REGION=us-east-1   # moto accepts any
S3PROXY_ACCESS_KEY=ftel-test S3PROXY_SECRET_KEY=ftel-test-secret   # S3Proxy checks V2/V4 signatures

ALL_SERVICES=(postgres redis neo4j kafka s3 s3proxy)
DEFAULT_SERVICES=(postgres redis neo4j)

# ---------------------------------------------------------------------------------- helpers
say() { echo "services: $*" >&2; }
die() { echo "services: ERROR: $*" >&2; exit 1; }

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

timeout_for() {  # default start timeout (s) per service
    if [[ -n ${FT_SERVICES_START_TIMEOUT:-} ]]; then echo "$FT_SERVICES_START_TIMEOUT"; return; fi
    case $1 in
        postgres) echo 60 ;; redis) echo 30 ;; neo4j) echo 240 ;; kafka) echo 180 ;; s3) echo 60 ;; s3proxy) echo 60 ;;
    esac
}

port_of() {
    case $1 in
        postgres) echo "$PG_PORT" ;; redis) echo "$REDIS_PORT" ;; neo4j) echo "$NEO4J_PORT" ;;
        kafka) echo "$KAFKA_PORT" ;; s3) echo "$S3_PORT" ;; s3proxy) echo "$S3PROXY_PORT" ;;
    esac
}

pidfile() { echo "$STATE/$1.pid"; }
portfile() { echo "$STATE/$1.port"; }

# A running service keeps the port it was started on, whatever this invocation's FT_TEST_*_PORT say:
# the env file, status and probes use the port recorded at its start (<state>/<name>.port).
use_recorded_ports() {
    local s p
    for s in "${ALL_SERVICES[@]}"; do
        [[ -s $(portfile "$s") ]] && running_pid "$s" >/dev/null || continue
        p=$(tr -dc '0-9' <"$(portfile "$s")")
        [[ -n $p ]] || continue
        case $s in
            postgres) PG_PORT=$p ;; redis) REDIS_PORT=$p ;; neo4j) NEO4J_PORT=$p ;;
            kafka) KAFKA_PORT=$p ;; s3) S3_PORT=$p ;; s3proxy) S3PROXY_PORT=$p ;;
        esac
    done
}
logfile() { echo "$STATE/$1.log"; }

# A live (non-zombie) process?
alive() {
    local pid=$1 st
    kill -0 "$pid" 2>/dev/null || return 1
    st=$(awk '{ print $3 }' "/proc/$pid/stat" 2>/dev/null) || return 1
    [[ $st != Z && $st != X ]]
}

# Is this pid one of our services (guards against pid reuse)? Every service runs with its
# working directory inside $STATE, or names a path inside $STATE on its command line.
ours() {
    local pid=$1 cwd
    cwd=$(readlink "/proc/$pid/cwd" 2>/dev/null || true)
    [[ -n $cwd && ( $cwd == "$STATE" || $cwd == "$STATE"/* ) ]] && return 0
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$STATE"
}

# Prints the pid of a running service, or fails (and drops a stale pid file).
running_pid() {
    local f pid
    f=$(pidfile "$1")
    [[ -s $f ]] || return 1
    pid=$(tr -dc '0-9' <"$f")
    if [[ -n $pid ]] && alive "$pid" && ours "$pid"; then
        echo "$pid"
        return 0
    fi
    rm -f "$f"
    return 1
}

tcp_open() {  # host port
    (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null
}

http_ok() {  # host port: any HTTP status line
    local line
    line=$(
        exec 2>/dev/null
        exec 3<>"/dev/tcp/$1/$2" || exit 1
        printf 'GET / HTTP/1.0\r\nHost: %s:%s\r\n\r\n' "$1" "$2" >&3
        IFS= read -r -t 5 line <&3 || exit 1
        printf '%s' "$line"
    ) || return 1
    [[ $line == HTTP/1.* ]]
}

log_tail() {
    local f
    f=$(logfile "$1")
    if [[ -s $f ]]; then
        echo "---- last lines of $f ----" >&2
        tail -n "${2:-40}" "$f" >&2
        echo "----" >&2
    fi
}

fail_start() {  # name message
    say "$1: $2"
    log_tail "$1"
    local pid
    if pid=$(running_pid "$1"); then
        stop_pid "$1" "$pid" >/dev/null 2>&1 || true
    fi
    rm -f "$(pidfile "$1")"
    exit 1
}

# Wait until `probe` succeeds, failing early if the process dies.
wait_ready() {  # name pid timeout probe-command...
    local name=$1 pid=$2 limit=$3
    shift 3
    local deadline
    deadline=$(($(date +%s) + limit))
    while :; do
        if "$@"; then return 0; fi
        if ! alive "$pid"; then
            fail_start "$name" "process $pid exited during start-up"
        fi
        if (($(date +%s) >= deadline)); then
            fail_start "$name" "not answering after ${limit}s (see $(logfile "$name"))"
        fi
        sleep 0.2
    done
}

refuse_busy_port() {  # name port
    if tcp_open "$HOST" "$2"; then
        die "$1: port $HOST:$2 is already in use by a process this script did not start" \
            "(not in $STATE). Stop it, or choose another port via the FT_TEST_*_PORT variables."
    fi
}

# Launch a command in its own session, detached from our stdin/stdout and from the state
# lock (fd 9), with the working directory given. Prints the pid.
launch() {  # name workdir command...
    local name=$1 dir=$2
    shift 2
    (cd "$dir" && exec setsid "$@" </dev/null >>"$(logfile "$name")" 2>&1 9>&-) &
    echo $!
}

stop_pid() {  # name pid
    local name=$1 pid=$2 sig=TERM t0 deadline
    [[ $name == postgres ]] && sig=INT   # SIGINT = postgres "fast" shutdown (TERM waits for clients)
    t0=$(now)
    kill "-$sig" "$pid" 2>/dev/null || true
    deadline=$(($(date +%s) + STOP_TIMEOUT))
    while alive "$pid" && (($(date +%s) < deadline)); do sleep 0.1; done
    if alive "$pid"; then
        say "$name: still alive after ${STOP_TIMEOUT}s, sending KILL to pid $pid"
        # Our services are session leaders (setsid / pg_ctl): kill their process group too, so
        # that postgres backends don't outlive a killed postmaster.
        if [[ $(ps -o pgid= -p "$pid" 2>/dev/null | tr -d ' ') == "$pid" ]]; then
            kill -KILL -- "-$pid" 2>/dev/null || true
        fi
        kill -KILL "$pid" 2>/dev/null || true
        deadline=$(($(date +%s) + 5))
        while alive "$pid" && (($(date +%s) < deadline)); do sleep 0.1; done
        alive "$pid" && die "$name: pid $pid survived KILL"
    fi
    elapsed "$t0"
}

ensure_state_dir() {
    mkdir -p "$STATE"
    STATE=$(cd "$STATE" && pwd -P)
}

# ------------------------------------------------------------------------------ java/maven
java_bin() {
    if [[ -n ${JAVA_HOME:-} && -x $JAVA_HOME/bin/java ]]; then
        echo "$JAVA_HOME/bin/java"
    else
        command -v java || die "java not found (run scripts/install-system-deps.sh)"
    fi
}

# Build (once) a Maven module under scripts/ and cache its runtime classpath in
# <module>/target/classpath.txt. Skipped when pom.xml and sources are unchanged and every jar
# of the cached classpath is still in the local Maven repository.
maven_classpath() {  # module-dir goal... -> prints classpath
    local mod=$1
    shift
    local cpfile=$mod/target/classpath.txt stampfile=$mod/target/ftel-build.stamp stamp
    stamp=$(cd "$mod" && { cat pom.xml; find src -type f 2>/dev/null | LC_ALL=C sort | xargs -r cat; } |
        sha256sum | cut -d' ' -f1)
    if [[ -s $cpfile && -f $stampfile && $(cat "$stampfile") == "$stamp" ]]; then
        local ok=1 jar jars
        IFS=: read -r -a jars < <(tr -d '\n' <"$cpfile")
        for jar in "${jars[@]}"; do
            [[ -z $jar || -f $jar ]] || { ok=0; break; }
        done
        if ((ok)); then cat "$cpfile"; return 0; fi
    fi
    command -v "$MVN" >/dev/null || die "mvn not found (run scripts/install-system-deps.sh)"
    local name buildlog t0
    name=$(basename "$mod")
    buildlog=$STATE/$name-build.log
    say "building $name with Maven (the first build downloads its jars from Maven Central)"
    t0=$(now)
    mkdir -p "$mod/target"
    if ! "$MVN" -q -B -f "$mod/pom.xml" "$@" dependency:build-classpath \
            -Dmdep.outputFile="$cpfile" -Dmdep.includeScope=runtime >"$buildlog" 2>&1 9>&-; then
        tail -n 60 "$buildlog" >&2
        die "Maven build of $mod failed (full log: $buildlog)"
    fi
    [[ -s $cpfile ]] || die "Maven produced no classpath for $mod (log: $buildlog)"
    echo "$stamp" >"$stampfile"
    say "built $name in $(elapsed "$t0")s"
    cat "$cpfile"
}

# ------------------------------------------------------------------------------- postgres
pg_bindir() {
    local d best="" bestv=0 v
    for d in /usr/lib/postgresql/*/bin; do
        [[ -x $d/postgres ]] || continue
        v=$(basename "$(dirname "$d")")
        [[ $v =~ ^[0-9]+$ ]] || continue
        if ((v > bestv)); then best=$d bestv=$v; fi
    done
    [[ -n $best ]] || die "postgres: no /usr/lib/postgresql/*/bin/postgres (run scripts/install-system-deps.sh)"
    echo "$best"
}

# The postgres OS user must be able to reach the state dir: add o+x to ancestors lacking it.
make_traversable() {
    local d=$1
    while [[ $d != / ]]; do
        if [[ $(stat -c %A "$d") != *[xt] ]]; then
            chmod o+x "$d"
        fi
        d=$(dirname "$d")
    done
}

pg_ready() { "$PGBIN/pg_isready" -q -h "$HOST" -p "$PG_PORT" -t 2 >/dev/null 2>&1; }

start_postgres() {
    PGBIN=$(pg_bindir)
    local dir=$STATE/postgres data=$STATE/postgres/data run=$STATE/postgres/run log
    log=$(logfile postgres)
    id postgres >/dev/null 2>&1 || die "postgres: OS user 'postgres' missing (install the postgresql package)"
    command -v runuser >/dev/null || die "postgres: runuser not found (util-linux)"
    refuse_busy_port postgres "$PG_PORT"
    # Unix socket paths are limited to ~107 bytes: fall back to a short dir for deep state dirs.
    if ((${#run} + 20 > 100)); then run=/tmp/ftel-pg-$PG_PORT; fi
    mkdir -p "$dir" "$run"
    make_traversable "$STATE"
    chown postgres:postgres "$dir" "$run"
    touch "$log" && chown postgres:postgres "$log"

    local major
    major=$(basename "$(dirname "$PGBIN")")
    if [[ -s $data/PG_VERSION && $(cat "$data/PG_VERSION") != "$major" ]]; then
        say "postgres: $data is from PostgreSQL $(cat "$data/PG_VERSION"), binaries are $major: re-creating (test data)"
        rm -rf "$data"
    fi
    if [[ ! -s $data/PG_VERSION ]]; then
        rm -rf "$data"
        install -d -o postgres -g postgres -m 700 "$data"
        if ! runuser -u postgres -- "$PGBIN/initdb" -D "$data" -U postgres -E UTF8 --no-locale \
                --auth-local=trust --auth-host=scram-sha-256 >>"$log" 2>&1 9>&-; then
            say "postgres: initdb failed"; log_tail postgres; exit 1
        fi
        echo "include_if_exists = 'ftel-test.conf'" >>"$data/postgresql.conf"
    fi
    # Rewritten at every start so that port overrides apply.
    cat >"$data/ftel-test.conf" <<EOF
# Written by scripts/services.sh: a throw-away TEST instance.
listen_addresses = '$HOST'
port = $PG_PORT
unix_socket_directories = '$run'
max_connections = 200
shared_buffers = 128MB
# Durability is traded for speed here: fsync/full_page_writes off means an OS crash can
# corrupt this cluster. Fine for tests and benches, never for real data.
fsync = off
synchronous_commit = off
full_page_writes = off
logging_collector = off
log_min_messages = warning
EOF
    chown postgres:postgres "$data/ftel-test.conf"

    # pg_ctl forks the postmaster into its own session and waits until it accepts connections.
    if ! runuser -u postgres -- "$PGBIN/pg_ctl" -D "$data" -l "$log" -w -t "$(timeout_for postgres)" \
            start >/dev/null 2>&1 9>&-; then
        local p
        if [[ -s $data/postmaster.pid ]]; then
            p=$(head -n1 "$data/postmaster.pid")
            if alive "$p"; then kill -INT "$p" 2>/dev/null || true; fi
        fi
        say "postgres: pg_ctl start failed"; log_tail postgres; exit 1
    fi
    local pid
    pid=$(head -n1 "$data/postmaster.pid")
    echo "$pid" >"$(pidfile postgres)"
    wait_ready postgres "$pid" "$(timeout_for postgres)" pg_ready

    # Role and database for the tests (idempotent).
    if ! "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$run" -p "$PG_PORT" -U postgres -d postgres \
            >>"$log" 2>&1 <<EOF; then
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$PG_USER') THEN
    CREATE ROLE $PG_USER LOGIN CREATEDB PASSWORD '$PG_PASSWORD';
  END IF;
END \$\$;
SELECT 'CREATE DATABASE $PG_DB OWNER $PG_USER' WHERE NOT EXISTS
  (SELECT FROM pg_database WHERE datname = '$PG_DB')\gexec
EOF
        fail_start postgres "creating role/database $PG_USER/$PG_DB failed"
    fi
}

# ---------------------------------------------------------------------------------- redis
redis_ready() {
    [[ $(redis-cli -h "$HOST" -p "$REDIS_PORT" ping 2>/dev/null) == PONG ]]
}

start_redis() {
    command -v redis-server >/dev/null || die "redis: redis-server not found (run scripts/install-system-deps.sh)"
    command -v redis-cli >/dev/null || die "redis: redis-cli not found (run scripts/install-system-deps.sh)"
    refuse_busy_port redis "$REDIS_PORT"
    local dir=$STATE/redis pid
    mkdir -p "$dir"
    pid=$(launch redis "$dir" redis-server --bind "$HOST" --port "$REDIS_PORT" --daemonize no \
        --dir "$dir" --save "" --appendonly yes --protected-mode yes --logfile "")
    echo "$pid" >"$(pidfile redis)"
    wait_ready redis "$pid" "$(timeout_for redis)" redis_ready
}

# ---------------------------------------------------------------------------------- neo4j
neo4j_ready() {
    grep -qs '^NEO4J_READY' "$(logfile neo4j)" && tcp_open "$HOST" "$NEO4J_PORT"
}

start_neo4j() {
    local mod=$SCRIPTS_DIR/neo4j-launcher cp java dir=$STATE/neo4j pid
    java=$(java_bin)
    cp=$(maven_classpath "$mod" compile)
    refuse_busy_port neo4j "$NEO4J_PORT"
    mkdir -p "$dir"
    : >"$(logfile neo4j)"   # readiness is read from this run's log only
    pid=$(launch neo4j "$dir" "$java" -Xms256m "-Xmx$NEO4J_HEAP" -XX:+ExitOnOutOfMemoryError \
        -Djava.net.preferIPv4Stack=true -Dfile.encoding=UTF-8 -cp "$mod/target/classes:$cp" ftel.launcher.Neo4jLauncher \
        "$dir" "$NEO4J_PORT" 128m)
    echo "$pid" >"$(pidfile neo4j)"
    wait_ready neo4j "$pid" "$(timeout_for neo4j)" neo4j_ready
}

# ---------------------------------------------------------------------------------- kafka
kafka_ready() {
    grep -qs 'Kafka Server started' "$(logfile kafka)" && tcp_open "$HOST" "$KAFKA_PORT"
}

# A Kafka cluster id: 16 random bytes, URL-safe base64 without padding, not starting with '-'.
kafka_cluster_id() {
    local id
    while :; do
        id=$(head -c16 /dev/urandom | base64 | tr '+/' '-_' | cut -c1-22)
        [[ $id != -* ]] && { echo "$id"; return; }
    done
}

start_kafka() {
    local mod=$SCRIPTS_DIR/kafka-launcher cp java dir=$STATE/kafka pid
    java=$(java_bin)
    cp=$(maven_classpath "$mod")
    refuse_busy_port kafka "$KAFKA_PORT"
    refuse_busy_port kafka "$KAFKA_CONTROLLER_PORT"
    mkdir -p "$dir/data"
    cat >"$dir/server.properties" <<EOF
# Written by scripts/services.sh: single-node KRaft (broker + controller) TEST instance.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@$HOST:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://$HOST:$KAFKA_PORT,CONTROLLER://$HOST:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://$HOST:$KAFKA_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$dir/data
num.partitions=1
auto.create.topics.enable=true
group.initial.rebalance.delay.ms=0
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
share.coordinator.state.topic.num.partitions=1
EOF
    local jopts=(-Dlog4j2.configurationFile="$mod/log4j2.properties" -Djava.awt.headless=true
        -Djava.net.preferIPv4Stack=true -Dfile.encoding=UTF-8)
    : >"$(logfile kafka)"
    if [[ ! -s $dir/data/meta.properties ]]; then
        if ! (cd "$dir" && "$java" -Xmx256m "${jopts[@]}" -cp "$cp" kafka.tools.StorageTool format \
                -t "$(kafka_cluster_id)" -c "$dir/server.properties" >>"$(logfile kafka)" 2>&1 9>&-); then
            say "kafka: storage format failed"; log_tail kafka; exit 1
        fi
    fi
    pid=$(launch kafka "$dir" "$java" -Xms256m "-Xmx$KAFKA_HEAP" -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
        -XX:+ExitOnOutOfMemoryError "${jopts[@]}" -cp "$cp" kafka.Kafka "$dir/server.properties")
    echo "$pid" >"$(pidfile kafka)"
    wait_ready kafka "$pid" "$(timeout_for kafka)" kafka_ready
}

# ------------------------------------------------------------------------------------- s3
s3_ready() { http_ok "$HOST" "$S3_PORT"; }

start_s3() {
    [[ -x $PYTHON ]] || die "s3: Python '$PYTHON' not found; set PYTHON to an interpreter with moto[server]"
    "$PYTHON" -c 'import moto.server, flask' 2>/dev/null ||
        die "s3: '$PYTHON' lacks moto's server ('pip install \"moto[server]\"'), or set PYTHON"
    refuse_busy_port s3 "$S3_PORT"
    local dir=$STATE/s3 pid
    mkdir -p "$dir"
    pid=$(launch s3 "$dir" "$PYTHON" -m moto.server -H "$HOST" -p "$S3_PORT")
    echo "$pid" >"$(pidfile s3)"
    wait_ready s3 "$pid" "$(timeout_for s3)" s3_ready
}

# -------------------------------------------------------------------------------- s3proxy
# S3Proxy (org.gaul:s3proxy, Apache 2.0) from Maven Central: its own implementation of the S3
# protocol (signatures, multipart uploads, listings) over a directory. Test data: the directory
# is emptied at every start, as moto's in-memory store is.
s3proxy_ready() { http_ok "$HOST" "$S3PROXY_PORT"; }   # any answer (403 to an unsigned GET)

start_s3proxy() {
    local mod=$SCRIPTS_DIR/s3proxy-launcher cp java dir=$STATE/s3proxy pid
    java=$(java_bin)
    cp=$(maven_classpath "$mod")
    refuse_busy_port s3proxy "$S3PROXY_PORT"
    rm -rf "$dir/data"
    mkdir -p "$dir/data"
    cat >"$dir/s3proxy.conf" <<EOF
# Written by scripts/services.sh: a throw-away S3Proxy TEST instance.
s3proxy.endpoint=http://$HOST:$S3PROXY_PORT
s3proxy.authorization=aws-v2-or-v4
s3proxy.identity=$S3PROXY_ACCESS_KEY
s3proxy.credential=$S3PROXY_SECRET_KEY
jclouds.provider=filesystem-nio2
jclouds.filesystem.basedir=$dir/data
jclouds.identity=unused
jclouds.credential=unused
EOF
    : >"$(logfile s3proxy)"
    pid=$(launch s3proxy "$dir" "$java" -Xms64m "-Xmx${FT_TEST_S3PROXY_HEAP:-256m}" -XX:+ExitOnOutOfMemoryError \
        -Djava.net.preferIPv4Stack=true -Dfile.encoding=UTF-8 -Dlogback.configurationFile="$mod/logback.xml" \
        -cp "$cp" org.gaul.s3proxy.Main --properties "$dir/s3proxy.conf")
    echo "$pid" >"$(pidfile s3proxy)"
    wait_ready s3proxy "$pid" "$(timeout_for s3proxy)" s3proxy_ready
}

# ------------------------------------------------------------------------------- env file
env_lines() {  # name
    case $1 in
        postgres) echo "export FT_TEST_POSTGRES_URL=postgresql://$PG_USER:$PG_PASSWORD@$HOST:$PG_PORT/$PG_DB" ;;
        redis) echo "export FT_TEST_REDIS_URL=redis://$HOST:$REDIS_PORT/0" ;;
        neo4j)
            echo "export FT_TEST_NEO4J_URI=bolt://$HOST:$NEO4J_PORT"
            echo "export FT_TEST_NEO4J_USER=$NEO4J_USER"
            echo "export FT_TEST_NEO4J_PASSWORD=$NEO4J_PASSWORD"
            ;;
        kafka) echo "export FT_TEST_KAFKA_BOOTSTRAP=$HOST:$KAFKA_PORT" ;;
        s3)
            echo "export FT_TEST_S3_ENDPOINT=http://$HOST:$S3_PORT"
            echo "export FT_TEST_S3_ACCESS_KEY=$S3_ACCESS_KEY"
            echo "export FT_TEST_S3_SECRET_KEY=$S3_SECRET_KEY"
            echo "export FT_TEST_S3_REGION=$S3_REGION"
            ;;
        s3proxy)
            echo "export FT_TEST_S3PROXY_ENDPOINT=http://$HOST:$S3PROXY_PORT"
            echo "export FT_TEST_S3PROXY_ACCESS_KEY=$S3PROXY_ACCESS_KEY"
            echo "export FT_TEST_S3PROXY_SECRET_KEY=$S3PROXY_SECRET_KEY"
            echo "export FT_TEST_S3PROXY_REGION=$S3_REGION"
            ;;
    esac
}

env_text() {
    local s
    echo "# Written by scripts/services.sh: services running in $STATE"
    echo "# Use: source $STATE/env"
    for s in "${ALL_SERVICES[@]}"; do
        if running_pid "$s" >/dev/null; then env_lines "$s"; fi
    done
}

# Rewrite <state>/env with one block per running service, at the ports each was started on.
write_env() {
    env_text >"$STATE/.env.tmp"
    mv -f "$STATE/.env.tmp" "$STATE/env"
}

# ------------------------------------------------------------------------------- commands
probe() {  # name: does it answer?
    case $1 in
        postgres) PGBIN=$(pg_bindir); pg_ready ;;
        redis) redis_ready ;;
        neo4j) tcp_open "$HOST" "$NEO4J_PORT" ;;
        kafka) tcp_open "$HOST" "$KAFKA_PORT" ;;
        s3) s3_ready ;;
        s3proxy) s3proxy_ready ;;
    esac
}

cmd_start() {
    local s pid t0
    for s in "$@"; do
        if pid=$(running_pid "$s"); then
            say "$s: already running (pid $pid, $HOST:$(port_of "$s"))"
            continue
        fi
        t0=$(now)
        "start_$s"
        port_of "$s" >"$(portfile "$s")"
        say "$s: started (pid $(cat "$(pidfile "$s")"), $HOST:$(port_of "$s")) in $(elapsed "$t0")s"
        write_env
    done
    write_env
}

cmd_stop() {
    local s pid took
    for s in "$@"; do
        if pid=$(running_pid "$s"); then
            took=$(stop_pid "$s" "$pid")
            rm -f "$(pidfile "$s")" "$(portfile "$s")"
            say "$s: stopped (pid $pid) in ${took}s"
        else
            say "$s: not running"
        fi
    done
    write_env
}

cmd_status() {
    local s pid rc=0
    for s in "$@"; do
        if pid=$(running_pid "$s"); then
            if probe "$s"; then
                echo "$s: running (pid $pid, $HOST:$(port_of "$s")), answering"
            else
                echo "$s: running (pid $pid, $HOST:$(port_of "$s")), NOT answering"
                rc=3
            fi
        else
            echo "$s: stopped"
            rc=3
        fi
    done
    return $rc
}

usage() {
    awk 'NR == 1 { next } /^#/ { sub(/^# ?/, ""); print; next } { exit }' "$0" >&2
    exit 2
}

main() {
    (($# >= 1)) || usage
    local cmd=$1
    shift
    local names=() n
    for n in "$@"; do
        case $n in
            all) names+=("${ALL_SERVICES[@]}") ;;
            postgres | redis | neo4j | kafka | s3 | s3proxy) names+=("$n") ;;
            *) say "unknown service '$n' (known: ${ALL_SERVICES[*]} all)"; exit 2 ;;
        esac
    done

    case $cmd in
        start | stop | status | env) ;;
        -h | --help | help) usage ;;
        *) say "unknown command '$cmd'"; usage ;;
    esac

    ensure_state_dir
    use_recorded_ports
    if [[ $cmd == start || $cmd == stop ]]; then
        # One start/stop at a time per state dir (parallel test workers may all call start).
        command -v flock >/dev/null || die "flock not found (util-linux)"
        exec 9>"$STATE/.lock"
        flock -w 900 9 || die "could not lock $STATE/.lock"
    fi

    case $cmd in
        start) ((${#names[@]})) || names=("${DEFAULT_SERVICES[@]}"); cmd_start "${names[@]}" ;;
        stop) ((${#names[@]})) || names=("${DEFAULT_SERVICES[@]}"); cmd_stop "${names[@]}" ;;
        status)
            if ((${#names[@]})); then
                cmd_status "${names[@]}"
            else
                cmd_status "${ALL_SERVICES[@]}" || true
            fi
            ;;
        env) env_text ;;
    esac
}

main "$@"
