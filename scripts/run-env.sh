# Configuration of `scripts/run` (sourced, also by the tests): base map and secret key.
# Base map: OpenStreetMap's tiles unless GEOSIGNAL_TILE_URL is set (set it empty for none,
# e.g. on an intranet, or to a Walloon WMTS / an internal tile server). The default sits in a
# single-quoted variable: inside ${VAR-default} the shell would end the expansion at the first
# '}' of '{z}' and hand the server a malformed template.
OSM_TILE_URL='https://tile.openstreetmap.org/{z}/{x}/{y}.png'
OSM_ATTRIBUTION='© OpenStreetMap contributors'
export GEOSIGNAL_TILE_URL="${GEOSIGNAL_TILE_URL-$OSM_TILE_URL}"
export GEOSIGNAL_TILE_ATTRIBUTION="${GEOSIGNAL_TILE_ATTRIBUTION-$OSM_ATTRIBUTION}"
export GEOSIGNAL_ENV=${GEOSIGNAL_ENV:-development}
if [ "$GEOSIGNAL_ENV" = development ] && [ -z "${GEOSIGNAL_SECRET_KEY:-}" ]; then
  # in the instance folder the application reads (GEOSIGNAL_INSTANCE_PATH, else instance/), so
  # that the commands run later with the same setting find the same key
  _instance="${GEOSIGNAL_INSTANCE_PATH:-instance}"
  mkdir -p "$_instance"
  # The signing key is readable by its owner only (mode 600), whatever the umask.
  [ -f "$_instance/secret_key" ] || (umask 077 && python3 -c 'import secrets; print(secrets.token_hex(32))' > "$_instance/secret_key")
  GEOSIGNAL_SECRET_KEY=$(cat "$_instance/secret_key")
  export GEOSIGNAL_SECRET_KEY
fi
