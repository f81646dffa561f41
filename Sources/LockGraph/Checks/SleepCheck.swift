import WaitContext

extension ThreadValidator {
  /// The kernel's `might_sleep()` check: a point that may sleep (a
  /// `might-sleep` event, or a blocking acquisition of a sleeping lock) in a
  /// context that must not sleep. Each reason it must not is listed.
  @inline(__always)
  /// `lockIsHeld`: `lock` was pushed before the check (a PREEMPT_RT
  /// `spinlock_t`'s, checked after lockdep took it), its entry the newest.
  mutating func checkSleep(_ origin: Origin, lock: HeldLock?, lockIsHeld: Bool = false) {
    // The common case: nothing makes this thread atomic (and, on
    // PREEMPT_RT, no held lock is an RCU read-side section).
    if state.nmiDepth | state.hardirqDepth | state.softirqDepth | state.irqDisableDepth
      | state.preemptDisableDepth | state.bhDisableDepth == 0
      && !(state.top?.atomicSoFar ?? false)
      && !(configuration.preemptRT && !state.held.isEmpty)
    {
      return
    }
    checkSleepSlow(origin, lock: lock, lockIsHeld: lockIsHeld)
  }

  /// The kernel's `preempt_count()` and `rcu_preempt_depth()` now
  /// (`AtomicState`): what each held lock and context adds. Where
  /// preemption was disabled is the kernel's `preempt_disable_ip`, where
  /// the count last left 0: the earliest of what adds to it now (the first
  /// held lock that does, and the context event that took the contexts'
  /// share from 0), since all of it came at or after that moment. When
  /// what took it from 0 is gone (a spin lock released under
  /// `preempt-disable`), the kernel still names it; here the earliest that
  /// remains is named. (Live events have no number: there the context
  /// event is taken when fewer locks were held as it came than are held
  /// below the lock, `contextsDisabledPreemptionDepth`, as a thread marked
  /// real-time before it took a raw spin lock.)
  ///
  /// On PREEMPT_RT, bottom halves, softirqs and forced-threaded handlers
  /// add nothing to the preempt count (the softirq count is the task's
  /// `softirq_disable_cnt` there), nor does a `spinlock_t`, `rwlock_t` or
  /// `local_lock_t`; instead each such lock takes `rcu_read_lock()`
  /// (`__rt_spin_lock()`, `rt_read_lock()`, ...), and the first entry into
  /// a bottom-half-disabled section takes one more (`__local_bh_disable_ip()`:
  /// "Required to meet the RCU bottomhalf requirements"; kernels with the
  /// per-CPU BH lock, `PREEMPT_RT_NEEDS_BH_LOCK`, take that local lock too,
  /// which is not counted here, as kernels from 6.18 on leave it out by
  /// default). The rtlock being taken (`lock`; `lockIsHeld` when lockdep
  /// took it first, its entry the newest) has not taken its
  /// `rcu_read_lock()` yet, and its check expects the depth there is.
  ///
  /// A forced-threaded handler (PREEMPT_RT) runs in an irq thread of its
  /// own: only what it took and disabled counts (`ThreadState.ownDepths`,
  /// `holdsOwn`), with its bottom halves off.
  func atomicState(acquiring lock: HeldLock?, lockIsHeld: Bool) -> AtomicState {
    let s = state
    let rt = configuration.preemptRT
    let own = s.ownDepths
    var count = UInt32(clamping: own.preemptDisable)
    if !rt {
      count &+= 0x200 &* UInt32(clamping: own.bhDisable)
      count &+= 0x100 &* UInt32(clamping: own.softirq)
    }
    count &+= 0x10000 &* UInt32(clamping: s.hardirqDepth &- s.forcedThreadDepth)
    count &+= 0x110000 &* UInt32(clamping: s.nmiDepth)
    var rcuDepth = 0
    // PREEMPT_RT's bottom-half-disabled section: `bh-disable`, a softirq,
    // a forced-threaded handler (`irq_forced_thread_fn()`), an RCU-bh
    // reader (`rcu_read_lock_bh()`).
    let bhSection = rt && (own.bhDisable > 0 || own.softirq > 0 || s.forcedThreadDepth > 0)
    var lockAt: Origin? = nil
    var lockIndex = 0
    for (index, h) in s.held.enumerated() where s.holdsOwn(h) {
      let kind = classes[h.lockClass].kind
      switch kind {
      case .rcu: rcuDepth += 1
      case .rcuBH:
        // Its `local_bh_disable()` is counted with the bottom halves
        // disabled (`enterRCUBottomHalfSection`), where the count left 0
        // too; on PREEMPT_RT it is that section's RCU level.
        continue
      default:
        if rt && SleepRule.nestsRCUOnRT(kind) {
          rcuDepth += 1
          continue
        }
        guard SleepRule.makesAtomic(classes.waits(h.lockClass), configuration: configuration)
        else { continue }
        count &+= 1
        if lockAt == nil { (lockAt, lockIndex) = (h.origin, index) }
      }
    }
    if bhSection { rcuDepth += 1 }
    var rcuDepthExpected = 0
    if rt, let lock, SleepRule.isRTLock(classes.waits(lock.lockClass)) {
      if lockIsHeld && SleepRule.nestsRCUOnRT(classes[lock.lockClass].kind) { rcuDepth -= 1 }
      rcuDepthExpected = rcuDepth
    }
    var disabledAt = lockAt
    // The contexts' place, where they add to the count: in a forced
    // thread, only what the handler disabled (the place may be the
    // interrupted thread's, when that one disabled preemption first).
    let ownContextsAdd = s.forcedThreadDepth == 0 || own.preemptDisable > 0
    if contextsAddToPreemptCount, ownContextsAdd, let contexts = s.contextsDisabledPreemptionAt {
      let depth = s.contextsDisabledPreemptionDepth
      if lockAt.map({
        contexts.event < $0.event || (contexts.event == $0.event && depth <= lockIndex)
      }) ?? true {
        disabledAt = contexts
      }
    }
    return AtomicState(
      preemptCount: count, rcuDepth: rcuDepth, rcuDepthExpected: rcuDepthExpected,
      preemptionDisabledAt: disabledAt)
  }

