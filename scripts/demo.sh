#!/usr/bin/env bash
# The main job: installs what is missing, builds the CLI (release), and runs
# `rawlockcheck demo`: raw_spin_lock(&some_lock); kfree_rcu(p) in-process in
# each kvfree_rcu() design, the lockdep report of the invalid wait context
# the 2020 design causes, and a table of the four designs. Extra arguments go
# to `rawlockcheck demo` (--design NAME, --format json). Exit status 0 when
# only inline-nowait found something (the expected result), 1 otherwise, 2
# when installing or building failed (said on standard error) or for bad
# usage (`rawlockcheck demo`'s own, as every command's).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh || { echo "demo.sh: installing what is missing failed" >&2; exit 2; }
swift build -c release --product rawlockcheck >&2 || { echo "demo.sh: the build failed" >&2; exit 2; }
bin=$(swift build -c release --show-bin-path)/rawlockcheck
exec "$bin" demo "$@"
