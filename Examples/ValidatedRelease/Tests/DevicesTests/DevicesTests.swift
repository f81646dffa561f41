import Devices
import Lockdep
import LockdepTesting
import Testing

/// Built by `swift test -c release` with the `Validation` trait: the lock
/// types validate in an optimized build.
@Suite(.lockValidation) struct DevicesTests {
  /// A lock that does not escape the function that makes it may live on
  /// the stack in an optimized build (the lock's deallocation asked
  /// `malloc` for its block's size, and crashed there).
  @Test func locksThatDoNotEscapeAreFreedWhereverTheyLive() {
    for i in 0..<1000 { #expect(countedUnderALocalLock(i) == i + 1) }
    for _ in 0..<1000 { Counter().bump() }
  }

  /// A held lock freed gives the lock object's bytes as the range freed,
  /// wherever the object lives.
  @Test func aHeldLockFreedGivesItsObjectsBytes() throws {
    let found = expectLockViolation(.heldLockFreed) { freeAHeldLocalLock() }
    let text = found.first.map { LockValidation.describe($0) } ?? ""
    // `... is freeing memory 0x7f0c2a1b3c40-0x7f0c2a1b3c7f, with a lock ...`
    let line = try #require(text.split(separator: "\n").first { $0.contains("freeing memory ") })
    let range = line.split(separator: " ").first { $0.contains("-") && $0.hasSuffix(",") } ?? ""
    let ends = range.dropLast().split(separator: "-").compactMap {
      UInt64($0.hasPrefix("0x") ? $0.dropFirst(2) : $0, radix: 16)
    }
    try #require(ends.count == 2, "\(text)")
    #expect(ends[1] >= ends[0] && ends[1] - ends[0] < 256, "\(text)")
  }

  @Test func theDevicesOrderIsClean() {
    let device = Device()
    for _ in 0..<100 { device.reconfigure() }
  }

  @Test func aMutexUnderTheInterruptLockIsFoundInAnOptimizedBuild() {
    let device = Device()
    expectLockViolation(.invalidWaitContext) { device.reconfigureFromInterruptPath() }
  }

  /// In an optimized build the offending closure is inlined into the
  /// lock's `withLock`: its report still names the device's function (its
  /// line is the optimizer's to keep: here it says 0, `<compiler-generated>`),
  /// not only the library's thunks.
  @Test func anOptimizedBuildsReportNamesTheOffendingFunction() {
    let device = Device()
    let found = expectLockViolation(.invalidWaitContext) { device.reconfigureFromInterruptPath() }
    let text = found.first.map { LockValidation.describe($0) } ?? ""
    let backtrace = text.components(separatedBy: "stack backtrace:").last ?? ""
    #expect(backtrace.contains("#0 Device.reconfigureFromInterruptPath()"), "\(text)")
  }

  /// `Protected.withLock`, inlined into its caller in an optimized build,
  /// names that caller too: the mutex's acquisition is its code's.
  @Test func anOptimizedBuildsProtectedValueNamesItsCaller() {
    let device = Device()
    let found = expectLockViolation(.invalidWaitContext) {
      device.updateSettingsFromInterruptPath()
    }
    let text = found.first.map { LockValidation.describe($0) } ?? ""
    let backtrace = text.components(separatedBy: "stack backtrace:").last ?? ""
    #expect(backtrace.contains("#0 Device.updateSettingsFromInterruptPath()"), "\(text)")
  }

  /// In an optimized build, where the context marker is inlined into its
  /// caller, the report's irq event stamps name the function that turned
  /// interrupts off and on: the interrupt handler's.
  @Test func anOptimizedBuildsIrqStampsNameTheHandler() {
    let device = Device()
    let found = expectLockViolation(.inconsistentLockState) {
      device.handleInterrupt()
      device.pollWithInterruptsOn()
    }
    let text = found.first.map { LockValidation.describe($0) } ?? ""
    // (Found in the handler when another test took the lock with
    // interrupts on first, else at the poll: the handler's entry turned
    // interrupts off last either way.)
    let disabled = text.split(separator: "\n").first { $0.hasPrefix("hardirqs last disabled") }
    #expect(disabled?.contains("Device.handleInterrupt()") == true, "\(text)")
  }
}

/// Two locks in an object that does not escape `countedUnderALocalLock`.
final class Pair {
  let lock = RawSpinLock(name: "&pair->lock")
  let mutex = Mutex(name: "&pair->mutex")
  var count = 0
}

@inline(never) func countedUnderALocalLock(_ i: Int) -> Int {
  let pair = Pair()
  pair.count = i
  pair.lock.withLock { pair.count += 1 }
  return pair.count
}

@inline(never) func freeAHeldLocalLock() {
  let lock = Mutex(name: "&local->held")
  lock.lock()
}
