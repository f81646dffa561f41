import Basics
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

/// `XCTAssertNoLockViolations` in a plain `XCTestCase`: a finding of its
/// block fails the test at the offending line of the assertion's file, as
/// `LockValidatedTestCase` does, not at the assertion.
final class NoLockViolationsSiteTests: XCTestCase {
  /// The failures recorded while capturing, instead of failing this test.
  nonisolated(unsafe) var captured: [(file: String, line: Int)]? = nil

  override func recordFailure(
    withDescription description: String, inFile filePath: String, atLine lineNumber: Int,
    expected: Bool
  ) {
    if captured != nil {
      captured?.append((filePath, lineNumber))
    } else {
      super.recordFailure(
        withDescription: description, inFile: filePath, atLine: lineNumber, expected: expected)
    }
  }

  func testAFindingInTheBlockFailsAtItsLine() {
    LockValidation.policy = .collect
    let raw = Checked.RawSpinLock(name: "&xct-block->raw")
    captured = []
    let line = #line + 2
    XCTAssertNoLockViolations {
      raw.withLock { mightSleep() }
    }
    let failures = captured ?? []
    captured = nil
    XCTAssertEqual(failures.count, 1)
    XCTAssertEqual(failures.first?.file, #filePath)
    XCTAssertEqual(failures.first?.line, line)
  }
}

/// `LockValidatedTestCase`: every finding a test causes fails it, at the
/// offending line, as the Swift Testing trait does; a finding its
/// `XCTAssertLockViolation` proves does not.
final class LockValidatedTestCaseTests: XCTestCase {
  /// A test case that keeps its failures instead of reporting them.
  final class Capturing: LockValidatedTestCase {
    nonisolated(unsafe) var failures: [(description: String, file: String, line: Int)] = []
    override func recordFailure(
      withDescription description: String, inFile filePath: String, atLine lineNumber: Int,
      expected: Bool
    ) {
      failures.append((description, filePath, lineNumber))
    }
  }

  static func run(_ body: @escaping @Sendable () -> Void) -> Capturing {
    let test = Capturing(name: "capturing", testClosure: { _ in body() })
    test.invokeTest()
    return test
  }

