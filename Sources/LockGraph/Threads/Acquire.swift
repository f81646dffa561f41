import WaitContext

extension ThreadValidator {
  /// lockdep's `__lock_acquire()`, in its order: the sleep check (the
  /// kernel's `might_sleep()` in the lock function), the wait-context check,
  /// usage bits, the chain key, the nest lock, then the chain validation.
  @inline(__always)
  mutating func acquire(_ event: LockEvent) {
    let cls = classes.variant(of: event.lockClass, subclass: event.subclass)
    guard cls != .none else {
      reportClassTableFull(event.origin)
      // A subclass variant the table had no room for, of a class it has:
      // the lock is not pushed, so its release (which names the class, not
      // the variant) must not be a bad unlock balance. It is kept where a
      // release finds the locks a free dropped (`release`). (A class past
      // the table has no events at all: `LockValidator.validate`.)
      if event.verb == .acquire && state.nmiDepth == 0 {
        rememberDropped(
          HeldLock(
            instance: event.address, origin: event.origin, lockClass: event.lockClass,
            nest: .none, read: event.read, isTrylock: event.isTrylock, check: false,
            hardirqsOff: state.hardirqsOff, irqContext: state.irqContext),
          at: event.origin)
      }
      return
    }
    counters.acquisitions += 1
    let waits = classes.waits(cls)
    let check = classes.check(cls)
    // `rcu_read_lock_bh()` disables bottom halves before it takes its map
    // (not in an NMI, where nothing is held to end the section).
    // (Nor for an acquisition merged into the held entry of its class by
    // a nest lock, which `rcu_read_lock_bh()` never has: it would begin a
    // section no release ends. One with a nest lock that is not merged
    // has an entry of its own, whose release ends it.)
    let beginsBottomHalfSection =
      !check && event.verb == .acquire && state.nmiDepth == 0 && classes[cls].kind == .rcuBH
      && !mergesIntoTop(cls, nest: event.nest)
    if beginsBottomHalfSection { enterRCUBottomHalfSection(at: event.origin) }
    // Not changed below: each check reads it in place, none copies it.
    var lock = HeldLock(
      instance: event.address, origin: event.origin, lockClass: cls, nest: event.nest,
      read: check ? event.read : .recursive, isTrylock: event.isTrylock,
      check: check, hardirqsOff: state.hardirqsOff, irqContext: state.irqContext)
    lock.endsBottomHalfSection = beginsBottomHalfSection

    // `might_lock()` is `lock_acquire()` and `lock_release()` only: no
    // `might_sleep()`, which the kernel's sleeping lock functions call
    // themselves (a `might-lock` of a mutex in atomic context is an invalid
    // wait context, not also a sleep in atomic context).
    // A sleeping lock's function checks first (`mutex_lock()` calls
    // `might_sleep()` before `mutex_acquire()`, as `rt_read_lock()` does);
    // a PREEMPT_RT spinlock_t after lockdep took it (`rt_spin_lock()`:
    // `spin_acquire()`, then `rtlock_might_resched()`), so its other
    // findings come first and its report lists it among the held locks.
    let sleepCheck =
      !event.isTrylock && event.verb != .mightLock
      && SleepRule.sleeps(waits, configuration: configuration)
    let sleepCheckAfter =
      sleepCheck && configuration.preemptRT && SleepRule.isRTLock(waits)
      && SleepRule.sleepCheckFollowsAcquireOnRT(classes[cls].kind)
    // lockdep's nest-lock merge: a lock of the newest held lock's class
    // taken with a nest lock only adds a reference to that entry, checked
    // by lockdep for nothing (the nest lock serializes them): a thread may
    // hold any number of one class's locks under it, as
    // `mm_take_all_locks()` does, in one entry. Their releases take the
    // references back (`release`). The lock function's own sleep check
    // is not lockdep's and still runs (`mutex_lock_nest_lock()` calls
    // `might_sleep()` before `mutex_acquire_nest()`): the merge changes
    // nothing it reads. (Only in the top's own interrupt context: lockdep
    // merges whatever context the top was taken in, and its
    // `find_held_lock()` finds the entry again from any; here a release
    // looks in its own context.)
    if !state.stopped,
      mergeIntoTop(cls, nest: event.nest, irqContext: state.irqContext, references: 1)
    {
      if sleepCheck { checkSleep(event.origin, lock: lock) }
      return
    }
    if sleepCheck && !sleepCheckAfter { checkSleep(event.origin, lock: lock) }
    // Whether the lock was pushed by then (its own entry, the newest).
    let heldBefore = state.held.count
    defer {
      if sleepCheckAfter {
        checkSleep(event.origin, lock: lock, lockIsHeld: state.held.count > heldBefore)
      }
    }
    // Nothing until the push changes the held locks or the contexts:
    // what they allow is worked out once, for the check and the push.
    let now = allowedNow()
    if state.nmiDepth > 0 {
      // lockdep is off in an NMI (`__nmi_enter()` calls `lockdep_off()`):
      // `lock_acquire()` runs `verify_lock_unused()` alone (not for a
      // trylock), and nothing is held, chained, marked or searched. A lock
      // it lets through is checked by this validator's own, stricter
      // wait-context rule for NMIs (the wait type `free`).
      if !lock.isTrylock && !checkUnusedBeforeNMI(lock) {
        checkWaitContext(lock, waits: waits, now: now)
      }
      return
    }
    checkWaitContext(lock, waits: waits, now: now)
    markUsage(lock)

    let nest = checkNestLockHeld(lock, at: event.origin)
    guard state.held.count < Self.maxHeldDepth else {
      reportNow(
        .limitExceeded, origin: event.origin, lock: snapshot(lock),
        detail: .limitExceeded(
          limit: "MAX_LOCK_DEPTH", max: Self.maxHeldDepth,
          consequence:
            "validation of this thread stopped until it holds no lock again, outside any "
            + "interrupt context, with nothing disabled (or exits)"),
        classes: [])
      state.stop(bottomHalfMap: localBottomHalf)
      return
    }
    push(lock, nest: nest, waits: waits, now: now)
  }

