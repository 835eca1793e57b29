#!/usr/bin/env bash
# Builds STAC Browser (radiantearth, npm) into build/stac-browser (gitignored), served by
# `rsarchive serve` at /browser/.  Run by scripts/setup.sh; rebuilt only when missing or when the
# pinned version (or our locale, see BUILD_ID) changes.  Needs only the npm registry.
#
# The interface is Vietnamese by default (issue #21): the locale in scripts/stac-browser/vi/ is copied
# into the package's src/locales/vi/ (STAC Browser's own locale mechanism: config.json, texts.json,
# fields.json, ...) and the build is configured with locale=vi, fallbackLocale=en, supportedLocales
# vi en, without detecting the locale from the browser (the user switches in the interface; the choice
# is stored).  scripts/stac-browser/fields.config.js labels the archive's own rsarchive:* fields.
# The catalog URL is injected at serve time, so the build does not depend on host or port.
set -euo pipefail
cd "$(dirname "$0")/.."

STAC_BROWSER_VERSION=4.0.1
# stac-browser 4.0.1 pins ol ~10.6 but accepts ol-stac ^1.1.0; ol-stac >= 1.2 needs a newer ol,
# so the compatible release is pinned (it has no lockfile of its own).
OL_STAC_VERSION=1.1.0
locale_dir=scripts/stac-browser/vi
BUILD_ID="$STAC_BROWSER_VERSION+vi-$(cat "$locale_dir"/* scripts/stac-browser/fields.config.js "$0" | sha256sum | cut -c1-12)"
browser_dir=build/stac-browser
if [[ "$(cat "$browser_dir/.version" 2>/dev/null)" == "$BUILD_ID" ]]; then
  exit 0
fi
if ! command -v npm >/dev/null; then
  echo "setup: warning: npm not found; STAC Browser not built (/browser/ will say so)" >&2
  exit 0
fi
echo "setup: building STAC Browser $STAC_BROWSER_VERSION (Vietnamese interface) into $browser_dir (npm; a few minutes)"
work=$(mktemp -d)
here=$PWD
(
  cd "$work"
  npm pack -q "@radiantearth/stac-browser@$STAC_BROWSER_VERSION" >/dev/null
  tar xzf radiantearth-stac-browser-*.tgz
  cd package
  mkdir -p src/locales/vi
  cp "$here/$locale_dir"/* src/locales/vi/
  cp "$here/scripts/stac-browser/fields.config.js" fields.config.js   # labels of the rsarchive:* fields
  # STAC Browser 4.0.1 only calls switchLocale when a locale was stored or detected from the browser;
  # without it the configured default's formatters (dates 07/12/2026) and field labels are never set
  # up.  One line makes it switch to the configured locale (vi) when nothing else was chosen.
  anchor='      if (locale && this.supportedLocalesFromVueX.includes(locale)) {'
  grep -qF "$anchor" src/StacBrowser.vue || { echo "setup: error: STAC Browser's detectLocale changed; update $0" >&2; exit 1; }
  sed -i "s/^$anchor\$/      locale = locale || this.localeFromVueX;\n&/" src/StacBrowser.vue
  grep -qF "locale = locale || this.localeFromVueX;" src/StacBrowser.vue
  npm install -q --no-audit --no-fund --loglevel=error >/dev/null
  npm install -q --no-audit --no-fund --loglevel=error "ol-stac@$OL_STAC_VERSION" >/dev/null
  npx vue-cli-service build --pathPrefix=/browser/ --historyMode=history \
    --locale=vi --fallbackLocale=en --supportedLocales=vi --supportedLocales=en \
    --detectLocaleFromBrowser=false >/dev/null
) || { echo "setup: error: the STAC Browser build failed (in $work)" >&2; exit 1; }
rm -rf "$browser_dir"
mkdir -p "$(dirname "$browser_dir")"
mv "$work/package/dist" "$browser_dir"
echo "$BUILD_ID" > "$browser_dir/.version"
rm -rf "$work"
