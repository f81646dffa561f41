import Lockdep
import LockdepTesting
import WorkQueue
import XCTest

/// The same checks with XCTest's assertions.
final class WorkQueueXCTests: XCTestCase {
  func testFlushIsClean() {
    let queue = WorkQueue()
    XCTAssertNoLockViolations {
      queue.queue {}
      queue.flush()
    }
  }

  func testFlushUnderTheLockSleepsInAtomic() {
    let queue = WorkQueue()
    XCTAssertLockViolation(.sleepInAtomic) { queue.flushWhileHoldingTheQueueLock() }
  }
}
