import Basics
import LockGraph
import Synchronization

#if canImport(Glibc)
  import Glibc
#endif

/// A scope whose findings are collected apart from the rest of the
/// process: a test, in `LockdepTesting`. A finding belongs to the scope
/// bound (as a task-local value) where it happened: the test's task, or a
/// thread that runs `scope.run { }`.
///
/// An isolated scope also keeps what it teaches the validator to itself:
/// code that is expected to break the rules (a test that proves a bug is
/// found) must not leave its lock order or irq usage behind, where it would
/// be reported against the next test that takes the same locks the right
/// way. Its events are validated against a fork of the process's
/// validator, made when the scope is first run: the fork starts from
/// everything learnt before (a cycle half set up earlier is still found)
/// and what it learns is dropped with the scope. Its findings are neither
/// printed nor kept in `LockValidation.findings`: they are the scope's
/// (except those of a thread that outlives the scope's end, which are the
/// process's).
public final class LockValidationScope: Sendable {
  /// One distinct finding as a scope saw it.
  public struct Occurrence: Sendable {
    /// The finding (its `count` is as stored when it first happened in
    /// the scope: occurrences before the scope count there too).
    public var finding: Finding
    /// How many times it happened in the scope.
    public var count = 1
    /// The finding's kind (`finding.kind`).
    public var kind: FindingKind { finding.kind }
    /// Whether the scope's `reporter` reported it when it first happened.
    public var wasReported = false
    /// Whether someone reports it: its `reporter`, while it runs, or the
    /// scope's end, which took it (`unreportedFindings`). Whoever claims
    /// it first reports it; the other leaves it.
    var claimed = false

    /// `lock validation: KIND`, with how many times it happened in the
    /// scope when more than once: the first line of a test's complaint.
    public var title: String {
      "lock validation: \(finding.kind.rawValue)" + (count > 1 ? " (\(count) times)" : "")
    }
    /// Its lockdep-style text, symbolized (rendered when asked for: a
    /// finding that repeats thousands of times is not symbolized each time).
    public var text: String { LiveValidator.shared.render(finding) }
  }

  @TaskLocal static var bound: LockValidationScope?
  private let occurrences = PThreadMutex<[Occurrence]>([])
  /// Whether what is learnt in this scope stays in it.
  public let isIsolated: Bool
  /// An isolated scope's fork of the validator, made on its first run.
  private let fork = PThreadMutex<ValidatorCore?>(nil)
  /// Told of each occurrence when it happens, on its thread.
  private let reporter: (@Sendable (Occurrence) -> Bool)?
  /// What the scope is, when a thread leaving it with locks taken in it
  /// still held is a finding (`the test`), else nil.
  let endName: String?
  /// What the scope is, when each outermost `run` of it on another thread
  /// than the first run's (a worker's) is a work item whose leftover locks
  /// are a finding as it returns (`the test`, `the block`), else nil: the
  /// `endName`, or a block's of `check(expecting:_:)`, which has none.
  let workName: String?
  /// Whether a synchronous `run` has begun: only the first, the test's
  /// own, ends the scope (a worker's `run` of it, or a nested one, ends
  /// only its part; a worker's leftover lock is a finding at its `run`'s end).
  private let started = Atomic<Bool>(false)
  /// Whether that first run has ended (the test is over): a finding of a
  /// task or thread that outlives it, still bound to the scope, is no
  /// longer the scope's, but the process's (`LiveValidator.handle`).
  private let ended = Atomic<Bool>(false)

  /// Whether the scope's first run (the test's) has ended.
  var hasEnded: Bool { ended.load(ordering: .acquiring) }

  /// Marks the scope's end (the test's, or a negative test's block):
  /// under the occurrences' lock, so that a finding recorded at the same
  /// time either lands before the end, where whoever reads `findings`
  /// after it sees it, or is refused (`record`), and goes to the process.
  func end() {
    occurrences.withLock { _ in ended.store(true, ordering: .releasing) }
  }

  /// Whether this scope validates its threads on a fork of its own (an
  /// isolated scope run synchronously): a finding of the process's
  /// validator, where it is bound, is then of a thread that never ran in
  /// it (a `Task {}` started in its body inherits it), whose events the
  /// fork never saw.
  var validatesOnFork: Bool { isIsolated && fork.withLock { $0 != nil } }
  /// Whether the end is `runRoutingGlobalJobs`'s to mark, once the test's
  /// last jobs are done, rather than its synchronous `run`'s.
  private let endsAfterJobs = Atomic<Bool>(false)
  /// The executor of the asynchronous `run` that began the scope, while it
  /// runs: where the jobs of a `Task {}` started in the scope are checked
  /// (`ScopeExecutor.routeScopedJobs()`).
  private let runningExecutor = PThreadMutex<ScopeExecutor?>(nil)

