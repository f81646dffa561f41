import LockGraph
import Testing
import WaitContext

@Suite struct WaitContextCheckTests {
  @Test func seedScenarioIsInvalidDespiteTheTrylock() {
    var s = Scenario()
    s.lock("some", .rawSpinlock)
    s.lock("krc", .rawSpinlock)
    s.lock("pcp", .spinlock)
    s.lock("zone", .spinlock)
    s.acquire("some")
    s.acquire("krc")
    s.acquire("pcp", try: true)
    #expect(s.kinds.isEmpty, "a trylock is never wait-checked")
    s.acquire("zone")
    #expect(s.kinds == [.invalidWaitContext])
    guard case .invalidWaitContext(let context, let allowed, let required) = s.findings[0].detail
    else {
      Issue.record("wrong detail")
      return
    }
    #expect(context == .task)
    #expect(allowed == .spin)
    #expect(required == .config)
    #expect(s.findings[0].held.count == 3)
  }

  @Test func rawLockNestingOffMakesConfigCountAsSpin() {
    var s = Scenario(CheckConfiguration(proveRawLockNesting: false))
    s.declareRawSpinAndMutex()
    s.acquire("raw")
    s.acquire("spin")
    #expect(s.kinds.isEmpty)
    s.acquire("m")
    #expect(s.kinds.contains(.invalidWaitContext))
  }

  @Test func interruptContextsSetTheLimit() throws {
    var s = Scenario()
    s.declareRawSpinAndMutex()
    try s.event(.hardirqEnter)
    s.acquire("raw")
    s.release("raw")
    #expect(s.kinds.isEmpty, "a raw spinlock is fine in a hard interrupt")
    s.acquire("spin")
    #expect(s.kinds == [.invalidWaitContext], "spinlock_t sleeps on RT: not in hardirq")
    s.release("spin")
    try s.event(.hardirqExit)

    var threaded = Scenario()
    threaded.lock("spin", .spinlock)
    try threaded.event(.hardirqEnter, threaded: true)
    threaded.acquire("spin")
    #expect(threaded.kinds.isEmpty, "a threaded handler may take spinlock_t")
    threaded.release("spin")
    // `lockdep_hardirq_enter()` clears `hardirq_threaded` only on the
    // outermost entry: a handler nested in a threaded one is threaded too.
    try threaded.event(.hardirqEnter)
    threaded.acquire("spin")
    #expect(threaded.kinds.isEmpty, "nested in a threaded handler")
    threaded.release("spin")
    try threaded.event(.hardirqExit)
    try threaded.event(.hardirqExit)
    try threaded.event(.hardirqEnter)
    threaded.acquire("spin")
    #expect(threaded.kinds == [.invalidWaitContext], "a new outermost handler is not")
    threaded.release("spin")
    try threaded.event(.hardirqExit)
    // `lockdep_hardirq_threaded()` in a nested handler sets the task's
    // flag: the outer handler is threaded too from then on, until it ends.
    var outer = Scenario()
    outer.lock("spin", .spinlock)
    try outer.event(.hardirqEnter)
    try outer.event(.hardirqEnter, threaded: true)
    try outer.event(.hardirqExit)
    outer.acquire("spin")
    #expect(outer.kinds.isEmpty, "the outer handler after a threaded nested one")

    var soft = Scenario()
    soft.lock("spin", .spinlock)
    soft.lock("m", .mutex)
    try soft.event(.softirqEnter)
    soft.acquire("spin")
    #expect(soft.kinds.isEmpty)
    soft.acquire("m")
    #expect(soft.kinds.contains(.invalidWaitContext))
  }

