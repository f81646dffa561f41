/// The kinds of lock a trace or program declares, with lockdep's wait types.
///
/// The table below is the one in `spec/trace-format.md`; keep them equal.
public enum LockKind: String, Sendable, CaseIterable {
  case rawSpinlock = "raw_spinlock"
  case spinlock = "spinlock"
  case rwlock = "rwlock"
  case localLock = "local_lock"
  case mutex = "mutex"
  case rwsem = "rwsem"
  case rtMutex = "rt_mutex"
  case rcu = "rcu"
  case rcuBH = "rcu_bh"
  case rcuSched = "rcu_sched"
  case srcu = "srcu"
  case waitOverride = "wait_override"
  case custom = "custom"

  /// One row of the kind table.
  public struct Row: Sendable {
    /// The inner wait type, or nil when the declaration must give `inner=`.
    public var inner: WaitType?
    /// The outer wait type, or nil for "the same as the inner".
    public var outer: WaitType?
    /// The lock type, or nil when the declaration may give `type=`.
    public var lockType: LockType?
    /// Taken as a recursive read without dependency checks (lockdep's
    /// `check=0`): the RCU flavours.
    public var isRCU: Bool
  }

  /// The declarative table: one row per kind, as lockdep's lock
  /// initializers set `wait_type_inner`, `wait_type_outer` and `lock_type`.
  public var row: Row {
    switch self {
    case .rawSpinlock: Row(inner: .spin, outer: nil, lockType: .normal, isRCU: false)
    case .spinlock: Row(inner: .config, outer: nil, lockType: .normal, isRCU: false)
    case .rwlock: Row(inner: .config, outer: nil, lockType: .normal, isRCU: false)
    case .localLock: Row(inner: .config, outer: nil, lockType: .percpu, isRCU: false)
    case .mutex: Row(inner: .sleep, outer: nil, lockType: .normal, isRCU: false)
    case .rwsem: Row(inner: .sleep, outer: nil, lockType: .normal, isRCU: false)
    case .rtMutex: Row(inner: .sleep, outer: nil, lockType: .normal, isRCU: false)
    case .rcu: Row(inner: .config, outer: .free, lockType: .normal, isRCU: true)
    case .rcuBH: Row(inner: .config, outer: .free, lockType: .normal, isRCU: true)
    case .rcuSched: Row(inner: .spin, outer: .free, lockType: .normal, isRCU: true)
    case .srcu: Row(inner: .inv, outer: nil, lockType: .normal, isRCU: true)
    case .waitOverride: Row(inner: nil, outer: nil, lockType: .override, isRCU: false)
    case .custom: Row(inner: nil, outer: nil, lockType: nil, isRCU: false)
    }
  }
}
