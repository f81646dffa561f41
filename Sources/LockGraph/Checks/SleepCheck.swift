import WaitContext

extension ThreadValidator {
  /// The kernel's `might_sleep()` check: a point that may sleep (a
  /// `might-sleep` event, or a blocking acquisition of a sleeping lock) in a
  /// context that must not sleep. Each reason it must not is listed.
  @inline(__always)
  mutating func checkSleep(_ origin: Origin, lock: HeldLock?) {
    // The common case: nothing makes this thread atomic (and, on
    // PREEMPT_RT, no held lock is an RCU read-side section).
    if state.nmiDepth | state.hardirqDepth | state.softirqDepth | state.irqDisableDepth
      | state.preemptDisableDepth | state.bhDisableDepth == 0
      && !(state.top?.atomicSoFar ?? false)
      && !(configuration.preemptRT && !state.held.isEmpty)
    {
      return
    }
    checkSleepSlow(origin, lock: lock)
  }

  @inline(never)
  mutating func checkSleepSlow(_ origin: Origin, lock: HeldLock?) {
    let s = state
    let rt = configuration.preemptRT
    // On PREEMPT_RT, what is atomic elsewhere because it disables
    // preemption (spinlock_t, the RCU read side, bottom halves off, a
    // softirq, a force-threaded handler, which runs with bottom halves
    // off) is an RCU read-side section instead: a sleep there fails on the
    // RCU nesting, except an rtlock's own acquisition.
    let rcuNestCounts =
      rt && !(lock.map { SleepRule.isRTLock(classes.waits($0.lockClass)) } ?? false)
    let onRT = " (an RCU read-side section on PREEMPT_RT)"
    var reasons: [String] = []
    if s.nmiDepth > 0 { reasons.append("in NMI context") }
    if s.hardirqDepth > 0 {
      if case .hardirq(let threaded) = s.waitContext, threaded && rt {
        // A threaded handler runs in a thread on PREEMPT_RT, with bottom
        // halves disabled (`irq_forced_thread_fn()`).
        if rcuNestCounts { reasons.append("in a threaded hardirq handler" + onRT) }
      } else {
        reasons.append("in hardirq context")
      }
    }
    if s.softirqDepth > 0 && (!rt || rcuNestCounts) {
      reasons.append("in softirq context" + (rt ? onRT : ""))
    }
    if s.irqDisableDepth > 0 { reasons.append("interrupts disabled") }
    if s.preemptDisableDepth > 0 { reasons.append("preemption disabled") }
    if s.bhDisableDepth > 0 && (!rt || rcuNestCounts) {
      reasons.append("bottom halves disabled" + (rt ? onRT : ""))
    }
    var atomicHolders: [ClassID] = []
    for h in s.held {
      let waits = classes.waits(h.lockClass)
      let c = classes[h.lockClass]
      if SleepRule.makesAtomic(waits, configuration: configuration) {
        reasons.append("holding \(c.kind.rawValue) \(c.displayName)")
      } else if rcuNestCounts && SleepRule.nestsRCUOnRT(c.kind) {
        reasons.append("holding \(c.kind.rawValue) \(c.displayName)" + onRT)
      } else {
        continue
      }
      atomicHolders.append(h.lockClass)
    }
    guard !reasons.isEmpty else { return }
    reportNow(
      .sleepInAtomic, origin: origin, lock: lock.map(snapshot),
      detail: .sleepInAtomic(reasons: reasons),
      classes: (lock.map { [$0.lockClass] } ?? []) + atomicHolders)
  }
}
