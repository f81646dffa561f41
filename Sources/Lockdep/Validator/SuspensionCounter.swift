import Synchronization

/// A task executor that runs each job it is given on the global concurrent
/// executor, as if there were no preference, and counts them: a test's
/// task that prefers it and was given no job between two points of its
/// body did not suspend between them, so the thread it ran on ran nothing
/// else meanwhile (`LockValidationScope.run`). A task handed to it as it
/// leaves the main actor is checked for locks the main actor's thread
/// still holds (`MainActorExit`).
final class SuspensionCounter: TaskExecutor {
  private let enqueued = Atomic<Int>(0)
  /// The scope whose body prefers this executor.
  private let scope: LockValidationScope

  /// A counter for the body of `scope`.
  init(for scope: LockValidationScope) {
    self.scope = scope
    MainActorExit.prepare()
  }

  /// The jobs given so far: a task (or a child task) that prefers this
  /// executor is given one each time it resumes on no actor.
  var jobs: Int { enqueued.load(ordering: .acquiring) }

  /// Counts `job` and hands it to the global concurrent executor.
  func enqueue(_ job: consuming ExecutorJob) {
    enqueued.add(1, ordering: .releasing)
    MainActorExit.check(scope)
    globalConcurrentExecutor.enqueue(job)
  }
}
