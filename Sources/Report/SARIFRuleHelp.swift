import LockGraph

/// What a code scanning service shows of each rule beside its alerts
/// (GitHub requires both of a rule: `fullDescription.text` and
/// `help.text`): when the kind is raised (`spec/reports.md`'s table), and
/// what to do about it. One row per kind.
enum SARIFRuleHelp {
  /// The rule's full description: when a finding of `kind` is raised.
  static func description(_ kind: FindingKind) -> String {
    switch kind {
    case .invalidWaitContext:
      "A lock's outer wait type exceeds what the current context and held locks allow: a lock "
        + "that may sleep (a mutex, or a spinlock_t on PREEMPT_RT) taken under a raw spin lock, "
        + "in a hard interrupt or another context that must not sleep."
    case .circularDependency:
      "A new dependency closes a cycle in the lock-class graph: two code paths take the same "
        + "lock classes in opposite orders, which can deadlock even if this run did not."
    case .recursiveLocking:
      "A class is acquired while a lock of the same class is held, without a subclass, nest "
        + "lock or recursive read."
    case .inconsistentLockState:
      "A class is used both in an interrupt context and with that interrupt enabled."
    case .irqLockInversion:
      "An irq-safe lock comes to depend on an irq-unsafe one, or the reverse."
    case .badUnlockBalance:
      "A release of a lock that is not held in the current context."
    case .heldLockFreed:
      "Memory holding a held lock is freed, or a held lock is re-initialized."
    case .sleepInAtomic:
      "A might-sleep point or sleeping lock while preemption or interrupts are off, or inside "
        + "a raw spin lock."
    case .locksHeldAtExit:
      "A thread ends with locks held."
    case .nestedLockNotTaken:
      "A nest lock named at an acquisition is not held."
    case .limitExceeded:
      "A capacity limit was hit; validation goes on where it can, and says what it stopped "
        + "checking."
    }
  }

  /// The rule's help: how such a finding is usually fixed.
  static func help(_ kind: FindingKind) -> String {
    switch kind {
    case .invalidWaitContext:
      "Take the sleeping lock before the raw spin lock (or outside the atomic context), make "
        + "the inner lock a raw spin lock if its sections are short and never sleep, or defer "
        + "the work (to a thread, a workqueue, or after the raw lock is dropped)."
    case .circularDependency:
      "Pick one order for the classes in the cycle and take them in that order on every path; "
        + "the report's chain shows where each dependency was first made."
    case .recursiveLocking:
      "If the two locks are distinct objects of one class taken in a fixed order, say so with "
        + "a subclass (spin_lock_nested, lock(subclass:)) or a nest lock; otherwise the code "
        + "takes a lock it already holds and will deadlock."
    case .inconsistentLockState:
      "Disable the interrupt (local_irq_save, spin_lock_irqsave, withIRQsDisabled {}) "
        + "wherever the lock is taken outside the handler, or stop taking it in the handler."
    case .irqLockInversion:
      "Disable the interrupt around the irq-unsafe lock everywhere, or do not take it under "
        + "the irq-safe one."
    case .badUnlockBalance:
      "Release each lock once, on the thread and in the context that took it."
    case .heldLockFreed:
      "Release the lock before the memory that holds it is freed or the lock re-initialized."
    case .sleepInAtomic:
      "Move the call that may sleep out of the section with preemption or interrupts off (or "
        + "from under the raw spin lock), or use a non-blocking form of it."
    case .locksHeldAtExit:
      "Release every lock before the thread (or test) ends; a scoped withLock {} cannot leak."
    case .nestedLockNotTaken:
      "Take the nest lock before the locks nested under it, and keep it until they are "
        + "released."
    case .limitExceeded:
      "Hold fewer locks at once, or use fewer classes or subclasses; the finding's text names "
        + "the limit."
    }
  }
}
