import WaitContext

extension ThreadValidator {
  /// The fast path of a live program's release: the newest lock, in the
  /// current context, is `lockClass` at `instance`. Returns false, changing
  /// nothing, when the full path must run (`process` a `release` event).
  ///
  /// Only task context is fast (no interrupt-like context entered):
  /// elsewhere the full path runs. In task context every held lock was
  /// taken in task context, since leaving an interrupt-like context drops
  /// the locks it still held (`exitContext`), so the newest one is not
  /// tested for it.
  @inlinable @inline(__always)
  public mutating func releaseFast(_ lockClass: ClassID, instance: UInt64) -> Bool {
    guard state.releaseBlockers == 0, let top = state.top,
      top.lockClass == lockClass || classes.base(top.lockClass) == lockClass,
      instance == 0 || top.instance == instance, top.releasesAlone
    else { return false }
    assert(top.irqContext == IRQContextID.task, "a lock of an interrupt context in task context")
    state.chainKey = top.previousChainKey
    state.held.removeLast()
    return true
  }

  /// The common release: the newest lock, of declared class `lockClass`
  /// and at `instance` (0: any), in the current context, goes. Returns
  /// false, changing nothing, for any other (`release(_:)` finds it).
  @inline(__always)
  mutating func releaseTop(_ lockClass: ClassID, instance: UInt64) -> Bool {
    guard let top = state.top else { return false }
    // `releaseBlockers` is 0 exactly when the thread is validated and no
    // interrupt-like context is entered (its depths are never negative):
    // the current context is then task context, without the three depths
    // read to work it out.
    if state.releaseBlockers == 0 {
      guard top.irqContext == IRQContextID.task else { return false }
    } else {
      guard !state.stopped, top.irqContext == state.irqContext else { return false }
    }
    guard top.lockClass == lockClass || classes.base(top.lockClass) == lockClass,
      instance == 0 || top.instance == instance, top.releasesAlone
    else { return false }
    state.chainKey = top.previousChainKey
    // `top` is not nil: the stack is not empty.
    state.held.removeTop()
    return true
  }

  /// lockdep's `__lock_release()`: finds the most recent matching lock in
  /// the current interrupt context; locks above it are re-validated as if
  /// re-acquired (`reacquire_held_locks()`), since the chain changed. An
  /// entry with references (`acquire`'s nest-lock merge) matches any
  /// instance of its class when it is of the class's subclass 0 (as
  /// `match_held_lock()` compares the lock's `class_cache[0]`; an entry of
  /// another subclass matches its own instance only) and goes with its last
  /// reference.
  mutating func release(_ event: LockEvent) {
    if releaseTop(event.lockClass, instance: event.address) { return }
    // lockdep is off in an NMI: `lock_release()` returns at once, and no
    // lock was pushed there (`acquire`).
    if state.nmiDepth > 0 { return }
    let start = state.currentSegmentStart
    var found: Int? = nil
    var i = state.held.count - 1
    while i >= start {
      let h = state.held[i]
      if classes.base(h.lockClass) == event.lockClass
        && (event.address == 0 || h.instance == event.address
          || (h.references > 0 && h.lockClass == event.lockClass))
      {
        found = i
        break
      }
      i -= 1
    }
    if let index = found, state.held[index].references > 0 {
      var held = state.held[index]
      held.references -= 1
      state.held[index] = held
      if held.references > 0 { return }
    }
    guard let index = found else {
      // A lock dropped by a free (`dropFreed`): its release, or one of
      // its references', is no finding again.
      if let freed = state.freedHeld.lastIndex(where: {
        classes.base($0.lockClass) == event.lockClass
          && (event.address == 0 || $0.instance == event.address || $0.references > 0)
      }) {
        if state.freedHeld[freed].references > 1 {
          state.freedHeld[freed].references -= 1
        } else {
          let dropped = state.freedHeld.remove(at: freed)
          // Its section ends at its release all the same.
          if dropped.endsBottomHalfSection { leaveRCUBottomHalfSection(at: event.origin) }
        }
        return
      }
      // A lock a live thread forgot (a task held it at an `await`, and
      // releases it now, perhaps on another thread): reported already.
      let tables = classes
      if core.forgotten.takeRelease(
        of: event.lockClass, instance: event.address, base: { tables.base($0) })
      {
        releasedForgottenLock = true
        return
      }
      let snapshot = LockSnapshot(
        lockClass: event.lockClass, read: .exclusive, isTrylock: false, instance: event.address,
        origin: event.origin)
      reportNow(
        .badUnlockBalance, origin: event.origin, lock: snapshot, detail: .badUnlockBalance,
        classes: [event.lockClass])
      return
    }
    let removed = state.held[index]
    // `rcu_read_unlock_bh()`: the lockdep map's release, then
    // `local_bh_enable()`.
    defer { if removed.endsBottomHalfSection { leaveRCUBottomHalfSection(at: event.origin) } }
    if index == state.held.count - 1 {
      // The common case: the newest lock goes, the chain key goes back.
      state.chainKey = removed.previousChainKey
      state.held.removeLast()
      return
    }
    // The locks above, in the kept buffer: hand-over-hand locking
    // releases below the top at every step (it allocated an array each
    // time).
    var above = reacquireScratch
    reacquireScratch = []
    above.removeAll(keepingCapacity: true)
    // One by one: a slice of the stack, copied through the generic
    // collection path, allocated its accessor's frames in a debug build.
    var k = index + 1
    while k < state.held.count {
      above.append(state.held[k])
      k += 1
    }
    state.held.removeAll(from: index)
    state.chainKey = removed.previousChainKey
    reacquire(above, after: removed, at: event.origin)
    reacquireScratch = above
  }

