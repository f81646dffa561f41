/// The kinds of problem the validator reports, with the names and titles of
/// `spec/reports.md` (one row each; keep them equal).
public enum FindingKind: String, Sendable, CaseIterable, Hashable, Comparable {
  /// A lock taken where its wait type is not allowed (`check_wait_context()`).
  case invalidWaitContext = "invalid-wait-context"
  /// A lock-order cycle over classes (`check_noncircular()`).
  case circularDependency = "circular-dependency"
  /// A class taken again while held (`check_deadlock()`).
  case recursiveLocking = "recursive-locking"
  /// A class used both in an interrupt and with that interrupt enabled
  /// (`mark_lock_irq()`).
  case inconsistentLockState = "inconsistent-lock-state"
  /// An irq-safe class ordered before an irq-unsafe one (`check_irq_usage()`).
  case irqLockInversion = "irq-lock-inversion"
  /// A release of a lock not held.
  case badUnlockBalance = "bad-unlock-balance"
  /// Memory freed, or a lock re-initialized, while a lock in it is held.
  case heldLockFreed = "held-lock-freed"
  /// A sleeping lock or `might_sleep()` in atomic context.
  case sleepInAtomic = "sleep-in-atomic"
  /// A thread that ended holding locks.
  case locksHeldAtExit = "locks-held-at-exit"
  /// A `nest=` lock that was not held.
  case nestedLockNotTaken = "nested-lock-not-taken"
  /// One of lockdep's table limits was reached.
  case limitExceeded = "limit-exceeded"

  /// The title line lockdep users search for.
  public var title: String {
    switch self {
    case .invalidWaitContext: "[ BUG: Invalid wait context ]"
    case .circularDependency: "WARNING: possible circular locking dependency detected"
    case .recursiveLocking: "WARNING: possible recursive locking detected"
    case .inconsistentLockState: "WARNING: inconsistent lock state"
    case .irqLockInversion: "WARNING: possible irq lock inversion dependency detected"
    case .badUnlockBalance: "WARNING: bad unlock balance detected!"
    case .heldLockFreed: "WARNING: held lock freed!"
    case .sleepInAtomic: "BUG: sleeping function called from invalid context"
    case .locksHeldAtExit: "WARNING: lock held when thread exits!"
    case .nestedLockNotTaken: "WARNING: Nested lock was not taken"
    case .limitExceeded: "BUG: limit too low!"
    }
  }

  /// Lockdep's own reports; `sleep-in-atomic` comes from `might_sleep()`.
  public var isLockdepSplat: Bool { self != .sleepInAtomic }

  /// Hashes the case, not its name (`RawRepresentable`'s default hashes
  /// the raw string): a finding repeated in a loop is counted by kind
  /// (`FindingStore`, the live validator's counts outside test scopes)
  /// once an occurrence.
  public func hash(into hasher: inout Hasher) {
    withUnsafeBytes(of: self) { hasher.combine(bytes: $0) }
  }

  /// Orders kinds as `allCases` lists them.
  public static func < (a: FindingKind, b: FindingKind) -> Bool {
    allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
  }
}
