#!/usr/bin/env bash
# The validator's shared state under ThreadSanitizer: the engine driven by
# several threads (ConcurrentEngineTests), the live validator under load
# and across threads (FastPathTests, LiveValidationTests,
# LockdepTestingTests) and RCU (RCUTests). A separate build directory, so
# the ordinary build is left alone. Takes a few minutes on two cores (most
# of it the instrumented build).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
export TSAN_OPTIONS="${TSAN_OPTIONS:-halt_on_error=1 second_deadlock_stack=1}"
start=$(date +%s)
swift test --sanitize=thread --scratch-path .build-tsan \
  --filter 'ConcurrentEngineTests|FastPathTests|LiveValidationTests|LockdepTestingTests|RCUTests' "$@"
echo "test-tsan: $(($(date +%s) - start)) s"
