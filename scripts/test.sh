#!/usr/bin/env bash
# The one test command (README): type check + build, lint, format check, the layering
# (test/tools/layering.ts: imports point down the layers, no cycles), then every test file
# (unit tests `*.test.ts` and integration tests `*.integ.test.ts`, which need root).
#   scripts/test.sh            everything (what CI runs)
#   scripts/test.sh --unit     unit tests only: no root, no QEMU, about a minute (npm run test:unit);
#                              4 files at a time (they share nothing; node's default is one per
#                              core less one, so one file at a time on 2 cores)
#   scripts/test.sh FILE...    the given compiled test files (dist/.../*.test.js)
# With CI=true, a test skipped for any reason but one marked "by design: " fails the run
# (test/tools/check-skips.ts): an integration test must not turn green by not running.
set -euo pipefail
cd "$(dirname "$0")/.."

unit_only=false
if [ "${1:-}" = "--unit" ]; then
  unit_only=true
  shift
fi

# The inner loop (--unit) lints and format-checks only what changed since its last run (caches
# in node_modules/.cache; a type change can leave another file's lint stale until it changes):
# about 2 minutes the first time, seconds after. The full run checks every file from scratch.
eslint_cache=()
prettier_cache=()
if [ "$unit_only" = true ]; then
  eslint_cache=(--cache --cache-strategy content --cache-location node_modules/.cache/eslint/)
  prettier_cache=(--cache --cache-strategy content)
fi
npx tsc -p tsconfig.json
npx eslint "${eslint_cache[@]}" .
npx prettier --check "${prettier_cache[@]}" .
node dist/test/tools/layering.js
if [ "$#" -gt 0 ]; then
  files=("$@")
elif [ "$unit_only" = true ]; then
  mapfile -t files < <(find dist/src dist/test dist/bench -name '*.test.js' ! -name '*.integ.test.js' 2>/dev/null | sort)
else
  mapfile -t files < <(find dist/src dist/test dist/bench -name '*.test.js' 2>/dev/null | sort)
fi
# Tests log warnings and errors only, unless the caller asks for more.
export ETHERPLANE_LOG="${ETHERPLANE_LOG:-warn}"
# Integration tests run one file at a time: they share the host's namespaces, loop devices, QEMU.
concurrency=1
if [ "$unit_only" = true ]; then concurrency=4; fi
report=$(mktemp -t etherplane-tap.XXXXXX)
trap 'rm -f "$report"' EXIT
status=0
node --test --test-concurrency="$concurrency" --test-reporter=spec --test-reporter-destination=stdout \
  --test-reporter=tap --test-reporter-destination="$report" "${files[@]}" || status=$?
if [ "${CI:-}" = "true" ]; then
  node dist/test/tools/check-skips.js "$report" || status=1
fi
exit "$status"
