import Devices
import Lockdep
import LockdepTesting
import Testing

/// Built by `swift test -c release` with the `Validation` trait: the lock
/// types validate in an optimized build.
@Suite(.lockValidation) struct DevicesTests {
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
