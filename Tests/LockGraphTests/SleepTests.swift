import LockGraph
import Testing
import WaitContext

@Suite struct SleepTests {
  /// The atomic state of the first finding (a sleep in atomic context)
  /// after `steps` and then `last` (a might-sleep), on a scenario checked
  /// with `configuration` that declares `locks`.
  static func atomicState(
    _ configuration: CheckConfiguration = CheckConfiguration(),
    locks: KeyValuePairs<String, LockKind>,
    _ steps: (inout Scenario) throws -> Void,
    last: (inout Scenario) throws -> Void = { try $0.event(.mightSleep) }
  ) throws -> AtomicState? {
    var s = Scenario(configuration)
    for (key, kind) in locks { s.lock(key, kind) }
    try steps(&s)
    try last(&s)
    guard case .sleepInAtomic(_, let atomic) = s.findings.first?.detail else { return nil }
    return atomic
  }

  @Test func mightSleepUnderARawSpinlock() throws {
    var s = Scenario()
    s.lock("raw", .rawSpinlock)
    try s.event(.mightSleep)
    #expect(s.kinds.isEmpty)
    s.acquire("raw")
    try s.event(.mightSleep)
    #expect(s.kinds == [.sleepInAtomic])
    guard case .sleepInAtomic(let reasons, _) = s.findings[0].detail else { return }
    #expect(reasons == ["holding raw_spinlock &raw"])
    // Read and made as an array of lines, from outside the module.
    let lines: [String] = Array(reasons)
    #expect(SleepReasons(lines) == reasons)
    #expect(reasons.joined(separator: "; ") == "holding raw_spinlock &raw")
  }

  /// `mutex_lock_nest_lock()` calls `might_sleep()` before lockdep sees
  /// the lock, so a mutex that lockdep merges into the held entry of its
  /// class (taken with its nest lock, right above a mutex of its class)
  /// is still a sleep in atomic context under a raw spin lock. The merge
  /// skipped every check, this one too.
  @Test func aMergedNestAcquisitionStillMaySleep() throws {
    var s = Scenario()
    s.lock("m", .mutex)
    s.lock("outer", .mutex)
    s.acquire("outer")
    s.acquire("m", nest: "outer", inst: 1)
    s.acquire("m", nest: "outer", inst: 2)
    #expect(s.kinds.isEmpty)
    try s.event(.preemptDisable)
    s.acquire("m", nest: "outer", inst: 3)
    #expect(s.kinds == [.sleepInAtomic])
    // Merged all the same: its release and the others' balance.
    try s.event(.preemptEnable)
    for inst: UInt64 in [3, 2, 1] { s.release("m", inst: inst) }
    s.release("outer")
    #expect(s.kinds == [.sleepInAtomic])
  }

  /// On PREEMPT_RT a `spinlock_t` sleeps (`rt_spin_lock_nest_lock()`
  /// checks after lockdep took it): merged into its class's held entry
  /// under a raw spin lock, it is a sleep in atomic context there too.
  @Test func aMergedNestSpinlockSleepsOnPreemptRT() throws {
    var s = Scenario(CheckConfiguration(preemptRT: true))
    s.lock("outer", .mutex)
    s.lock("spin", .spinlock)
    s.acquire("outer")
    s.acquire("spin", nest: "outer", inst: 1)
    try s.event(.preemptDisable)
    s.acquire("spin", nest: "outer", inst: 2)
    #expect(s.kinds == [.sleepInAtomic])
  }

  /// A wait-override is an annotation for lockdep (`lock_map_acquire_try()`
  /// of an `LD_LOCK_WAIT_OVERRIDE` map): holding it disables nothing, so
  /// a sleep under it alone is no sleep in atomic context.
  @Test func aWaitOverrideMakesNothingAtomic() throws {
    var s = Scenario()
    s.lock("ovr", .waitOverride, inner: .config)
    s.acquire("ovr", try: true)
    try s.event(.mightSleep)
    #expect(s.kinds.isEmpty)
  }

