#!/usr/bin/env bash
# Copy the front-end packages' dist files into mutuelle/web/static/vendor and the COG data into
# mutuelle/data/cog (both ignored by git).
set -euo pipefail
cd "$(dirname "$0")/.."
out=mutuelle/web/static/vendor
mkdir -p "$out/maplibre-gl" "$out/vega" "$out/htmx"
cp node_modules/maplibre-gl/dist/maplibre-gl.mjs node_modules/maplibre-gl/dist/maplibre-gl-shared.mjs \
   node_modules/maplibre-gl/dist/maplibre-gl-worker.mjs node_modules/maplibre-gl/dist/maplibre-gl.css "$out/maplibre-gl/"
cp node_modules/vega/build/vega.min.js node_modules/vega-lite/build/vega-lite.min.js \
   node_modules/vega-embed/build/vega-embed.min.js "$out/vega/"
cp node_modules/htmx.org/dist/htmx.min.js "$out/htmx/"
mkdir -p "$out/axe-core" && cp node_modules/axe-core/axe.min.js "$out/axe-core/"
# Swagger UI for /api/docs (served by the portal, not a CDN: the documentation works offline).
mkdir -p "$out/swagger-ui" && cp node_modules/swagger-ui-dist/swagger-ui-bundle.js \
   node_modules/swagger-ui-dist/swagger-ui.css node_modules/swagger-ui-dist/LICENSE "$out/swagger-ui/"

# The INSEE Code officiel géographique (COG) JSON files read by mutuelle.geo.cog, inside the
# package (ignored by git): the default MUTUELLE_COG_DIR, found wherever the package is installed.
mkdir -p mutuelle/data/cog
cp node_modules/@etalab/decoupage-administratif/data/*.json mutuelle/data/cog/
# The COG year of those files (the package's README maps COG years to its versions), in
# mutuelle/data/cog/year; a version not listed here leaves no year (taken as the newest).
cog_version=$(node -p "require('./node_modules/@etalab/decoupage-administratif/package.json').version")
case "$cog_version" in
  6.0.0) echo 2026 > mutuelle/data/cog/year ;;
  *) rm -f mutuelle/data/cog/year ;;
esac
# Earlier COGs, for the referential of earlier vintages: the same package installed side by
# side under npm aliases named by their COG year, copied into mutuelle/data/cog/<year>/.
# cog2019 = 0.7.0 (with historique-communes.json, every commune since 1943: the communes of
# any earlier vintage), cog2021 = 1.1.1, cog2022 = 2.3.1, cog2023 = 3.1.1, cog2024 = 4.1.0,
# cog2025 = 5.3.0 (2020 has no version of its own).
for alias in node_modules/cog[0-9][0-9][0-9][0-9]; do
  [ -d "$alias/data" ] || continue
  year=${alias##*/cog}
  mkdir -p "mutuelle/data/cog/$year"
  cp "$alias"/data/*.json "mutuelle/data/cog/$year/"
done
