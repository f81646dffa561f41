import CLockdepSupport
import Dispatch
import Symbolizer

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
/// The hand-over is told apart from other hand-overs by three marks: the
/// thread runs the main queue (a queue-specific value set on it), has no
/// current task (the runtime clears it as it switches executors; code of
/// a task that resumes another, holding a lock, has one), and runs a job
/// (the runtime's `swift_job_run` is on its stack: a block of the main
/// queue, such as a `DispatchQueue.main.async` one that resumes the
/// test's task holding its own lock, is none).
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
      let thread = Live.scopeThreadIfMade(), thread.validator.heldCount > 0, runsJob()
    else { return }
    LockValidationScope.$bound.withValue(scope) {
      ScopeExecutor.reportLocksLeft(on: thread, atEndOf: "the main actor")
    }
  }

  /// The code of the runtime's `swift_job_run`, which runs every job of a
  /// task (a main-actor job on the main queue too); nil where it is not
  /// found.
  private static let jobRunCode: (start: UInt, end: UInt)? = {
    var start: UInt = 0
    var size: UInt = 0
    guard rlc_function_range("swift_job_run", &start, &size) != 0 else { return nil }
    return (start, start + size)
  }()

  /// Whether the calling thread runs a task's job: a return address into
  /// `swift_job_run` is on its stack (true where that function is not
  /// found, as before this mark).
  static func runsJob() -> Bool {
    guard let code = jobRunCode else { return true }
    return withUnsafeTemporaryAllocation(of: UInt64.self, capacity: 128) { buffer in
      let count = StackCapture.capture(into: buffer)
      return buffer[..<count].contains { UInt($0) > code.start && UInt($0) <= code.end }
    }
  }
}
