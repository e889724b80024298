#!/usr/bin/env bash
# The PostgreSQL server of the unit tests (ctest fixture "postgresql", see
# UnitTests/LedgerBackends.cmake):
#   postgres-fixture.sh start URI_FILE   a fresh cluster in a temporary directory, listening on
#                                        127.0.0.1 on a free port; writes the libpq URI of a
#                                        database owned by a password user into URI_FILE
#   postgres-fixture.sh stop URI_FILE    stops it, removes its directory and URI_FILE
# As IntegrationTests/postgres.py: Debian's newest /usr/lib/postgresql/*/bin, run as the
# "postgres" user when started by root (PostgreSQL refuses root), its socket in its own
# directory, password logins (scram-sha-256) only over TCP.
set -euo pipefail

action=${1:-}
uri_file=${2:-}
if [ -z "$action" ] || [ -z "$uri_file" ]; then
  echo "usage: $0 start|stop URI_FILE" >&2
  exit 2
fi
dir_file="$uri_file.dir"

as_postgres() {
  if [ "$(id -u)" = 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

stop() {
  if [ -f "$dir_file" ]; then
    local dir
    dir=$(cat "$dir_file")
    if [ -d "$dir/data" ] && [ -f "$dir/data/postmaster.pid" ]; then
      local pid
      pid=$(head -n 1 "$dir/data/postmaster.pid")
      # immediate: the cluster is thrown away, no shutdown checkpoint of its thousands of tables
      as_postgres "$bin/pg_ctl" -D "$dir/data" -m immediate -w -t 20 stop >/dev/null 2>&1 || true
      if kill -0 "$pid" 2>/dev/null; then
        kill -9 "$pid" 2>/dev/null || true  # this fixture's postmaster, by its own pid
      fi
    fi
    case "$dir" in
      /tmp/inbound-unit-pg.*) rm -rf "$dir" ;;
    esac
    rm -f "$dir_file"
  fi
  rm -f "$uri_file"
}

bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k4 -n | tail -n 1)
if [ -z "$bin" ] || [ ! -x "$bin/postgres" ]; then
  echo "no PostgreSQL server in /usr/lib/postgresql/*/bin: install the Debian package postgresql" >&2
  exit 1
fi

case "$action" in
  stop)
    stop
    exit 0
    ;;
  start)
    ;;
  *)
    echo "usage: $0 start|stop URI_FILE" >&2
    exit 2
    ;;
esac

stop  # what a previous run left behind
dir=$(mktemp -d /tmp/inbound-unit-pg.XXXXXX)
echo "$dir" >"$dir_file"
if [ "$(id -u)" = 0 ]; then
  chown postgres: "$dir"
fi

as_postgres "$bin/initdb" -D "$dir/data" -U postgres --auth=trust --encoding=UTF8 \
  --no-locale --no-sync >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
cat >"$dir/data/pg_hba.conf" <<EOF
# written by UnitTests/postgres-fixture.sh
local all postgres trust
host  all all 127.0.0.1/32 scram-sha-256
EOF

started=
for attempt in 1 2 3; do
  port=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  # fsync off: the tests kill connections, never the machine.
  if as_postgres "$bin/pg_ctl" -D "$dir/data" -l "$dir/postgresql.log" -w -t 30 \
       -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c full_page_writes=off -c max_connections=200" \
       start >/dev/null 2>&1; then
    started=1
    break
  fi
  grep -q "already in use" "$dir/postgresql.log" || break
done
if [ -z "$started" ]; then
  echo "PostgreSQL did not start:" >&2
  tail -n 50 "$dir/postgresql.log" >&2 || true
  exit 1
fi

password=$(/usr/bin/python3 -c 'import secrets; print(secrets.token_hex(16))')
psql() {
  as_postgres "$bin/psql" -X -q -v ON_ERROR_STOP=1 -h "$dir" -p "$port" -U postgres "$@"
}
psql -d postgres -c "CREATE ROLE inbound_test LOGIN PASSWORD '$password'" >/dev/null
psql -d postgres -c "CREATE DATABASE inbound_test OWNER inbound_test ENCODING 'UTF8'" >/dev/null

umask 077
echo "postgresql://inbound_test:$password@127.0.0.1:$port/inbound_test" >"$uri_file.tmp"
mv "$uri_file.tmp" "$uri_file"
echo "PostgreSQL $bin on 127.0.0.1:$port (directory $dir), URI in $uri_file"
