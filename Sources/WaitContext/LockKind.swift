/// The kinds of lock a trace or program declares, with lockdep's wait types.
///
/// The table below is the one in `spec/trace-format.md`; keep them equal.
public enum LockKind: String, Sendable, CaseIterable {
  /// `raw_spinlock_t`: spins on every kernel configuration.
  case rawSpinlock = "raw_spinlock"
  /// `spinlock_t`: spins, but sleeps on PREEMPT_RT.
  case spinlock = "spinlock"
  /// `rwlock_t`: read and write acquisitions; sleeps on PREEMPT_RT.
  case rwlock = "rwlock"
  /// `local_lock_t`: a per-CPU lock; sleeps on PREEMPT_RT.
  case localLock = "local_lock"
  /// `struct mutex`: a sleeping lock.
  case mutex = "mutex"
  /// `struct rw_semaphore`: a sleeping lock, read and write acquisitions.
  case rwsem = "rwsem"
  /// `struct rt_mutex`: a sleeping lock with priority inheritance.
  case rtMutex = "rt_mutex"
  /// `rcu_read_lock()`'s section.
  case rcu = "rcu"
  /// `rcu_read_lock_bh()`'s section.
  case rcuBH = "rcu_bh"
  /// `rcu_read_lock_sched()`'s section.
  case rcuSched = "rcu_sched"
  /// `srcu_read_lock()`'s section: never wait-checked.
  case srcu = "srcu"
  /// A wait-type annotation (`lock_map_acquire_try()` of an override map):
  /// resets the running limit to its inner type.
  case waitOverride = "wait_override"
  /// Wait types given by the declaration.
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
