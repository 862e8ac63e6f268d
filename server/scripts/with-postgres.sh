#!/usr/bin/env bash
# Runs a command against a throw-away PostgreSQL cluster:
#   server/scripts/with-postgres.sh CMD ARGS...
# - installs PostgreSQL from Debian's packages when no initdb is found (needs root then);
# - creates a cluster in a fresh temporary directory (mktemp -d) with `initdb -A trust -U kms`,
#   owned by an unprivileged user (PostgreSQL refuses to run as root: as root, the `postgres`
#   user the package creates, else `kmspg`, created with useradd; otherwise the current user),
#   listening only on 127.0.0.1 on a free port and on a unix socket in that directory, fsync on,
#   max_connections = 200;
# - starts it with pg_ctl -w (log in DIR/postgres.log) and creates the database kms_test;
# - exports, for CMD:
#     KMS_TEST_POSTGRES=postgres://kms@127.0.0.1:PORT/kms_test
#     KMS_TEST_PG_CTL=DIR/pgctl   (`$KMS_TEST_PG_CTL restart|stop|start|status`: pg_ctl as the
#                                  right user, on the right data directory, fast mode, waiting)
#     KMS_TEST_PG_DIR=DIR
#   and puts PostgreSQL's bin directory first in PATH (psql, pg_dump... of the same version);
# - runs CMD, then always (trap on EXIT) stops the cluster (fast mode) and removes DIR, and exits
#   with CMD's status.
set -euo pipefail

if [ "$#" -eq 0 ]; then
    echo "usage: $0 CMD [ARGS...]" >&2
    exit 2
fi

say() { echo "with-postgres: $*" >&2; }

