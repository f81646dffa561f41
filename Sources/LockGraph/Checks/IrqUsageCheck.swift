extension LockValidator {
  /// lockdep's `mark_usage()`: used-in-irq bits for blocking acquisitions
  /// in interrupt context, enabled bits when interrupts (and bottom halves)
  /// are on. An NMI counts as a hard interrupt.
  mutating func markUsage(thread t: Int, _ lock: HeldLock) {
    let read = lock.read.isRead
    if !lock.isTrylock {
      if threads[t].hardirqDepth > 0 || threads[t].nmiDepth > 0 {
        markLock(thread: t, lock, read ? .usedInHardirqRead : .usedInHardirq)
      }
      if threads[t].softirqDepth > 0 {
        markLock(thread: t, lock, read ? .usedInSoftirqRead : .usedInSoftirq)
      }
    }
    if !lock.hardirqsOff {
      markLock(thread: t, lock, read ? .enabledHardirqRead : .enabledHardirq)
      if threads[t].softirqsEnabled {
        markLock(thread: t, lock, read ? .enabledSoftirqRead : .enabledSoftirq)
      }
    }
  }

  /// The `LOCK_USED` bit, set for every acquisition.
  @inline(__always)
  mutating func markUsed(thread t: Int, _ lock: HeldLock) {
    let bit: UsageBit = lock.read.isRead ? .usedRead : .used
    if !classes[lock.lockClass].usage.contains(bit) { markLock(thread: t, lock, bit) }
  }

  /// Marks every held lock that takes part in checks with an enabled bit
  /// (its read variant for read-held locks).
  mutating func markHeldLocks(thread t: Int, _ bit: UsageBit, origin: Origin) {
    for lock in threads[t].held where lock.check {
      var marked = lock
      marked.origin = origin
      markLock(thread: t, marked, lock.read.isRead ? bit.readVariant : bit)
    }
  }

  /// lockdep's `mark_lock()` and `mark_lock_irq()`: sets a bit once, and on
  /// the first time checks that it does not conflict with the class's own
  /// bits nor, through the graph, with the bits of classes it depends on.
  mutating func markLock(thread t: Int, _ lock: HeldLock, _ bit: UsageBit) {
    let c = lock.lockClass
    let usage = classes[c].usage
    if usage.contains(bit) { return }  // the common case: nothing new
    classes.setUsage(c, usage.union(bit.mask))
    classes.recordUsageOrigin(c, bit: bit, lock.origin)
    guard bit.isIrqBit else { return }

    let excl = bit.exclusive
    if usage.contains(excl) {
      reportInconsistent(thread: t, lock, previous: excl, new: bit)
      return
    }
    if !bit.isRead && usage.contains(excl.readVariant) {
      reportInconsistent(thread: t, lock, previous: excl.readVariant, new: bit)
      return
    }
    let forwards = bit.rawValue & UsageBit.directionFlag == 0
    let mask = excl.mask.union(excl.readVariant.mask)
    guard
      let hit = search.run(
        graph: graph, classes: classes, from: c, direction: forwards ? .forward : .backward,
        rootOnlyRecursive: forwards ? lock.read == .recursive : lock.read.isRead,
        skipIrqUsageExempt: true, goal: .usage(mask))
    else { return }
    let irqClass =
      classes[hit.found].usage.contains(excl) ? excl.stateName : excl.readVariant.stateName
    report(
      .irqLockInversion, thread: t, origin: lock.origin, lock: snapshot(lock),
      detail: .irqInversion(
        forwards: forwards, other: hit.found, irqClass: irqClass,
        path: links(hit.path, forward: forwards)),
      classes: [c, hit.found])
  }

  mutating func reportInconsistent(
    thread t: Int, _ lock: HeldLock, previous: UsageBit, new: UsageBit
  ) {
    report(
      .inconsistentLockState, thread: t, origin: lock.origin, lock: snapshot(lock),
      detail: .inconsistentLockState(
        previous: previous, new: new,
        previousOrigin: classes.usageOrigin(lock.lockClass, bit: previous), state: irqState(t)),
      classes: [lock.lockClass])
  }

  /// lockdep's `check_irq_usage()`: a new dependency prev -> next must not
  /// let an irq-safe class (reachable backwards from prev) wait for an
  /// irq-unsafe one (reachable forwards from next). Returns false when
  /// reported.
  mutating func checkIrqDependency(thread t: Int, prev: HeldLock, next: HeldLock) -> Bool {
    let prevShared = prev.read.isRead
    _ = search.run(
      graph: graph, classes: classes, from: prev.lockClass, direction: .backward,
      rootOnlyRecursive: prevShared, skipIrqUsageExempt: true, goal: .accumulate)
    let usedIn = search.accumulated.intersection(.usedInAll)
    if usedIn.isEmpty { return true }

    guard
      let unsafeHit = search.run(
        graph: graph, classes: classes, from: next.lockClass, direction: .forward,
        rootOnlyRecursive: next.read == .recursive, skipIrqUsageExempt: true,
        goal: .usage(usedIn.exclusive))
    else { return true }
    let unsafeUsage = classes[unsafeHit.found].usage
    let backwardMask = unsafeUsage.intersection(.enabledAll).exclusive
    guard
      let safeHit = search.run(
        graph: graph, classes: classes, from: prev.lockClass, direction: .backward,
        rootOnlyRecursive: prevShared, skipIrqUsageExempt: true, goal: .usage(backwardMask)),
      let (safeBit, unsafeBit) = classes[safeHit.found].usage.firstExclusiveMatch(in: unsafeUsage)
    else { return true }

    report(
      .irqLockInversion, thread: t, origin: next.origin, lock: snapshot(next),
      detail: .irqUnsafeDependency(
        held: snapshot(prev), safe: safeHit.found, safeBit: safeBit,
        safeOrigin: classes.usageOrigin(safeHit.found, bit: safeBit),
        unsafe: unsafeHit.found, unsafeBit: unsafeBit,
        unsafeOrigin: classes.usageOrigin(unsafeHit.found, bit: unsafeBit),
        safeToHeld: links(safeHit.path, forward: false).reversed(),
        lockToUnsafe: links(unsafeHit.path, forward: true), state: safeBit.stateName),
      classes: [prev.lockClass, next.lockClass, safeHit.found, unsafeHit.found])
    return false
  }
}