  /// Whether an acquisition of class `cls` with nest lock `nest` now would
  /// be merged into the newest held lock (`mergeIntoTop`).
  func mergesIntoTop(_ cls: ClassID, nest: ClassID) -> Bool {
    !state.stopped && topMerges(cls, nest: nest, irqContext: state.irqContext)
  }

  /// Whether a lock of class `cls` with nest lock `nest`, in interrupt
  /// context `irqContext`, is merged into the newest held lock: lockdep's
  /// condition (`__lock_acquire()`).
  func topMerges(_ cls: ClassID, nest: ClassID, irqContext: UInt8) -> Bool {
    guard nest != .none, let top = state.top else { return false }
    return top.lockClass == cls && top.irqContext == irqContext
  }

  /// lockdep's nest-lock merge (`__lock_acquire()`): a lock of class `cls`
  /// taken with a nest lock, in interrupt context `irqContext`, right above
  /// a held lock of its class, adds its `references` (at least 1) to that
  /// entry, which keeps its own flags. Returns whether it did.
  mutating func mergeIntoTop(
    _ cls: ClassID, nest: ClassID, irqContext: UInt8, references: UInt32
  ) -> Bool {
    guard topMerges(cls, nest: nest, irqContext: irqContext), var top = state.top else {
      return false
    }
    top.references = max(top.references, 1) + max(references, 1)
    state.held[state.held.count - 1] = top
    return true
  }

  /// The nest lock `lock` is taken with, when it is held; else
  /// `nested-lock-not-taken`, found at `origin`, and no nest lock
  /// (`print_lock_nested_lock_not_held()`).
  mutating func checkNestLockHeld(_ lock: HeldLock, at origin: Origin) -> ClassID {
    guard lock.nest != .none && !isHeld(base: lock.nest) else { return lock.nest }
    reportNow(
      .nestedLockNotTaken, origin: origin, lock: snapshot(lock),
      detail: .nestedLockNotTaken(nest: lock.nest), classes: [lock.lockClass, lock.nest])
    return .none
  }

