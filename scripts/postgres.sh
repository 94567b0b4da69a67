# A throwaway PostgreSQL server on a free port of 127.0.0.1, for the test command
# and the benchmarks. Source this file, then:
#   start_postgres DBNAME   installs Debian's postgresql when missing (as root or
#                           through sudo), starts a cluster in a temp directory (as the
#                           postgres user when run as root), creates DBNAME, and sets
#                           PG_URL=postgres://postgres@127.0.0.1:PORT/DBNAME
#   stop_postgres           stops it and deletes its directory (also on EXIT)
# Needs `as_root` (defined by the caller) for the install.

PG_DIR=""
PG_BIN=""
PG_AS=()

pg_bin_dir() {
    local d
    d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    [ -n "$d" ] && [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && echo "$d"
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

stop_postgres() {
    if [ -n "$PG_DIR" ] && [ -d "$PG_DIR/data" ]; then
        "${PG_AS[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m immediate -w stop >/dev/null 2>&1
    fi
    [ -n "$PG_DIR" ] && rm -rf "$PG_DIR"
    PG_DIR=""
}

start_postgres() {
    PG_BIN=$(pg_bin_dir)
    if [ -z "$PG_BIN" ] || { [ "$(id -u)" -eq 0 ] && ! id postgres >/dev/null 2>&1; }; then
        echo "installing postgresql"
        export DEBIAN_FRONTEND=noninteractive
        as_root apt-get update -qq || return 1
        as_root apt-get install -y -qq postgresql || return 1
        PG_BIN=$(pg_bin_dir)
        [ -n "$PG_BIN" ] || {
            echo "postgresql installed but no initdb under /usr/lib/postgresql/*/bin" >&2
            return 1
        }
    fi
    PG_DIR=$(mktemp -d "${TMPDIR:-/tmp}/spygroup-pg.XXXXXX") || return 1
    trap stop_postgres EXIT
    if [ "$(id -u)" -eq 0 ]; then
        # initdb and postgres refuse to run as root.
        chown postgres "$PG_DIR" || return 1
        PG_AS=(runuser -u postgres --)
    fi
    "${PG_AS[@]}" "$PG_BIN/initdb" -D "$PG_DIR/data" -U postgres -A trust -E UTF8 --no-sync \
        >"$PG_DIR/initdb.log" 2>&1 || {
        cat "$PG_DIR/initdb.log" >&2
        return 1
    }
    local port attempt
    for attempt in 1 2 3; do
        port=$(free_port) || return 1
        if "${PG_AS[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t 60 \
            -o "-p $port -k $PG_DIR -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=400" \
            start >/dev/null; then
            break
        fi
        echo "PostgreSQL did not start on port $port (attempt $attempt)" >&2
        port=""
    done
    if [ -z "$port" ]; then
        cat "$PG_DIR/server.log" >&2
        return 1
    fi
    "${PG_AS[@]}" "$PG_BIN/createdb" -h 127.0.0.1 -p "$port" -U postgres "${1:-spygroup}" || return 1
    PG_URL="postgres://postgres@127.0.0.1:$port/${1:-spygroup}"
    echo "$("$PG_BIN/postgres" --version) at $PG_URL (data in $PG_DIR)"
}

