import Foundation
import LockGraph
import Testing

@testable import Lockdep

/// Negative tests at their edges: a block that expects a lock left held, a
/// run with validation off, and the message of an abort the program chose.
@Suite struct NegativeTestEdgeTests {
  /// A block that expects `locks-held-at-exit` and returns holding a lock
  /// finds it, as a test that returns holding one does, and the lock is
  /// forgotten (its later release is no imbalance).
  @Test func aBlockThatEndsHoldingALockIsLocksHeldAtExit() {
    LockValidation.policy = .collect
    let lock = Checked.Mutex(name: "&negative-edge->leak")
    let checked = LockValidationScope.check(expecting: .locksHeldAtExit) { lock.lock() }
    #expect(checked.complaints.isEmpty, "\(checked.complaints)")
    #expect(checked.findings.map(\.kind) == [.locksHeldAtExit])
    let after = LockValidationScope.check(expecting: nil) { lock.unlock() }
    #expect(after.complaints.isEmpty, "\(after.complaints)")
    // Another block's lock stays held for the code after it.
    let kept = Checked.Mutex(name: "&negative-edge->kept")
    let other = LockValidationScope.check(expecting: nil) { kept.lock() }
    #expect(other.complaints.isEmpty, "\(other.complaints)")
    let released = LockValidationScope.check(expecting: nil) { kept.unlock() }
    #expect(released.complaints.isEmpty, "\(released.complaints)")
  }

  /// With validation off (`RAWLOCKCHECK=off`, or the program's `.off`), a
  /// negative test's missing finding is no failure, as where validation is
  /// compiled out: nothing was checked (a line on standard error says so).
  @Test func validationOffChecksNothingAndFailsNoNegativeTest() async {
    // A run with validation on says so; one with it off does not.
    #expect(LockValidation.isChecking == lockValidationIsCompiledIn)
    await #expect(processExitsWith: .success, observing: [\.standardErrorContent]) {
      precondition(LockValidation.isChecking == lockValidationIsCompiledIn)
      LockValidation.policy = .off
      precondition(!LockValidation.isChecking, "off checks nothing")
      let raw = Checked.RawSpinLock(name: "&negative-edge->raw")
      let checked = LockValidationScope.check(expecting: .sleepInAtomic) {
        raw.withLock { Checked.mightSleep() }
      }
      precondition(checked.complaints.isEmpty, "\(checked.complaints)")
    }
    .map { result in
      let said = String(decoding: result.standardErrorContent, as: UTF8.self)
      #expect(
        said.contains(
          "rawlockcheck: lock validation is off (LockValidation.policy = .off): "
            + "negative tests check nothing"), "\(said)")
    }
  }

  /// An abort the program chose says so, not that the environment did.
  @Test func anAbortTheProgramChoseNamesItsPolicy() async {
    await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
      LockValidation.policy = .abort
      let raw = Checked.RawSpinLock(name: "&negative-edge->abort-raw")
      raw.withLock { Checked.mightSleep() }
    }
    .map { result in
      let said = String(decoding: result.standardErrorContent, as: UTF8.self)
      #expect(said.contains("rawlockcheck: aborting (LockValidation.policy = .abort)"), "\(said)")
    }
  }

  /// Asynchronous code, as the README says: a scope's async `run`, whose
  /// occurrences give their kind.
  @Test func anAsyncScopeCollectsFindingsWithTheirKinds() async {
    LockValidation.policy = .collect
    let raw = Checked.RawSpinLock(name: "&negative-edge->async-raw")
    let scope = LockValidationScope()
    await scope.run {
      await Task.yield()
      raw.withLock { Checked.mightSleep() }
    }
    #expect(scope.findings.map(\.kind) == [.sleepInAtomic])
  }
}
