#!/usr/bin/env bash
# The one test command (README): type check + build, lint, format check, the layering
# (test/tools/layering.ts: imports point down the layers, no cycles), then every test file
# (unit tests `*.test.ts` and integration tests `*.integ.test.ts`, which need root).
#   scripts/test.sh            everything (what CI runs)
#   scripts/test.sh --unit     unit tests only: no root, no QEMU, about a minute (npm run test:unit)
#   scripts/test.sh FILE...    the given compiled test files (dist/.../*.test.js)
# With CI=true, a test skipped for any reason but one marked "by design: " fails the run
# (test/tools/check-skips.ts): an integration test must not turn green by not running.
set -euo pipefail
cd "$(dirname "$0")/.."

npx tsc -p tsconfig.json
npx eslint .
npx prettier --check .
node dist/test/tools/layering.js

unit_only=false
if [ "${1:-}" = "--unit" ]; then
  unit_only=true
  shift
fi
if [ "$#" -gt 0 ]; then
  files=("$@")
elif [ "$unit_only" = true ]; then
  mapfile -t files < <(find dist/src dist/test dist/bench -name '*.test.js' ! -name '*.integ.test.js' 2>/dev/null | sort)
else
  mapfile -t files < <(find dist/src dist/test dist/bench -name '*.test.js' 2>/dev/null | sort)
fi
# Tests log warnings and errors only, unless the caller asks for more.
export ETHERPLANE_LOG="${ETHERPLANE_LOG:-warn}"
report=$(mktemp -t etherplane-tap.XXXXXX)
trap 'rm -f "$report"' EXIT
status=0
node --test --test-reporter=spec --test-reporter-destination=stdout \
  --test-reporter=tap --test-reporter-destination="$report" "${files[@]}" || status=$?
if [ "${CI:-}" = "true" ]; then
  node dist/test/tools/check-skips.js "$report" || status=1
fi
exit "$status"
