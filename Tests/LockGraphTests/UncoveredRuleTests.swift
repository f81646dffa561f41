import LockGraph
import Testing
import WaitContext

/// Rules of lockdep (DESIGN.md, "Rules of lockdep that are easy to get
/// wrong") that no other test pins down.
@Suite struct UncoveredRuleTests {
  // MARK: Irq-usage searches skip override classes

  /// safe (used in hardirq) -> X (taken with interrupts on) is an irq
  /// inversion when X is a normal class, and not when X is a wait-type
  /// override, which lockdep's `usage_skip()` leaves out of irq searches.
  func safeToUnsafe(_ kind: LockKind, inner: WaitType? = nil) throws -> [FindingKind] {
    var s = Scenario()
    s.lock("safe", .rawSpinlock)
    s.lock("X", kind, inner: inner)
    try s.useInHardirq("safe")
    s.acquire("X")  // interrupts on: hardirq-unsafe
    s.release("X")
    try s.event(.irqDisable)
    s.acquire("safe")
    s.acquire("X")
    s.release("X")
    s.release("safe")
    try s.event(.irqEnable)
    return s.kinds
  }

  @Test func irqSearchesSkipOverrideClasses() throws {
    #expect(try safeToUnsafe(.rawSpinlock) == [.irqLockInversion])
    #expect(try safeToUnsafe(.waitOverride, inner: .spin) == [])
  }

  // MARK: The interrupt context is part of the chain key

  /// The task-context chain [A] is cached; A taken again in a hard
  /// interrupt while the task holds it is a different chain ([A] in
  /// hardirq), so it is validated, and check_deadlock() looks at every held
  /// lock, the interrupted task's included.
  @Test func sameClassInAnInterruptIsNotACachedTaskChain() throws {
    var s = Scenario()
    s.lock("A", .rawSpinlock)
    try s.event(.irqDisable)
    for _ in 0..<3 {
      s.acquire("A")
      s.release("A")
    }
    #expect(s.kinds.isEmpty)
    s.acquire("A")
    try s.event(.hardirqEnter)
    s.acquire("A")
    #expect(s.kinds == [.recursiveLocking])
  }

  // MARK: Range ends of free and init

  @Test func freeCoversItsRangeAndNotOnePastIt() {
    var s = Scenario()
    s.lock("L", .spinlock)
    s.acquire("L", on: "1", inst: 0x1100)  // one past [0x1000, 0x1100)
    s.acquire("L", on: "2", inst: 0xFFF)  // one before it
    s.free(0x1000, 0x100, on: "3")
    #expect(s.kinds.isEmpty)
    s.acquire("L", on: "4", inst: 0x10FF)  // the last byte of the range
    s.free(0x1000, 0x100, on: "3")
    #expect(s.kinds == [.heldLockFreed])
    #expect(s.findings.first?.lock?.instance == 0x10FF)
  }

  @Test func freeOfOneByteAtTheLock() {
    var s = Scenario()
    s.lock("L", .spinlock)
    s.acquire("L", inst: 0x2000)
    s.free(0x2000, 1, on: "2")
    #expect(s.kinds == [.heldLockFreed])
  }

  @Test func initCoversItsOwnInstanceOnly() {
    var s = Scenario()
    s.lock("L", .spinlock)
    s.acquire("L", inst: 0x3001)
    s.initLock("L", inst: 0x3000)
    s.initLock("L", inst: 0x3002)
    #expect(s.kinds.isEmpty)
    s.initLock("L", inst: 0x3001)
    #expect(s.kinds == [.heldLockFreed])
    guard case .heldLockFreed(_, _, _, let reinitialized) = s.findings.first?.detail else {
      Issue.record("no held-lock-freed detail")
      return
    }
    #expect(reinitialized)
  }

  // MARK: A read after a held read

  /// read A, lock B, then A again: a recursive read is allowed (held A is
  /// a read), a plain read is recursive locking: check_deadlock() scans all
  /// held locks, not only the newest.
  func readAfterReadAcrossALock(_ second: ReadMode) -> [FindingKind] {
    var s = Scenario()
    s.lock("A", .rwlock)
    s.lock("B", .spinlock)
    s.acquire("A", read: .shared)
    s.acquire("B")
    s.acquire("A", read: second)
    return s.kinds
  }

  @Test func readAfterReadWithALockBetween() {
    #expect(readAfterReadAcrossALock(.recursive) == [])
    #expect(readAfterReadAcrossALock(.shared) == [.recursiveLocking])
  }

