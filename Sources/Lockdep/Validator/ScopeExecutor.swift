import Basics
import CLockdepSupport
import Dispatch
import LockGraph
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
/// queue's thread: `MainActorExit` checks that thread then. A `Task {}`
/// started in the scope, which does not inherit the preference, has its
/// jobs routed here from the global concurrent executor
/// (`routeScopedJobs()`), and so has every task of a scope with no task to
/// give the preference (an XCTest test, whose `async` method XCTest runs
/// in a `Task {}`: `LockValidationScope.runRoutingGlobalJobs`).
final class ScopeExecutor: TaskExecutor {
  /// Set once the scope's body is done: a job that ends after that (the
  /// rest of the test's task) is no longer the scope's.
  private let finished = Atomic<Bool>(false)
  /// The scope whose body prefers this executor; nil for `unscoped`.
  private let scope: LockValidationScope?

  /// An executor for the body of `scope`.
  init(for scope: LockValidationScope) {
    self.scope = scope
    MainActorExit.prepare()
  }

  /// The executor of no scope.
  private init() { scope = nil }

  /// Where routed jobs of tasks of no scope run (`routeScopedJobs()`):
  /// checked at both ends, and a lock left held as one ends is reported
  /// process-wide, as left by "a task at an await", and forgotten.
  private static let unscoped = ScopeExecutor()

  /// The scope's body is done.
  func finish() { finished.store(true, ordering: .releasing) }

  /// Runs `job` on a global queue, checking the thread before and after.
  func enqueue(_ job: consuming ExecutorJob) {
    submit(UnownedJob(job))
  }

  /// `enqueue(_:)` of a job of this executor, or one routed here from the
  /// global concurrent executor (`routeScopedJobs()`), to run `delay`
  /// nanoseconds from now (0: at once).
  /// (Not `enqueue(_: UnownedJob)`: the protocol's deprecated requirement
  /// of that name calls back into `enqueue(_: ExecutorJob)`.)
  func submit(_ job: UnownedJob, after delay: UInt64 = 0) {
    if let scope { MainActorExit.check(scope) }
    let executor = asUnownedTaskExecutor()
    // Read before the job runs (it may be gone after): 0 for no task.
    let task = rlc_job_task_id(unsafeBitCast(job, to: UnsafeMutableRawPointer.self))
    let run: @Sendable () -> Void = { [self] in
      guard let first = startOrDefer(job, of: task) else {
        // Run by the job of its task before it, once that one's end is
        // checked (`startOrDefer`), which counts as running till then.
        count(-1, ofTask: task)
        return
      }
      var next: UnownedJob? = first
      while let job = next {
        Self.forgetEarlierLocks()
        let thread = jobStarts(ofTask: task)
        job.runSynchronously(on: executor)
        jobEnded(on: thread)
        next = finishAndTakeNext(of: task)
      }
      count(-1, ofTask: task)
    }
    if delay == 0 {
      count(1, ofTask: task)
      DispatchQueue.global().async(execute: run)
    } else {
      DispatchQueue.global().asyncAfter(
        deadline: .now() + .nanoseconds(Int(clamping: delay))
      ) { [self] in
        count(1, ofTask: task)
        run()
      }
    }
  }

  /// Jobs queued to run now or running (a delayed one counts once due).
  private let running = Atomic<Int>(0)
  /// Those of them that are jobs of tasks (not of an actor: a busy actor's
  /// job may run other tests' tasks for long).
  private let runningOfTasks = Atomic<Int>(0)

  /// Counts a job of task `task` (0: none) as queued or running (`delta`
  /// 1), or as done (-1).
  private func count(_ delta: Int, ofTask task: UInt64) {
    if delta > 0 {
      running.add(delta, ordering: .relaxed)
      if task != 0 { runningOfTasks.add(delta, ordering: .relaxed) }
    } else {
      if task != 0 { runningOfTasks.subtract(-delta, ordering: .releasing) }
      running.subtract(-delta, ordering: .releasing)
    }
  }

  /// The tasks (by id) whose job runs here or is being checked at its end,
  /// each with its jobs that came meanwhile, oldest first.
  ///
  /// Invariant: a task's job starts only once the end of its job before
  /// is checked. Its next job is enqueued as it suspends, or by whoever
  /// resumes it, often before that check is done: run at once on another
  /// thread, it could release a lock the check is about to report and
  /// forget (a bad unlock balance there, and in the trace).
  private let inFlight = PThreadMutex<[UInt64: [UnownedJob]]>([:])

  /// `job`, of task `task`, to run now; nil when a job of the task runs
  /// (or ends) here, which then runs this one after it (`task` 0, no
  /// task, e.g. an actor's, is never held back).
  private func startOrDefer(_ job: UnownedJob, of task: UInt64) -> UnownedJob? {
    guard task != 0 else { return job }
    return inFlight.withLock { flights in
      if flights[task] != nil {
        flights[task]!.append(job)
        return nil
      }
      flights[task] = []
      return job
    }
  }

