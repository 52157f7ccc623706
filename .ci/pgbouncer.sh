#!/usr/bin/env bash
# CI: run the store behind PgBouncer (Debian's pgbouncer 1.18) in TRANSACTION mode, given nothing
# but the PgBouncer URL: the runtime's end-to-end tests, the atomicity / instance_locking /
# queue_semantics validation categories, and test/provider/pgbouncer.test.ts (no 42P05, LISTEN
# detected unavailable with one warning, polling fallback, session mode keeps LISTEN).
#
# Assumes a PostgreSQL reachable at $DATABASE_URL (default: the PG 15 cluster .ci/run starts, on
# 127.0.0.1:5432 with password "postgres"). Starts pgbouncer on 127.0.0.1:6432 from its own ini and
# userlist in a temp dir, as the postgres user (pgbouncer refuses to run as root), and stops it on
# exit. Arguments, if any, replace the default test command (e.g. `.ci/pgbouncer.sh npx vitest run
# test/provider/pgbouncer.test.ts`).
#
# Left out, because they need a direct connection:
#   test/runtime/connection-loss.test.ts  terminates the runtime's backends by application_name
#     with pg_terminate_backend; behind a transaction pooler, backends are not the client's (the
#     pooler's server connections are shared and carry its own application_name), so the test's
#     premise does not hold there.
set -euo pipefail
cd "$(dirname "$0")/.."

section() { printf '\n==== %s ====\n' "$*"; }

UPSTREAM_URL="${DATABASE_URL:-postgres://postgres:postgres@127.0.0.1:5432/postgres}"
PGBOUNCER_PORT="${PGBOUNCER_PORT:-6432}"
PGBOUNCER_BIN="${PGBOUNCER_BIN:-/usr/sbin/pgbouncer}"

section "start pgbouncer (transaction mode) in front of ${UPSTREAM_URL%%@*}@…"
if [ ! -x "$PGBOUNCER_BIN" ]; then
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y pgbouncer
fi

# host, port, user, password and database of the upstream URL, one per line.
mapfile -t upstream < <(node -e '
  const u = new URL(process.argv[1]);
  for (const part of [u.hostname || "127.0.0.1", u.port || "5432", decodeURIComponent(u.username || "postgres"),
                      decodeURIComponent(u.password), decodeURIComponent(u.pathname.slice(1) || "postgres")])
    console.log(part);' "$UPSTREAM_URL")
PG_HOST="${upstream[0]}" PG_PORT="${upstream[1]}" PG_USER="${upstream[2]}" PG_PASSWORD="${upstream[3]}" PG_DB="${upstream[4]}"

workdir="$(mktemp -d -t pgbouncer-ci.XXXXXX)"
stop_pgbouncer() {
  if [ -f "$workdir/pgbouncer.pid" ]; then
    kill "$(cat "$workdir/pgbouncer.pid")" 2>/dev/null || true
    for _ in $(seq 1 50); do [ -f "$workdir/pgbouncer.pid" ] || break; sleep 0.1; done
  fi
  if [ "${PGBOUNCER_KEEP_LOG:-}" = "" ]; then rm -rf "$workdir"; else echo "pgbouncer log kept in $workdir"; fi
}
trap stop_pgbouncer EXIT

# The userlist holds the plain password: pgbouncer needs it to log in upstream with SCRAM.
printf '"%s" "%s"\n' "${PG_USER//\"/\"\"}" "${PG_PASSWORD//\"/\"\"}" >"$workdir/userlist.txt"
cat >"$workdir/pgbouncer.ini" <<EOF
[databases]
; Every database in transaction mode, and "<db>_session" for the session-mode check.
${PG_DB}_session = host=${PG_HOST} port=${PG_PORT} dbname=${PG_DB} pool_mode=session
* = host=${PG_HOST} port=${PG_PORT}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = ${PGBOUNCER_PORT}
unix_socket_dir =
auth_type = scram-sha-256
auth_file = ${workdir}/userlist.txt
pool_mode = transaction
; The suite runs four test files at once, each with a few pools.
max_client_conn = 2000
default_pool_size = 60
max_db_connections = 200
server_reset_query =
ignore_startup_parameters = extra_float_digits,options
logfile = ${workdir}/pgbouncer.log
pidfile = ${workdir}/pgbouncer.pid
EOF
chmod 700 "$workdir"
chmod 600 "$workdir"/*

if [ "$(id -u)" = "0" ]; then
  chown -R postgres: "$workdir"
  su postgres -s /bin/sh -c "'$PGBOUNCER_BIN' -d '$workdir/pgbouncer.ini'"
else
  "$PGBOUNCER_BIN" -d "$workdir/pgbouncer.ini"
fi

enc_user="$(node -p 'encodeURIComponent(process.argv[1])' "$PG_USER")"
enc_password="$(node -p 'encodeURIComponent(process.argv[1])' "$PG_PASSWORD")"
export DATABASE_URL="postgres://${enc_user}:${enc_password}@127.0.0.1:${PGBOUNCER_PORT}/${PG_DB}"
export PGBOUNCER_SESSION_URL="postgres://${enc_user}:${enc_password}@127.0.0.1:${PGBOUNCER_PORT}/${PG_DB}_session"
export PGBOUNCER_DIRECT_URL="$UPSTREAM_URL"
for _ in $(seq 1 50); do
  node -e '
    const c = new (require("pg").Client)({ connectionString: process.env.DATABASE_URL });
    c.connect().then(() => c.query("SELECT 1")).then(() => c.end(), () => process.exit(1));' 2>/dev/null && break
  sleep 0.2
done
echo "pgbouncer up: DATABASE_URL=${DATABASE_URL/:${enc_password}@/:***@}"

if [ "$#" -gt 0 ]; then
  section "$*"
  "$@"
  exit
fi

section "runtime end-to-end tests and validation categories through pgbouncer (transaction mode)"
mapfile -t runtime_tests < <(ls test/runtime/*.test.ts | grep -v -e '/connection-loss\.test\.ts$')
npx vitest run \
  test/provider/pgbouncer.test.ts \
  "${runtime_tests[@]}" \
  test/postgres-validation/atomicity.test.ts \
  test/postgres-validation/instance_locking.test.ts \
  test/postgres-validation/queue_semantics.test.ts
