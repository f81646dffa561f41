import Basics
import Synchronization

/// Held locks a live thread reported and forgot (a task left them held at
/// an `await`, a test ended holding them: `ValidatorCore.forget`), the
/// newest `capacity`, so that their release later, on whichever thread
/// the task resumed, is no bad unlock balance on top of that report.
///
/// Kept by a base core for its forks too (they share its threads), under
/// a lock of their own that nothing else is taken under. The fast paths
/// never reach it: a release reaches it only when it matches no held
/// lock, and a free only when something is forgotten (`count`).
final class ForgottenLocks: Sendable {
  /// How many forgotten locks are kept.
  static let capacity = 64
  /// The locks, newest last.
  private let locks = PThreadMutex<[HeldLock]>([])
  /// How many are kept: read without the lock by a free.
  let count = Atomic<Int>(0)

  /// Keeps `forgotten` (the oldest dropped past `capacity`).
  func add(_ forgotten: some Sequence<HeldLock>) {
    locks.withLock { locks in
      locks += forgotten
      let over = locks.count - Self.capacity
      if over > 0 { locks.removeFirst(over) }
      count.store(locks.count, ordering: .relaxed)
    }
  }

  /// Whether a release of `lockClass` (a declared class, `base` giving a
  /// held lock's) at `instance` is of a forgotten lock, matched as a
  /// release matches a held one (any instance of a merged nest-lock entry,
  /// one reference at a time); if so, that acquisition is taken off.
  func takeRelease(of lockClass: ClassID, instance: UInt64, base: (ClassID) -> ClassID) -> Bool {
    guard count.load(ordering: .relaxed) > 0 else { return false }
    return locks.withLock { locks in
      guard
        let i = locks.lastIndex(where: {
          base($0.lockClass) == lockClass
            && (instance == 0 || $0.instance == instance || $0.references > 0)
        })
      else { return false }
      if locks[i].references > 1 {
        locks[i].references -= 1
      } else {
        locks.remove(at: i)
      }
      count.store(locks.count, ordering: .relaxed)
      return true
    }
  }

  /// Whether a release of `lockClass` at `instance` would match a
  /// forgotten lock (`takeRelease`), without taking it off.
  func contains(_ lockClass: ClassID, instance: UInt64, base: (ClassID) -> ClassID) -> Bool {
    guard count.load(ordering: .relaxed) > 0 else { return false }
    return locks.withLock { locks in
      locks.contains {
        base($0.lockClass) == lockClass
          && (instance == 0 || $0.instance == instance || $0.references > 0)
      }
    }
  }

  /// Drops the forgotten locks in the `length` bytes from `from` (freed
  /// memory, or a lock there initialized again: a lock made later at that
  /// address is another).
  func drop(from: UInt64, length: UInt64) {
    guard count.load(ordering: .relaxed) > 0 else { return }
    locks.withLock { locks in
      // As `ThreadValidator.lies`: a range that reaches the top of the
      // address space has no end in 64 bits.
      locks.removeAll { $0.instance != 0 && $0.instance &- from < length }
      count.store(locks.count, ordering: .relaxed)
    }
  }
}
