import Dispatch

/// Locks that main-actor code of a test leaves held.
///
/// A test's task hands itself back to its preferred executor
/// (`ScopeExecutor`) when it leaves the main actor: a `@MainActor`
/// test function that returns, or one that calls something nonisolated.
/// The thread that hands it over is the one that ran the main actor's job
/// (on Linux, a dispatch worker draining the main queue, not the process's
/// first thread), and it is about to run other jobs of the main queue,
/// other tests' among them: locks it holds then were left held by the
/// main-actor code (a leak, or a lock held across a call that leaves the
/// actor), and every later job on that thread would be validated under
/// them. They are a `locks-held-at-exit` finding of the test ("leaving the
/// main actor"), and are forgotten (`LiveThread.reportLocksHeld`).
///
/// The hand-over is told apart from other hand-overs by two marks: the
/// thread runs the main queue (a queue-specific value set on it) and has
/// no current task (the runtime clears it as it switches executors; code
/// of a task that resumes another, holding a lock, has one). Code of the
/// main queue that is no task (a `DispatchQueue.main.async` block) and
/// resumes the test's task while holding a lock would be taken for such
/// an exit.
enum MainActorExit {
  /// The main queue's mark.
  private static let key = DispatchSpecificKey<UInt8>()

  /// Marks the main queue, once.
  private static let marked: Bool = {
    DispatchQueue.main.setSpecific(key: key, value: 1)
    return true
  }()

  /// Marks the main queue (before a test's task may run there).
  static func prepare() { _ = marked }

  /// Called as a task of `scope` is handed to its preferred executor:
  /// when the calling thread is leaving the main actor holding locks,
  /// they are `scope`'s finding, and forgotten.
  static func check(_ scope: LockValidationScope) {
    guard DispatchQueue.getSpecific(key: key) != nil, withUnsafeCurrentTask(body: { $0 == nil }),
      let thread = Live.scopeThreadIfMade(), thread.validator.heldCount > 0
    else { return }
    LockValidationScope.$bound.withValue(scope) {
      ScopeExecutor.reportLocksLeft(on: thread, atEndOf: "the main actor")
    }
  }
}
