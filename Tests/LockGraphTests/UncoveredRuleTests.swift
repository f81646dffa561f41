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

  // MARK: Roots of the irq searches taken as plain reads

  /// R -(SN)-> X, R taken with bottom halves off (no SOFTIRQ-ON bit of
  /// its own) and X with them on; then R read in a softirq (IN-SOFTIRQ-R).
  /// lockdep's `check_usage_forwards()` starts with `bfs_init_root()`,
  /// only_xr = (read == 2): false for a plain read, so R -(SN)-> X is
  /// followed and X's SOFTIRQ-ON usage is an irq inversion. Its state is
  /// `state_name(bit)` when X has the write bit, else the read bit's
  /// ("SOFTIRQ-READ").
  @Test(arguments: [(ReadMode.exclusive, "SOFTIRQ"), (.shared, "SOFTIRQ-READ")])
  func plainReadInASoftirqFollowsSharedEdges(xRead: ReadMode, irqClass: String) throws {
    var s = Scenario()
    s.lock("R", .rwlock)
    s.lock("X", .rwlock)
    try s.event(.bhDisable)
    s.acquire("R", read: .shared)
    s.acquire("X", read: xRead)  // R -(SN)-> X
    s.release("X")
    s.release("R")
    try s.event(.bhEnable)
    s.acquire("X", read: xRead)  // SOFTIRQ-ON
    s.release("X")
    try s.event(.softirqEnter)
    s.acquire("R", read: .shared)  // IN-SOFTIRQ-R
    #expect(s.kinds == [.irqLockInversion])
    guard case .irqInversion(let forwards, let other, let found, _) = s.findings.first?.detail
    else { return }
    #expect(forwards && other == s.id("X") && found == irqClass)
  }

  // MARK: check_irq_usage() step 3 keeps the enabled bits only

  /// lockdep's own example in `check_irq_usage()` ("we should only keep
  /// the LOCKF_ENABLED_IRQ_ALL bits"): adding A -> B, with L hardirq-safe
  /// and L -> A, M hardirq-unsafe and B -> M, but M also softirq-safe, and
  /// N softirq-unsafe with N -> A (met first going backwards from A). The
  /// backward search must look for what conflicts with M's *enabled* bits
  /// only: it finds L (HARDIRQ), not N.
  @Test func irqUsageBackwardSearchUsesTheEnabledBitsOnly() throws {
    var s = Scenario()
    for key in ["L", "N", "A", "B", "M"] { s.lock(key, .rawSpinlock) }
    try s.event(.softirqEnter)
    s.acquire("M")  // IN-SOFTIRQ-W (and HARDIRQ-ON-W)
    s.release("M")
    try s.event(.softirqExit)
    try s.event(.irqDisable)
    s.acquire("B")
    s.acquire("M")  // B -> M
    s.release("M")
    s.release("B")
    try s.event(.irqEnable)
    s.acquire("N")  // HARDIRQ-ON-W, SOFTIRQ-ON-W
    s.release("N")
    try s.event(.irqDisable)
    s.acquire("N")
    s.acquire("A")  // N -> A
    s.release("A")
    s.release("N")
    try s.event(.irqEnable)
    try s.useInHardirq("L")  // IN-HARDIRQ-W
    try s.event(.irqDisable)
    s.acquire("L")
    s.acquire("A")  // L -> A
    s.release("A")
    s.release("L")
    #expect(s.kinds == [])
    s.acquire("A")
    s.acquire("B")  // A -> B: L -> A -> B -> M
    #expect(s.kinds == [.irqLockInversion])
    guard
      case .irqUnsafeDependency(
        _, let safe, let safeBit, _, let unsafe, let unsafeBit, _, _, _, let state) = s
        .findings.first?.detail
    else { return }
    #expect(safe == s.id("L") && unsafe == s.id("M") && state == "HARDIRQ")
    #expect(safeBit.usageString == "IN-HARDIRQ-W" && unsafeBit.usageString == "HARDIRQ-ON-W")
  }

  // MARK: Which conflicting bit a finding names

  /// U is SOFTIRQ-ON-R and SOFTIRQ-ON-W; S (IN-SOFTIRQ-W) -> U. lockdep's
  /// `find_exclusive_match()` tests the write bit (`excl`) before its read
  /// twin (`excl_read`): the unsafe bit is SOFTIRQ-ON-W.
  @Test func exclusiveMatchNamesTheWriteBitFirst() throws {
    var s = Scenario()
    s.lock("S", .spinlock)
    s.lock("U", .rwlock)
    try s.event(.softirqEnter)
    s.acquire("S")
    s.release("S")
    try s.event(.softirqExit)
    s.acquire("U", read: .shared)  // SOFTIRQ-ON-R
    s.release("U")
    s.acquire("U")  // SOFTIRQ-ON-W
    s.release("U")
    try s.event(.bhDisable)
    s.acquire("S")
    s.acquire("U")
    #expect(s.kinds == [.irqLockInversion])
    guard
      case .irqUnsafeDependency(_, _, _, _, _, let unsafeBit, _, _, _, _) = s.findings.first?.detail
    else { return }
    #expect(unsafeBit.usageString == "SOFTIRQ-ON-W")
  }
}
