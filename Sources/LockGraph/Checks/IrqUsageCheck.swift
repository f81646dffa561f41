extension ThreadValidator {
  /// The usage bits an acquisition sets (lockdep's `mark_usage()`):
  /// used-in-irq bits for blocking acquisitions in interrupt context,
  /// enabled bits when interrupts (and bottom halves) are on, and
  /// `LOCK_USED` always. Never asked in an NMI, where lockdep is off and
  /// marks nothing (`acquire` checks `checkUnusedBeforeNMI` there alone).
  @inline(__always)
  mutating func usageBits(of lock: HeldLock) -> UsageMask {
    usageBits(
      read: lock.read, check: lock.check, isTrylock: lock.isTrylock,
      hardirqsOff: lock.hardirqsOff)
  }

  /// `usageBits(of:)` of an acquisition's parts, in the current context.
  @inline(__always)
  func usageBits(read mode: ReadMode, check: Bool, isTrylock: Bool, hardirqsOff: Bool)
    -> UsageMask
  {
    let read = mode.isRead
    var bits: UsageMask = read ? UsageBit.usedRead.mask : UsageBit.used.mask
    guard check else { return bits }
    if !isTrylock {
      if state.inHardirq {
        bits.formUnion(read ? UsageBit.usedInHardirqRead.mask : UsageBit.usedInHardirq.mask)
      }
      // PREEMPT_RT has no softirq context for lockdep: softirqs run in
      // threads, and `lockdep_softirq_enter()` is empty there ("lockdep:
      // Remove softirq accounting on PREEMPT_RT", 5.17), so no class is
      // ever used in a softirq, and a lock a softirq shares with task
      // context is no inconsistent state or inversion.
      if state.softirqDepth > 0 && !configuration.preemptRT {
        bits.formUnion(read ? UsageBit.usedInSoftirqRead.mask : UsageBit.usedInSoftirq.mask)
      }
    }
    if !hardirqsOff {
      bits.formUnion(read ? UsageBit.enabledHardirqRead.mask : UsageBit.enabledHardirq.mask)
      if state.softirqsEnabled {
        bits.formUnion(read ? UsageBit.enabledSoftirqRead.mask : UsageBit.enabledSoftirq.mask)
      }
    }
    return bits
  }

  /// Marks the acquisition's usage bits. The fast path, every bit already
  /// set, reads one word and writes nothing.
  @inline(__always)
  mutating func markUsage(_ lock: HeldLock) {
    let bits = usageBits(of: lock)
    if classes.usage(lock.lockClass).isSuperset(of: bits) { return }
    markUsageSlow(lock, bits)
  }

  /// lockdep's order: used-in-irq bits (hardirq, softirq), enabled bits
  /// (hardirq, softirq), then `LOCK_USED`; a finding depends on which
  /// conflicting bit is set first.
  static let markingOrder: [UsageBit] = [
    .usedInHardirq, .usedInHardirqRead, .usedInSoftirq, .usedInSoftirqRead, .enabledHardirq,
    .enabledHardirqRead, .enabledSoftirq, .enabledSoftirqRead, .used, .usedRead,
  ]

  @inline(never)
  mutating func markUsageSlow(_ lock: HeldLock, _ bits: UsageMask) {
    var lock = lock
    if reacquiredAt == nil { lock.origin = stacked(lock.origin) }
    let marked = lock
    let at = foundAt(lock)
    withShared { me, s in
      for bit in Self.markingOrder where bits.contains(bit) {
        me.markLock(marked, bit, at: at, in: &s)
      }
    }
  }

  /// Marks every held lock that takes part in checks with an enabled bit
  /// (its read variant for read-held locks).
  mutating func markHeldLocks(_ bit: UsageBit, origin: Origin) {
    // The common case: every bit set already.
    guard !heldLocksMarked(bit) else { return }
    let origin = stacked(origin)
    withShared { me, s in
      for lock in me.state.held where lock.check {
        me.markLock(lock, lock.read.isRead ? bit.readVariant : bit, at: origin, in: &s)
      }
    }
  }

  /// Whether every held lock that takes part in checks has `bit` (its
  /// read variant for read-held locks) already: `markHeldLocks(bit)`
  /// would change nothing. An index loop that reads two fields of each
  /// entry (no iterator copying whole entries, no closure).
  @inline(__always)
  func heldLocksMarked(_ bit: UsageBit) -> Bool {
    let write = bit.mask
    let read = bit.readVariant.mask
    var i = 0
    while i < state.held.count {
      let lock = state.held[i]
      if lock.check && !classes.usage(lock.lockClass).contains(lock.read.isRead ? read : write) {
        return false
      }
      i &+= 1
    }
    return true
  }

  /// lockdep's `mark_lock()` and `mark_lock_irq()`: sets a bit once, and on
  /// the first time checks that it does not conflict with the class's own
  /// bits nor, through the graph, with the bits of classes it depends on.
  /// `origin` is the event that sets it (the acquisition, or the
  /// `irq-enable` that marks every held lock): where the bit was set, and
  /// where a finding happened; a finding's lock line shows where `lock`
  /// was taken, as lockdep's `print_lock()` prints its `acquire_ip`.
  mutating func markLock(
    _ lock: HeldLock, _ bit: UsageBit, at origin: Origin, in s: inout SharedState
  ) {
    let c = lock.lockClass
    let usage = classes.usage(c)
    if usage.contains(bit) { return }  // set meanwhile by another thread
    classes.addUsage(c, bit.mask)
    s.graph.addUsage(bit.mask, to: c, skipsIrqUsage: classes.skipsIrqUsage)
    s.recordUsageOrigin(c, bit: bit, origin)
    guard bit.isIrqBit else { return }

    let excl = bit.exclusive
    if usage.contains(excl) {
      reportInconsistent(lock, previous: excl, new: bit, at: origin, in: &s)
      return
    }
    if !bit.isRead && usage.contains(excl.readVariant) {
      reportInconsistent(lock, previous: excl.readVariant, new: bit, at: origin, in: &s)
      return
    }
    let forwards = bit.rawValue & UsageBit.directionFlag == 0
    let mask = excl.mask.union(excl.readVariant.mask)
    // No class on the searched side has a conflicting bit: the search would
    // find nothing.
    let side =
      forwards ? s.graph.enabledReachable(from: c) : s.graph.usedInReaching(c)
    guard
      !side.isDisjoint(with: mask),
      let hit = s.search.run(
        graph: s.graph, classes: classes, from: c, direction: forwards ? .forward : .backward,
        rootOnlyRecursive: forwards ? lock.read == .recursive : lock.read.isRead,
        skipIrqUsageExempt: true, goal: .usage(mask))
    else { return }
    let irqClass =
      classes.usage(hit.found).contains(excl) ? excl.stateName : excl.readVariant.stateName
    report(
      .irqLockInversion, origin: origin, lock: snapshot(lock),
      detail: .irqInversion(
        forwards: forwards, other: hit.found, irqClass: irqClass,
        path: s.links(hit.path, forward: forwards, usageOf: classes)),
      classes: [c, hit.found], in: &s)
  }

  /// lockdep's `verify_lock_unused()`, the one check lockdep makes in an
  /// NMI (`lock_acquire()` with lockdep off, not a trylock): a class used
  /// before (written; or read, when this acquisition writes) is reported
  /// as `inconsistent {INITIAL USE} -> {IN-NMI} usage`, since the NMI may
  /// come while the lock is held. Readers alone never conflict (RCU).
  /// Returns whether it reported.
  mutating func checkUnusedBeforeNMI(_ lock: HeldLock) -> Bool {
    var conflicting = UsageBit.used.mask
    if !lock.read.isRead { conflicting.formUnion(UsageBit.usedRead.mask) }
    guard !classes.usage(lock.lockClass).isDisjoint(with: conflicting) else { return false }
    var previousOrigin: Origin? = nil
    withShared { _, s in
      previousOrigin =
        s.usageOrigin(lock.lockClass, bit: .used) ?? s.usageOrigin(lock.lockClass, bit: .usedRead)
    }
    reportNow(
      .inconsistentLockState, origin: lock.origin, lock: snapshot(lock),
      detail: .inconsistentLockState(
        previous: .used, new: .inNMI, previousOrigin: previousOrigin, state: irqState()),
      classes: [lock.lockClass])
    return true
  }

  mutating func reportInconsistent(
    _ lock: HeldLock, previous: UsageBit, new: UsageBit, at origin: Origin,
    in s: inout SharedState
  ) {
    report(
      .inconsistentLockState, origin: origin, lock: snapshot(lock),
      detail: .inconsistentLockState(
        previous: previous, new: new,
        previousOrigin: s.usageOrigin(lock.lockClass, bit: previous), state: irqState()),
      classes: [lock.lockClass], in: &s)
  }

  /// lockdep's `check_irq_usage()`: a new dependency prev -> next must not
  /// let an irq-safe class (reachable backwards from prev) wait for an
  /// irq-unsafe one (reachable forwards from next). Returns false when
  /// reported.
  mutating func checkIrqDependency(prev: HeldLock, next: HeldLock, in s: inout SharedState)
    -> Bool
  {
    let prevShared = prev.read.isRead
    // No class next may reach was enabled in a way that conflicts with
    // any irq use of a class that may reach prev (none, when no such class
    // was used in an interrupt): the forward search below would find
    // nothing, whatever the backward one accumulates.
    if !s.graph.irqConflictPossible(prev: prev.lockClass, next: next.lockClass) { return true }
    _ = s.search.run(
      graph: s.graph, classes: classes, from: prev.lockClass, direction: .backward,
      rootOnlyRecursive: prevShared, skipIrqUsageExempt: true, goal: .accumulate)
    let usedIn = s.search.accumulated.intersection(.usedInAll)
    if usedIn.isEmpty { return true }

    guard
      let unsafeHit = s.search.run(
        graph: s.graph, classes: classes, from: next.lockClass, direction: .forward,
        rootOnlyRecursive: next.read == .recursive, skipIrqUsageExempt: true,
        goal: .usage(usedIn.exclusive))
    else { return true }
    let unsafeUsage = classes.usage(unsafeHit.found)
    let backwardMask = unsafeUsage.intersection(.enabledAll).exclusive
    guard
      let safeHit = s.search.run(
        graph: s.graph, classes: classes, from: prev.lockClass, direction: .backward,
        rootOnlyRecursive: prevShared, skipIrqUsageExempt: true, goal: .usage(backwardMask)),
      let (safeBit, unsafeBit) = classes.usage(safeHit.found).firstExclusiveMatch(
        in: unsafeUsage)
    else { return true }

    // Its paths' links are built only for a finding new at this site.
    let usage = classes
    let held = snapshot(prev)
    report(
      .irqLockInversion, origin: foundAt(next), lock: snapshot(next), variant: 0,
      detail: { s in
        .irqUnsafeDependency(
          held: held, safe: safeHit.found, safeBit: safeBit,
          safeOrigin: s.usageOrigin(safeHit.found, bit: safeBit),
          unsafe: unsafeHit.found, unsafeBit: unsafeBit,
          unsafeOrigin: s.usageOrigin(unsafeHit.found, bit: unsafeBit),
          safeToHeld: s.links(safeHit.path, forward: false, usageOf: usage).reversed(),
          lockToUnsafe: s.links(unsafeHit.path, forward: true, usageOf: usage),
          state: safeBit.stateName)
      }, classes: [prev.lockClass, next.lockClass, safeHit.found, unsafeHit.found], in: &s)
    return false
  }
}