  /// Nor does taking one sleep, whatever its wait type: it is a bare
  /// `lockdep_map`, taken with no lock function (no `might_sleep()`). An
  /// override of wait type sleep taken without `try` under a raw spin lock
  /// is an invalid wait context (its wait type is checked), and only that.
  @Test func aWaitOverrideNeverSleeps() throws {
    var s = Scenario()
    s.lock("raw", .rawSpinlock)
    s.lock("ovr", .waitOverride, inner: .sleep)
    s.acquire("raw")
    s.acquire("ovr")
    #expect(s.kinds == [.invalidWaitContext])
    s.release("ovr")
    s.acquire("ovr", try: true)
    #expect(s.kinds == [.invalidWaitContext])
  }

  /// What `__might_resched()` prints: `preempt_count()` adds 1 per spin
  /// lock and `preempt_disable()`, 0x200 per `local_bh_disable()` (and
  /// `rcu_read_lock_bh()`), 0x100 in a softirq, 0x10000 in a hard
  /// interrupt; `rcu_read_lock()` counts in the RCU nest depth instead
  /// (preemptible RCU), so under it alone `in_atomic()` is 0. Preemption
  /// was disabled where the count left 0 (`preempt_disable_ip`): at the
  /// first spin lock, or the first context event, whichever came first.
  @Test func theAtomicStateCountsAsPreemptCountDoes() throws {
    func state(_ steps: (inout Scenario) throws -> Void) throws -> AtomicState? {
      try Self.atomicState(
        locks: ["spin": .spinlock, "spin2": .rawSpinlock, "rcu": .rcu, "bh": .rcuBH], steps)
    }
    let rcuOnly = try state { $0.acquire("rcu") }
    #expect(rcuOnly == AtomicState(preemptCount: 0, rcuDepth: 1))
    let locks = try state {
      $0.acquire("rcu")
      $0.acquire("spin", stack: 7)
      $0.acquire("spin2", stack: 8)
    }
    #expect(locks?.preemptCount == 2 && locks?.rcuDepth == 1)
    #expect(locks?.preemptionDisabledAt?.stack == StackID(7))
    // `rcu_read_lock_bh()` disables bottom halves, which counts as well.
    let bhFirst = try state {
      $0.acquire("bh", stack: 9)
      $0.acquire("spin", stack: 7)
    }
    #expect(bhFirst?.preemptCount == 0x201)
    #expect(bhFirst?.preemptionDisabledAt?.stack == StackID(9))
    let all = try state {
      $0.acquire("spin", stack: 7)
      try $0.event(.bhDisable)
      $0.acquire("bh")
      try $0.event(.preemptDisable)
      try $0.event(.softirqEnter)
      try $0.event(.hardirqEnter)
    }
    #expect(all?.preemptCount == 0x10502 && all?.rcuDepth == 0)
    #expect(all?.preemptionDisabledAt?.stack == StackID(7))
    #expect(all?.preemptionDisabledAt?.event == 0)
    // A context first: the event that took the count from 0 (the fifth,
    // number 4; the nested `preempt-disable` and the lock came after it).
    let contextFirst = try state {
      try $0.event(.irqDisable)
      $0.acquire("rcu")
      $0.acquire("spin2")
      $0.release("spin2")
      try $0.event(.bhDisable)
      try $0.event(.preemptDisable)
      $0.acquire("spin", stack: 7)
    }
    #expect(contextFirst?.preemptCount == 0x202)
    #expect(contextFirst?.preemptionDisabledAt?.event == 4)
    #expect(contextFirst?.preemptionDisabledAt?.stack.isNone == true)
    // Entering a softirq (or any interrupt) disables it as well.
    let softirq = try state {
      try $0.event(.softirqEnter)
      try $0.event(.hardirqEnter)
    }
    #expect(softirq?.preemptionDisabledAt?.event == 0)
    // An NMI's entry records no place (`__nmi_enter()` adds to the count
    // without `preempt_count_add()`): none is named, not an earlier event.
    let nmi = try state {
      $0.acquire("spin", stack: 7)
      $0.release("spin")
      try $0.event(.nmiEnter)
    }
    #expect(nmi?.preemptCount == 0x110000 && nmi?.preemptionDisabledAt == nil)
    // What disabled it is gone: the earliest of what still does.
    let gone = try state {
      $0.acquire("spin", stack: 7)
      try $0.event(.preemptDisable)
      $0.release("spin")
    }
    #expect(gone?.preemptCount == 1 && gone?.preemptionDisabledAt?.event == 1)
    // Interrupts off alone: the count is 0, nothing disabled preemption.
    let irqsOff = try state { try $0.event(.irqDisable) }
    #expect(irqsOff == AtomicState(preemptCount: 0, rcuDepth: 0))
  }

