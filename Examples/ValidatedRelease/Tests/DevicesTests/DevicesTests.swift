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
}
