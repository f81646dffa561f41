import LockGraph
import Testing
import WaitContext

/// Interrupt-like contexts as a PREEMPT_RT kernel's lockdep sees them.
@Suite struct PreemptRTContextTests {
  private static let rt = CheckConfiguration(preemptRT: true)

  /// An RT kernel's lockdep has no softirq context (`lockdep_softirq_enter()`
  /// is empty there since "lockdep: Remove softirq accounting on
  /// PREEMPT_RT"): a softirq's locks are of the task's `irq_context`, and
  /// `check_prevs_add()` records a dependency from the lock the task holds
  /// (RT runs pending softirqs in the task that enables bottom halves,
  /// which may hold a `spinlock_t`). `A` held, a softirq taking `B`, and
  /// `B` then `A` elsewhere is a cycle there, and no cycle without
  /// PREEMPT_RT, where the softirq's chain is its own.
  @Test func aSoftirqsLocksChainWithTheTasksOnRT() throws {
    func run(_ configuration: CheckConfiguration) throws -> [FindingKind] {
      try Scenario.kindsOfOrderAround(configuration, enter: .softirqEnter, exit: .softirqExit)
    }
    #expect(try run(Self.rt) == [.circularDependency])
    #expect(try run(CheckConfiguration()).contains(.circularDependency) == false)
  }

  /// A softirq entered inside a handler is not the interrupted task's on
  /// PREEMPT_RT (the kernel runs it in `ksoftirqd` or the irq thread): its
  /// locks do not chain with the task's, and its exit does not take the
  /// task's locks for its own (they were reported as left held by the
  /// softirq, and dropped).
  @Test func aSoftirqInsideAHandlerIsNotTheTasksOnRT() throws {
    for threaded in [false, true] {
      var s = Scenario(Self.rt)
      s.lock("t", .spinlock)
      s.lock("s", .spinlock)
      s.acquire("t")
      try s.event(.hardirqEnter, threaded: threaded)
      try s.event(.softirqEnter)
      s.acquire("s")
      s.release("s")
      try s.event(.softirqExit)
      try s.event(.hardirqExit)
      s.release("t")
      s.acquire("s", on: "2")
      s.acquire("t", on: "2")
      #expect(s.kinds.isEmpty, "threaded \(threaded): \(s.kinds)")
    }
  }

  /// A hard handler (`IRQF_NO_THREAD`) that interrupts a forced-threaded
  /// one is a hard interrupt on PREEMPT_RT: `irq_setup_forced_threading()`
  /// sets `IRQF_ONESHOT`, so the kernel never calls
  /// `lockdep_hardirq_threaded()` there, and the handler nested in an irq
  /// thread is not made a threaded one (as lockdep's per-task
  /// `hardirq_threaded` makes it without PREEMPT_RT). A `spinlock_t` there
  /// is an invalid wait context (`context-{2:2}`), and a raw lock the task
  /// takes with interrupts on and the handler takes is inconsistent.
  @Test func aHardHandlerInsideAThreadedOneIsAHardInterruptOnRT() throws {
    var s = Scenario(Self.rt)
    s.declareRawSpinAndMutex()
    s.acquire("raw")
    s.release("raw")
    try s.event(.hardirqEnter, threaded: true)
    try s.event(.hardirqEnter)
    s.acquire("spin")
    s.release("spin")
    s.acquire("raw")
    s.release("raw")
    try s.event(.hardirqExit)
    try s.event(.hardirqExit)
    #expect(
      Set(s.kinds) == [.invalidWaitContext, .sleepInAtomic, .inconsistentLockState], "\(s.kinds)")
    let f = try #require(s.findings.first { $0.kind == .invalidWaitContext })
    guard case .invalidWaitContext(let context, _, _) = f.detail else { return }
    #expect(context == .spin)
    // Back in the threaded handler: a spinlock_t is fine there.
    var t = Scenario(Self.rt)
    t.declareRawSpinAndMutex()
    try t.event(.hardirqEnter, threaded: true)
    try t.event(.hardirqEnter)
    try t.event(.hardirqExit)
    t.acquire("spin")
    t.release("spin")
    try t.event(.hardirqExit)
    #expect(t.kinds.isEmpty, "\(t.kinds)")
  }

  /// A forced-threaded handler entered inside a hard one runs in its irq
  /// thread on PREEMPT_RT, a task of its own: the raw lock the hard
  /// handler holds is not held there, and a `spinlock_t` it takes is fine
  /// (it was an invalid wait context, an irq inversion and a sleep in
  /// atomic context).
  @Test func aThreadedHandlerInsideAHardOneIsAThreadOfItsOwnOnRT() throws {
    var s = Scenario(Self.rt)
    s.declareRawSpinAndMutex()
    try s.event(.hardirqEnter)
    s.acquire("raw")
    try s.event(.hardirqEnter, threaded: true)
    s.acquire("spin")
    s.release("spin")
    try s.event(.hardirqExit)
    s.release("raw")
    try s.event(.hardirqExit)
    #expect(s.kinds.isEmpty, "\(s.kinds)")
  }
}
