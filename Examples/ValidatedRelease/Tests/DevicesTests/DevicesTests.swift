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
}
