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

# The INSEE Code officiel géographique (COG) JSON files read by mutuelle.geo.cog, inside the
# package (ignored by git): the default MUTUELLE_COG_DIR, found wherever the package is installed.
mkdir -p mutuelle/data/cog
cp node_modules/@etalab/decoupage-administratif/data/*.json mutuelle/data/cog/
