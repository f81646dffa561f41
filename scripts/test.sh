#!/usr/bin/env bash
# The project's test command: installs what is missing, then runs every
# test, and builds, tests and runs the Examples package (a user's package
# that depends on this one by path).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
swift build
swift test "$@"
swift build --package-path Examples
swift test --package-path Examples
swift run --package-path Examples work-queue