  /// On PREEMPT_RT, `rt_spin_lock()` and `rt_read_lock()` take
  /// `rcu_read_lock()` instead of disabling preemption, and the first
  /// `local_bh_disable()` of a task (a softirq, a forced-threaded handler
  /// and `rcu_read_lock_bh()` included) takes one more
  /// (`__local_bh_disable_ip()`), none of which touches `preempt_count()`:
  /// the RCU nest depth `__might_resched()` prints is what makes such a
  /// section a sleep in atomic context there. It was printed as 0.
  @Test func onPreemptRTTheRCUNestDepthCountsRTLocksAndBottomHalves() throws {
    func state(_ steps: (inout Scenario) throws -> Void) throws -> AtomicState? {
      try Self.atomicState(
        CheckConfiguration(preemptRT: true),
        locks: ["spin": .spinlock, "rw": .rwlock, "raw": .rawSpinlock, "rcu": .rcu, "bh": .rcuBH],
        steps)
    }
    let twoSpinlocks = try state {
      $0.acquire("spin")
      $0.acquire("rw")
    }
    #expect(twoSpinlocks == AtomicState(preemptCount: 0, rcuDepth: 2))
    let withReader = try state {
      $0.acquire("rcu")
      $0.acquire("spin")
      $0.acquire("raw", stack: 8)
    }
    #expect(withReader?.preemptCount == 1 && withReader?.rcuDepth == 2)
    #expect(withReader?.preemptionDisabledAt?.stack == StackID(8))
    // One bottom-half section, however entered and nested: one more.
    let bottomHalves = try state {
      try $0.event(.bhDisable)
      $0.acquire("bh")
      try $0.event(.bhDisable)
    }
    #expect(bottomHalves == AtomicState(preemptCount: 0, rcuDepth: 1))
    let softirq = try state { try $0.event(.softirqEnter) }
    #expect(softirq == AtomicState(preemptCount: 0, rcuDepth: 1))
    let threaded = try state {
      try $0.event(.hardirqEnter, threaded: true)
      $0.acquire("spin")
    }
    #expect(threaded == AtomicState(preemptCount: 0, rcuDepth: 2))
    // Preemption disabled where the count left 0: not at the
    // `bh-disable` before it, which adds nothing on PREEMPT_RT.
    let bhThenPreempt = try state {
      try $0.event(.bhDisable)
      try $0.event(.preemptDisable)
    }
    #expect(bhThenPreempt?.preemptCount == 1 && bhThenPreempt?.rcuDepth == 1)
    #expect(bhThenPreempt?.preemptionDisabledAt?.event == 1)
  }

  /// A PREEMPT_RT `spinlock_t` taken with interrupts off is checked by
  /// `rtlock_might_resched()` after lockdep took it and before its own
  /// `rcu_read_lock()`, and expects the RCU nest depth there is (an rtlock
  /// may nest in a read-side section): the depth leaves it out, and the
  /// expected depth is the depth (the bcachefs splat of the fixtures:
  /// "RCU nest depth: 0, expected: 0" with the lock among the held).
  @Test func anRTLockAcquisitionExpectsTheRCUNestingItFinds() throws {
    func state(_ steps: (inout Scenario) throws -> Void) throws -> AtomicState? {
      try Self.atomicState(
        CheckConfiguration(preemptRT: true),
        locks: ["spin": .spinlock, "spin2": .spinlock, "rcu": .rcu], steps,
        last: {
          try $0.event(.irqDisable)
          $0.acquire("spin2")
        })
    }
    let alone = try state { _ in }
    #expect(alone == AtomicState(preemptCount: 0, rcuDepth: 0, rcuDepthExpected: 0))
    let nested = try state {
      $0.acquire("rcu")
      $0.acquire("spin")
    }
    #expect(nested == AtomicState(preemptCount: 0, rcuDepth: 2, rcuDepthExpected: 2))
  }