  /// An acquisition of a class (or subclass variant) that the class table
  /// had no room for: lockdep's `MAX_LOCKDEP_KEYS too low!`, reported, and
  /// the acquisition not validated.
  mutating func reportClassTableFull(_ origin: Origin) {
    reportNow(
      .limitExceeded, origin: origin, lock: nil,
      detail: .limitExceeded(
        limit: "MAX_LOCKDEP_KEYS", max: ClassRegistry.capacity,
        consequence: "this acquisition was not validated"),
      classes: [])
  }

  /// A lock class a live program made past the class table
  /// (`ClassRegistry.capacity`): lockdep's `BUG: MAX_LOCKDEP_KEYS too
  /// low!`, found at `origin` (where the lock was made) and delivered
  /// now; `consequence` says what stops.
  public mutating func reportClassTableFull(_ origin: Origin, consequence: String) {
    reportNow(
      .limitExceeded, origin: origin, lock: nil,
      detail: .limitExceeded(
        limit: "MAX_LOCKDEP_KEYS", max: ClassRegistry.capacity, consequence: consequence),
      classes: [])
    deliverPending()
  }

  /// An acquisition of a lock named `name` with `subclass`, past lockdep's
  /// `MAX_LOCKDEP_SUBCLASSES` (the kernel's "BUG: looking up invalid
  /// subclass", after which it turns itself off): a `limit-exceeded`
  /// finding, delivered now. Nothing else changes: the caller leaves the
  /// acquisition out, with its release, and the thread stays validated.
  public mutating func reportInvalidSubclass(_ subclass: Int, of name: String, origin: Origin) {
    reportNow(
      .limitExceeded, origin: origin, lock: nil,
      detail: .limitExceeded(
        limit: "MAX_LOCKDEP_SUBCLASSES", max: ClassRegistry.subclasses,
        consequence: "\(name): lock(subclass: \(subclass)) and its unlock were not validated"),
      classes: [])
    deliverPending()
  }

  /// Signal handler runs of a live thread that did not fit its queue of
  /// `capacity` events (`since`: when they were queued) and were not
  /// validated: a `limit-exceeded` finding (`MAX_HANDLER_EVENTS`), found
  /// where the queue is validated and delivered now, so that a bug in a
  /// handler that did not fit is not passed over in silence.
  public mutating func reportDroppedHandlerRuns(_ count: Int, capacity: Int, since: String) {
    reportNow(
      .limitExceeded, origin: Origin(), lock: nil,
      detail: .limitExceeded(
        limit: "MAX_HANDLER_EVENTS", max: capacity,
        consequence:
          "\(count) signal handler run(s) not validated: more than \(capacity) events queued \(since)"
      ),
      classes: [])
    deliverPending()
  }

  /// Pushes a lock: computes the chain key and validates the chain when it
  /// is new (lockdep's `validate_chain()`).
  @inline(__always)
  mutating func push(_ lock: HeldLock) {
    push(lock, nest: lock.nest, waits: classes.waits(lock.lockClass), now: allowedNow())
  }

  /// `push(_:)` of `lock` with nest lock `nest`, its class's wait types,
  /// and what the held locks and contexts allow now (`allowedNow()`).
  @inline(__always)
  mutating func push(
    _ lock: HeldLock, nest: ClassID, waits: ClassWaitTypes,
    now: (limit: WaitType, allowed: WaitType)
  ) {
    var lock = lock
    lock.nest = nest
    let depth = state.held.count
    let chainHead = depth == 0 || state.held[depth - 1].irqContext != lock.irqContext
    lock.previousChainKey = state.chainKey
    let before = now.allowed
    lock.limitBase = configuration.effective(now.limit)
    lock.allowedAfter = WaitContextRule.lower(
      before, holder: waits.inner, lockType: waits.lockType, configuration: configuration)
    lock.atomicSoFar =
      (depth > 0 && state.held[depth - 1].atomicSoFar)
      || SleepRule.makesAtomic(waits, configuration: configuration)
    lock.taskState =
      lock.limitBase == .task
      ? TaskTransitions.state(allowed: lock.allowedAfter, atomic: lock.atomicSoFar)
      : TaskTransitions.refused
    let base = chainHead ? ChainKey.initial(irqContext: lock.irqContext) : state.chainKey
    let key = ChainKey.iterate(base, lockClass: lock.lockClass, read: lock.read)

    if !lock.isTrylock && lock.check {
      if chains.contains(key) {
        counters.chainHits += 1
      } else {
        counters.chainMisses += 1
        validateNewChain(&lock, key: key, chainHead: chainHead)
      }
    }
    state.held.append(lock)
    state.chainKey = key
  }

