extension LockValidator {
  enum RecursionVerdict { case none, nested, deadlock }

  /// lockdep's `check_deadlock()`: the same class already held is a
  /// deadlock unless the new acquisition is a recursive read of a held read,
  /// or a held `nest=` lock (held before it) serializes them; in that case
  /// the acquisition counts as a recursive read and adds no dependencies.
  /// All held locks count, whatever their interrupt context.
  mutating func checkRecursion(thread t: Int, _ lock: inout HeldLock) -> RecursionVerdict {
    var nestHeld = false
    for prev in threads[t].held {
      if lock.nest != .none && classes[prev.lockClass].base == lock.nest { nestHeld = true }
      if prev.lockClass != lock.lockClass { continue }
      if lock.read == .recursive && prev.read.isRead { continue }
      if nestHeld {
        lock.read = .recursive
        return .nested
      }
      report(
        .recursiveLocking, thread: t, origin: lock.origin, lock: snapshot(lock),
        detail: .recursiveLocking(held: snapshot(prev)), classes: [lock.lockClass])
      return .deadlock
    }
    return .none
  }
}