  /// On PREEMPT_RT, `rt_read_lock()` and `rt_write_lock()` call
  /// `rtlock_might_resched()` before lockdep takes the `rwlock_t`, as
  /// sleeping locks' functions do, while `rt_spin_lock()` calls it after:
  /// under a raw spin lock, an `rwlock_t`'s sleep is reported first, with
  /// only the raw lock held, then its invalid wait context; a
  /// `spinlock_t`'s invalid wait context comes first, and its sleep lists
  /// it among the held locks.
  @Test func anRTRwlockIsCheckedForSleepingBeforeLockdepTakesIt() throws {
    for (kind, sleepFirst) in [(LockKind.rwlock, true), (.spinlock, false)] {
      var s = Scenario(CheckConfiguration(preemptRT: true))
      s.lock("raw", .rawSpinlock)
      s.lock("rt", kind)
      s.acquire("raw")
      s.acquire("rt")
      let expected: [FindingKind] =
        sleepFirst ? [.sleepInAtomic, .invalidWaitContext] : [.invalidWaitContext, .sleepInAtomic]
      #expect(s.kinds == expected, "\(kind)")
      let sleep = s.findings.first { $0.kind == .sleepInAtomic }
      let held = sleep?.held.map(\.lockClass) ?? []
      #expect(held == (sleepFirst ? [s.id("raw")] : [s.id("raw"), s.id("rt")]), "\(kind)")
    }
  }

  /// `__might_resched()` prints the irq event stamps
  /// (`print_irqtrace_events()`) when interrupts are off, and only then.
  @Test func aSleepWithInterruptsOffKeepsTheIrqEventStamps() throws {
    var s = Scenario()
    s.lock("m", .mutex)
    s.lock("spin", .spinlock)
    try s.event(.irqDisable)
    try s.event(.mightSleep)
    try s.event(.irqEnable)
    s.acquire("spin")
    try s.event(.mightSleep)
    #expect(s.kinds == [.sleepInAtomic, .sleepInAtomic])
    let off = try #require(s.findings[0].irqTrace)
    #expect(off.events == 1 && off.hardirqsDisabled.stamp == 1)
    #expect(off.hardirqsDisabled.origin.event == 0)
    #expect(s.findings[1].irqTrace == nil)
    // In a hard interrupt, they are off too.
    var h = Scenario()
    try h.event(.hardirqEnter)
    try h.event(.mightSleep)
    #expect(h.findings.first?.irqTrace?.hardirqsDisabled.stamp == 1)
  }

  /// `might_lock()` is `lock_acquire()` + `lock_release()`, without the
  /// `might_sleep()` of `mutex_lock()`: under a raw spin lock, a mutex's
  /// `might-lock` is an invalid wait context only; its acquisition is
  /// both.
  @Test func mightLockOfAMutexDoesNotSleep() throws {
    var s = Scenario()
    s.lock("raw", .rawSpinlock)
    s.lock("m", .mutex)
    s.acquire("raw")
    s.mightLock("m")
    #expect(s.kinds == [.invalidWaitContext])
    s.acquire("m")
    #expect(Set(s.kinds) == [.invalidWaitContext, .sleepInAtomic])
  }

  @Test func mutexWithPreemptionOrInterruptsOff() throws {
    var s = Scenario()
    s.lock("m", .mutex)
    try s.event(.preemptDisable)
    s.acquire("m")
    #expect(s.kinds == [.sleepInAtomic])
    var t = Scenario()
    t.lock("m", .mutex)
    try t.event(.irqDisable)
    t.acquire("m", try: true)
    #expect(t.kinds.isEmpty, "mutex_trylock() does not sleep")
  }

  @Test func spinlockSleepsOnlyOnPreemptRT() {
    for rt in [false, true] {
      var s = Scenario(CheckConfiguration(preemptRT: rt))
      s.lock("raw", .rawSpinlock)
      s.lock("spin", .spinlock)
      s.lock("spin2", .spinlock)
      s.acquire("spin")
      s.acquire("spin2")
      #expect(!s.kinds.contains(.sleepInAtomic), "spinlock_t under spinlock_t is fine")
      s.release("spin2")
      s.release("spin")
      s.acquire("raw")
      s.acquire("spin")
      #expect(s.kinds.contains(.sleepInAtomic) == rt)
    }
  }