  /// The graph work of a chain seen for the first time, under the core's
  /// lock. A chain that produced a finding (new or a repeat) is not cached,
  /// so each later occurrence is counted: validated again, or, when it
  /// would find the same (`FindingReplay`), counted from the thread's memo.
  @inline(never)
  mutating func validateNewChain(_ lock: inout HeldLock, key: UInt64, chainHead: Bool) {
    // A lock re-validated by a release keeps its acquisition's site (a
    // stack captured now would be the release's: `foundAt(_:)` has it).
    if reacquiredAt == nil { lock.origin = stacked(lock.origin) }
    producedFinding = false
    if let held = heldShared {
      // The caller holds the core's lock (a trace's batch): no closure.
      validateNewChain(&lock, key: key, chainHead: chainHead, in: &held.pointee)
      return
    }
    withShared { me, s in me.validateNewChain(&lock, key: key, chainHead: chainHead, in: &s) }
  }

  /// `validateNewChain` with the core's lock held.
  @inline(__always)
  mutating func validateNewChain(
    _ lock: inout HeldLock, key: UInt64, chainHead: Bool, in s: inout SharedState
  ) {
    if !replay.entries.isEmpty, replayFindings(lock, key: key, chainHead: chainHead, in: &s) {
      return
    }
    let version = s.graph.version
    replay.beginRecording()
    switch checkRecursion(lock, in: &s) {
    case .deadlock, .nested: break
    case .none: if !chainHead { addDependencies(lock, in: &s) }
    }
    if !producedFinding {
      replay.endRecording(keep: false, shape: 0, site: 0, version: 0)
      chainCache._withUnsafeGuaranteedRef { $0.insert(key) }
      return
    }
    // A chain that produced findings and changed nothing: its repeats are
    // counted from `replay`.
    let keep = reacquiredAt == nil && s.graph.version == version
    replay.endRecording(
      keep: keep, shape: keep ? replayShape(lock, key: key, chainHead: chainHead) : 0,
      site: lock.origin.siteKey, version: version)
  }

  /// `might-lock`: the acquisition was only checked; drop it again.
  mutating func popTopIfMatches(_ event: LockEvent) {
    guard let top = state.top, classes.base(top.lockClass) == event.lockClass else {
      return
    }
    state.chainKey = top.previousChainKey
    state.held.removeLast()
  }

  /// Whether the thread holds a lock of declared class `base` (any
  /// subclass): in a forced-threaded handler (PREEMPT_RT), the irq
  /// thread's own (`ThreadState.holdsOwn`).
  mutating func isHeld(base: ClassID) -> Bool {
    let s = state
    return s.held.contains { classes.base($0.lockClass) == base && s.holdsOwn($0) }
  }
}

extension ThreadValidator {
  /// The fast path of `acquire`: an acquisition in plain task context
  /// (interrupts, bottom halves and preemption on, no subclass, nest lock
  /// or trylock) of a checked class whose chain was validated before and
  /// whose usage bits are all set, which the sleep and wait-context rules
  /// allow. It makes the state change `acquire` would make, and returns
  /// false, changing nothing, for anything else: `acquire` then runs in
  /// full. One difference is by design: a chain the thread's `ChainMemo`
  /// remembers counts as a cache hit even when the cache evicted it since
  /// (validating it again would find what it found before), where
  /// `acquire` would count a miss and insert it again.
  @inline(__always)
  mutating func acquireFast(_ event: LockEvent) -> Bool {
    guard event.subclass == 0, event.nest == .none, !event.isTrylock,
      acquireFast(
        event.lockClass, instance: event.address, read: event.read, origin: event.origin)
    else { return false }
    counters.acquisitions &+= 1
    counters.chainHits &+= 1
    return true
  }

