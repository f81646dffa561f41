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
}
