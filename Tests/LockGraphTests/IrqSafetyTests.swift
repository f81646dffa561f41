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

  /// On PREEMPT_RT a threaded handler runs in a thread of its own
  /// (forced threading, `irq_forced_thread_fn()`), with interrupts on and
  /// bottom halves off: a `spinlock_t` it shares with task context is
  /// used in no hard interrupt there, so taking it with interrupts on
  /// elsewhere is consistent (lockdep on an RT kernel never sees a hardirq
  /// for it). Without PREEMPT_RT, or for a handler that is not threaded
  /// (`IRQF_NO_THREAD`), it is the inconsistency it always was. The wait
  /// context stays a threaded handler's: a mutex there is invalid.
  @Test(arguments: [(true, true), (true, false), (false, true)])
  func aThreadedHandlerOnPreemptRTUsesNoHardirq(rt: Bool, threaded: Bool) throws {
    var s = Scenario(CheckConfiguration(preemptRT: rt))
    s.lock("S", .spinlock)
    s.lock("M", .mutex)
    s.acquire("S")
    s.release("S")
    try s.event(.hardirqEnter, threaded: threaded)
    s.acquire("S")
    s.release("S")
    if rt && threaded {
      #expect(s.kinds.isEmpty)
      s.acquire("M")
      s.release("M")
      #expect(s.kinds.contains(.invalidWaitContext))
      #expect(!s.kinds.contains(.inconsistentLockState))
    } else {
      // On PREEMPT_RT a handler that is not threaded may not take a
      // spinlock_t at all: a sleep and an invalid wait context besides.
      #expect(s.kinds.filter { $0 == .inconsistentLockState }.count == 1)
    }
    try s.event(.hardirqExit)
  }

  /// PREEMPT_RT has no softirq context for lockdep (softirqs run in
  /// threads; `lockdep_softirq_enter()` is empty there since 5.17): a lock
  /// taken in a softirq and with bottom halves on elsewhere is no
  /// inconsistent lock state, nor an irq-safe class for an inversion
  /// (a review found `kfree` in `withSoftIRQ` reported so on the slab's
  /// per-CPU lock, checked as for PREEMPT_RT). Without PREEMPT_RT, both
  /// are found.
  @Test(arguments: [false, true])
  func aSoftirqOnPreemptRTUsesNoSoftirq(rt: Bool) throws {
    var s = Scenario(CheckConfiguration(preemptRT: rt))
    s.lock("S", .spinlock)
    s.lock("U", .spinlock)
    try s.event(.softirqEnter)
    s.acquire("S")
    s.release("S")
    try s.event(.softirqExit)
    s.acquire("S")
    s.release("S")
    // S, softirq-safe without PREEMPT_RT, comes to depend on U,
    // softirq-unsafe.
    s.acquire("U")
    s.release("U")
    try s.event(.bhDisable)
    s.acquire("S")
    s.acquire("U")
    s.release("U")
    s.release("S")
    try s.event(.bhEnable)
    let expected: Set<FindingKind> = rt ? [] : [.inconsistentLockState, .irqLockInversion]
    #expect(Set(s.kinds) == expected)
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

  /// lockdep's irq event stamp (`struct irqtrace_events`): a change of the
  /// interrupt state counts once, when interrupts or bottom halves go from
  /// on to off or back (`lockdep_hardirqs_off()` / `_on()`,
  /// `lockdep_softirqs_off()` / `_on()`); a nested disable and the enable
  /// that does not end it count nothing; a hard interrupt's entry turns
  /// interrupts off and its exit back on, a softirq's entry turns bottom
  /// halves off. An inconsistent lock state carries the thread's count and
  /// the newest change of each kind, with the event that made it.
  @Test func inconsistentStateCarriesTheIrqEventStamps() throws {
    var s = Scenario()
    s.lock("A", .spinlock)
    s.acquire("A")  // SOFTIRQ-ON-W
    s.release("A")
    try s.event(.irqDisable)  // event 2: hardirqs off, stamp 1
    try s.event(.irqDisable)  // nested: nothing
    try s.event(.irqEnable)  // still off: nothing
    try s.event(.irqEnable)  // event 5: hardirqs on, stamp 2
    try s.event(.bhDisable)  // event 6: softirqs off, stamp 3
    // event 7, `__local_bh_enable_ip()` with interrupts on: hardirqs off
    // (stamp 4), softirqs on (5), hardirqs on (6).
    try s.event(.bhEnable)
    try s.event(.hardirqEnter)  // event 8: hardirqs off, stamp 7
    try s.event(.hardirqExit)  // event 9: hardirqs on, stamp 8
    try s.event(.softirqEnter)  // event 10: softirqs off, stamp 9
    s.acquire("A")  // IN-SOFTIRQ-W: inconsistent
    let finding = try #require(s.findings.first { $0.kind == .inconsistentLockState })
    let trace = try #require(finding.irqTrace)
    #expect(trace.events == 9)
    #expect(trace.hardirqsDisabled.stamp == 7 && trace.hardirqsDisabled.origin.event == 8)
    #expect(trace.hardirqsEnabled.stamp == 8 && trace.hardirqsEnabled.origin.event == 9)
    #expect(trace.softirqsDisabled.stamp == 9 && trace.softirqsDisabled.origin.event == 10)
    #expect(trace.softirqsEnabled.stamp == 5 && trace.softirqsEnabled.origin.event == 7)
  }

  /// A finding raised by a `bh-enable` (the held locks become
  /// softirq-enabled) shows that event's own changes as lockdep counts
  /// them: `__local_bh_enable_ip()` turns interrupts off, counts bottom
  /// halves on, and the marking (`lockdep_hardirqs_on_prepare()`) runs
  /// before interrupts on is counted.
  @Test func aFindingAtABottomHalfEnableShowsItsOwnChanges() throws {
    var s = Scenario()
    s.lock("A", .spinlock)
    try s.event(.softirqEnter)  // event 0: softirqs off, stamp 1
    s.acquire("A")  // IN-SOFTIRQ-W
    s.release("A")
    try s.event(.softirqExit)  // event 3: softirqs on, stamp 2
    try s.event(.bhDisable)  // event 4: softirqs off, stamp 3
    s.acquire("A")  // held with bottom halves off: no SOFTIRQ-ON-W yet
    try s.event(.bhEnable)  // event 6: hardirqs off (4), softirqs on (5), marks A, hardirqs on
    let finding = try #require(s.findings.first { $0.kind == .inconsistentLockState })
    #expect(finding.origin.event == 6)
    let trace = try #require(finding.irqTrace)
    #expect(trace.events == 5)
    #expect(trace.hardirqsDisabled.stamp == 4 && trace.hardirqsDisabled.origin.event == 6)
    #expect(trace.softirqsEnabled.stamp == 5 && trace.softirqsEnabled.origin.event == 6)
    #expect(trace.softirqsDisabled.stamp == 3 && trace.softirqsDisabled.origin.event == 4)
    #expect(trace.hardirqsEnabled.stamp == 0)
  }

  /// `rcu_read_lock_bh()` is `local_bh_disable()` and then its lockdep
  /// map; `rcu_read_unlock_bh()` the map's release and then
  /// `local_bh_enable()`. So a lock taken inside an `rcu_bh` section is not
  /// SOFTIRQ-ON (`mark_usage()` marks that only with softirqs enabled),
  /// and one held when the section ends becomes SOFTIRQ-ON there
  /// (`lockdep_softirqs_on()` marks the held locks). The irq event stamps
  /// count the section as bottom halves off and on. Each event one at a
  /// time, and as a trace's batch.
  @Test(arguments: [false, true])
  func anRCUBottomHalfSectionDisablesBottomHalves(batch: Bool) throws {
    var v = LockValidator()
    let spin = v.declareClass(key: "s", kind: .spinlock, waits: try ClassWaitTypes(kind: .spinlock))
    let bh = v.declareClass(key: "b", kind: .rcuBH, waits: try ClassWaitTypes(kind: .rcuBH))
    let t = v.declareThread(token: "t")
    func run(_ events: [LockEvent]) throws {
      if batch {
        #expect(events.withUnsafeBufferPointer { v.process($0) } == nil)
      } else {
        for event in events { try v.process(event) }
      }
    }
    // Inside the section, then in a softirq: consistent.
    try run([
      LockEvent(.acquire, thread: t, lockClass: bh, read: .recursive),
      LockEvent(.acquire, thread: t, lockClass: spin),
      LockEvent(.release, thread: t, lockClass: spin),
      LockEvent(.release, thread: t, lockClass: bh),
      LockEvent(.softirqEnter, thread: t),
      LockEvent(.acquire, thread: t, lockClass: spin),
      LockEvent(.release, thread: t, lockClass: spin),
      LockEvent(.softirqExit, thread: t),
    ])
    #expect(v.findings.findings.isEmpty, "\(v.findings.findings.map(\.kind))")
    // Held when the section ends: SOFTIRQ-ON at the section's release,
    // inconsistent with its use in the softirq.
    try run([
      LockEvent(.acquire, thread: t, lockClass: bh, read: .recursive),
      LockEvent(.acquire, thread: t, lockClass: spin),
      LockEvent(.release, thread: t, lockClass: bh),
      LockEvent(.release, thread: t, lockClass: spin),
    ])
    let findings = v.findings.findings
    #expect(findings.map(\.kind) == [.inconsistentLockState])
    guard let finding = findings.first,
      case .inconsistentLockState(let previous, let new, _, _) = finding.detail
    else { return }
    #expect(previous.usageString == "IN-SOFTIRQ-W")
    #expect(new.usageString == "SOFTIRQ-ON-W")
    // Found at the section's release (event 10), whose bottom halves
    // went off at its acquisition (event 8): the stamps count as
    // `bh-disable` and `bh-enable` would, the first section's off (1) and
    // its end (interrupts off, bottom halves on, interrupts on: 2 to 4),
    // the softirq's entry and exit (5, 6), and this section's off (7).
    #expect(finding.origin.event == 10)
    let trace = try #require(finding.irqTrace)
    #expect(trace.softirqsDisabled.stamp == 7 && trace.softirqsDisabled.origin.event == 8)
    #expect(trace.hardirqsEnabled.stamp == 4 && trace.hardirqsEnabled.origin.event == 3)
  }

  /// A handler that returns with an `rcu_bh` section held (reported) ends
  /// the section with it: the interrupted context's bottom halves are as
  /// they were (`handle_softirqs()` puts the preempt count back), so a
  /// mutex taken after it sleeps in no atomic context. And an `rcu_bh`
  /// acquisition with a nest lock (which `rcu_read_lock_bh()` never has),
  /// merged into the entry below, begins no section its release would
  /// leave open. (With `--preempt-rt` a softirq's locks are the task's,
  /// as an RT kernel's lockdep has no softirq context: the section stays
  /// open after it, unreported there, and a mutex taken in it sleeps in
  /// it.)
  @Test func anRCUBottomHalfSectionEndsWithItsHandlerAndNeverMerges() throws {
    for rt in [false, true] {
      var s = Scenario(CheckConfiguration(preemptRT: rt))
      s.lock("b", .rcuBH)
      s.lock("m", .mutex)
      try s.event(.softirqEnter)
      s.acquire("b", read: .recursive)
      try s.event(.softirqExit)
      #expect(s.kinds == (rt ? [] : [.locksHeldAtExit]), "rt \(rt)")
      s.acquire("m")
      s.release("m")
      // Its release, later, follows the report: nothing more.
      s.release("b")
      try s.event(.mightSleep)
      #expect(
        s.kinds == (rt ? [.sleepInAtomic, .invalidWaitContext] : [.locksHeldAtExit]),
        "rt \(rt): \(s.kinds)")
    }
    var s = Scenario()
    s.lock("n", .mutex)
    s.lock("b", .rcuBH)
    s.acquire("n")
    s.acquire("b", read: .recursive)
    s.acquire("b", read: .recursive, nest: "n")
    s.release("b")
    s.release("b")
    try s.event(.mightSleep)
    #expect(s.kinds.isEmpty, "\(s.kinds)")
  }

  /// lockdep's `usage_skip()` skips a per-CPU class in the irq-usage
  /// searches only when its inner wait type is at least `LD_WAIT_CONFIG`
  /// (`local_lock_t`); for one below that it returns false (not skipped)
  /// after a `DEBUG_LOCKS_WARN_ON`, which turns lockdep itself off, where
  /// validation here goes on. So a hardirq-safe lock taken around a per-CPU map of inner
  /// `spin`, taken around a hardirq-unsafe lock, is an irq lock inversion,
  /// and around one of inner `config` is not (nor, without
  /// PROVE_RAW_LOCK_NESTING, where `LD_WAIT_CONFIG` is `LD_WAIT_SPIN`,
  /// around one of inner `spin`). Before 2026-12-07 every per-CPU class
  /// was skipped.
  @Test func aPerCPUClassBelowConfigIsNotSkippedByIrqSearches() throws {
    for (inner, raw, expected) in [
      (WaitType.spin, true, [FindingKind.irqLockInversion]),
      (.free, true, [.irqLockInversion]),
      (.config, true, []),
      (.spin, false, []),
      (.free, false, [.irqLockInversion]),
    ] {
      var s = Scenario(CheckConfiguration(proveRawLockNesting: raw))
      s.lock("S", .rawSpinlock)
      s.lock("U", .rawSpinlock)
      s.lock("P", .custom, inner: inner, type: .percpu)
      try s.useInHardirq("S")
      s.acquire("U")
      s.release("U")
      try s.event(.irqDisable)
      s.acquire("S")
      s.acquire("P")
      s.acquire("U")
      s.release("U")
      s.release("P")
      s.release("S")
      try s.event(.irqEnable)
      // (A map of inner `free` or `config` also breaks a wait context
      // here, which is another finding.)
      #expect(
        s.kinds.filter { $0 != .invalidWaitContext } == expected,
        "inner \(inner), raw nesting \(raw)")
    }
  }

  /// An `rcu_bh` acquisition with a nest lock that is not merged (no entry
  /// of its class on top) has an entry of its own and disables bottom
  /// halves as any other (`rcu_read_lock_bh()` calls `local_bh_disable()`
  /// whatever lockdep's map is given): a lock used in a softirq and taken
  /// inside the section is not SOFTIRQ-ON. (Before 2026-12-07 a nest lock
  /// left bottom halves on: a false inconsistent lock state, found by an
  /// independent trial of `stats` and `graph`.) Its release ends the
  /// section: a mutex after it sleeps in no atomic context.
  @Test func anRCUBottomHalfSectionWithANestLockDisablesBottomHalves() throws {
    var s = Scenario()
    s.lock("S", .spinlock)
    s.lock("N", .mutex)
    s.lock("B", .rcuBH)
    s.lock("M", .mutex)
    try s.event(.softirqEnter)
    s.acquire("S")
    s.release("S")
    try s.event(.softirqExit)
    s.acquire("N")
    s.acquire("B", read: .recursive, nest: "N")
    s.acquire("S")
    s.release("S")
    s.release("B")
    s.acquire("M")
    s.release("M")
    s.release("N")
    try s.event(.mightSleep)
    #expect(s.kinds.isEmpty, "\(s.kinds)")
    // Such a section stays its own when a release below it puts it back
    // right above another `rcu_bh` entry (which would merge it): its
    // release still ends it. (The review of the change above found the
    // section left open: a false sleep in atomic context.)
    var r = Scenario()
    for k in ["N", "X", "Y", "M"] { r.lock(k, k == "X" ? .rcuBH : k == "Y" ? .spinlock : .mutex) }
    r.acquire("N")
    r.acquire("X", read: .recursive, inst: 0x10)
    r.acquire("Y")
    r.acquire("X", read: .recursive, nest: "N", inst: 0x20)
    r.release("Y")
    r.release("X", inst: 0x20)
    r.release("X", inst: 0x10)
    r.release("N")
    r.acquire("M")
    r.release("M")
    try r.event(.mightSleep)
    #expect(r.kinds.isEmpty, "\(r.kinds)")
  }
}
