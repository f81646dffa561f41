import LockGraph
import Lockdep
import LockdepTesting
import XCTest

/// The XCTest side of `LockdepTesting`.
final class XCTestAssertionTests: XCTestCase {
  override func setUp() { LockValidation.policy = .collect }

  func testNoViolationsInCleanCode() {
    let m = Checked.Mutex(name: "&xct->m")
    let s = Checked.SpinLock(name: "&xct->s")
    XCTAssertNoLockViolations { m.withLock { s.withLock {} } }
  }

  func testAViolationIsFound() {
    let s = Checked.SpinLock(name: "&xct->spin")
    let found = XCTAssertLockViolation(.sleepInAtomic) {
      s.withLock { mightSleep() }
    }
    XCTAssertEqual(found.map(\.kind), [.sleepInAtomic])
  }
}