  /// The executor of the scope's asynchronous `run`, while it runs.
  var executor: ScopeExecutor? { runningExecutor.withLock { $0 } }

  /// Routed jobs of no task (an actor's) that took a lock while this scope
  /// was bound, and whose end is not checked yet (`ScopeExecutor`): the
  /// test's task may go on and end on another thread before the actor's
  /// job ends, and the locks it left held are the test's finding.
  let noTaskJobsHoldingLocks = Atomic<Int>(0)

  /// Waits, for `limit` nanoseconds at most, until the end of every job of
  /// no task that took a lock in this scope is checked (but the caller's
  /// own, if it runs in one).
  private func awaitJobsHoldingLocks(limit: UInt64) {
    let own = Live.scopeThreadIfMade().map { $0.noTaskJobScope === self ? 1 : 0 } ?? 0
    ScopeExecutor.wait(limit: limit, pause: 200) {
      noTaskJobsHoldingLocks.load(ordering: .acquiring) > own
    }
  }

  /// A new, empty scope; `isolated` keeps what the validator learns from
  /// the scope's events (dependencies, irq usage) in the scope. Isolation
  /// applies to the synchronous `run`, on each thread that runs it; the
  /// asynchronous `run` only collects findings.
  ///
  /// `reporter`, when given, is told of each occurrence as it happens, on
  /// the thread (and in the task) that caused it, and returns whether it
  /// reported it there (the Swift Testing trait records an issue at once
  /// in the test's own task, where `withKnownIssue` sees it); the others
  /// are left to whoever reads `unreportedFindings` when the scope is done.
  ///
  /// `endName` (`"the test"`), when given, makes a thread that leaves the
  /// scope holding locks it took in the scope a `locks-held-at-exit`
  /// finding, as lockdep reports a task returning to user space with locks
  /// held, at the end of the scope's first synchronous `run` (the test's),
  /// on its thread; other runs of it (on a worker thread, or nested) end
  /// nothing, but the outermost `run` on another thread (a worker's: a
  /// block on a dispatch queue) that leaves a lock it took held is a
  /// finding as it returns ("work of" `endName` "on this thread"), as the
  /// kernel's workqueue reports a work item that leaked a lock.
  /// The asynchronous `run` checks each job of its body, and its end
  /// (see there).
  public convenience init(
    isolated: Bool = false, reporter: (@Sendable (Occurrence) -> Bool)? = nil,
    endName: String? = nil
  ) {
    self.init(
      isolated: isolated, reporter: reporter, endName: endName,
      showing: reporter != nil || endName != nil)
  }

  /// A scope whose caller shows its findings or not (`check(expecting:_:)`).
  init(
    isolated: Bool, reporter: (@Sendable (Occurrence) -> Bool)? = nil, endName: String? = nil,
    workName: String? = nil, showing: Bool
  ) {
    isIsolated = isolated
    self.reporter = reporter
    self.endName = endName
    self.workName = endName ?? workName
    showsFindings = showing
  }

  /// Whether each of this scope's findings reaches the developer with its
  /// report (a test's issue or failure): the `print` policy does not
  /// print it to standard error as well. A test scope's (a reporter, or an
  /// end name), and `check(expecting: nil, _:)`'s.
  let showsFindings: Bool

  /// The scope bound where the caller runs, if any.
  public static var current: LockValidationScope? { bound }