  /// Pushes `locks` again after `removed`, a lock below them, went,
  /// validating each as a new acquisition (lockdep's
  /// `reacquire_held_locks()`), with what that finds found at `origin`
  /// (the release or free): `foundAt(_:)`.
  ///
  /// All of `__lock_acquire()` runs again, the wait-context check too, which
  /// finds something new only when `removed` was a wait-override: below
  /// any other lock, what the locks above were allowed is the lowest of
  /// their holders' inner types (`WaitContextRule.lower`), which a lock
  /// fewer can only raise, and a lock refused before would be reported
  /// again at the release.
  mutating func reacquire(_ locks: [HeldLock], after removed: HeldLock, at origin: Origin?) {
    reacquiredAt = origin
    defer {
      reacquiredAt = nil
      reacquiredClasses = nil
    }
    if locks.count > 128 {
      var held = Set<ClassID>(minimumCapacity: state.held.count + locks.count)
      for i in 0..<state.held.count { held.insert(state.held[i].lockClass) }
      reacquiredClasses = held
    }
    let recheck = classes.waits(removed.lockClass).lockType == .override
    // By index: a `for` over the array allocated its iterator's accessor
    // frames in a debug build (a live program's), at every release below
    // the top.
    var next = 0
    while next < locks.count {
      var lock = locks[next]
      next += 1
      // `__lock_acquire()`'s nest-lock merge, again: a lock taken with a
      // nest lock, now right above a held lock of its class, becomes a
      // reference of that entry (which keeps its own read and trylock
      // flags, and so its kind in the dependencies the locks above add).
      // Not an `rcu_bh` map that began its own bottom-half section (one
      // taken with a nest lock, not merged then): its entry ends it.
      if !lock.endsBottomHalfSection,
        mergeIntoTop(
          lock.lockClass, nest: lock.nest, irqContext: lock.irqContext, references: lock.references)
      {
        continue
      }
      if recheck {
        checkWaitContext(lock, waits: classes.waits(lock.lockClass), now: allowedNow())
      }
      // Its usage, as `__lock_acquire()`'s `mark_usage()` marks it: with
      // the interrupt state saved at its acquisition (`hlock->hardirqs_off`)
      // and bottom halves as they are now. A lock taken with interrupts on
      // and bottom halves off, then held while bottom halves came back on
      // with interrupts off (no marking: `lockdep_softirqs_on()` marks
      // only with interrupts on), is softirq-enabled here; before
      // 2026-12-07 nothing was marked, and its inconsistent state missed.
      // (Only then can a bit be missing: asked only then, as a release
      // below the top re-validates the locks above at every step of
      // hand-over-hand locking.)
      // Not on a stopped thread, whose state is frozen where it stopped
      // (a free on another thread puts its locks back): the review found
      // its stale locks marked, a false inconsistent state.
      if state.softirqsOnUnmarked && !state.stopped { markUsage(lock) }
      // And its nest-lock check: the nest lock may be the lock released.
      // (`foundAt` only when it finds something: it may capture a stack.)
      if lock.nest != .none && !isHeld(base: lock.nest) {
        lock.nest = checkNestLockHeld(lock, at: foundAt(lock))
      }
      push(lock)
      reacquiredClasses?.insert(lock.lockClass)
    }
  }