  /// The end of a job of `task` was checked: its next job, if one came
  /// meanwhile (to run now, on this thread), else nil, the task done here.
  private func finishAndTakeNext(of task: UInt64) -> UnownedJob? {
    guard task != 0 else { return nil }
    return inFlight.withLock { flights in
      guard var waiting = flights[task], !waiting.isEmpty else {
        flights[task] = nil
        return nil
      }
      let next = waiting.removeFirst()
      flights[task] = waiting
      return next
    }
  }

  /// Waits until no job is queued or running here but the caller's own
  /// (when it runs in one of this executor's jobs: the end of the scope's
  /// body), for `limit` nanoseconds at most (a task that never ends must
  /// not hold the test).
  /// With `tasksOnly`, jobs of tasks alone (an actor's job that took the
  /// scope's locks is waited for by `LockValidationScope`).
  func awaitRunningJobs(limit: UInt64, tasksOnly: Bool = false) {
    let thread = Live.scopeThreadIfMade()
    let mine = thread?.routedJobExecutor == ObjectIdentifier(self)
    let own = mine && (!tasksOnly || thread?.routedJobIsTasks == true) ? 1 : 0
    Self.wait(limit: limit, pause: 200) {
      (tasksOnly ? runningOfTasks.load(ordering: .acquiring) : running.load(ordering: .acquiring))
        > own
    }
  }

  /// Sleeps `pause` microseconds at a time while `busy()`, for `limit`
  /// nanoseconds at most.
  static func wait(limit: UInt64, pause: UInt32, while busy: () -> Bool) {
    let start = DispatchTime.now().uptimeNanoseconds
    while busy() && DispatchTime.now().uptimeNanoseconds &- start < limit { usleep(pause) }
  }

  // MARK: Jobs of the global concurrent executor

  /// Who takes the global concurrent executor's jobs while asynchronous
  /// scopes run (`routeScopedJobs()`): each task's scope's executor, or
  /// `unscoped`.
  private struct Routing {
    /// Scopes running that route jobs.
    var scopes = 0
    /// The executor of each task made where a scope with an executor was
    /// bound, by task id, while that scope runs.
    var tasks: [UInt64: ScopeExecutor] = [:]
    /// The highest task id routed: a task with a higher one is new.
    var newest: UInt64 = 0
  }

  /// The routing, changed (and the hooks set or cleared) under its lock.
  private static let routing = PThreadMutex(Routing())

  /// While an asynchronous scope runs, every job of the global concurrent
  /// executor is checked at both ends too. A task made where a scope with
  /// an executor is bound (a `Task {}` or `Task.detached` a test starts:
  /// one does not inherit the test's executor preference, the other not
  /// even its task-local values) has its jobs run on that scope's
  /// executor (`LockValidationScope.executor`) until the scope ends; the
  /// jobs of other tasks run on `unscoped`.
  ///
  /// A task is the scope's when it is made there, not wherever it is
  /// enqueued: its resumptions are enqueued by whoever resumes it (another
  /// test's task feeding a stream a task of no test reads, or no task at
  /// all after a `Task.yield()`). A task is told new by its id, which the
  /// runtime counts up: a job of a task with an id above every id routed
  /// so far is the task's first (it was just made, where it is enqueued),
  /// and one at or below is a task seen before, or made before the
  /// routing began, whose scope was decided then (none, if it was not
  /// recorded). Two tasks made at once on two threads may be enqueued in
  /// the other order, and the later-numbered first: the other is then
  /// taken as no scope's (checked, but as no test's).
  ///
  /// Balanced by `endScopedJobs(of:)`.
  static func routeScopedJobs() {
    changeRouting { $0.scopes += 1 }
  }

  /// Ends one `routeScopedJobs()`, of the scope whose executor is
  /// `executor`: its tasks' jobs are no longer routed to it.
  static func endScopedJobs(of executor: ScopeExecutor) {
    changeRouting { routing in
      routing.scopes -= 1
      if routing.scopes == 0 {
        routing.tasks = [:]
      } else {
        routing.tasks = routing.tasks.filter { $0.value !== executor }
      }
    }
  }

  /// Changes the routing and sets the runtime's hooks to match.
  private static func changeRouting(_ change: (inout Routing) -> Void) {
    routing.withLock { routing in
      let wasActive = routing.scopes > 0
      change(&routing)
      let active = routing.scopes > 0
      if active != wasActive { rlc_route_global_jobs(active ? routeJob : nil) }
    }
  }

  /// The router: takes a job for the executor routing says, if any. Called
  /// where the job is enqueued.
  private static let routeJob: @convention(c) (UnsafeMutableRawPointer?, UInt64) -> Int32 = {
    job, delay in
    guard let job, let executor = ScopeExecutor.executor(for: job) else { return 0 }
    executor.submit(unsafeBitCast(job, to: UnownedJob.self), after: delay)
    return 1
  }