  /// Runs `body` with this scope bound: findings it causes are collected
  /// here (and, in an isolated scope, what it teaches the validator stays
  /// here). Locks taken in `body` and still held when the thread exits
  /// (`locks-held-at-exit`) are this scope's finding too; in a test's
  /// scope (or a negative test's block), a worker's `run` (not the first,
  /// nor one inside another on its thread) that returns holding locks it
  /// took is that finding as it returns, and they are forgotten.
  public func run<R>(_ body: () throws -> R) rethrows -> R {
    // Not a `run` of this scope inside another on this thread.
    let outermost = Self.bound !== self
    return try Self.$bound.withValue(self) {
      guard let thread = Live.scopeThread() else {
        defer { Live.replayPending() }
        return try body()
      }
      let base = thread.validator.core
      if isIsolated { thread.validator = thread.validator.moved(to: forkCore(from: base)) }
      // The locks held as the run begins (a worker's, under a lock of its
      // own), if any: those it takes are told apart from them by lock
      // (`locksTaken(since:)`), since it may release one of them and take
      // another.
      let before = thread.validator.heldCount == 0 ? [] : thread.validator.heldLocks
      let first = workName != nil && !started.exchange(true, ordering: .relaxed)
      let endsScope = first && endName != nil
      defer {
        // Signal handlers' events queued on this thread belong to the scope.
        Live.replayPending()
        if let workName, case let taken = thread.locksTaken(since: before), !taken.isEmpty {
          if endsScope {
            thread.reportLocksHeld(taken, atEndOf: workName)
          } else if !first && outermost {
            // A worker's run of the test's scope (a block on a dispatch
            // queue, a job of a pool) is a work item: the thread goes back
            // to its pool and runs other tests' work next, under the locks
            // it left, which its exit (perhaps never) would only then
            // report. As the kernel's workqueue checks each work item's
            // end (`process_one_work()`: "workqueue leaked lock"), they
            // are the test's finding now, and forgotten.
            thread.reportLocksHeld(taken, atEndOf: "work of \(workName) on this thread")
          }
        }
        if endsScope && !endsAfterJobs.load(ordering: .relaxed) { end() }
        if case let left = thread.locksTaken(since: before), !left.isEmpty {
          thread.exitScope = self
          thread.exitScopeLocks = left
        } else if thread.exitScope === self {
          thread.exitScope = nil
        }
        if isIsolated { thread.validator = thread.validator.moved(to: base) }
      }
      return try body()
    }
  }

  /// `run(_:)` of a test whose tasks run on the global concurrent
  /// executor: an XCTest `async` test method, which XCTest runs in a
  /// `Task {}` and waits for. While `body` runs, the jobs of the tasks
  /// started in it (that `Task {}` among them: it inherits the scope,
  /// bound on the thread) run on this scope's executor instead
  /// (`ScopeExecutor`, through the runtime's enqueue hooks,
  /// `ScopeExecutor.routeScopedJobs()`), checked at both ends as the jobs
  /// of an asynchronous scope are: a job that ends holding a lock (its task
  /// suspended at an `await`, or returned, holding it) is this scope's
  /// `locks-held-at-exit` finding, and the lock is forgotten. Once `body`
  /// returns, jobs still queued or running are waited for (a quarter of a
  /// second at most), so that what they leave is the scope's. Jobs of
  /// other tasks (one an earlier test left running) are checked as no
  /// test's.
  public func runRoutingGlobalJobs<R>(_ body: () throws -> R) rethrows -> R {
    // A release build without the `Validation` trait checks no job.
    guard endName != nil, lockValidationIsCompiledIn else { return try run(body) }
    let executor = ScopeExecutor(for: self)
    routeJobs(to: executor)
    endsAfterJobs.store(true, ordering: .relaxed)
    // A test begins holding no lock: one held now was left by an earlier
    // test or task (an XCTest test of no scope) on the thread.
    ScopeExecutor.forgetEarlierLocks()
    defer {
      executor.awaitRunningJobs(limit: 250_000_000)
      awaitJobsHoldingLocks(limit: 250_000_000)
      endRouting(to: executor)
      executor.finish()
      end()
    }
    return try run(body)
  }

  /// Routes the jobs of the tasks started in this scope to `executor`
  /// until `endRouting(to:)`.
  private func routeJobs(to executor: ScopeExecutor) {
    runningExecutor.withLock { $0 = executor }
    ScopeExecutor.routeScopedJobs()
  }

  /// Ends `routeJobs(to:)`.
  private func endRouting(to executor: ScopeExecutor) {
    ScopeExecutor.endScopedJobs(of: executor)
    // The executor refers to the scope: no cycle is left behind.
    runningExecutor.withLock { $0 = nil }
  }

  /// Runs `body`, a thread's exit check, as this scope's: the thread left
  /// locks it took in this scope held.
  func atThreadExit(_ thread: LiveThread, _ body: () -> Void) {
    Self.$bound.withValue(self) {
      if isIsolated, let core = fork.withLock({ $0 }) {
        thread.validator = thread.validator.moved(to: core)
      }
      body()
    }
  }

