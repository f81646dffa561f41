#!/usr/bin/env bash
# The live validator's benchmark: an optimized build that keeps validation
# (the Checked lock types), each figure against a bare lock of the same kind
# measured in the same run: uncontended acquire/release pairs of a validated
# Mutex and RawSpinLock (chain seen before) against a bare pthread mutex and
# a bare test-and-set spin lock; the plain (release-build) types against the
# same bare locks; the validated pair under 1, 4 and 16 held locks and on 1,
# 2 and 8 threads (per-thread CPU time, so threads waiting for one of the
# two processors do not count); a 20-frame stack capture. Ends with one JSON
# line (keys in the README).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
swift build -c release --product LockdepBenchmark >&2
"$(swift build -c release --show-bin-path)/LockdepBenchmark" "$@"