  /// Where a finding of `lock`, being pushed, is found: its acquisition,
  /// or the event re-validating it (`reacquiredAt`), with a stack
  /// captured now when the event carries none (a live program).
  mutating func foundAt(_ lock: HeldLock) -> Origin {
    guard let at = reacquiredAt else { return lock.origin }
    let stackedAt = stacked(at)
    reacquiredAt = stackedAt
    return stackedAt
  }

  /// `free` and `init`: a held lock inside the memory is a finding
  /// (lockdep's `debug_check_no_locks_freed()`). `held` are the locks of
  /// thread `holder`, oldest first: this thread's, or another's when the
  /// caller knows other threads (a trace does: it checks every thread).
  /// One finding per holder, naming its oldest lock in the memory: lockdep
  /// reports the first held lock in the range and stops (freeing a
  /// structure that holds several locks is one bug, not one per lock).
  public mutating func checkFreed(
    _ event: LockEvent, held: some Sequence<HeldLock>, by holder: ThreadID
  ) {
    let reinitialized = event.verb == .initLock
    let from = event.address
    let length = event.freedLength
    if let lock = held.first(where: { Self.lies($0, from: from, length: length) }) {
      reportNow(
        .heldLockFreed, origin: event.origin, lock: snapshot(lock),
        detail: .heldLockFreed(
          from: from, to: from &+ (length &- 1), holder: holder, reinitialized: reinitialized),
        classes: [lock.lockClass])
    }
    deliverPending()
  }

  /// Whether a lock this thread holds lies in the `length` bytes from
  /// `from` (`lies`).
  mutating func holdsLock(from: UInt64, length: UInt64) -> Bool {
    var i = 0
    while i < state.held.count {
      if Self.lies(state.held[i], from: from, length: length) { return true }
      i &+= 1
    }
    return false
  }

  /// Whether `lock`'s instance lies in the `length` bytes from `from`
  /// (which may reach the top of the address space). A lock whose
  /// instance is unknown (0) lies nowhere.
  static func lies(_ lock: HeldLock, from: UInt64, length: UInt64) -> Bool {
    lock.instance != 0 && lock.instance &- from < length
  }

  /// Forgets this thread's held locks whose instance lies in the `length`
  /// bytes from `from`:
  /// freed (or re-initialized) memory holds no lock any more. lockdep stops
  /// validating after reporting a held lock freed; this validator goes on,
  /// so it drops them, or every later acquisition would be checked against
  /// a lock that no longer exists (and a new lock at the same address
  /// would be taken for it). A lock of the current interrupt context goes
  /// as a release does (the locks above it are re-validated); one of an
  /// interrupted context is just removed. A later release of a dropped
  /// lock (an unlock of the freed memory) is not reported again.
  /// `origin` is the free's, on this thread or another (a trace's
  /// validator drops the locks a free on any thread covers, and passes
  /// another thread's free's position without its stack): where the
  /// re-validation of the kept locks finds things (nil: at each lock's
  /// acquisition).
  public mutating func dropFreed(from: UInt64, length: UInt64, at origin: Origin? = nil) {
    var i = state.held.count - 1
    while i >= 0 {
      let lock = state.held[i]
      if Self.lies(lock, from: from, length: length) {
        rememberDropped(lock, at: origin ?? lock.origin)
        let kept = Array(state.held[(i + 1)...])
        // Whether it is of the current interrupt context: asked before it
        // goes (afterwards, with nothing of the current context held, the
        // current segment starts at the top, and the task's locks above a
        // lock freed in a handler were re-validated in the handler's
        // context: a false invalid wait context, a real one missed).
        let ofCurrentContext = lock.irqContext == state.irqContext
        state.held.removeAll(from: i)
        if ofCurrentContext || kept.isEmpty {
          state.chainKey = lock.previousChainKey
          reacquire(kept, after: lock, at: origin)
        } else {
          putBack(kept, after: lock)
        }
      }
      i -= 1
    }
  }