  /// `rt_spin_lock()` takes the lock in lockdep (`spin_acquire()`) before
  /// it checks for sleeping (`rtlock_might_resched()`): its invalid wait
  /// context comes first, and the sleep's report lists it held. A mutex
  /// checks first (`might_sleep()` in `mutex_lock()`).
  @Test func anRTSpinlockChecksForSleepingAfterItIsTaken() {
    var s = Scenario(CheckConfiguration(preemptRT: true))
    s.lock("raw", .rawSpinlock)
    s.lock("spin", .spinlock)
    s.lock("m", .mutex)
    s.acquire("raw")
    s.acquire("spin")
    #expect(s.kinds == [.invalidWaitContext, .sleepInAtomic])
    #expect(s.findings.last?.held.map(\.lockClass) == [s.id("raw"), s.id("spin")])
    s.release("spin")
    s.acquire("m")
    #expect(s.kinds.suffix(2) == [.sleepInAtomic, .invalidWaitContext])
    #expect(s.findings[2].held.map(\.lockClass) == [s.id("raw")])
  }

  /// The reasons of the sleep-in-atomic findings.
  static func reasons(_ s: Scenario) -> [[String]] {
    s.findings.compactMap { f in
      if case .sleepInAtomic(let reasons, _) = f.detail { return Array(reasons) }
      return nil
    }
  }

