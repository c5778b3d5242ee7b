#!/usr/bin/env bash
# Install what a fresh Debian machine needs to run geosignal (and, with --test, its tests):
# system packages (apt, where root or sudo is available), a virtualenv in .venv with the
# Python dependencies from setup.cfg, the front-end libraries from the npm registry
# (node_modules/, served by geosignal itself), and a provisioned local PostGIS.
set -euo pipefail
cd "$(dirname "$0")/.."

WITH_TEST=no
[ "${1:-}" = "--test" ] && WITH_TEST=yes

if [ "$(id -u)" -eq 0 ]; then SUDO=""; elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then SUDO="sudo"; else SUDO=none; fi

pkgs=()
command -v python3 >/dev/null || pkgs+=(python3)
python3 -c 'import venv, ensurepip' 2>/dev/null || pkgs+=(python3-venv)
command -v npm >/dev/null || pkgs+=(nodejs npm)
if [ "$WITH_TEST" = yes ] && ! command -v chromium >/dev/null; then pkgs+=(chromium); fi
if [ "$WITH_TEST" = yes ] && ! command -v pdftoppm >/dev/null; then pkgs+=(poppler-utils); fi  # the PDF sheet in the browser suite
if [ ${#pkgs[@]} -gt 0 ]; then
  if [ "$SUDO" = none ]; then
    echo "Missing system packages. Run: sudo apt-get update && sudo apt-get install -y ${pkgs[*]}" >&2
    exit 1
  fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${pkgs[@]}" >/dev/null
fi

bash scripts/provision-db.sh

if [ ! -x .venv/bin/python ]; then python3 -m venv .venv; fi
extra=""
[ "$WITH_TEST" = yes ] && extra="[test]"
# pip only when setup.cfg (or the extras asked for) changed since the last install, so that a
# second start needs neither the network nor time
stamp=".venv/.geosignal-installed"
hash=$(cat setup.cfg pyproject.toml | sha256sum | cut -c1-64)
installed=$(cat "$stamp" 2>/dev/null || true)
need_pip=yes
if [ "${installed%% *}" = "$hash" ] && { [ -z "$extra" ] || [ "${installed#* }" = "[test]" ]; }; then need_pip=no; fi
if [ "$need_pip" = yes ]; then
  .venv/bin/python -m pip install -q --upgrade pip >/dev/null
  .venv/bin/python -m pip install -q -e ".$extra"
  echo "$hash ${extra:-none}" > "$stamp"
fi

if [ ! -d node_modules/leaflet ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --silent
fi
echo "bootstrap done (.venv, node_modules, PostGIS)"
