extension ThreadValidator {
  enum RecursionVerdict { case none, nested, deadlock }

  /// lockdep's `check_deadlock()`: the same class already held is a
  /// deadlock unless the new acquisition is a recursive read of a held read,
  /// or a held `nest=` lock (held before it) serializes them; in that case
  /// the acquisition adds no dependencies, and keeps its own read mode: a
  /// later acquisition depends on it, and is checked against it, as it was
  /// taken (the kernel's `validate_chain()` made such an entry a recursive
  /// read until 2020, and no longer does).
  /// All held locks count, whatever their interrupt context, except in a
  /// forced-threaded handler (PREEMPT_RT): an irq thread of its own, which
  /// holds only what it took (`ThreadState.holdsOwn`).
  ///
  /// The common case, no held lock of the class and no nest lock to look
  /// for, is answered inline; the rest out of line (`checkRecursionSlow`).
  @inline(__always)
  mutating func checkRecursion(_ lock: HeldLock, in s: inout SharedState)
    -> RecursionVerdict
  {
    if lock.nest == .none {
      if let held = reacquiredClasses {
        if !held.contains(lock.lockClass) { return .none }
      } else if !state.held.holds(lock.lockClass) {
        return .none
      }
    }
    return checkRecursionSlow(lock, in: &s)
  }

  @inline(never)
  mutating func checkRecursionSlow(_ lock: HeldLock, in s: inout SharedState)
    -> RecursionVerdict
  {
    var nestHeld = false
    // An index loop: iterating the stack itself would retain its storage.
    for i in 0..<state.held.count {
      let prev = state.held[i]
      guard state.holdsOwn(prev) else { continue }
      if lock.nest != .none && classes.base(prev.lockClass) == lock.nest { nestHeld = true }
      if prev.lockClass != lock.lockClass { continue }
      if lock.read == .recursive && prev.read.isRead { continue }
      if nestHeld { return .nested }
      report(
        .recursiveLocking, origin: foundAt(lock), lock: snapshot(lock),
        detail: .recursiveLocking(held: snapshot(prev)), classes: [lock.lockClass], in: &s)
      return .deadlock
    }
    return .none
  }
}