  /// Runs `body` with this scope bound (asynchronous form; collects
  /// findings, but does not isolate: the body may move between threads).
  ///
  /// With an `endName`, the first `run` runs `body` on a `ScopeExecutor`,
  /// a task executor preference that checks each thread the body's jobs
  /// run on, where a thread of the pool holds no lock between two jobs:
  ///
  /// - locks a thread holds as a job begins (or as `body` begins) were
  ///   left there by another task that suspended or returned holding
  ///   them: they are reported then, as `locks-held-at-exit` of "an
  ///   earlier test or task", outside this scope (printed and kept
  ///   process-wide: no test is to blame), and forgotten, so that this
  ///   scope is not validated under them;
  /// - locks a thread holds as a job of `body` ends (its task suspended at
  ///   an `await` holding them) are this scope's `locks-held-at-exit`
  ///   finding, "leaving the test at an await" (`endName`'s), and are
  ///   forgotten;
  /// - locks the thread holds as `body` returns are this scope's
  ///   `locks-held-at-exit` finding, leaving `endName` (a test that
  ///   returned with a lock held), as the synchronous `run` checks;
  /// - a `@MainActor` body is checked as it leaves the main actor
  ///   (`MainActorExit`);
  /// - a task started in `body` without the preference (`Task {}`,
  ///   `Task.detached`) has its jobs routed here from the global
  ///   concurrent executor while `body` runs, checked as the body's are
  ///   (`ScopeExecutor.routeScopedJobs()`).
  ///
  /// `body` runs in the caller's isolation (`isolation`, the caller's
  /// actor by default, as `withTaskGroup`'s), so a `@MainActor` test or
  /// `main.swift` passes it a closure that touches its own state: without
  /// it, such a closure was a non-`Sendable` value sent to a nonisolated
  /// function, an error in Swift 6. For an actor's caller the scope's
  /// checks at its start and end run on that actor too: a lock the caller
  /// holds as it calls `run` is taken for one an earlier task left on the
  /// thread (reported, and forgotten); a lock held across the `await` of
  /// `run` is itself a lock held across an `await`.
  public func run<R: Sendable>(
    isolation: isolated (any Actor)? = #isolation, _ body: () async throws -> R
  ) async rethrows -> R {
    try await Self.$bound.withValue(self) {
      defer { Live.replayPending() }
      guard let endName, !started.exchange(true, ordering: .relaxed) else {
        return try await body()
      }
      let executor = ScopeExecutor(for: self)
      let routes = lockValidationIsCompiledIn
      if routes { routeJobs(to: executor) }
      defer {
        if routes { endRouting(to: executor) }
        end()
      }
      return try await withTaskExecutorPreference(executor) {
        // On the preferred executor: entering it may have moved the task.
        ScopeExecutor.forgetEarlierLocks()
        defer {
          // The ends of the jobs of its tasks, and of actors' jobs that ran
          // them, may be checked after the body's end on another thread (a
          // child task returned holding a lock, and the parent went on):
          // what they left is the test's.
          executor.awaitRunningJobs(limit: 250_000_000, tasksOnly: true)
          awaitJobsHoldingLocks(limit: 250_000_000)
          if let thread = Live.scopeThreadIfMade() {
            ScopeExecutor.reportLocksLeft(on: thread, atEndOf: endName)
          } else {
            Live.replayPending()
          }
          executor.finish()
        }
        return try await body()
      }
    }
  }

  /// The fork this scope's events are validated against, made from
  /// `current` (the first running thread's core) the first time.
  private func forkCore(from current: ValidatorCore) -> ValidatorCore {
    fork.withLock { made in
      if let made { return made }
      let core = current.fork { finding, _ in
        // A thread that outlived the scope's test (its exit found locks it
        // took in the scope still held): the finding is the process's,
        // printed and kept, as for a scope without a fork (`handle`);
        // recorded in the ended scope, no one would read it.
        if LockValidationScope.current?.record(finding) != true {
          LiveValidator.shared.core.adopt(finding)
        }
      }
      made = core
      return core
    }
  }

