import CLockdepSupport
import Dispatch
import Synchronization

#if canImport(Glibc)
  import Glibc
#endif

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
/// queue's thread: `MainActorExit` checks that thread then. A scope with
/// no task to give the preference (an XCTest test, whose `async` method
/// XCTest runs in a `Task {}`) routes the global concurrent executor's
/// jobs here instead while it runs (`startRouting()`,
/// `LockValidationScope.runRoutingGlobalJobs`).
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
    submit(UnownedJob(job))
  }

  /// `enqueue(_:)` of a job of this executor, or one routed here from the
  /// global concurrent executor (`startRouting()`), to run `delay`
  /// nanoseconds from now (0: at once).
  /// (Not `enqueue(_: UnownedJob)`: the protocol's deprecated requirement
  /// of that name calls back into `enqueue(_: ExecutorJob)`.)
  func submit(_ job: UnownedJob, after delay: UInt64 = 0) {
    MainActorExit.check(scope)
    let executor = asUnownedTaskExecutor()
    let run: @Sendable () -> Void = { [self] in
      Self.forgetEarlierLocks()
      job.runSynchronously(on: executor)
      jobEnded()
      running.subtract(1, ordering: .releasing)
    }
    if delay == 0 {
      running.add(1, ordering: .relaxed)
      DispatchQueue.global().async(execute: run)
    } else {
      DispatchQueue.global().asyncAfter(
        deadline: .now() + .nanoseconds(Int(clamping: delay))
      ) { [self] in
        running.add(1, ordering: .relaxed)
        run()
      }
    }
  }

  /// Jobs queued to run now or running (a delayed one counts once due).
  private let running = Atomic<Int>(0)

  /// Waits until no job is queued or running here, for `limit`
  /// nanoseconds at most (a task that never ends must not hold the test).
  func awaitRunningJobs(limit: UInt64) {
    let start = DispatchTime.now().uptimeNanoseconds
    while running.load(ordering: .acquiring) > 0
      && DispatchTime.now().uptimeNanoseconds &- start < limit
    {
      usleep(200)
    }
  }

  // MARK: Jobs of the global concurrent executor

  /// The executor the global concurrent executor's jobs are routed to.
  private static let routed = Synchronization.Mutex<ScopeExecutor?>(nil)

  /// Routes every job enqueued on the global concurrent executor here
  /// until `stopRouting()`, through the runtime's enqueue hooks
  /// (`rlc_route_global_jobs`): jobs of tasks that prefer no executor, an
  /// XCTest `async` test's among them, are then checked at both ends as a
  /// scope's jobs are.
  func startRouting() {
    Self.routed.withLock { $0 = self }
    rlc_route_global_jobs(Self.routeJob)
  }

  /// Ends `startRouting()` (when no other executor took the routing since).
  func stopRouting() {
    let stopped = Self.routed.withLock { current -> Bool in
      guard current === self else { return false }
      current = nil
      return true
    }
    if stopped { rlc_route_global_jobs(nil) }
  }

  /// The router: takes a job for the routed executor, if any.
  private static let routeJob: @convention(c) (UnsafeMutableRawPointer?, UInt64) -> Int32 = {
    job, delay in
    guard let job, let executor = ScopeExecutor.routed.withLock({ $0 }) else { return 0 }
    executor.submit(unsafeBitCast(job, to: UnownedJob.self), after: delay)
    return 1
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
