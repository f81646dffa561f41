import Lockdep
import LockdepTesting
import Testing
import WorkQueue

/// Every test of the suite fails on a lock-validation finding it causes.
@Suite(.lockValidation) struct WorkQueueTests {
  @Test func queuedWorkRunsOnFlush() {
    let queue = WorkQueue()
    for _ in 0..<10 { queue.queue {} }
    queue.flush()
    #expect(queue.completed.withLock { $0 } == 10)
  }

  @Test func queueingUnderAnotherSpinLockIsFine() {
    let queue = WorkQueue()
    let outer = SpinLock(name: "&caller->lock")
    outer.withLock { queue.queue {} }
    queue.flush()
  }

  @Test func flushingUnderTheQueueLockIsFound() {
    let queue = WorkQueue()
    expectLockViolation(.invalidWaitContext) {
      queue.flushWhileHoldingTheQueueLock()
    }
  }

  /// The finding types are named with `import Lockdep` and `LockdepTesting`
  /// alone: a user's package does not depend on the engine's module.
  @Test func findingsAreNamedWithoutTheEnginesModule() {
    let queue = WorkQueue()
    let found: [Finding] = expectLockViolation(.invalidWaitContext) {
      queue.flushWhileHoldingTheQueueLock()
    }
    let kinds: [FindingKind] = found.map(\.kind)
    // A release build without the Validation trait, or a run with
    // validation off (RAWLOCKCHECK=off), finds nothing.
    if LockValidation.isChecking { #expect(kinds.contains(.invalidWaitContext)) }
  }
}

/// A `LockdepMap` is used alike in every build: `swift test -c release`
/// builds this with `Plain.LockdepMap`, which lacked `assertHeld()` and
/// could not be a nest lock.
@Test func aLockdepMapIsUsedAlikeInEveryBuild() {
  let map = LockdepMap(.mutex, name: "&example->map")
  let child = Mutex(name: "&example->child")
  map.acquire()
  map.assertHeld()
  child.lock(nestLock: map)
  child.unlock()
  map.release()
  map.assertNotHeld()
}
