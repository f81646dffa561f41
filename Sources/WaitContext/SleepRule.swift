/// Which locks sleep and which holders make the caller atomic, for the
/// sleep-in-atomic check (the kernel's `might_sleep()`), derived from wait
/// types so that custom classes follow the same rule as the built-in kinds.
public enum SleepRule {
  /// A blocking acquisition of this class may sleep: its outer type is
  /// `sleep`, or `config` on PREEMPT_RT (where `spinlock_t` is an rtmutex).
  @inlinable
  public static func sleeps(_ lock: ClassWaitTypes, configuration: CheckConfiguration) -> Bool {
    let outer = lock.effectiveOuter
    return outer >= .sleep && outer != .task || (configuration.preemptRT && outer == .config)
  }

  /// Holding this class makes the holder atomic: its inner type spins
  /// (`raw_spinlock_t`, RCU-sched), or is `config` without PREEMPT_RT
  /// (`spinlock_t`, `rwlock_t`, `local_lock_t` and the RCU read side disable
  /// preemption there). `inv` holders (SRCU) never do.
  @inlinable
  public static func makesAtomic(_ lock: ClassWaitTypes, configuration: CheckConfiguration)
    -> Bool
  {
    switch lock.inner {
    case .inv, .sleep, .task: false
    case .free, .spin: true
    case .config: !configuration.preemptRT
    }
  }

  /// On PREEMPT_RT, holding this class is an RCU read-side section: its
  /// inner type is `config` (`spinlock_t`, `rwlock_t` and `local_lock_t`,
  /// which `rt_spin_lock()` and friends enter with `rcu_read_lock()`, and
  /// the RCU read side itself). There `might_sleep()` fails on the RCU
  /// nesting (`__might_resched()`: "RCU nest depth"), while another of
  /// these locks may still be taken (`rtlock_might_resched()` counts the
  /// nesting as expected).
  @inlinable
  public static func nestsRCUOnRT(_ lock: ClassWaitTypes) -> Bool { lock.inner == .config }

  /// A blocking acquisition of this class on PREEMPT_RT is an rtlock's
  /// (`spinlock_t`, `rwlock_t`, `local_lock_t`: outer `config`), whose
  /// sleep check allows an RCU read-side section.
  @inlinable
  public static func isRTLock(_ lock: ClassWaitTypes) -> Bool { lock.effectiveOuter == .config }
}
