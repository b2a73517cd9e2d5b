#!/usr/bin/env bash
# Prints a PostgreSQL URL the test suite may use (it creates and drops its own test_*
# database there), making sure a server answers:
#   1. $POSTGRES_TEST_URL, when set;
#   2. else a server on 127.0.0.1:5432 that lets user postgres in without a password;
#   3. else a private cluster of our own in var/postgres (trust auth, 127.0.0.1 only),
#      created on first use with Debian's postgresql package (installed when missing).
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
sudo_() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
answers() { .venv/bin/python -c "import sys, psycopg; psycopg.connect(sys.argv[1], connect_timeout=3).close()" "$1" 2>/dev/null; }

if [ -n "${POSTGRES_TEST_URL:-}" ]; then
  echo "$POSTGRES_TEST_URL"; exit 0
fi
if answers "postgres://postgres@127.0.0.1:5432/postgres"; then
  echo "postgres://postgres@127.0.0.1:5432/explorer"; exit 0
fi

PORT="${POSTGRES_TEST_PORT:-5433}"
DATA="$PWD/var/postgres"
URL="postgres://postgres@127.0.0.1:$PORT/explorer"
if answers "postgres://postgres@127.0.0.1:$PORT/postgres"; then
  echo "$URL"; exit 0
fi
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  say "installing Debian package: postgresql"
  sudo_ apt-get update -qq
  sudo_ env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
fi
BIN="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)"
# PostgreSQL refuses to run as root: as root, the cluster belongs to the postgres user.
as_owner() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
mkdir -p "$PWD/var"
if [ ! -f "$DATA/PG_VERSION" ]; then
  say "creating a private PostgreSQL cluster in var/postgres (port $PORT)"
  mkdir -p "$DATA"
  [ "$(id -u)" = 0 ] && chown postgres: "$DATA"
  as_owner "$BIN/initdb" -D "$DATA" -U postgres --auth=trust -E UTF8 >/dev/null
fi
say "starting PostgreSQL on 127.0.0.1:$PORT"
as_owner "$BIN/pg_ctl" -D "$DATA" -l "$DATA/server.log" -w -o "-p $PORT -k /tmp -c listen_addresses=127.0.0.1" start >/dev/null
echo "$URL"