  @inline(never)
  mutating func checkSleepSlow(_ origin: Origin, lock: HeldLock?, lockIsHeld: Bool) {
    let s = state
    let rt = configuration.preemptRT
    // On PREEMPT_RT, what is atomic elsewhere because it disables
    // preemption (spinlock_t, the RCU read side, bottom halves off, a
    // softirq, a force-threaded handler, which runs with bottom halves
    // off) is an RCU read-side section instead: a sleep there fails on the
    // RCU nesting, except an rtlock's own acquisition.
    let rcuNestCounts = SleepRule.rcuNestCounts(
      rt: rt, taking: lock.map { classes.waits($0.lockClass) })
    let onRT = " (an RCU read-side section on PREEMPT_RT)"
    var reasons = SleepReasons()
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
    // In a forced-threaded handler, what the irq thread disabled.
    let own = s.ownDepths
    if own.softirq > 0 && (!rt || rcuNestCounts) {
      reasons.append("in softirq context" + (rt ? onRT : ""))
    }
    if own.irqDisable > 0 { reasons.append("interrupts disabled") }
    if own.preemptDisable > 0 { reasons.append("preemption disabled") }
    if own.bhDisable > 0 && (!rt || rcuNestCounts) {
      reasons.append("bottom halves disabled" + (rt ? onRT : ""))
    }
    var atomicHolders: [ClassID] = []
    for h in s.held where s.holdsOwn(h) {
      let waits = classes.waits(h.lockClass)
      let c = classes[h.lockClass]
      if SleepRule.makesAtomic(waits, configuration: configuration) {
        reasons.appendHolding(kind: c.kind.rawValue, name: c.displayName)
      } else if rcuNestCounts && SleepRule.nestsRCUOnRT(c.kind) {
        reasons.appendHolding(kind: c.kind.rawValue, name: c.displayName, suffix: onRT)
      } else {
        continue
      }
      atomicHolders.append(h.lockClass)
    }
    guard !reasons.isEmpty else { return }
    reportNow(
      .sleepInAtomic, origin: origin, lock: lock.map(snapshot),
      detail: .sleepInAtomic(
        reasons: reasons, atomic: atomicState(acquiring: lock, lockIsHeld: lockIsHeld)),
      classes: (lock.map { [$0.lockClass] } ?? []) + atomicHolders)
  }
}
