import WaitContext

extension LockValidator {
  /// lockdep's `__lock_acquire()`, in its order: the sleep check (the
  /// kernel's `might_sleep()` in the lock function), the wait-context check,
  /// usage bits, the chain key, the nest lock, then the chain validation.
  mutating func acquire(_ event: LockEvent) {
    let t = event.thread.index
    let cls = classes.variant(of: event.lockClass, subclass: event.subclass)
    let waits = classes[cls].waits
    let check = classes[cls].check
    statistics.acquisitions += 1
    var lock = HeldLock(
      lockClass: cls, instance: event.address, read: check ? event.read : .recursive,
      isTrylock: event.isTrylock, check: check, hardirqsOff: threads[t].hardirqsOff,
      irqContext: threads[t].irqContext, nest: event.nest, previousChainKey: 0,
      origin: event.origin)

    if !event.isTrylock && SleepRule.sleeps(waits, configuration: configuration) {
      checkSleep(event, lock: snapshot(lock))
    }
    checkWaitContext(thread: t, lock)
    if check { markUsage(thread: t, lock) }
    markUsed(thread: t, lock)

    if lock.nest != ClassID.none && !isHeld(thread: t, base: lock.nest) {
      report(
        .nestedLockNotTaken, thread: t, origin: event.origin, lock: snapshot(lock),
        detail: .nestedLockNotTaken(nest: lock.nest), classes: [cls, lock.nest])
      lock.nest = .none
    }
    guard threads[t].held.count < Self.maxHeldDepth else {
      report(
        .limitExceeded, thread: t, origin: event.origin, lock: snapshot(lock),
        detail: .limitExceeded(
          limit: "MAX_LOCK_DEPTH (\(Self.maxHeldDepth))",
          consequence: "validation of this thread stopped until it exits"),
        classes: [])
      threads[t].stopped = true
      return
    }
    push(thread: t, lock)
  }

  /// Pushes a lock: computes the chain key and validates the chain when it
  /// is new (lockdep's `validate_chain()`).
  mutating func push(thread t: Int, _ lock: HeldLock) {
    var lock = lock
    let depth = threads[t].held.count
    let chainHead = depth == 0 || threads[t].held[depth - 1].irqContext != lock.irqContext
    lock.previousChainKey = threads[t].chainKey
    let base = chainHead ? ChainKey.initial(irqContext: lock.irqContext) : threads[t].chainKey
    let key = ChainKey.iterate(base, lockClass: lock.lockClass, read: lock.read)

    if !lock.isTrylock && lock.check {
      if chains.contains(key) {
        statistics.chainHits += 1
      } else {
        statistics.chainMisses += 1
        let before = findings.count
        validateNewChain(thread: t, &lock, chainHead: chainHead)
        // A chain that produced a finding is not cached, so each later
        // occurrence is counted.
        if findings.count == before { chains.insert(key) }
      }
    }
    threads[t].held.append(lock)
    threads[t].chainKey = key
  }

  /// The graph work of a chain seen for the first time.
  mutating func validateNewChain(thread t: Int, _ lock: inout HeldLock, chainHead: Bool) {
    switch checkRecursion(thread: t, &lock) {
    case .deadlock, .nested: return
    case .none: break
    }
    if !chainHead { addDependencies(thread: t, lock) }
  }

  /// `might-lock`: the acquisition was only checked; drop it again.
  mutating func popTopIfMatches(_ event: LockEvent) {
    let t = event.thread.index
    guard let top = threads[t].held.last, classes[top.lockClass].base == event.lockClass else {
      return
    }
    threads[t].chainKey = top.previousChainKey
    threads[t].held.removeLast()
  }

  /// Whether the thread holds a lock of declared class `base` (any subclass).
  func isHeld(thread t: Int, base: ClassID) -> Bool {
    threads[t].held.contains { classes[$0.lockClass].base == base }
  }
}
