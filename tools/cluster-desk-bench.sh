#!/bin/bash
# The desk on a cluster under `showroom-load desk` (docs/benchmarks.md, "Desk on a cluster"): a
# throw-away PostgreSQL 15 (as the `postgres` user: run this as root, as CI does) and two release
# nodes on it; the load tool's arguments (after the script's name) run once against the node that
# holds the desk and once against the other one, which forwards the desk's API and whose /ws
# rooms the desk reads through the store. Build first: swift build -c release --product showroom
# and --product showroom-load.
set -u
repo="$(cd "$(dirname "$0")/.." && pwd)"
bin="$repo/.build/release"
pg="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)"
dir="$(mktemp -d /tmp/showroom-desk-bench.XXXXXX)"
chown postgres "$dir"
runuser -u postgres -- "$pg/initdb" -D "$dir/data" -A trust -U showroom -E UTF8 --no-sync > /dev/null
runuser -u postgres -- "$pg/pg_ctl" -D "$dir/data" -l "$dir/log" -w -o "-p 55432 -k $dir -c listen_addresses=127.0.0.1 -c max_connections=200" start > /dev/null
"$pg/psql" -h 127.0.0.1 -p 55432 -U showroom -d postgres -q -c "CREATE DATABASE bench"
export SHOWROOM_DATABASE_URL='postgres://showroom@127.0.0.1:55432/bench?sslmode=disable'
SHOWROOM_SECRET="$(head -c 48 /dev/urandom | base64 | tr -d '\n')"
export SHOWROOM_SECRET
"$bin/showroom" serve --port 18080 --media-port 0 --data-dir "$dir/a" --log-level warning > "$dir/a.log" 2>&1 &
a=$!
sleep 3   # the first node takes the desk
"$bin/showroom" serve --port 18081 --media-port 0 --data-dir "$dir/b" --log-level warning > "$dir/b.log" 2>&1 &
b=$!
sleep 4
echo "the desk's node: $("$pg/psql" -h 127.0.0.1 -p 55432 -U showroom -d bench -At -c "SELECT url FROM cluster_desk")"
for url in http://127.0.0.1:18080 http://127.0.0.1:18081; do
  echo "=== showroom-load desk --url $url $*"
  "$bin/showroom-load" desk --url "$url" "$@" 2>/dev/null
done
kill "$a" "$b"; wait
runuser -u postgres -- "$pg/pg_ctl" -D "$dir/data" -m immediate stop > /dev/null
rm -rf "$dir"