# PostgreSQL's binaries: Debian keeps them in /usr/lib/postgresql/<version>/bin (newest wins).
find_bindir() {
    local d
    # The glob sorts 10 before 9: pick the highest version with sort -V.
    d=$(for b in /usr/lib/postgresql/*/bin; do
            if [ -x "$b/initdb" ] && [ -x "$b/pg_ctl" ]; then echo "$b"; fi
        done | sort -V | tail -n 1)
    if [ -z "$d" ] && command -v initdb >/dev/null 2>&1; then
        d=$(dirname "$(readlink -f "$(command -v initdb)")")
        [ -x "$d/pg_ctl" ] || d=""
    fi
    [ -n "$d" ] && echo "$d"
}

if ! PGBIN=$(find_bindir); then
    if [ "$(id -u)" -ne 0 ]; then
        say "PostgreSQL (initdb) is not installed, and installing it needs root"
        exit 1
    fi
    say "installing PostgreSQL from Debian's packages"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
    if ! PGBIN=$(find_bindir); then
        say "no initdb in /usr/lib/postgresql/*/bin after installing postgresql"
        exit 1
    fi
fi

# Who runs the cluster.
if [ "$(id -u)" -eq 0 ]; then
    if id -u postgres >/dev/null 2>&1; then
        PGOSUSER=postgres
    else
        if ! id -u kmspg >/dev/null 2>&1; then
            useradd --system --no-create-home --home-dir /nonexistent \
                --shell /usr/sbin/nologin kmspg
        fi
        PGOSUSER=kmspg
    fi
else
    PGOSUSER=$(id -un)
fi

DIR=$(mktemp -d)
DATA="$DIR/data"
LOG="$DIR/postgres.log"
STARTED=0

# Runs a command as PGOSUSER, from DIR (root's working directory may be closed to it).
as_pg() {
    if [ "$(id -u)" -eq 0 ] && [ "$PGOSUSER" != root ]; then
        (cd "$DIR" && runuser -u "$PGOSUSER" -- "$@")
    else
        (cd "$DIR" && "$@")
    fi
}

cleanup() {
    local rc=$?
    trap - EXIT INT TERM HUP
    if [ "$STARTED" = 1 ] && [ -f "$DATA/postmaster.pid" ]; then
        as_pg "$PGBIN/pg_ctl" -D "$DATA" -m fast -w -t 60 stop >/dev/null 2>&1 || {
            say "pg_ctl stop failed; log follows"
            tail -n 20 "$LOG" >&2 || true
        }
    fi
    rm -rf "$DIR"
    exit "$rc"
}
CHILD=""
# On a signal, stop CMD too (with SIGTERM: a command started with & ignores SIGINT), then clean up.
on_signal() {
    if [ -n "$CHILD" ]; then
        kill -TERM "$CHILD" 2>/dev/null || true
        wait "$CHILD" 2>/dev/null || true
    fi
    exit "$1"
}
trap cleanup EXIT
trap 'on_signal 130' INT
trap 'on_signal 143' TERM
trap 'on_signal 129' HUP

if [ "$(id -u)" -eq 0 ]; then
    chown "$PGOSUSER" "$DIR"
fi
chmod 755 "$DIR"

as_pg "$PGBIN/initdb" -D "$DATA" -A trust -U kms -E UTF8 --locale=C >"$DIR/initdb.log" 2>&1 || {
    say "initdb failed:"
    cat "$DIR/initdb.log" >&2
    exit 1
}

free_port() {
    if command -v python3 >/dev/null 2>&1; then
        python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
    else
        # No python3: a random port that nothing answers on.
        local p
        while :; do
            p=$(( 20000 + RANDOM % 40000 ))
            if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
                echo "$p"
                return 0
            fi
        done
    fi
}

# Another process may take the port between the choice and the start: try a few.
PORT=""
for attempt in 1 2 3 4 5; do
    PORT=$(free_port)
    cat >"$DIR/port.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = '$DIR'
max_connections = 200
fsync = on
EOF
    # postgresql.auto.conf is read last: the settings above win over postgresql.conf.
    as_pg cp "$DIR/port.conf" "$DATA/postgresql.auto.conf"
    if as_pg "$PGBIN/pg_ctl" -D "$DATA" -l "$LOG" -w -t 60 start >/dev/null 2>&1; then
        STARTED=1
        break
    fi
    say "start on port $PORT failed (attempt $attempt)"
    tail -n 5 "$LOG" >&2 2>/dev/null || true
done
if [ "$STARTED" != 1 ]; then
    say "could not start PostgreSQL; log follows"
    cat "$LOG" >&2 2>/dev/null || true
    exit 1
fi

"$PGBIN/createdb" -h 127.0.0.1 -p "$PORT" -U kms kms_test

# The restart helper, for tests: DIR/pgctl restart|stop|start|status.
{
    echo '#!/bin/sh'
    echo 'set -e'
    echo "cd '$DIR'"
    if [ "$(id -u)" -eq 0 ] && [ "$PGOSUSER" != root ]; then
        # Run as PGOSUSER; whoever is PGOSUSER already (or cannot switch) runs pg_ctl directly.
        echo "if [ \"\$(id -un)\" != '$PGOSUSER' ] && [ \"\$(id -u)\" -eq 0 ]; then"
        echo "    exec runuser -u '$PGOSUSER' -- '$PGBIN/pg_ctl' -D '$DATA' -l '$LOG' -m fast -w -t 60 \"\$@\""
        echo "fi"
    fi
    echo "exec '$PGBIN/pg_ctl' -D '$DATA' -l '$LOG' -m fast -w -t 60 \"\$@\""
} >"$DIR/pgctl"
chmod 755 "$DIR/pgctl"

export KMS_TEST_POSTGRES="postgres://kms@127.0.0.1:$PORT/kms_test"
export KMS_TEST_PG_CTL="$DIR/pgctl"
export KMS_TEST_PG_DIR="$DIR"
export PATH="$PGBIN:$PATH"

say "$("$PGBIN/postgres" --version) started on 127.0.0.1:$PORT (socket and data in $DIR, run as $PGOSUSER)"

# CMD runs in the background (stdin kept) so that a signal to this script reaches it at once.
set +e
"$@" <&0 &
CHILD=$!
wait "$CHILD"
status=$?
set -e
exit "$status"