  /// read A in task context, then A again in a softirq: the held read of
  /// the interrupted task counts.
  func readAfterReadAcrossASoftirq(_ second: ReadMode) throws -> [FindingKind] {
    var s = Scenario()
    s.lock("A", .rwlock)
    s.acquire("A", read: .shared)
    try s.event(.softirqEnter)
    s.acquire("A", read: second)
    return s.kinds
  }

  @Test func readAfterReadAcrossASoftirq() throws {
    #expect(try readAfterReadAcrossASoftirq(.recursive) == [])
    // A plain read in the softirq also marks IN-SOFTIRQ-R on a class that
    // is SOFTIRQ-ON-R: lockdep's check_usage_forwards() starts at the lock
    // itself (only_xr is false for read=1) and reports an irq inversion too.
    #expect(try readAfterReadAcrossASoftirq(.shared).contains(.recursiveLocking))
  }

  // MARK: Threaded and plain hard interrupts

  /// A spinlock_t (config) in a hard interrupt: allowed in a threaded
  /// handler (limit config), invalid in a plain one (limit spin). The chain
  /// ([L] in hardirq) is the same; each acquisition gets its own verdict.
  func spinlockInHardirqs(_ threadedFlags: [Bool]) throws -> [FindingKind] {
    var s = Scenario()
    s.lock("L", .spinlock)
    for threaded in threadedFlags {
      try s.event(.hardirqEnter, threaded: threaded)
      s.acquire("L")
      s.release("L")
      try s.event(.hardirqExit)
    }
    return s.kinds
  }

  @Test func threadedThenPlainHardirq() throws {
    #expect(try spinlockInHardirqs([true, true]) == [])
    #expect(try spinlockInHardirqs([true, true, false]) == [.invalidWaitContext])
  }

  @Test func plainThenThreadedHardirq() throws {
    var s = Scenario()
    s.lock("L", .spinlock)
    // Each acquisition from its own stack, so that each invalid one is a
    // distinct finding.
    for (i, threaded) in [false, false, true, true].enumerated() {
      try s.event(.hardirqEnter, threaded: threaded)
      s.acquire("L", stack: Int32(i + 1))
      s.release("L")
      try s.event(.hardirqExit)
    }
    #expect(s.kinds == [.invalidWaitContext, .invalidWaitContext])
    #expect(s.findings.map(\.origin.stack.raw) == [1, 2])
    guard case .invalidWaitContext(let context, _, _) = s.findings.first?.detail else { return }
    #expect(context == .spin)
  }

  // MARK: Used-in-softirq usage bits

  func softirqThenTask(softirqFirst: Bool) throws -> Scenario {
    var s = Scenario()
    s.lock("L", .spinlock)
    func inSoftirq(_ s: inout Scenario) throws {
      try s.event(.softirqEnter)
      s.acquire("L")
      s.release("L")
      try s.event(.softirqExit)
    }
    if softirqFirst { try inSoftirq(&s) }
    s.acquire("L")  // interrupts and bottom halves on
    s.release("L")
    if !softirqFirst { try inSoftirq(&s) }
    return s
  }

  @Test func usedInSoftirqThenSoftirqOn() throws {
    let s = try softirqThenTask(softirqFirst: true)
    #expect(s.kinds == [.inconsistentLockState])
    guard case .inconsistentLockState(let previous, let new, _, _) = s.findings.first?.detail
    else { return }
    #expect(previous.usageString == "IN-SOFTIRQ-W")
    #expect(new.usageString == "SOFTIRQ-ON-W")
  }

  @Test func softirqOnThenUsedInSoftirq() throws {
    let s = try softirqThenTask(softirqFirst: false)
    #expect(s.kinds == [.inconsistentLockState])
    guard case .inconsistentLockState(let previous, let new, _, _) = s.findings.first?.detail
    else { return }
    #expect(previous.usageString == "SOFTIRQ-ON-W")
    #expect(new.usageString == "IN-SOFTIRQ-W")
  }

  /// With bottom halves off in task context, the same sequence is clean.
  @Test func softirqUseWithBottomHalvesOffIsSafe() throws {
    var s = Scenario()
    s.lock("L", .spinlock)
    try s.event(.softirqEnter)
    s.acquire("L")
    s.release("L")
    try s.event(.softirqExit)
    try s.event(.bhDisable)
    s.acquire("L")
    s.release("L")
    try s.event(.bhEnable)
    #expect(s.kinds.isEmpty)
  }
}
