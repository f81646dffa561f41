import Lockdep
import LockdepTesting
import WorkQueue
import XCTest

/// The same checks with XCTest's assertions, in a test case whose every
/// test fails on a finding it causes.
final class WorkQueueXCTests: LockValidatedTestCase {
  func testFlushIsClean() {
    let queue = WorkQueue()
    XCTAssertNoLockViolations {
      queue.queue {}
      queue.flush()
    }
  }

  func testQueueAndFlushUnchecked() {
    // No assertion: `LockValidatedTestCase` fails the test on any finding.
    let queue = WorkQueue()
    queue.queue {}
    queue.flush()
  }

  func testFlushUnderTheLockSleepsInAtomic() {
    let queue = WorkQueue()
    XCTAssertLockViolation(.sleepInAtomic) { queue.flushWhileHoldingTheQueueLock() }
  }
}
