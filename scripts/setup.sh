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
# STAC Browser (radiantearth, npm), served by `rsarchive serve` at /browser/, with a Vietnamese
# interface by default: scripts/build-stac-browser.sh (rebuilt only when its pinned version changes).
./scripts/build-stac-browser.sh
echo "setup: ready ($VENV)"
