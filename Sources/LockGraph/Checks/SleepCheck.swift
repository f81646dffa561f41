import WaitContext

extension ThreadValidator {
  /// The kernel's `might_sleep()` check: a point that may sleep (a
  /// `might-sleep` event, or a blocking acquisition of a sleeping lock) in a
  /// context that must not sleep. Each reason it must not is listed.
  @inline(__always)
  mutating func checkSleep(_ origin: Origin, lock: HeldLock?) {
    // The common case: nothing makes this thread atomic.
    if state.nmiDepth | state.hardirqDepth | state.softirqDepth | state.irqDisableDepth
      | state.preemptDisableDepth | state.bhDisableDepth == 0
      && !(state.top?.atomicSoFar ?? false)
    {
      return
    }
    checkSleepSlow(origin, lock: lock)
  }

  @inline(never)
  mutating func checkSleepSlow(_ origin: Origin, lock: HeldLock?) {
    let s = state
    let rt = configuration.preemptRT
    var reasons: [String] = []
    if s.nmiDepth > 0 { reasons.append("in NMI context") }
    if s.hardirqDepth > 0 {
      if case .hardirq(let threaded) = s.waitContext, threaded && rt {
        // A threaded handler runs in a thread on PREEMPT_RT.
      } else {
        reasons.append("in hardirq context")
      }
    }
    if s.softirqDepth > 0 && !rt { reasons.append("in softirq context") }
    if s.irqDisableDepth > 0 { reasons.append("interrupts disabled") }
    if s.preemptDisableDepth > 0 { reasons.append("preemption disabled") }
    if s.bhDisableDepth > 0 && !rt { reasons.append("bottom halves disabled") }
    var atomicHolders: [ClassID] = []
    for h in s.held
    where SleepRule.makesAtomic(classes.waits(h.lockClass), configuration: configuration) {
      let c = classes[h.lockClass]
      reasons.append("holding \(c.kind.rawValue) \(c.displayName)")
      atomicHolders.append(h.lockClass)
    }
    guard !reasons.isEmpty else { return }
    reportNow(
      .sleepInAtomic, origin: origin, lock: lock.map(snapshot),
      detail: .sleepInAtomic(reasons: reasons),
      classes: (lock.map { [$0.lockClass] } ?? []) + atomicHolders)
  }
}