  /// Records an occurrence of `finding`: a repeat of a finding the scope
  /// saw (a buggy path taken in a loop) counts, and is not reported again;
  /// a new one is told to the `reporter`, on the calling thread. Returns
  /// false, recording nothing, once the scope has ended (`end()`): the
  /// caller gives the finding to the process.
  @discardableResult
  func record(_ finding: Finding) -> Bool {
    // The first occurrence takes its slot under the lock, so that threads
    // hitting the same finding at once report it once; the reporter then
    // runs outside the lock (it renders the report, and records an issue).
    let slot: Int?? = occurrences.withLock { list in
      if ended.load(ordering: .relaxed) { return nil }
      if let i = list.firstIndex(where: { Self.same($0.finding, finding) }) {
        list[i].count += 1
        return .some(nil)
      }
      var occurrence = Occurrence(finding: finding)
      if reporter != nil {
        occurrence.claimed = true
        reportersRunning.add(1, ordering: .relaxed)
      }
      list.append(occurrence)
      return list.count - 1
    }
    guard let slot else { return false }
    guard let slot, let reporter else { return true }
    let reported = reporter(Occurrence(finding: finding))
    // Counted as running from its slot's creation (under the lock) to
    // here: `unreportedFindings` waits for it.
    occurrences.withLock {
      if reported { $0[slot].wasReported = true } else { $0[slot].claimed = false }
      reportersRunning.subtract(1, ordering: .releasing)
    }
    return true
  }

  /// How many reporters are running: each counted from the moment its
  /// occurrence took its slot (under `occurrences`' lock) until its
  /// answer is stored.
  private let reportersRunning = Atomic<Int>(0)

  /// The findings the `reporter` did not report, once no reporter is
  /// running (waiting at most a second for one that is), taken by the
  /// caller to report: what a test's end reports itself. A finding whose
  /// reporter still runs after that second is the reporter's, and is not
  /// among them; a finding taken here is not among those of a later
  /// call. Read `findings` filtered on `wasReported` instead, and a
  /// finding whose reporter was still running then (a `Task {}` that
  /// inherited the test's scope, racing the test's end) would be
  /// reported by both.
  public var unreportedFindings: [Occurrence] {
    var start = timespec()
    clock_gettime(CLOCK_MONOTONIC, &start)
    while reportersRunning.load(ordering: .acquiring) > 0 {
      var now = timespec()
      clock_gettime(CLOCK_MONOTONIC, &now)
      if now.tv_sec - start.tv_sec > 1
        || (now.tv_sec - start.tv_sec == 1 && now.tv_nsec >= start.tv_nsec)
      {
        break
      }
      usleep(100)
    }
    return occurrences.withLock { list in
      var taken: [Occurrence] = []
      for i in list.indices where !list[i].wasReported && !list[i].claimed {
        list[i].claimed = true
        taken.append(list[i])
      }
      return taken
    }
  }

  /// Whether `a` and `b` are one distinct finding: a repeat is handed on
  /// as the validator stores it, with its first occurrence's place, lock
  /// and held locks.
  static func same(_ a: Finding, _ b: Finding) -> Bool {
    a.kind == b.kind && a.origin == b.origin && a.thread == b.thread
      && a.lock?.lockClass == b.lock?.lockClass
      && a.held.map(\.lockClass) == b.held.map(\.lockClass)
  }

  /// Runs `body` in a new scope and says what a test should complain
  /// about: with `kind`, that no finding of that kind happened (one
  /// message, or none); without, every finding (one message each, with its
  /// lockdep-style text). Also returns what happened. A scope that expects
  /// a finding is isolated: the rule-breaking it checks for stays in it.
  /// Where validation is compiled out (`lockValidationIsCompiledIn` is
  /// false), a missing expected finding is no complaint.
  public static func check<R>(expecting kind: FindingKind?, _ body: () throws -> R) rethrows
    -> (result: R, findings: [Finding], complaints: [String])
  {
    // Locks a block that expects `locks-held-at-exit` leaves held are that
    // finding, as a test's at its end (and forgotten); another block's
    // stay held, for the code after it to release. A worker's run of the
    // block's scope is a work item either way (`run`).
    let scope = LockValidationScope(
      isolated: kind != nil,
      endName: kind == .locksHeldAtExit ? "the block that expects it" : nil,
      workName: "the block", showing: kind == nil)
    let outsideBefore =
      kind != nil && LiveValidator.isCreated ? LiveValidator.shared.outsideScopes : [:]
    // The block is over, however it ended: a thread it started that finds
    // something later (at its exit, after the block stopped waiting for
    // it) is the process's, not lost in a scope no one reads again.
    let result: R
    do {
      result = try scope.run(body)
    } catch {
      scope.end()
      throw error
    }
    scope.end()
    let occurrences = scope.findings
    let found = occurrences.map(\.finding)
    guard let kind else {
      return (
        result, found,
        occurrences.map { "\($0.title)\n\($0.text)" }
      )
    }
    if found.contains(where: { $0.kind == kind }) { return (result, found, []) }
    // A release build without the `Validation` trait validates nothing but
    // `Checked` locks, and a run with validation off (`RAWLOCKCHECK=off`,
    // or the program's `.off`) nothing at all: a negative test has nothing
    // to check there.
    if found.isEmpty && !LockValidation.isChecking {
      let off = LockValidation.policy == .off
      if !Self.saidCompiledOut.exchange(true, ordering: .relaxed) {
        printToStandardError(
          off
            ? "rawlockcheck: lock validation is off (\(Self.offBy)): negative tests check nothing\n"
            : "rawlockcheck: lock validation is compiled out of this build (release, without the "
              + "Validation trait): negative tests check nothing\n")
      }
      return (result, found, [])
    }
    let seen = found.map(\.kind.rawValue).joined(separator: ", ")
    // The findings that did happen, with their reports: where the
    // unexpected one came from is what the test's author needs next.
    let reports = occurrences.map { "\n\($0.text)" }.joined()
    return (
      result, found,
      [
        "expected \("aeiou".contains(kind.rawValue.first!) ? "an" : "a") \(kind.rawValue) finding, "
          + "found \(seen.isEmpty ? "none" : seen)" + Self.outsideNote(since: outsideBefore)
          + Self.learntNote(kind) + reports
      ]
    )
  }

