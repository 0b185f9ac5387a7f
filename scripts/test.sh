#!/usr/bin/env bash
# The one test command (README): type check + build, lint, format check, then every test file
# (unit tests `*.test.ts` and integration tests `*.integ.test.ts`, which need root).
set -euo pipefail
cd "$(dirname "$0")/.."

npx tsc -p tsconfig.json
npx eslint .
npx prettier --check .

if [ "$#" -gt 0 ]; then
  files=("$@")
else
  mapfile -t files < <(find dist/src dist/test dist/bench -name '*.test.js' 2>/dev/null | sort)
fi
# Tests log warnings and errors only, unless the caller asks for more.
export ETHERPLANE_LOG="${ETHERPLANE_LOG:-warn}"
node --test --test-reporter=spec "${files[@]}"
