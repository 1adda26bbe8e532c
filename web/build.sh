#!/usr/bin/env bash
# Builds the dashboard's embedded assets (internal/dashboard/assets) from
# web/: the hand-written files of src/ as they are (no bundler, no
# transpiler: the browser loads ES modules), and uPlot from npm at the
# version package-lock.json pins (npm ci). The result is committed so that
# `go build` needs no npm; internal/dashboard's TestAssetsMatchSources
# fails when it is stale.
set -euo pipefail
cd "$(dirname "$0")"
npm ci --no-audit --no-fund --silent
out=../internal/dashboard/assets
rm -rf "$out"
mkdir -p "$out/vendor"
cp src/* "$out/"
cp node_modules/uplot/dist/uPlot.iife.min.js node_modules/uplot/dist/uPlot.min.css "$out/vendor/"
cp node_modules/uplot/LICENSE "$out/vendor/uPlot.LICENSE"
echo "built $out"
