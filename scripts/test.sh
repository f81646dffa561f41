#!/usr/bin/env bash
# The project's test command: installs what is missing, then runs every
# test, and builds, tests and runs the Examples package (a user's package
# that depends on this one by path).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/install-sarif-venv.sh
# The SARIF schema test must not skip here (see SARIFSchemaValidator.swift).
export RAWLOCKCHECK_REQUIRE_SARIF_SCHEMA=1
export RAWLOCKCHECK_SARIF_PYTHON="$PWD/.build/sarif-venv/bin/python3"
swift build
swift test "$@"
swift build --package-path Examples
swift test --package-path Examples
swift run --package-path Examples work-queue
# A release build compiles validation away: the same program, bug
# included, finds nothing, and nothing reaches the validator (not even
# the context markers: no trace file is started).
swift build -c release --package-path Examples
trace=$(mktemp -u /tmp/rawlockcheck-release-XXXXXX.rlt)
out=$(RAWLOCKCHECK_TRACE="$trace" swift run -c release --skip-build --package-path Examples work-queue --bug)
echo "$out"
grep -q "validation compiled out; 0 findings" <<<"$out"
if [ -e "$trace" ]; then
  echo "test.sh: the release build of Examples reached the validator ($trace written)" >&2
  rm -f "$trace"
  exit 1
fi
# Its tests pass in release too (negative tests check nothing there, and
# say so once per test process).
out=$(swift test -c release --package-path Examples 2>&1) || { echo "$out"; exit 1; }
grep -q "negative tests check nothing" <<<"$out" || {
  echo "$out"
  echo "test.sh: a release test run of Examples did not say its negative tests check nothing" >&2
  exit 1
}
# With the `Validation` trait, an optimized build validates: `swift test -c
# release` builds with `-O -enable-testing`, which every lock type must
# survive (Swift 6.3's optimizer crashed on their deinitializers so).
swift test -c release --package-path Examples/ValidatedRelease