  /// On PREEMPT_RT, `spinlock_t`, `rwlock_t` and `local_lock_t` are entered
  /// with `rcu_read_lock()` (`__rt_spin_lock()`), and `might_sleep()` fails
  /// on the RCU nesting (`__might_resched()`: "RCU nest depth: 1, expected:
  /// 0"), as it does in the RCU read side itself: a sleep there is a bug on
  /// RT too, though the lock does not disable preemption.
  @Test func onPreemptRTASpinlockOrRCUSectionMustNotSleep() throws {
    let rt = CheckConfiguration(preemptRT: true)
    for kind in [LockKind.spinlock, .rwlock, .localLock, .rcu, .rcuBH] {
      var s = Scenario(rt)
      s.lock("l", kind)
      s.lock("m", .mutex)
      s.acquire("l", read: kind.row.isRCU ? .recursive : .exclusive)
      try s.event(.mightSleep)
      #expect(s.kinds == [.sleepInAtomic], "\(kind)")
      // `rcu_read_lock_bh()` disables bottom halves first.
      let onRT = " (an RCU read-side section on PREEMPT_RT)"
      #expect(
        Self.reasons(s) == [
          (kind == .rcuBH ? ["bottom halves disabled" + onRT] : [])
            + ["holding \(kind.rawValue) &l" + onRT]
        ])
      // A mutex taken there: invalid wait context, and the sleep.
      s.acquire("m")
      #expect(s.kinds.contains(.invalidWaitContext), "\(kind)")
      #expect(s.kinds.filter { $0 == .sleepInAtomic }.count == 2, "\(kind)")
    }
    // A wait-override or custom map with inner config is an annotation,
    // not an RCU read-side section (no rcu_read_lock() is taken for it).
    for (kind, type) in [(LockKind.waitOverride, LockType?.none), (.custom, .normal)] {
      var map = Scenario(rt)
      map.lock("map", kind, inner: .config, type: type)
      map.acquire("map", try: true)
      try map.event(.mightSleep)
      #expect(map.kinds.isEmpty, "\(kind)")
    }
    // SRCU may sleep (inv), and nothing held: no finding.
    var srcu = Scenario(rt)
    srcu.lock("s", .srcu)
    srcu.acquire("s", read: .recursive)
    try srcu.event(.mightSleep)
    srcu.release("s")
    try srcu.event(.mightSleep)
    #expect(srcu.kinds.isEmpty)
  }

  /// `rtlock_might_resched()` expects the RCU nesting: on RT, an rtlock
  /// may be taken inside another, or in an RCU read-side section, or with
  /// bottom halves off, without a sleep-in-atomic finding.
  @Test func onPreemptRTAnRTLockMayNestInAnRCUSection() throws {
    let rt = CheckConfiguration(preemptRT: true)
    var s = Scenario(rt)
    s.lock("r", .rcu)
    s.lock("a", .spinlock)
    s.lock("b", .localLock)
    s.acquire("r", read: .recursive)
    s.acquire("a")
    s.acquire("b")
    try s.event(.bhDisable)
    s.lock("c", .rwlock)
    s.acquire("c")
    #expect(s.kinds.isEmpty, "\(s.kinds)")
  }

  /// On RT, bottom halves off, a softirq and a force-threaded hardirq
  /// handler (which runs with bottom halves off, `irq_forced_thread_fn()`)
  /// are RCU read-side sections as well; elsewhere they are atomic.
  @Test func bottomHalvesSoftirqsAndThreadedHandlersOnRT() throws {
    for rt in [false, true] {
      let configuration = CheckConfiguration(preemptRT: rt)
      var bh = Scenario(configuration)
      try bh.event(.bhDisable)
      try bh.event(.mightSleep)
      #expect(bh.kinds == [.sleepInAtomic])
      var soft = Scenario(configuration)
      try soft.event(.softirqEnter)
      try soft.event(.mightSleep)
      #expect(soft.kinds == [.sleepInAtomic])
      var threaded = Scenario(configuration)
      try threaded.event(.hardirqEnter, threaded: true)
      try threaded.event(.mightSleep)
      #expect(threaded.kinds == [.sleepInAtomic])
      let suffix = rt ? " (an RCU read-side section on PREEMPT_RT)" : ""
      #expect(Self.reasons(bh) == [["bottom halves disabled" + suffix]])
      #expect(Self.reasons(soft) == [["in softirq context" + suffix]])
      #expect(
        Self.reasons(threaded)
          == [[rt ? "in a threaded hardirq handler" + suffix : "in hardirq context"]])
    }
  }

  /// On PREEMPT_RT a forced-threaded handler runs in an irq thread of its
  /// own (`irq_thread()` -> `irq_forced_thread_fn()`): what the thread it
  /// interrupted holds (a raw spin lock) or disabled (preemption) is not
  /// the irq thread's, so a `spinlock_t` taken there passes
  /// `rtlock_might_resched()` (preempt count 0), and a sleep there fails
  /// only on the irq thread's own RCU nesting (bottom halves off, the
  /// spin lock), listing only its own lock. Without PREEMPT_RT the handler
  /// runs on the interrupted thread: the raw lock and preemption count.
  @Test func aForcedThreadedHandlerOnRTIsAThreadOfItsOwn() throws {
    for rt in [false, true] {
      var s = Scenario(CheckConfiguration(preemptRT: rt))
      s.lock("raw", .rawSpinlock)
      s.lock("spin", .spinlock)
      try s.event(.preemptDisable)
      s.acquire("raw")
      try s.event(.hardirqEnter, threaded: true)
      s.acquire("spin")
      #expect(s.kinds.isEmpty, "rt \(rt): \(s.kinds)")
      try s.event(.mightSleep)
      #expect(s.kinds == [.sleepInAtomic], "rt \(rt)")
      guard let finding = s.findings.first,
        case .sleepInAtomic(let reasons, let atomic) = finding.detail
      else { continue }
      if rt {
        let onRT = " (an RCU read-side section on PREEMPT_RT)"
        #expect(
          reasons == ["in a threaded hardirq handler" + onRT, "holding spinlock &spin" + onRT])
        #expect(atomic.preemptCount == 0)
        #expect(atomic.rcuDepth == 2)
        #expect(finding.held.map(\.lockClass) == [s.id("spin")])
      } else {
        #expect(reasons.contains("holding raw_spinlock &raw"))
        #expect(reasons.contains("preemption disabled"))
        #expect(finding.held.map(\.lockClass) == [s.id("raw"), s.id("spin")])
      }
    }
  }

  /// A forced-threaded handler's finding (PREEMPT_RT) shows the irq
  /// thread's state, not the interrupted thread's: bottom halves off once
  /// (`irq_forced_thread_fn()`: `SC0[2]`, softirqs off, interrupts on), and
  /// no "Preemption disabled at:" for a `preempt-disable` the interrupted
  /// thread made.
  @Test func aForcedThreadedHandlersFindingShowsTheIrqThreadsState() throws {
    var s = Scenario(CheckConfiguration(preemptRT: true))
    try s.event(.preemptDisable)
    try s.event(.hardirqEnter, threaded: true)
    try s.event(.mightSleep)
    let finding = try #require(s.findings.first)
    #expect(finding.irqState == "HC0[0]:SC0[2]:HE1:SE0")
    guard case .sleepInAtomic(_, let atomic) = finding.detail else {
      Issue.record("\(finding.kind)")
      return
    }
    #expect(atomic.preemptCount == 0 && atomic.rcuDepth == 1)
    #expect(atomic.preemptionDisabledAt == nil)
  }
}