  /// Where `job`, enqueued on the global concurrent executor, runs: nil
  /// when nothing is routed.
  private static func executor(for job: UnsafeMutableRawPointer) -> ScopeExecutor? {
    let id = rlc_job_task_id(job)
    let (active, known, isNew) = routing.withLock {
      ($0.scopes > 0, $0.tasks[id], id > $0.newest)
    }
    guard active else { return nil }
    if let known { return known }
    // A job that is no task (id 0, an actor's) goes where it is enqueued.
    guard isNew || id == 0 else { return unscoped }
    // Read outside the routing's lock: a task-local value.
    let bound = LockValidationScope.current?.executor
    return routing.withLock { routing in
      guard routing.scopes > 0 else { return nil }
      if id != 0 {
        routing.newest = max(routing.newest, id)
        if let bound { routing.tasks[id] = bound }
      }
      return bound ?? unscoped
    }
  }

  /// Locks the calling thread holds where no lock should be (a job's start,
  /// a scope's): reported process-wide, as another task's, and forgotten.
  static func forgetEarlierLocks() {
    guard let thread = Live.scopeThreadIfMade(), thread.validator.heldCount > 0 else { return }
    LockValidationScope.$bound.withValue(nil) {
      thread.reportLocksHeld(thread.validator.heldLocks, atEndOf: "an earlier test or task")
    }
  }

  /// Routed jobs whose run, or the check of its end, is under way.
  private static let jobsInProgress = Atomic<Int>(0)

  /// A routed job of task `task` (0: none, an actor's) starts on the
  /// calling thread: the thread's state (made now), marked for the job.
  private func jobStarts(ofTask task: UInt64) -> LiveThread? {
    Self.jobsInProgress.add(1, ordering: .relaxed)
    guard let thread = Live.scopeThread() else { return nil }
    thread.inRoutedJob = true
    thread.routedJobExecutor = ObjectIdentifier(self)
    thread.routedJobIsTasks = task != 0
    if task == 0 {
      thread.gate.inNoTaskJob = true
      thread.noTaskJobScope = nil
    }
    return thread
  }

  /// A job ended on the calling thread, `thread` its state if it had one:
  /// locks it left held are a finding, and forgotten. Whose: for a job of
  /// no task (an actor's, which runs the jobs of its callers' tasks), the
  /// test whose task took the first of them, when one did; else this
  /// executor's scope, or the process's ("a task at an await").
  private func jobEnded(on thread: LiveThread?) {
    defer { Self.jobsInProgress.subtract(1, ordering: .releasing) }
    var owner = scope
    // The test whose locks a job of no task holds: its end waits for
    // this check (`LockValidationScope.awaitJobsHoldingLocks`), counted
    // down once the locks are reported.
    var taker: LockValidationScope? = nil
    defer { taker?.noTaskJobsHoldingLocks.subtract(1, ordering: .releasing) }
    if let thread {
      thread.inRoutedJob = false
      thread.routedJobExecutor = nil
      thread.routedJobIsTasks = false
      if thread.gate.inNoTaskJob {
        thread.gate.inNoTaskJob = false
        taker = thread.noTaskJobScope
        if let taker, taker.executor != nil { owner = taker }
        thread.noTaskJobScope = nil
      }
    }
    // Binding the scope costs more than the job may: only when needed.
    guard owner !== scope || !finished.load(ordering: .acquiring),
      let thread = thread ?? Live.scopeThreadIfMade(),
      thread.validator.heldCount > 0 || thread.deferred.needsReplay
    else { return }
    LockValidationScope.$bound.withValue(owner) {
      Self.reportLocksLeft(
        on: thread,
        atEndOf: owner.map { "\($0.endName ?? "the test") at an await" } ?? "a task at an await")
    }
  }

  /// Waits, a tenth of a second at most, while a release on `thread` (in
  /// a routed job) matches no lock it holds nor one forgotten, and another
  /// routed job is in progress: an actor's job that suspended its task
  /// holding the lock lets the task resume on another thread before the
  /// check at that job's end has reported and forgotten the lock, which
  /// would make the release a bad unlock balance on top of that report.
  /// (A task's own jobs are kept in order by `startOrDefer`; an actor's
  /// are not told apart.)
  static func awaitEndChecks(releasing lockClass: ClassID, instance: UInt64, on thread: LiveThread)
  {
    let core = thread.validator.core
    wait(limit: 100_000_000, pause: 50) {
      jobsInProgress.load(ordering: .acquiring) > 1
        && !core.isForgotten(lockClass, instance: instance)
    }
  }

  /// The end of a stretch of code on `thread`, the calling thread, where
  /// it may hold no lock (a job, a test's body, main-actor code): its
  /// signal handlers' events are validated, then the locks it still holds
  /// are a `locks-held-at-exit` finding of the bound scope, leaving
  /// `name`, and are forgotten.
  static func reportLocksLeft(on thread: LiveThread, atEndOf name: String) {
    Live.replayPending()
    if thread.validator.heldCount > 0 {
      thread.reportLocksHeld(thread.validator.heldLocks, atEndOf: name)
    }
  }
}