  func testAFindingFailsTheTestAtItsLine() {
    let raw = Checked.RawSpinLock(name: "&validated->raw")
    let line = #line + 1
    let test = Self.run { raw.withLock { mightSleep() } }
    XCTAssertEqual(test.failures.count, 1)
    let failure = test.failures.first
    XCTAssertTrue(failure?.description.hasPrefix("lock validation: sleep-in-atomic\n") == true)
    XCTAssertTrue(
      failure?.description.contains("BUG: sleeping function called from invalid context") == true)
    XCTAssertEqual(failure?.file, #filePath)
    XCTAssertEqual(failure?.line, line)
  }

  /// A finding repeated in a loop fails the test once, saying how often.
  func testARepeatedFindingFailsOnce() {
    let raw = Checked.RawSpinLock(name: "&validated->loop")
    let test = Self.run { for _ in 0..<20 { raw.withLock { mightSleep() } } }
    XCTAssertEqual(test.failures.count, 1)
    XCTAssertTrue(
      test.failures.first?.description.hasPrefix("lock validation: sleep-in-atomic (20 times)\n")
        == true)
  }

  /// An `async` test method as XCTest runs it (`asyncTest`: the body in a
  /// `Task {}` the test waits for).
  static func runAsync(_ body: @escaping @Sendable () async -> Void) -> Capturing {
    let method: (Capturing) -> () throws -> Void = asyncTest { (_: Capturing) in
      { await body() }
    }
    let test = Capturing(
      name: "capturing", testClosure: { try method($0 as! Capturing)() })
    test.invokeTest()
    return test
  }

  /// An `async` test whose task returns holding a lock, after an `await`
  /// (on a thread of the global executor's pool): the test fails.
  func testAnAsyncTestThatReturnsHoldingALockFails() {
    let leaked = Checked.Mutex(name: "&xct-async-leaked->lock")
    let test = Self.runAsync {
      await Task.yield()
      leaked.lock()
    }
    XCTAssertEqual(test.failures.count, 1, "\(test.failures.map(\.description))")
    XCTAssertTrue(
      test.failures.first?.description.hasPrefix("lock validation: locks-held-at-exit\n") == true)
    XCTAssertTrue(test.failures.first?.description.contains("&xct-async-leaked->lock") == true)
  }

  /// An `async` test holding a lock across an `await` fails, and leaves
  /// nothing behind: the next tests, whose tasks may run on the thread it
  /// left the lock on, are not validated under it (a cycle through it).
  func testAnAsyncTestHoldingALockAcrossAnAwaitFailsAlone() {
    let held = Checked.Mutex(name: "&xct-await->held")
    let other = Checked.Mutex(name: "&xct-await->other")
    let first = Self.runAsync {
      held.lock()
      try? await Task.sleep(nanoseconds: 2_000_000)
      held.unlock()
    }
    XCTAssertTrue(
      first.failures.contains {
        $0.description.hasPrefix("lock validation: locks-held-at-exit\n")
          && $0.description.contains("&xct-await->held")
      }, "\(first.failures.map(\.description))")
    let second = Self.runAsync {
      for _ in 0..<20 {
        other.withLock {}
        try? await Task.sleep(nanoseconds: 100_000)
      }
    }
    XCTAssertEqual(second.failures.map(\.description), [])
    let third = Self.run { other.withLock { held.withLock {} } }
    XCTAssertEqual(third.failures.map(\.description), [])
  }

  /// The first lines of a test's failures.
  static func titles(_ test: Capturing) -> [String] {
    test.failures.map { String($0.description.prefix(while: { $0 != "\n" })) }
  }

  /// An `async` test whose call into an actor holds a lock across an
  /// `await` in the actor fails as holding it at an await, alone: the
  /// actor's job that ran the test's task is the test's, and the release,
  /// where the task resumes in the actor's next job, perhaps on another
  /// thread before that check is done, is no bad unlock balance.
  func testAnActorHoldingALockAcrossAnAwaitFailsTheTest() {
    for _ in 0..<5 {
      let test = Self.runAsync { await LockAcrossAwaitSink().flushSlowly() }
      XCTAssertEqual(
        Self.titles(test), ["lock validation: locks-held-at-exit"],
        "\(test.failures.map(\.description))")
      XCTAssertTrue(
        test.failures.first?.description.contains("leaving the test at an await") == true,
        "\(test.failures.map(\.description))")
    }
  }

  /// Where the actor runs the task on in the job it yielded in, the lock
  /// held across the `await` is not found; where it resumes it in another
  /// job, it is the test's finding, as above: never a bad unlock balance.
  func testAnActorYieldingWithALockIsNoBadUnlockBalance() {
    for _ in 0..<20 {
      let test = Self.runAsync { await LockAcrossAwaitSink().flushYielding() }
      XCTAssertTrue(
        Self.titles(test) == [] || Self.titles(test) == ["lock validation: locks-held-at-exit"],
        "\(test.failures.map(\.description))")
    }
  }

  /// A lock an earlier test of no scope (a plain `XCTestCase`'s) left
  /// held on the thread is not the next checked test's: it is reported
  /// process-wide as an earlier test's, and forgotten, as the Swift Testing
  /// trait does at a test's start (here a mutex under the leaked raw spin
  /// lock failed an innocent test twice).
  func testALockAnEarlierTestLeftHeldDoesNotFailTheNext() {
    let left = Checked.RawSpinLock(name: "&xct-earlier->raw")
    let mutex = Checked.Mutex(name: "&xct-innocent->mutex")
    left.lock()
    let test = Self.run { mutex.withLock {} }
    XCTAssertEqual(test.failures.map(\.description), [])
    let after = Self.run { mutex.withLock {} }
    XCTAssertEqual(after.failures.map(\.description), [])
    left.unlock()
  }

  /// An `async` test calling an actor that leaves a lock held fails, every
  /// time: the actor's job may end after the test's task went on and
  /// returned on another thread (over half of such tests passed).
  func testAnAsyncTestWhoseActorLeavesALockHeldFailsEveryTime() {
    actor Leaker {
      func leak(_ lock: Checked.Mutex) { lock.lock() }
    }
    let actor = Leaker()
    var locks: [Checked.Mutex] = []
    for round in 0..<30 {
      let leaked = Checked.Mutex(name: "&xct-actor-left->lock")
      locks.append(leaked)
      let test = Self.runAsync { await actor.leak(leaked) }
      XCTAssertEqual(test.failures.count, 1, "round \(round): \(test.failures.map(\.description))")
      XCTAssertTrue(
        test.failures.first?.description.contains("&xct-actor-left->lock") == true,
        "round \(round)")
    }
    withExtendedLifetime(locks) {}
  }

  func testATestThatReturnsHoldingALockFails() {
    let leaked = Checked.Mutex(name: "&xct-leaked->lock")
    let test = Self.run { leaked.lock() }
    leaked.unlock()
    XCTAssertEqual(test.failures.count, 1)
    XCTAssertTrue(
      test.failures.first?.description.hasPrefix("lock validation: locks-held-at-exit\n") == true)
    XCTAssertTrue(
      test.failures.first?.description.contains(" is leaving the test with locks still held!")
        == true)
  }

  /// The failure of a lock still held when the test returns is where the
  /// lock was taken (its stack is rawlockcheck's scope end, and XCTest's).
  func testALockLeftHeldFailsAtItsAcquisition() {
    let leaked = Checked.Mutex(name: "&xct-site->lock")
    let line = #line + 1
    let test = Self.run { leaked.lock() }
    leaked.unlock()
    XCTAssertEqual(test.failures.count, 1)
    XCTAssertEqual(test.failures.first?.file, #filePath)
    XCTAssertEqual(test.failures.first?.line, line)
  }

  /// The stack of a lock still held when the test returns is the lock's
  /// acquisition, not the scope's end (rawlockcheck's and XCTest's frames,
  /// with the standard library's `TaskLocal.withValue` on top): with the
  /// stack captured for a new chain, and with the one frame of the call
  /// for a chain the validator knew (no stack captured then).
  func testALockLeftHeldShowsItsAcquisitionInItsBacktrace() {
    let fresh = Checked.Mutex(name: "&xct-fresh->lock")
    let known = Checked.Mutex(name: "&xct-known->lock")
    known.lock()
    known.unlock()
    for lock in [fresh, known] {
      let test = Self.run { lock.lock() }
      lock.unlock()
      XCTAssertEqual(test.failures.count, 1)
      let text = test.failures.first?.description ?? ""
      let backtrace = text.components(separatedBy: "stack backtrace:").last ?? ""
      XCTAssertFalse(backtrace.contains("LockValidationScope"), text)
      XCTAssertFalse(backtrace.contains("TaskLocal"), text)
      XCTAssertTrue(
        backtrace.contains("testALockLeftHeldShowsItsAcquisitionInItsBacktrace"), text)
    }
  }

  /// A worker thread that runs the test's scope and keeps a lock it took
  /// is one finding, as its `run` returns (a work item that leaked a lock,
  /// as the kernel's `process_one_work()` reports it), not also its
  /// thread's exit (the lock is forgotten), and it fails the test at the
  /// acquisition.
  func testAWorkerLeavingItsRunWithALockIsOneFinding() {
    let leaked = Checked.Mutex(name: "&xct-worker->lock")
    let line = #line + 4
    let test = Self.run {
      let scope = LockValidationScope.current!
      let worker = SpawnedThread {
        scope.run { leaked.lock() }
      }
      worker.join()
    }
    XCTAssertEqual(test.failures.count, 1, "\(test.failures.map(\.description))")
    XCTAssertTrue(
      test.failures.first?.description.contains(
        " is leaving work of the test on this thread with locks still held!\n") == true,
      "\(test.failures.map(\.description))")
    XCTAssertEqual(test.failures.first?.file, #filePath)
    XCTAssertEqual(test.failures.first?.line, line)
  }

  func testCleanAndProvenFindingsDoNotFail() {
    let m = Checked.Mutex(name: "&validated->m")
    let s = Checked.SpinLock(name: "&validated->s")
    XCTAssertTrue(Self.run { m.withLock { s.withLock {} } }.failures.isEmpty)
    let proven = Self.run {
      XCTAssertLockViolation(.sleepInAtomic) { s.withLock { mightSleep() } }
    }
    XCTAssertTrue(proven.failures.isEmpty, "\(proven.failures)")
  }
}
