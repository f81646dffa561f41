import LockGraph
import Testing
import WaitContext

@Suite struct IrqSafetyTests {
  @Test func usedInHardirqThenEnabledIsInconsistent() throws {
    var s = Scenario()
    s.lock("A", .rawSpinlock)
    try s.useInHardirq("A")
    #expect(s.kinds.isEmpty)
    s.acquire("A")
    #expect(s.kinds == [.inconsistentLockState])
    guard case .inconsistentLockState(let previous, let new, _, _) = s.findings[0].detail else {
      return
    }
    #expect(previous.usageString == "IN-HARDIRQ-W")
    #expect(new.usageString == "HARDIRQ-ON-W")
  }

  @Test func irqDisabledAcquisitionIsSafe() throws {
    var s = Scenario()
    s.lock("A", .rawSpinlock)
    try s.useInHardirq("A")
    try s.event(.irqDisable)
    s.acquire("A")
    s.release("A")
    try s.event(.irqEnable)
    #expect(s.kinds.isEmpty)
  }

  @Test func irqEnableWhileHoldingMarksHeldLocks() throws {
    var s = Scenario()
    s.lock("A", .rawSpinlock)
    try s.useInHardirq("A")
    try s.event(.irqDisable)
    s.acquire("A")
    #expect(s.kinds.isEmpty)
    try s.event(.irqEnable)
    #expect(s.kinds == [.inconsistentLockState])
  }

  @Test func safeToUnsafeDependencyIsAnInversion() throws {
    var s = Scenario()
    s.lock("safe", .rawSpinlock)
    s.lock("unsafe", .rawSpinlock)
    try s.useInHardirq("safe")
    s.acquire("unsafe")  // irqs on: hardirq-unsafe
    s.release("unsafe")
    try s.event(.irqDisable)
    s.acquire("safe")
    s.acquire("unsafe")
    #expect(s.kinds == [.irqLockInversion])
    guard
      case .irqUnsafeDependency(_, let safe, _, _, let unsafe, _, _, _, _, let state) =
        s.findings[0].detail
    else {
      Issue.record("wrong detail")
      return
    }
    #expect(safe == s.id("safe"))
    #expect(unsafe == s.id("unsafe"))
    #expect(state == "HARDIRQ")
  }

  @Test func perCPULocksAreSkippedByTheUsageSearch() throws {
    var s = Scenario()
    s.lock("safe", .rawSpinlock)
    s.lock("local", .localLock)
    try s.useInHardirq("safe")
    s.acquire("local")
    s.release("local")
    try s.event(.irqDisable)
    s.acquire("safe")
    s.acquire("local")
    #expect(!s.kinds.contains(.irqLockInversion))
  }

  @Test func markingUsageAfterTheDependencyIsAnInversion() throws {
    // safe -> unsafe recorded with irqs off, unsafe then used with irqs on
    // (backward search from ENABLED), after safe was used in hardirq.
    var s = Scenario()
    s.lock("safe", .rawSpinlock)
    s.lock("unsafe", .rawSpinlock)
    try s.event(.irqDisable)
    s.acquire("safe")
    s.acquire("unsafe")
    s.release("unsafe")
    s.release("safe")
    try s.event(.irqEnable)
    try s.useInHardirq("safe")
    #expect(s.kinds.isEmpty)
    s.acquire("unsafe")
    #expect(s.kinds == [.irqLockInversion])
    guard case .irqInversion(let forwards, let other, _, _) = s.findings[0].detail else { return }
    #expect(!forwards)
    #expect(other == s.id("safe"))
  }

  @Test func unbalancedContextsAreStreamErrors() {
    var s = Scenario()
    #expect(throws: EventError.self) { try s.event(.hardirqExit) }
    #expect(throws: EventError.self) { try s.event(.irqEnable) }
    #expect(throws: EventError.self) { try s.event(.bhEnable) }
    #expect(throws: EventError.self) { try s.event(.preemptEnable) }
    var t = Scenario()
    try? t.event(.softirqEnter)
    #expect(throws: EventError.self) { try t.event(.hardirqExit) }
  }
}
