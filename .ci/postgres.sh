#!/usr/bin/env bash
# Start a throwaway PostgreSQL on 127.0.0.1:55432 for the storage tests and print its URL.
set -euo pipefail
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  apt-get update -qq && apt-get install -y -qq postgresql >/dev/null
fi
bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
dir=$(mktemp -d /tmp/lcmw-pg.XXXXXX)
chown postgres "$dir"
runuser -u postgres -- "$bin/initdb" -D "$dir/data" -U postgres --auth=trust >/dev/null
runuser -u postgres -- "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w \
  -o "-p 55432 -k $dir -c listen_addresses=127.0.0.1" start >/dev/null
echo "postgresql+psycopg://postgres@127.0.0.1:55432/postgres"
