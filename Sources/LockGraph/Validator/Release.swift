extension LockValidator {
  /// lockdep's `__lock_release()`: finds the most recent matching lock in
  /// the current interrupt context; locks above it are re-validated as if
  /// re-acquired (`reacquire_held_locks()`), since the chain changed.
  mutating func release(_ event: LockEvent) {
    let t = event.thread.index
    let held = threads[t].held
    let start = threads[t].currentSegmentStart
    var found: Int? = nil
    var i = held.count - 1
    while i >= start {
      let h = held[i]
      if classes[h.lockClass].base == event.lockClass
        && (event.address == 0 || h.instance == event.address)
      {
        found = i
        break
      }
      i -= 1
    }
    guard let index = found else {
      let snapshot = LockSnapshot(
        lockClass: event.lockClass, read: .exclusive, isTrylock: false, instance: event.address,
        origin: event.origin)
      report(
        .badUnlockBalance, thread: t, origin: event.origin, lock: snapshot,
        detail: .badUnlockBalance, classes: [event.lockClass])
      return
    }
    let removed = held[index]
    let above = Array(held[(index + 1)...])
    threads[t].held.removeSubrange(index...)
    threads[t].chainKey = removed.previousChainKey
    for lock in above { push(thread: t, lock) }
  }

  /// `free` and `init`: a held lock inside the memory is a finding
  /// (lockdep's `debug_check_no_locks_freed()`). Every thread's held locks
  /// are checked, not only the caller's.
  mutating func checkFreed(_ event: LockEvent, reinitialized: Bool) {
    let from = event.address
    let to = reinitialized ? from &+ 1 : from &+ max(event.length, 1)
    guard from != 0 else { return }
    for holder in threads.indices {
      for lock in threads[holder].held where lock.instance >= from && lock.instance < to {
        report(
          .heldLockFreed, thread: event.thread.index, origin: event.origin,
          lock: snapshot(lock),
          detail: .heldLockFreed(
            from: from, to: to &- 1, holder: ThreadID(Int32(holder)),
            reinitialized: reinitialized),
          classes: [lock.lockClass])
      }
    }
  }

  /// `exit`: locks still held are a finding; the thread's state ends.
  mutating func exitThread(_ event: LockEvent) {
    let t = event.thread.index
    if !threads[t].held.isEmpty {
      report(
        .locksHeldAtExit, thread: t, origin: event.origin, lock: nil,
        detail: .locksHeldAtExit(interrupt: nil),
        classes: threads[t].held.map(\.lockClass))
    }
    threads[t] = ThreadState()
  }
}
