#!/usr/bin/env bash
# The project's test command: installs what is missing, then runs every
# test, and builds, tests and runs the Examples package (a user's package
# that depends on this one by path).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
# The SARIF schema test must not skip here (see SARIFSchemaValidator.swift).
export RAWLOCKCHECK_REQUIRE_SARIF_SCHEMA=1
export RAWLOCKCHECK_SARIF_PYTHON="$PWD/.build/sarif-venv/bin/python3"
swift build
swift test "$@"
swift build --package-path Examples
swift test --package-path Examples
swift run --package-path Examples work-queue
