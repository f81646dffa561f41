import Basics

/// Cleanup of another layer of this package that must run on an exiting
/// thread while the thread's validation still goes on: per-thread state
/// whose removal takes validated locks (the RCU layer's reader record,
/// removed under `rcu_registry_lock`).
///
/// The validator's key destructor runs the hooks before the thread's exit
/// check. A layer's own key destructor that ran after that check would
/// take its locks on a new state made for the exited thread: a second
/// thread in reports and traces (`tid.2`), with an exit of its own.
///
/// Invariants:
/// - a hook runs on the exiting thread, with its signals blocked, and only
///   where the validator keeps a state for it (a thread that took no
///   validated lock has nothing to exit from; its layers' own destructors
///   clean up);
/// - a hook does nothing on a thread it keeps no state for, and clears
///   what it cleans (its layer's key destructor may have run first: glibc
///   runs key destructors in the order the keys were made, and runs each
///   key's at most once a round).
package enum ThreadExitHooks {
  private static let hooks = PThreadMutex<[@Sendable () -> Void]>([])

  /// Adds `hook`, to run on every thread that exits from now on. Add it
  /// once per process (a layer's shared state's initializer).
  package static func add(_ hook: @escaping @Sendable () -> Void) {
    hooks.withLock { $0.append(hook) }
  }

  /// Runs every hook, in the order they were added, on the calling
  /// (exiting) thread.
  static func runAll() {
    for hook in hooks.withLock({ $0 }) { hook() }
  }
}
