/// Lockdep's lock type (`LD_LOCK_*`): how a class takes part in the checks
/// beyond its wait types.
public enum LockType: UInt8, Sendable, CaseIterable, CustomStringConvertible {
  /// A lock like any other.
  case normal
  /// A per-CPU lock (`local_lock_t`): skipped by the irq-usage searches
  /// when its inner wait type is at least `config` (lockdep's
  /// `usage_skip()`; below that lockdep's `DEBUG_LOCKS_WARN_ON` turns it
  /// off, and here the class is searched).
  case percpu
  /// A wait-type annotation (`LD_LOCK_WAIT_OVERRIDE`): resets the running
  /// wait limit to its own inner type, and is skipped by irq-usage searches.
  case override

  /// The type's name as traces and reports spell it.
  public var description: String {
    switch self {
    case .normal: "normal"
    case .percpu: "percpu"
    case .override: "override"
    }
  }

  /// Parses the `type=` spelling of a trace.
  public init?(traceName: some StringProtocol) {
    switch traceName {
    case "normal": self = .normal
    case "percpu": self = .percpu
    case "override": self = .override
    default: return nil
    }
  }
}
