# Sourced by scripts/run and scripts/test: point geosignal at the port of the PostgreSQL
# cluster that scripts/provision-db.sh found running, unless the URLs are set already.
DB_PORT=$(pg_lsclusters -h 2>/dev/null | awk '$2 == "main" && $4 ~ /online/ {port = $3} END {print port}')
DB_PORT=${DB_PORT:-5432}
_db_user=${GEOSIGNAL_DB_USER:-geosignal}
_db_password=${GEOSIGNAL_DB_PASSWORD:-geosignal}
export GEOSIGNAL_DATABASE_URL="${GEOSIGNAL_DATABASE_URL:-postgresql+psycopg://$_db_user:$_db_password@127.0.0.1:$DB_PORT/${GEOSIGNAL_DB_NAME:-geosignal}}"
export GEOSIGNAL_TEST_ADMIN_URL="${GEOSIGNAL_TEST_ADMIN_URL:-postgresql+psycopg://$_db_user:$_db_password@127.0.0.1:$DB_PORT/postgres}"
