#!/usr/bin/env bash
# The main job: installs what is missing, builds, and reports on the
# seed-scenario trace (the kfree_rcu() violation that motivated
# CONFIG_PROVE_RAW_LOCK_NESTING). Extra arguments go to `rawlockcheck report`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
swift build -c release --product rawlockcheck >&2
bin=$(swift build -c release --show-bin-path)/rawlockcheck
status=0
"$bin" report "$@" Fixtures/traces/seed-scenario.rlt || status=$?
# Exit 1 means findings, which is what this scenario is for.
[ "$status" -le 1 ] || exit "$status"
