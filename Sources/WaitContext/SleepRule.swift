/// Which locks sleep and which holders make the caller atomic, for the
/// sleep-in-atomic check (the kernel's `might_sleep()`), derived from wait
/// types so that custom classes follow the same rule as the built-in kinds.
public enum SleepRule {
  /// A blocking acquisition of this class may sleep: its outer type is
  /// `sleep`, or `config` on PREEMPT_RT (where `spinlock_t` is an rtmutex).
  /// A wait-override never does: it is a bare `lockdep_map` that its user
  /// takes with `lock_map_acquire_try()`, no lock function that calls
  /// `might_sleep()` (its wait type is checked all the same).
  @inlinable
  public static func sleeps(_ lock: ClassWaitTypes, configuration: CheckConfiguration) -> Bool {
    if lock.lockType == .override { return false }
    let outer = lock.effectiveOuter
    return outer >= .sleep && outer != .task || (configuration.preemptRT && outer == .config)
  }

  /// Holding this class makes the holder atomic: its inner type spins
  /// (`raw_spinlock_t`, RCU-sched), or is `config` without PREEMPT_RT
  /// (`spinlock_t`, `rwlock_t`, `local_lock_t` and the RCU read side disable
  /// preemption there). `inv` holders (SRCU) never do, nor a wait-override
  /// (`lock_map_acquire_try()` of an `LD_LOCK_WAIT_OVERRIDE` map is an
  /// annotation for lockdep: it touches no preempt count).
  @inlinable
  public static func makesAtomic(_ lock: ClassWaitTypes, configuration: CheckConfiguration)
    -> Bool
  {
    if lock.lockType == .override { return false }
    return switch lock.inner {
    case .inv, .sleep, .task: false
    case .free, .spin: true
    case .config: !configuration.preemptRT
    }
  }

  /// On PREEMPT_RT, holding a lock of this kind is an RCU read-side
  /// section: `spinlock_t`, `rwlock_t` and `local_lock_t`, which
  /// `rt_spin_lock()` and friends enter with `rcu_read_lock()`, and the RCU
  /// read side itself (`rcu_read_lock_sched()` disables preemption, so
  /// `rcu_sched` is atomic anyway). There `might_sleep()` fails on the RCU
  /// nesting (`__might_resched()`: "RCU nest depth"), while another rtlock
  /// may still be taken (`rtlock_might_resched()` counts the nesting as
  /// expected). By kind, not wait type: a wait-override or custom map with
  /// inner `config` is an annotation, and takes no RCU read lock.
  @inlinable
  public static func nestsRCUOnRT(_ kind: LockKind) -> Bool {
    switch kind {
    case .spinlock, .rwlock, .localLock, .rcu, .rcuBH: true
    default: false
    }
  }

  /// A blocking acquisition of this class on PREEMPT_RT is an rtlock's:
  /// its outer type is `config` (`spinlock_t`, `rwlock_t`, `local_lock_t`,
  /// and a custom class checked like them), which sleeps on RT
  /// (`sleeps(_:configuration:)`) but whose sleep check allows an RCU
  /// read-side section. By wait type, as `sleeps` is: the fast paths fold
  /// both into a class's `TaskTransitions`.
  @inlinable
  public static func isRTLock(_ lock: ClassWaitTypes) -> Bool { lock.effectiveOuter == .config }

  /// On PREEMPT_RT (`rt`), whether a sleep fails on held RCU read-side
  /// sections (`nestsRCUOnRT` holders): yes, unless what is being taken,
  /// `taking` (nil: a might-sleep), is itself an rtlock, whose sleep check
  /// expects that nesting.
  @inlinable
  public static func rcuNestCounts(rt: Bool, taking: ClassWaitTypes?) -> Bool {
    rt && !(taking.map(isRTLock) ?? false)
  }

  /// On PREEMPT_RT, an rtlock of this kind is checked for sleeping after
  /// lockdep takes it: `rt_spin_lock()` calls `spin_acquire()` before
  /// `rtlock_might_resched()` (a `local_lock_t` is a `spinlock_t` there,
  /// and a custom class is checked like one), while `rt_read_lock()` and
  /// `rt_write_lock()` call `rtlock_might_resched()` first, as a sleeping
  /// lock's function does.
  @inlinable
  public static func sleepCheckFollowsAcquireOnRT(_ kind: LockKind) -> Bool { kind != .rwlock }
}
