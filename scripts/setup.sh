#!/usr/bin/env bash
# make setup: idempotent set-up of everything rsarchive needs on a Debian machine.
#  1. Debian packages (PostgreSQL 15 + PostGIS 3, GDAL tools, Chromium for browser tests, Node for the
#     STAC Browser build) — installed when missing, as root or with sudo; otherwise a message naming them.
#  2. .venv with the project and its dependencies (re-installed when pyproject.toml changes).
set -euo pipefail
cd "$(dirname "$0")/.."

DEB_PACKAGES=(postgresql-15 postgresql-15-postgis-3 gdal-bin chromium chromium-driver fonts-dejavu-core)
PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}

missing=()
for pkg in "${DEB_PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done
if ((${#missing[@]})); then
  if [[ $(id -u) -eq 0 ]]; then SUDO=""; elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then SUDO="sudo -n"; else
    echo "setup: error: missing Debian packages: ${missing[*]}; install them with: sudo apt-get install ${missing[*]}" >&2
    exit 1
  fi
  echo "setup: installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -q >/dev/null
  $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
fi

# The Debian package starts a default cluster on 5432; rsarchive runs its own, so leave that one alone.

if ! "$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)'; then
  echo "setup: error: Python 3.11 or newer is required ($PYTHON is $("$PYTHON" --version 2>&1))" >&2
  exit 1
fi
if [[ ! -x "$VENV/bin/python" ]]; then
  echo "setup: creating $VENV"
  "$PYTHON" -m venv "$VENV"
fi
stamp="$VENV/.rsarchive-installed"
want=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
  echo "setup: installing rsarchive and its dependencies into $VENV"
  # (pip's warnings about this machine's unused local index locations are filtered out)
  "$VENV/bin/python" -m pip install -q --upgrade pip 2> >(grep -v "is ignored: it is neither" >&2)
  "$VENV/bin/python" -m pip install -q -e '.[test]' 2> >(grep -v "is ignored: it is neither" >&2)
  echo "$want" > "$stamp"
fi
# STAC Browser (radiantearth, npm), served by `rsarchive serve` at /browser/.  Built once into
# build/stac-browser (gitignored); rebuilt only when missing or when the pinned version changes.
# The catalog URL is injected at serve time, so the build does not depend on host or port.
STAC_BROWSER_VERSION=4.0.1
# stac-browser 4.0.1 pins ol ~10.6 but accepts ol-stac ^1.1.0; ol-stac >= 1.2 needs a newer ol,
# so the compatible release is pinned (it has no lockfile of its own).
OL_STAC_VERSION=1.1.0
browser_dir=build/stac-browser
if [[ "$(cat "$browser_dir/.version" 2>/dev/null)" != "$STAC_BROWSER_VERSION" ]]; then
  if command -v npm >/dev/null; then
    echo "setup: building STAC Browser $STAC_BROWSER_VERSION into $browser_dir (npm; a few minutes)"
    work=$(mktemp -d)
    (
      cd "$work"
      npm pack -q "@radiantearth/stac-browser@$STAC_BROWSER_VERSION" >/dev/null
      tar xzf radiantearth-stac-browser-*.tgz
      cd package
      npm install -q --no-audit --no-fund --loglevel=error >/dev/null
      npm install -q --no-audit --no-fund --loglevel=error "ol-stac@$OL_STAC_VERSION" >/dev/null
      npx vue-cli-service build --pathPrefix=/browser/ --historyMode=history >/dev/null
    ) || { echo "setup: error: the STAC Browser build failed (in $work)" >&2; exit 1; }
    rm -rf "$browser_dir"
    mkdir -p "$(dirname "$browser_dir")"
    mv "$work/package/dist" "$browser_dir"
    echo "$STAC_BROWSER_VERSION" > "$browser_dir/.version"
    rm -rf "$work"
  else
    echo "setup: warning: npm not found; STAC Browser not built (/browser/ will say so)" >&2
  fi
fi
echo "setup: ready ($VENV)"