  /// Puts back `kept`, the locks that were above `removed`, a lock of an
  /// interrupted context that `dropFreed` dropped: not validated again
  /// (each was taken in its own context, not the current one), but made
  /// as if pushed without `removed`: their chain keys (else the next
  /// acquisition's chain was cached under the key of a chain that holds
  /// the dropped lock, and another thread's real chain of that key hit it
  /// and added no dependency: a cycle missed), whether they are atomic,
  /// and their wait limits, computed again over their segment when next
  /// asked (`allowedOverSegment`; `.inv` is no context's limit).
  mutating func putBack(_ kept: [HeldLock], after removed: HeldLock) {
    state.chainKey = removed.previousChainKey
    for var lock in kept {
      let depth = state.held.count
      let chainHead = depth == 0 || state.held[depth - 1].irqContext != lock.irqContext
      lock.previousChainKey = state.chainKey
      let base = chainHead ? ChainKey.initial(irqContext: lock.irqContext) : state.chainKey
      state.chainKey = ChainKey.iterate(base, lockClass: lock.lockClass, read: lock.read)
      lock.atomicSoFar =
        (depth > 0 && state.held[depth - 1].atomicSoFar)
        || SleepRule.makesAtomic(classes.waits(lock.lockClass), configuration: configuration)
      lock.limitBase = .inv
      lock.taskState = TaskTransitions.refused
      state.held.append(lock)
    }
  }

  /// Keeps `lock`, dropped after a report (a free, a handler's return, a
  /// subclass variant past the class table), so that its release is no
  /// finding again (`ThreadState.rememberDropped`). Past
  /// `maxHeldDepth` of them, not released, the oldest is forgotten, and
  /// that is a `limit-exceeded` finding at `origin`: its release will be
  /// a bad unlock balance. (It forgot the oldest past 16 without a word
  /// before 2026-12-06.)
  mutating func rememberDropped(_ lock: HeldLock, at origin: Origin) {
    guard state.rememberDropped(lock) else { return }
    reportNow(
      .limitExceeded, origin: origin, lock: nil,
      detail: .limitExceeded(
        limit: "MAX_LOCK_DEPTH", max: Self.maxHeldDepth,
        consequence:
          "the oldest lock dropped after a report (freed while held, or left held by a handler) "
          + "and not released since was forgotten: its release will be a bad unlock balance"),
      classes: [])
  }

  /// The end of `scope` (a test) on this thread, which holds `taken`,
  /// locks taken in it (some of its held locks, oldest first): a
  /// `locks-held-at-exit` finding naming the scope, as lockdep's
  /// `lockdep_sys_exit()` reports a task leaving the kernel with locks
  /// held. They stay held here (the live validator then forgets them:
  /// `LiveThread.reportLocksHeld`).
  public mutating func reportLocksHeld(
    _ taken: [HeldLock], atEndOf scope: String, origin: Origin
  ) {
    guard !taken.isEmpty, !state.stopped else { return }
    reportNow(
      .locksHeldAtExit, origin: origin, lock: nil,
      detail: .locksHeldAtExit(interrupt: nil, scope: scope),
      classes: taken.map(\.lockClass))
    deliverPending()
  }

  /// `exit`: locks still held are a finding; the thread's state ends.
  mutating func exitThread(_ event: LockEvent) {
    // Bottom halves left disabled are no finding (a recording cut short
    // ends so), nor, on PREEMPT_RT, the `local_bh` maps they hold; listed
    // among other locks left held, as lockdep lists them.
    if state.held.contains(where: { !isLocalBottomHalf($0) }) {
      reportNow(
        .locksHeldAtExit, origin: event.origin, lock: nil,
        detail: .locksHeldAtExit(interrupt: nil), classes: state.held.map(\.lockClass))
    }
    state.restart()
  }
}
