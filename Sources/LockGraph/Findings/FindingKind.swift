/// The kinds of problem the validator reports, with the names and titles of
/// `spec/reports.md` (one row each; keep them equal).
public enum FindingKind: String, Sendable, CaseIterable, Hashable, Comparable {
  case invalidWaitContext = "invalid-wait-context"
  case circularDependency = "circular-dependency"
  case recursiveLocking = "recursive-locking"
  case inconsistentLockState = "inconsistent-lock-state"
  case irqLockInversion = "irq-lock-inversion"
  case badUnlockBalance = "bad-unlock-balance"
  case heldLockFreed = "held-lock-freed"
  case sleepInAtomic = "sleep-in-atomic"
  case locksHeldAtExit = "locks-held-at-exit"
  case nestedLockNotTaken = "nested-lock-not-taken"
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

  /// Orders kinds as `allCases` lists them.
  public static func < (a: FindingKind, b: FindingKind) -> Bool {
    allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
  }
}