  /// A softirq entered inside a hard interrupt runs as the kernel runs
  /// softirqs from `irq_exit()`, after leaving hardirq context
  /// (`lockdep_softirq_start()`): its wait type is softirq's, so a
  /// `spinlock_t` is allowed and a mutex is not; the handler's locks are
  /// another context's (not narrowing); the hard interrupt is back when
  /// the softirq ends. It was checked inside both (`context-{2:2}`).
  @Test func aSoftirqInsideAHardirqIsASoftirqAlone() throws {
    var s = Scenario()
    s.declareRawSpinAndMutex()
    try s.event(.hardirqEnter)
    s.acquire("raw")
    try s.event(.softirqEnter)
    s.acquire("spin")
    #expect(s.kinds.isEmpty, "softirq context allows a spinlock_t: \(s.kinds)")
    s.release("spin")
    s.acquire("m")
    #expect(s.kinds.contains(.invalidWaitContext))
    guard case .invalidWaitContext(let context, _, _) = s.findings.last?.detail else {
      Issue.record("wrong detail")
      return
    }
    #expect(context == .config, "softirq context")
    s.release("m")
    try s.event(.softirqExit)
    let before = s.kinds.count
    s.acquire("spin")
    #expect(
      s.kinds.dropFirst(before).contains(.invalidWaitContext),
      "back in the hard interrupt: \(s.kinds)")
  }

  @Test func lockHeldByInterruptedCodeDoesNotCount() throws {
    var s = Scenario()
    s.lock("raw", .rawSpinlock)
    s.lock("spin", .spinlock)
    s.acquire("raw")
    try s.event(.softirqEnter)
    s.acquire("spin")
    #expect(!s.kinds.contains(.invalidWaitContext))
  }

  @Test func rcuFlavoursAndInvAndOverride() {
    var s = Scenario()
    s.lock("raw", .rawSpinlock)
    s.lock("rcu", .rcu)
    s.lock("sched", .rcuSched)
    s.lock("srcu", .srcu)
    s.lock("spin", .spinlock)
    s.lock("ovr", .waitOverride, inner: .config)
    s.acquire("raw")
    s.acquire("rcu")
    s.acquire("srcu")
    #expect(s.kinds.isEmpty, "RCU's outer is free; SRCU is never checked")
    s.release("srcu")
    s.release("rcu")
    s.acquire("ovr", try: true)  // lock_map_acquire_try(), as the kernel takes override maps
    s.acquire("spin")
    #expect(s.kinds.isEmpty, "an override holder resets the limit to its inner")
    s.release("spin")
    s.release("ovr")
    s.release("raw")

    s.acquire("sched")
    s.acquire("spin")
    #expect(s.kinds == [.invalidWaitContext], "rcu_read_lock_sched() is a spin context")
  }

  /// lockdep's `reacquire_held_locks()` runs all of `__lock_acquire()`
  /// for the locks above one released out of order, `check_wait_context()`
  /// too: a spinlock_t allowed under a raw spin lock by a wait-override
  /// between them is an invalid wait context once the override goes,
  /// found at its release.
  @Test func aLockReacquiredAfterItsOverrideWentIsChecked() throws {
    var s = Scenario()
    s.lock("raw", .rawSpinlock)
    s.lock("ovr", .waitOverride, inner: .config)
    s.lock("spin", .spinlock)
    s.acquire("raw")
    s.acquire("ovr", try: true)
    s.acquire("spin")
    #expect(s.kinds.isEmpty)
    s.release("ovr")
    #expect(s.kinds == [.invalidWaitContext])
    #expect(s.findings.first?.origin.event == 3)
  }

  /// Below any lock but a wait-override, a release out of order can only
  /// raise what the locks above it are allowed: a lock refused when it
  /// was taken (a mutex in a hard interrupt: also a sleep there) is not
  /// reported again at the release (one finding each, with a stack each).
  @Test func aLockRefusedBeforeIsNotReportedAgainAtARelease() throws {
    var s = Scenario()
    s.lock("a", .mutex)
    s.lock("m", .mutex)
    try s.event(.hardirqEnter)
    s.acquire("a", stack: 1)
    s.acquire("m", stack: 2)
    let before = s.kinds
    #expect(before.filter { $0 == .invalidWaitContext }.count == 2)
    s.release("a")
    #expect(s.kinds == before)
  }

  @Test func nmiAllowsOnlyWaitFree() throws {
    var s = Scenario()
    s.lock("raw", .rawSpinlock)
    s.lock("rcu", .rcu)
    try s.event(.nmiEnter)
    s.acquire("rcu")
    #expect(s.kinds.isEmpty)
    s.acquire("raw", try: true)
    #expect(s.kinds.isEmpty)
    s.release("raw")
    s.acquire("raw")
    #expect(s.kinds == [.invalidWaitContext])
  }

  /// An invalid wait context names the lock taken and the held lock that
  /// set the limit it broke (the last of its interrupt context to lower
  /// what is allowed, as `check_wait_context()` walks them), not one that
  /// allowed more, nor a lock of the interrupted context; none when the
  /// interrupt context's own limit refused it.
  @Test func anInvalidWaitContextNamesTheLockThatSetTheLimit() throws {
    var s = Scenario()
    s.lock("mutex", .mutex)
    s.lock("spin", .spinlock)
    s.lock("raw", .rawSpinlock)
    s.lock("other", .rawSpinlock)
    s.lock("rcu", .rcu)
    s.lock("m2", .mutex)
    // Under a mutex (sleep), then a raw spin lock (spin): the raw lock set
    // the limit a mutex breaks.
    s.acquire("mutex")
    s.acquire("raw")
    s.acquire("m2")
    s.release("m2")
    s.release("raw")
    s.release("mutex")
    var f = try #require(s.findings.last { $0.kind == .invalidWaitContext })
    #expect(s.validator.core.lockNames(of: f) == ["&m2", "&raw"])
    // A raw lock held by the interrupted task does not count in a hard
    // interrupt, whose own limit (spin) refuses a spinlock_t.
    s.acquire("other")
    try s.event(.hardirqEnter)
    s.acquire("spin")
    f = try #require(s.findings.last { $0.kind == .invalidWaitContext })
    #expect(s.validator.core.lockNames(of: f) == ["&spin"])
    s.release("spin")
    try s.event(.hardirqExit)
    s.release("other")
    // Under an RCU read lock (inner config): RCU set the limit a mutex
    // breaks; with a raw spin lock (spin) taken under it too, the raw lock.
    s.lock("m3", .mutex)
    s.lock("m4", .mutex)
    s.lock("raw2", .rawSpinlock)
    s.acquire("rcu")
    s.acquire("m3")
    f = try #require(s.findings.last { $0.kind == .invalidWaitContext })
    #expect(s.validator.core.lockNames(of: f) == ["&m3", "&rcu"])
    s.release("m3")
    s.acquire("raw2")
    s.acquire("m4")
    f = try #require(s.findings.last { $0.kind == .invalidWaitContext })
    #expect(s.validator.core.lockNames(of: f) == ["&m4", "&raw2"])
  }

  /// A sleep in atomic context names the lock that may sleep, then the
  /// held locks that make the thread atomic (the report's "holding"
  /// lines), not the RCU section or a mutex held; a might-sleep names the
  /// holders alone. The fingerprints' names (`heldFirst`) stay as before.
  @Test func aSleepInAtomicNamesTheLocksThatMakeItAtomic() throws {
    var s = Scenario()
    s.lock("raw", .rawSpinlock)
    s.lock("spin", .spinlock)
    s.lock("mutex", .mutex)
    s.lock("m2", .mutex)
    s.acquire("mutex")
    s.acquire("raw")
    s.acquire("spin")
    try s.event(.mightSleep)
    var f = try #require(s.findings.last { $0.kind == .sleepInAtomic })
    #expect(s.validator.core.lockNames(of: f) == ["&raw", "&spin"])
    #expect(s.validator.core.lockNames(of: f, heldFirst: true).isEmpty)
    s.acquire("m2")
    f = try #require(s.findings.last { $0.kind == .sleepInAtomic })
    #expect(s.validator.core.lockNames(of: f) == ["&m2", "&raw", "&spin"])
    #expect(s.validator.core.lockNames(of: f, heldFirst: true) == ["&m2"])
  }

  /// On PREEMPT_RT a held `spinlock_t` makes a might-sleep fail as an RCU
  /// read-side section there (the report says "holding spinlock &spin (an
  /// RCU read-side section on PREEMPT_RT)"): it is named too.
  @Test func aSleepOnPreemptRTNamesTheSpinlockItHolds() throws {
    var s = Scenario(CheckConfiguration(preemptRT: true))
    s.lock("spin", .spinlock)
    s.acquire("spin")
    try s.event(.mightSleep)
    let f = try #require(s.findings.last { $0.kind == .sleepInAtomic })
    #expect(s.validator.core.lockNames(of: f) == ["&spin"])
  }
}

extension Scenario {
  /// Declares a raw spin lock `raw`, a `spinlock_t` `spin` and a mutex
  /// `m`: one lock of each wait type the rule tells apart.
  mutating func declareRawSpinAndMutex() {
    lock("raw", .rawSpinlock)
    lock("spin", .spinlock)
    lock("m", .mutex)
  }
}