  /// What a negative test that missed its finding should know of the
  /// findings no scope took while it ran (`LiveValidator.outsideScopes`
  /// now against `before`): those of threads the test started without
  /// running them in its scope, reported process-wide, the likeliest
  /// reason it missed (or another test's such threads, meanwhile).
  static func outsideNote(since before: [FindingKind: Int]) -> String {
    guard LiveValidator.isCreated else { return "" }
    let now = LiveValidator.shared.outsideScopes
    let kinds = now.keys.filter { now[$0]! > before[$0, default: 0] }.map(\.rawValue).sorted()
    guard !kinds.isEmpty else { return "" }
    return
      "; meanwhile, outside any test's scope (reported process-wide): "
      + "\(kinds.joined(separator: ", ")), on a thread not run in a scope (this test's findings "
      + "count only on threads whose body runs in `scope.run {}`), or another test's"
  }

  /// What a negative test that missed its finding should know of the
  /// process's own findings of `kind` (made outside isolated scopes: by
  /// the program, or by a test not expecting them): the classes of the
  /// first few. A class's irq usage and dependencies are learnt once per
  /// process (as lockdep learns them once per boot), and an isolated
  /// scope starts from what was learnt: where another test made the
  /// mistake first on locks of the same class, repeating it makes nothing
  /// new to find (a user's trial met this with tests run in parallel).
  /// Only for the kinds found from what was learnt (`learntKinds`): a
  /// recursion, an unbalanced unlock or a held lock freed is found again
  /// every time it happens.
  static func learntNote(_ kind: FindingKind) -> String {
    guard learntKinds.contains(kind), LiveValidator.isCreated else { return "" }
    let validator = LiveValidator.shared
    let earlier = validator.findings.filter { $0.kind == kind }
    guard !earlier.isEmpty else { return "" }
    var names: [String] = []
    for finding in earlier {
      for id in [finding.lock?.lockClass].compactMap({ $0 }) + finding.held.map(\.lockClass) {
        let name = validator.core.classes[id].name
        if !names.contains(name) { names.append(name) }
      }
    }
    let listed = names.prefix(4).joined(separator: ", ") + (names.count > 4 ? ", ..." : "")
    return
      "; the process found \(earlier.count == 1 ? "one" : "\(earlier.count)") outside this block "
      + "(classes \(listed)): a class's irq usage and lock order are learnt once per process, as "
      + "lockdep's once per boot, and this block starts from them, so if its locks are of one of "
      + "those classes, the mistake made there first is nothing new here (a LockClassKey of "
      + "their own makes it new)"
  }

  /// The kinds found from a class's dependencies or irq usage, which the
  /// process learns once: a repeat of the mistake finds nothing new.
  static let learntKinds: Set<FindingKind> = [
    .circularDependency, .inconsistentLockState, .irqLockInversion,
  ]

  /// Whether a negative test in a build without validation, or with it
  /// off, was said to check nothing (once per process).
  private static let saidCompiledOut = Atomic<Bool>(false)

  /// Who turned validation off: the environment, or the program.
  private static var offBy: String {
    LiveValidator.environmentPolicy == .off ? "RAWLOCKCHECK=off" : "LockValidation.policy = .off"
  }

  /// Every distinct finding that happened in this scope, in the order first
  /// seen, each with how many times it happened here (`count`).
  public var findings: [Occurrence] { occurrences.withLock { $0 } }
}
