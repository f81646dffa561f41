#!/usr/bin/env bash
# The validator's shared state under ThreadSanitizer: the engine driven by
# several threads (ConcurrentEngineTests), the live validator under load
# and across threads (FastPathTests, LiveValidationTests,
# LockdepTestingTests, and the XCTest LockValidatedTestCaseTests, whose
# async tests route the global executor's jobs), and the allocator built
# on it (AllocatorTests).
# Not RCUTests: ThreadSanitizer cannot see the order a grace period gives
# (readers use plain stores and compiler fences, the writer membarrier),
# so every reader of an object freed after a grace period is reported, as
# with liburcu; the RCU stress tests check that with poisoned memory
# instead. A separate build directory, so the ordinary build is left
# alone. Takes a few minutes on two cores (most of it the build).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
export TSAN_OPTIONS="${TSAN_OPTIONS:-halt_on_error=1 second_deadlock_stack=1}"
start=$(date +%s)
# Not the signal storm (signals sent as fast as they go into a validating
# thread): under ThreadSanitizer, on a loaded machine, it hung inside the
# sanitizer's own deadlock detector (threads spinning in MutexAfterLock
# and MutexDestroy of sanitizer_deadlock_detector1, another waiting for a
# slot lock in free; an allocator test hung there once too), not in the
# project's code. The ordinary run has it.
swift test --sanitize=thread --scratch-path .build-tsan \
  --filter 'ConcurrentEngineTests|FastPathTests|LiveValidationTests|LockdepTestingTests|LockValidatedTestCaseTests|AllocatorTests|IsolatedScopeTests|ScopeEndTests|KeyDestructorTests' \
  --skip 'handlersInterruptingTheValidatorAreSkippedCleanly' "$@"
echo "test-tsan: $(($(date +%s) - start)) s"
