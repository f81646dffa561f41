import Dispatch
import Synchronization

/// The task executor that an asynchronous test scope's task prefers
/// (`LockValidationScope.run`): it runs each job of the task, and of its
/// child tasks, on a global dispatch queue, as the global concurrent
/// executor would, and checks the thread at both ends of the job. A
/// thread of the pool holds no lock between two jobs, so:
///
/// - locks the thread holds as a job starts were left by another task's
///   job (one that suspended or returned holding them, outside any test
///   scope): they are reported process-wide, as held by "an earlier test
///   or task", and forgotten, so that the test is not validated under
///   them, nor blamed for them at its end;
/// - locks it holds as a job of the scope ends were left by that job: its
///   task suspended at an `await` (or moved to another executor) holding
///   them, and may resume on another thread, or leave this one to run other
///   tests' tasks under them. They are the scope's `locks-held-at-exit`
///   finding ("leaving the test at an await"), and are forgotten.
///
/// A task that leaves the main actor is handed back here from the main
/// queue's thread: `MainActorExit` checks that thread then.
final class ScopeExecutor: TaskExecutor {
  /// Set once the scope's body is done: a job that ends after that (the
  /// rest of the test's task) is no longer the scope's.
  private let finished = Atomic<Bool>(false)
  /// The scope whose body prefers this executor.
  private let scope: LockValidationScope

  /// An executor for the body of `scope`.
  init(for scope: LockValidationScope) {
    self.scope = scope
    MainActorExit.prepare()
  }

  /// The scope's body is done.
  func finish() { finished.store(true, ordering: .releasing) }

  /// Runs `job` on a global queue, checking the thread before and after.
  func enqueue(_ job: consuming ExecutorJob) {
    MainActorExit.check(scope)
    let job = UnownedJob(job)
    let executor = asUnownedTaskExecutor()
    DispatchQueue.global().async { [self] in
      Self.forgetEarlierLocks()
      job.runSynchronously(on: executor)
      jobEnded()
    }
  }

  /// Locks the calling thread holds where no lock should be (a job's start,
  /// a scope's): reported process-wide, as another task's, and forgotten.
  static func forgetEarlierLocks() {
    guard let thread = Live.scopeThreadIfMade(), thread.validator.heldCount > 0 else { return }
    LockValidationScope.$bound.withValue(nil) {
      thread.reportLocksHeld(above: 0, atEndOf: "an earlier test or task")
    }
  }

  /// A job of the scope ended on the calling thread: locks it left held
  /// are the scope's finding, and forgotten.
  private func jobEnded() {
    // Binding the scope costs more than the job may: only when needed.
    guard !finished.load(ordering: .acquiring), let thread = Live.scopeThreadIfMade(),
      thread.validator.heldCount > 0 || thread.deferred.needsReplay
    else { return }
    LockValidationScope.$bound.withValue(scope) {
      Self.reportLocksLeft(on: thread, atEndOf: "the test at an await")
    }
  }

  /// The end of a stretch of code on `thread`, the calling thread, where
  /// it may hold no lock (a job, a test's body, main-actor code): its
  /// signal handlers' events are validated, then the locks it still holds
  /// are a `locks-held-at-exit` finding of the bound scope, leaving
  /// `name`, and are forgotten.
  static func reportLocksLeft(on thread: LiveThread, atEndOf name: String) {
    Live.replayPending()
    if thread.validator.heldCount > 0 { thread.reportLocksHeld(above: 0, atEndOf: name) }
  }
}
