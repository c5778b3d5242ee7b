#!/usr/bin/env bash
# Install (if missing) and start PostgreSQL + PostGIS, then provision geosignal's role and
# databases. Idempotent: safe to run again. Needs root or sudo for apt and for the
# `postgres` account; otherwise prints the exact commands to run.
#
#   role      geosignal / password geosignal (LOGIN CREATEDB, JIT off, pg_signal_backend)
#   role      geosignal_service / password geosignal_service (LOGIN, owns nothing: a service
#             role for GEOSIGNAL_SERVICE_ROLE, under which the journal is append-only; tests use it)
#   database  geosignal           (owner geosignal, extension postgis)
#   template  geosignal_template  (extension postgis; tests clone it, one database per run)
set -euo pipefail

DB_USER=${GEOSIGNAL_DB_USER:-geosignal}
DB_PASSWORD=${GEOSIGNAL_DB_PASSWORD:-geosignal}
DB_NAME=${GEOSIGNAL_DB_NAME:-geosignal}
SERVICE_USER=${DB_USER}_service

# What is ready, and the database geosignal will use when GEOSIGNAL_DATABASE_URL names another
# one (it did not say so: the line named `geosignal` while the service used the URL's).
say_ready() {
  echo "PostGIS ready: postgresql+psycopg://$DB_USER:***@127.0.0.1:$1/$DB_NAME (template ${DB_NAME}_template)"
  if [ -n "${GEOSIGNAL_DATABASE_URL:-}" ]; then
    echo "geosignal uses GEOSIGNAL_DATABASE_URL: $(printf '%s' "$GEOSIGNAL_DATABASE_URL" | sed -E 's#(://[^:/@]*):[^@]*@#\1:***@#')"
  fi
}

if [ "$(id -u)" -eq 0 ]; then SUDO=""; elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then SUDO="sudo"; else SUDO=none; fi

# Already provisioned and running? Then nothing needs root: say so and stop.
if command -v pg_lsclusters >/dev/null && command -v psql >/dev/null; then
  running_port=$(pg_lsclusters -h 2>/dev/null | awk '$2 == "main" && $4 ~ /online/ {port = $3} END {print port}')
  if [ -n "$running_port" ] && PGPASSWORD="$DB_PASSWORD" PGCONNECT_TIMEOUT=3 psql -h 127.0.0.1 -p "$running_port" \
      -U "$DB_USER" -d "${DB_NAME}_template" -qAtc "SELECT 1 FROM pg_extension WHERE extname = 'postgis'" \
      2>/dev/null | grep -qx 1 && PGPASSWORD="$DB_PASSWORD" psql -h 127.0.0.1 -p "$running_port" -U "$DB_USER" \
      -d "$DB_NAME" -qAtc "SELECT 1 FROM pg_extension WHERE extname = 'postgis' AND pg_has_role(current_user, 'pg_signal_backend', 'MEMBER') AND EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '$SERVICE_USER')" \
      2>/dev/null | grep -qx 1; then
    say_ready "$running_port"
    exit 0
  fi
fi

need_pkgs=()
if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then need_pkgs+=(postgresql); fi
pg_major() { ls /usr/lib/postgresql 2>/dev/null | sort -n | tail -1; }
if [ ${#need_pkgs[@]} -eq 0 ]; then
  PG=$(pg_major)
  ls /usr/share/postgresql/"$PG"/extension/postgis.control >/dev/null 2>&1 || need_pkgs+=("postgresql-$PG-postgis-3")
fi
if [ ${#need_pkgs[@]} -gt 0 ]; then
  if [ "$SUDO" = none ]; then
    echo "PostgreSQL/PostGIS missing. Run: sudo apt-get update && sudo apt-get install -y ${need_pkgs[*]} postgresql-postgis" >&2
    exit 1
  fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_pkgs[@]}" >/dev/null
  PG=$(pg_major)
  if ! ls /usr/share/postgresql/"$PG"/extension/postgis.control >/dev/null 2>&1; then
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "postgresql-$PG-postgis-3" >/dev/null
  fi
fi
PG=$(pg_major)

as_pg() { if [ "$SUDO" = none ]; then echo "need root or sudo to run as postgres" >&2; exit 1; fi; $SUDO -u postgres "$@"; }
if [ "$(id -u)" -eq 0 ]; then as_pg() { runuser -u postgres -- "$@"; }; fi

if ! pg_lsclusters -h 2>/dev/null | awk '{print $1" "$2}' | grep -qx "$PG main"; then
  ${SUDO:-} pg_createcluster "$PG" main >/dev/null
fi
if ! pg_lsclusters -h | awk -v v="$PG" '$1==v && $2=="main" {print $4}' | grep -q online; then
  ${SUDO:-} pg_ctlcluster "$PG" main start
fi
PORT=$(pg_lsclusters -h | awk -v v="$PG" '$1==v && $2=="main" {print $3}')
for _ in $(seq 1 30); do as_pg pg_isready -q -p "$PORT" && break; sleep 0.5; done

psql_pg() { as_pg psql -p "$PORT" -v ON_ERROR_STOP=1 -qAt "$@"; }

if [ "$(psql_pg -c "SELECT 1 FROM pg_roles WHERE rolname='$DB_USER'")" != 1 ]; then
  psql_pg -c "CREATE ROLE \"$DB_USER\" LOGIN CREATEDB PASSWORD '$DB_PASSWORD'"
fi
psql_pg -c "ALTER ROLE \"$DB_USER\" SET jit = off"
# scratch databases are dropped WITH (FORCE): that must also end an autovacuum worker busy there
psql_pg -c "GRANT pg_signal_backend TO \"$DB_USER\""
if [ "$(psql_pg -c "SELECT 1 FROM pg_roles WHERE rolname='$SERVICE_USER'")" != 1 ]; then
  psql_pg -c "CREATE ROLE \"$SERVICE_USER\" LOGIN PASSWORD '$SERVICE_USER'"
fi
psql_pg -c "ALTER ROLE \"$SERVICE_USER\" SET jit = off"

ensure_db() {  # name, is_template
  if [ "$(psql_pg -c "SELECT 1 FROM pg_database WHERE datname='$1'")" != 1 ]; then
    psql_pg -c "CREATE DATABASE \"$1\" OWNER \"$DB_USER\""
  fi
  psql_pg -d "$1" -c "CREATE EXTENSION IF NOT EXISTS postgis"
  if [ "$2" = yes ]; then psql_pg -c "ALTER DATABASE \"$1\" IS_TEMPLATE true"; fi
}
ensure_db "$DB_NAME" no
ensure_db "${DB_NAME}_template" yes

say_ready "$PORT"