  /// `acquireFast` for a live program's plain acquisition (no subclass,
  /// nest lock or trylock) from return address `ip`: no `LockEvent` is
  /// built unless the full path must run. Returns false, changing nothing,
  /// when it must. Not counted in `statistics` (a store the fast path
  /// saves: each one waits to drain before the lock's atomic instruction).
  @inlinable @inline(__always)
  public mutating func acquireFast(
    _ cls: ClassID, instance: UInt64, read: ReadMode, ip: UInt64
  ) -> Bool {
    acquireFast(cls, instance: instance, read: read, origin: Origin(ip: ip))
  }

  /// `acquireFast` when the thread's `ChainMemo` remembers the acquisition
  /// (the same lock taken again from the same chain); false, changing
  /// nothing, otherwise. Small enough to inline into a lock function
  /// without making it save registers; `acquireFast` is the rest.
  @inlinable @inline(__always)
  public mutating func acquireMemoized(
    _ cls: ClassID, instance: UInt64, read: ReadMode, ip: UInt64
  ) -> Bool {
    acquireFast(cls, instance: instance, read: read, origin: Origin(ip: ip), memoOnly: true)
  }

  /// `acquireFast` from an acquisition's parts. Returns false, changing
  /// nothing, when the full path must run.
  ///
  /// What it skips is what `acquire` would find unchanged: the sleep and
  /// wait-context rules come folded into the class's `TaskTransitions`,
  /// the usage bits it would set are all set already, and the chain is in
  /// the cache.
  ///
  /// With `memoOnly`, only a memo hit is taken.
  @inlinable @inline(__always)
  mutating func acquireFast(
    _ cls: ClassID, instance: UInt64, read: ReadMode, origin: Origin, memoOnly: Bool = false
  ) -> Bool {
    // `hasRoom` implies `count < maxHeldDepth`: the stack never grows past it.
    guard state.acquireBlockers == 0, state.held.hasRoom else { return false }
    let top = state.held.top
    // In task context every held lock is in the task segment; one taken
    // under another limit has no task state (`refused`).
    let before = top?.taskState ?? TaskTransitions.empty
    let base = top == nil ? ChainKey.initial(irqContext: IRQContextID.task) : state.chainKey
    let slot = ChainMemo.slot(cls)
    let tag = ChainMemo.tag(cls, read: read, before: before)
    let bits: UInt64
    let key: UInt64
    if let known = state.memo.lookup(base: base, tag: tag, slot: slot) {
      (key, bits) = known
    } else {
      if memoOnly { return false }
      guard let after = taskContextState(after: before, taking: cls, read: read) else {
        return false
      }
      key = ChainKey.iterate(base, lockClass: cls, read: read)
      guard chains.contains(key) else { return false }
      bits = HeldLock.taskContextBits(read: read, after: after)
      if remembersChains {
        state.memo.remember(base: base, tag: tag, slot: slot, key: key, bits: bits)
      }
    }
    pushTaskContext(cls, instance: instance, origin: origin, key: key, bits: bits)
    return true
  }

  /// The task state after an acquisition of `cls` with `read` in plain
  /// task context from task state `before`, when `acquire` would find
  /// nothing and set no usage bit: the class's `TaskTransitions` allow it
  /// (the sleep and wait-context rules) and its usage bits for the
  /// acquisition are all set. Nil otherwise.
  @inlinable @inline(__always)
  func taskContextState(after before: UInt8, taking cls: ClassID, read: ReadMode) -> UInt8? {
    let after = classes.taskTransitions(cls).next(after: before)
    guard after != TaskTransitions.refused,
      classes.usage(cls).isSuperset(of: .taskContext(read: read))
    else { return nil }
    return after
  }

  /// Pushes a lock of class `cls` taken in plain task context, reaching
  /// chain key `key`, with packed fields `bits`
  /// (`HeldLock.taskContextBits`); `hasRoom` must hold.
  @inlinable @inline(__always)
  mutating func pushTaskContext(
    _ cls: ClassID, instance: UInt64, origin: Origin, key: UInt64, bits: UInt64
  ) {
    state.held.appendInPlace(
      HeldLock(
        taskContext: instance, origin: origin, lockClass: cls, previousChainKey: state.chainKey,
        bits: bits))
    state.chainKey = key
  }
}
