import Basics
import Dispatch
import LockGraph
import LockdepTesting
import Synchronization
import Testing

@testable import Lockdep

#if canImport(Glibc)
  import Glibc
#endif

/// The Swift Testing side of `LockdepTesting`: the trait fails a test on a
/// finding it caused, and only that test; negative tests use
/// `expectLockViolation`.
@Suite(.lockValidation) struct LockdepTestingTests {
  init() { LockValidation.policy = .collect }

  @Test func cleanNestingPassesUnderTheTrait() {
    let outer = Checked.Mutex(name: "&trait->outer")
    let inner = Checked.SpinLock(name: "&trait->inner")
    outer.withLock { inner.withLock {} }
  }

  /// `expectNoLockViolations` records a finding of its block at the
  /// offending line of the test's file, as the trait does, not at the call.
  @Test func aFindingInANoViolationsBlockIsAnIssueAtItsLine() {
    let raw = Checked.RawSpinLock(name: "&block->raw")
    let line = #line + 3
    withKnownIssue {
      expectNoLockViolations {
        raw.withLock { mightSleep() }
      }
    } matching: { issue in
      issue.sourceLocation?.line == line
        && issue.sourceLocation?.fileName == #fileID.split(separator: "/").last.map(String.init)
    }
  }

  @Test func aNegativeTestDoesNotFailItsOwnTest() {
    let raw = Checked.RawSpinLock(name: "&neg->raw")
    let mutex = Checked.Mutex(name: "&neg->mutex")
    let found = expectLockViolation(.invalidWaitContext) {
      raw.withLock { mutex.withLock {} }
    }
    #expect(found.map(\.kind).contains(.sleepInAtomic))
  }

  /// A negative test whose finding did not happen says which it expected,
  /// with the article its kind's spelling takes, and shows the report of
  /// each finding that happened instead.
  @Test func aMissingFindingIsNamed() {
    let (_, _, wait) = LockValidationScope.check(expecting: .invalidWaitContext) {}
    // (A test running meanwhile may add a note of findings outside scopes.)
    #expect(wait.count == 1)
    #expect(wait.first?.hasPrefix("expected an invalid-wait-context finding, found none") == true)
    let taken = Checked.Mutex(name: "&named->taken")
    let (_, _, cycle) = LockValidationScope.check(expecting: .circularDependency) {
      taken.withLock {}
      taken.unlock()
    }
    #expect(cycle.count == 1)
    #expect(
      cycle.first?.hasPrefix(
        "expected a circular-dependency finding, found bad-unlock-balance") == true)
    #expect(cycle.first?.contains("WARNING: bad unlock balance detected!") == true)
    #expect(cycle.first?.contains("&named->taken") == true)
  }

  /// A negative test that repeats a mistake the process made first on
  /// locks of the same class finds nothing new (a class's irq usage is
  /// learnt once per process, and its scope starts from it), and says so,
  /// naming the class (a user's trial met "found none" alone when tests
  /// ran in parallel).
  @Test func aMistakeMadeBeforeOnTheSameClassIsMentioned() {
    func ring() -> Checked.RawSpinLock {
      Checked.RawSpinLock(name: "&learnt->ring", key: LockClassKey("&learnt->ring"))
    }
    func misuse(_ lock: Checked.RawSpinLock) {
      lock.withLock {}
      Checked.withHardIRQ { lock.withLock {} }
    }
    // The first time, in a scope that shares the process's validator.
    let first = LockValidationScope()
    first.run { misuse(ring()) }
    #expect(first.findings.map(\.finding.kind) == [.inconsistentLockState])
    let (_, found, complaints) = LockValidationScope.check(expecting: .inconsistentLockState) {
      misuse(ring())
    }
    #expect(found.isEmpty)
    let note = complaints.first ?? ""
    #expect(note.hasPrefix("expected an inconsistent-lock-state finding, found none"), "\(note)")
    #expect(note.contains("learnt once per process"), "\(note)")
    #expect(note.contains("&learnt->ring"), "\(note)")
  }

  /// A kind found again every time it happens (a held lock freed, a
  /// recursion) gets no such note, even where the process made the same
  /// mistake first: a user's trial read "learnt once per process" for a
  /// held lock freed, which is not learnt.
  @Test func aKindFoundEveryTimeGetsNoLearntNote() {
    func holder() -> Checked.Mutex {
      Checked.Mutex(name: "&learnt->held", key: LockClassKey("&learnt->held"))
    }
    let first = LockValidationScope()
    first.run { holder().lock() }
    #expect(first.findings.map(\.finding.kind) == [.heldLockFreed])
    // Expects a held lock freed, and frees none.
    let (_, found, complaints) = LockValidationScope.check(expecting: .heldLockFreed) {
      holder().withLock {}
    }
    #expect(found.isEmpty)
    let note = complaints.first ?? ""
    #expect(note.hasPrefix("expected a held-lock-freed finding, found none"), "\(note)")
    #expect(!note.contains("learnt once per process"), "\(note)")
  }

  /// A negative test whose finding happened on threads it started without
  /// `scope.run {}` (reported process-wide, not in its scope) says that
  /// it happened there (found by a user's package: the message said only
  /// "found none").
  @Test func aFindingOutsideTheScopeIsMentioned() {
    let a = Checked.Mutex(name: "&outside->a")
    let b = Checked.Mutex(name: "&outside->b")
    let (_, found, complaints) = LockValidationScope.check(expecting: .circularDependency) {
      pthread_join(spawn { a.withLock { b.withLock {} } }, nil)
      pthread_join(spawn { b.withLock { a.withLock {} } }, nil)
    }
    #expect(found.isEmpty)
    #expect(complaints.count == 1)
    // (Its first line; another test's kinds may be named beside it.)
    let note = complaints.first?.split(separator: "\n").first ?? ""
    #expect(note.contains("; meanwhile, outside any test's scope (reported process-wide): "))
    #expect(note.contains("circular-dependency"), "\(complaints)")
  }

  @Test func theTraitRecordsAnIssuePerFinding() async throws {
    let raw = Checked.RawSpinLock(name: "&issue->raw")
    let zone = Checked.SpinLock(name: "&issue->zone")
    await withKnownIssue("the finding must fail a test run under the trait") {
      try await LockValidationTrait().provideScope(
        for: Test.current!, testCase: Test.Case.current,
        performing: { raw.withLock { zone.withLock {} } })
    }
  }

  /// A buggy path taken in a loop is one distinct finding (lockdep's, and
  /// `LockValidation.findings`'): one issue, not one per iteration.
  @Test func aFindingRepeatedInALoopIsOneIssue() async throws {
    final class Count: Sendable { let issues = Atomic<Int>(0) }
    let count = Count()
    let raw = Checked.RawSpinLock(name: "&loop->raw")
    try await withKnownIssue("the finding must fail a test run under the trait") {
      try await LockValidationTrait().provideScope(
        for: Test.current!, testCase: Test.Case.current,
        performing: { for _ in 0..<50 { raw.withLock { mightSleep() } } })
    } matching: { _ in
      count.issues.add(1, ordering: .relaxed)
      return true
    }
    #expect(count.issues.load(ordering: .relaxed) == 1)
  }

  /// A test that throws (a failed `#require` does) still fails for the
  /// findings of the threads it ran in its scope: they are recorded after
  /// the test, whichever way it ended.
  @Test func aThrowingTestKeepsItsThreadsFindings() async throws {
    struct Thrown: Error {}
    final class Seen: Sendable {
      let lockIssues = Atomic<Int>(0)
      let errors = Atomic<Int>(0)
    }
    let seen = Seen()
    let mutex = Checked.Mutex(name: "&throwing->mutex")
    try await withKnownIssue("the finding and the error must fail the test") {
      try await LockValidationTrait().provideScope(
        for: Test.current!, testCase: Test.Case.current,
        performing: {
          let scope = LockValidationScope.current!
          pthread_join(spawn { scope.run { mutex.unlock() } }, nil)
          throw Thrown()
        })
    } matching: { issue in
      if issue.comments.contains(where: {
        $0.rawValue.hasPrefix("lock validation: bad-unlock-balance")
      }) {
        seen.lockIssues.add(1, ordering: .relaxed)
      } else if case .errorCaught = issue.kind {
        seen.errors.add(1, ordering: .relaxed)
      }
      return true
    }
    #expect(seen.lockIssues.load(ordering: .relaxed) == 1)
    #expect(seen.errors.load(ordering: .relaxed) == 1)
  }

  /// A `Task {}` a negative test's body starts inherits its scope but runs
  /// on another thread, validated by the process's validator, not the
  /// scope's fork: its finding is the process's (its lock order is left
  /// there), not counted by the scope as well.
  @Test func aTaskStartedInANegativeTestsBodyIsNotInItsScope() {
    let mutex = Checked.Mutex(name: "&negtask->mutex")
    var complaints: [String] = []
    let found = LockValidationScope.check(expecting: .badUnlockBalance) {
      let done = DispatchSemaphore(value: 0)
      Task {
        mutex.unlock()
        done.signal()
      }
      done.wait()
    }
    complaints = found.complaints
    #expect(found.findings.isEmpty)
    let note = complaints.first?.split(separator: "\n").first ?? ""
    #expect(note.hasPrefix("expected a bad-unlock-balance finding, found none"), "\(complaints)")
    #expect(note.contains("outside any test's scope"), "\(complaints)")
  }

  /// A finding on the test's own task is an issue where it happens, so a
  /// known locking bug can be marked with `withKnownIssue` around the call
  /// that causes it (recorded after the test, it escaped and failed it).
  @Test func withKnownIssueCoversAFindingInItsBody() async throws {
    let raw = Checked.RawSpinLock(name: "&known->raw")
    try await LockValidationTrait().provideScope(
      for: Test.current!, testCase: Test.Case.current,
      performing: {
        withKnownIssue("BUG-123: flush sleeps under the raw lock") {
          raw.withLock { Checked.mightSleep() }
        } matching: { issue in
          issue.comments.contains { $0.rawValue.hasPrefix("lock validation: sleep-in-atomic") }
        }
      })
  }

  /// A synchronous scope with an end name (a test's) that ends holding a
  /// lock it took is a `locks-held-at-exit` finding (lockdep's "lock held
  /// when returning to user space"): a test runner's thread does not exit,
  /// so the thread-exit check never sees it, and the next test on that
  /// thread would run under the lock. An asynchronous scope (the trait's)
  /// checks too when it ends on the thread it began on, as a body that
  /// never suspends does.
  @Test func aScopeThatEndsHoldingALockItTookIsAFinding() async throws {
    let leaked = Checked.Mutex(name: "&leaked->lock")
    let scope = LockValidationScope(endName: "the test")
    scope.run { leaked.lock() }
    leaked.unlock()
    let texts = scope.findings.map(\.text)
    #expect(scope.findings.map(\.finding.kind) == [.locksHeldAtExit])
    #expect(texts.first?.contains(" is leaving the test with locks still held!\n") == true)
    #expect(texts.first?.contains("&leaked->lock") == true)

    let asynchronous = LockValidationScope(endName: "the test")
    await asynchronous.run { @Sendable () async in leaked.lock() }
    // Maybe on another thread now (see below): in a scope of its own.
    LockValidationScope().run { leaked.unlock() }
    #expect(asynchronous.findings.map(\.finding.kind) == [.locksHeldAtExit])
    #expect(asynchronous.findings.first?.text.contains("&leaked->lock") == true)

  }

  /// A lock reported held at a scope's end is forgotten by the validator
  /// (the program still holds it): the next scope on the thread is not
  /// validated under it (here a mutex under a leaked raw spin lock would
  /// be an invalid wait context and a sleep in atomic context, in a test
  /// that did nothing wrong), and its real release is left out (no
  /// unlock-balance finding).
  @Test func aLockReportedAtAScopesEndIsForgotten() async throws {
    let raw = Checked.RawSpinLock(name: "&left->raw")
    let mutex = Checked.Mutex(name: "&left->mutex")
    let leaving = LockValidationScope(endName: "the test")
    let next = LockValidationScope(endName: "the test")
    leaving.run { raw.lock() }
    next.run { mutex.withLock {} }
    let unlocking = LockValidationScope(endName: "the test")
    unlocking.run { raw.unlock() }
    #expect(leaving.findings.map(\.finding.kind) == [.locksHeldAtExit])
    #expect(next.findings.isEmpty)
    #expect(unlocking.findings.isEmpty)
  }

  /// A lock the thread holds when a job of a test's task begins (or its
  /// body does) was left there by another task (one that suspended or
  /// returned holding it): it is reported then, process-wide, not as the
  /// test's, and forgotten, so the test is not validated under it (nor is
  /// its later release).
  @Test func aLockLeftOnTheThreadBeforeAJobIsReportedOutsideTheTest() {
    let earlier = Checked.RawSpinLock(name: "&earlier->raw")
    let mutex = Checked.Mutex(name: "&earlier->mutex")
    earlier.lock()
    ScopeExecutor.forgetEarlierLocks()
    // Under the raw spin lock, a mutex would be two findings of the test.
    mutex.withLock {}
    earlier.unlock()
    let texts = LockValidation.findings.filter { $0.kind == .locksHeldAtExit }
      .map { LiveValidator.shared.render($0) }.filter { $0.contains("&earlier->raw") }
    #expect(texts.count == 1)
    #expect(
      texts.first?.contains(" is leaving an earlier test or task with locks still held!") == true)
  }

  /// A test's task that suspends at an `await` holding a lock leaves the
  /// thread holding it, to run other tasks under it (and may resume on
  /// another thread): the job that ends so is a finding of the test, and
  /// the lock is forgotten there. Its release after the `await`, on
  /// whichever thread, is no bad unlock balance on top of that (the
  /// kernel would find the lock held), and the next use is clean.
  @Test func aLockHeldAcrossAnAwaitIsAFindingOfTheTest() async {
    let held = Checked.RawSpinLock(name: "&across->await")
    let scope = LockValidationScope(endName: "the test")
    await scope.run { @Sendable () async in
      held.lock()
      await Task.yield()
      held.unlock()
      held.withLock {}
    }
    #expect(Self.leftAtAnAwait(scope, "&across->await"))
    #expect(scope.findings.map(\.finding.kind) == [.locksHeldAtExit])
  }

  /// The README's recipe for a block of asynchronous code: a scope with
  /// an `endName` checks it as a test is checked, and its report names
  /// the block (it said "the test" whatever the name).
  @Test func aNamedScopeChecksAwaitsAndNamesItself() async {
    let held = Checked.RawSpinLock(name: "&block->await")
    let scope = LockValidationScope(endName: "the block")
    await scope.run { @Sendable () async in
      held.lock()
      await Task.yield()
      held.unlock()
    }
    #expect(scope.findings.map(\.finding.kind) == [.locksHeldAtExit])
    #expect(
      scope.findings.first?.text.contains(
        " is leaving the block at an await with locks still held!")
        == true)
  }

  /// The task's next job, enqueued as it suspends, waits for the check at
  /// the end of the job before it (which forgets the lock) to end: run at
  /// once on another thread, its release could come first, and be a bad
  /// unlock balance. Round after round, with other tasks busy beside it.
  @Test func aReleaseAfterAnAwaitWaitsForTheCheckOfTheJobBefore() async {
    // A lock per task (one task holds its lock at an `await`, and the
    // others must not spin on it).
    let locks = (0..<4).map { _ in Checked.RawSpinLock(name: "&rounds->await") }
    let scope = LockValidationScope(endName: "the test")
    await scope.run { @Sendable () async in
      await withTaskGroup(of: Void.self) { group in
        for held in locks {
          group.addTask {
            for _ in 0..<50 {
              held.lock()
              await Task.yield()
              held.unlock()
            }
          }
        }
      }
    }
    #expect(!scope.findings.contains { $0.finding.kind == .badUnlockBalance })
    #expect(Self.leftAtAnAwait(scope, "&rounds->await"))
  }

  /// Whether `scope` found `lock` held as a job of its test ended (its
  /// task suspended at an `await` holding it).
  static func leftAtAnAwait(_ scope: LockValidationScope, _ lock: String) -> Bool {
    scope.findings.contains {
      $0.finding.kind == .locksHeldAtExit && $0.text.contains(lock)
        && $0.text.contains(" is leaving the test at an await with locks still held!")
    }
  }

  /// A `Task {}` a test starts inherits the test's scope but not its
  /// executor preference, and a `Task.detached` neither, but both are made
  /// in the test's task: their jobs are routed from the global concurrent
  /// executor to the scope's executor, so a lock one holds across an
  /// `await` is the test's finding too, and is forgotten on that thread.
  @Test(arguments: [false, true])
  func aTaskATestStartsIsCheckedAtItsAwaits(detached: Bool) async {
    let held = Checked.RawSpinLock(name: "&task->await")
    let scope = LockValidationScope(endName: "the test")
    let body: @Sendable () async -> Void = {
      held.lock()
      await Task.yield()
      LockValidationScope().run { held.unlock() }
    }
    await scope.run { @Sendable () async in
      if detached {
        await Task.detached(operation: body).value
      } else {
        await Task(operation: body).value
      }
    }
    #expect(Self.leftAtAnAwait(scope, "&task->await"))
  }

  /// A test's call into an actor method that holds a lock across an
  /// `await`, where the task resumes in another job of the actor, is the
  /// test's finding (the actor's job ran the test's task), with no bad
  /// unlock balance where the task releases the lock; where the actor
  /// runs the task on in the same job (after a yield), the lock never
  /// left the thread: the test's finding or nothing, never another kind.
  @Test(arguments: [false, true])
  func anActorHoldingALockAcrossAnAwaitIsTheTestsFinding(yielding: Bool) async {
    for _ in 0..<10 {
      let scope = LockValidationScope(endName: "the test")
      await scope.run { @Sendable () async in
        if yielding {
          await LockAcrossAwaitSink().flushYielding()
        } else {
          await LockAcrossAwaitSink().flushSlowly()
        }
      }
      #expect(scope.findings.allSatisfy { $0.finding.kind == .locksHeldAtExit })
      #expect(yielding || Self.leftAtAnAwait(scope, "&actor-sink->lock"))
    }
  }

  /// While a scope runs, a job of a task of no scope that ends holding a
  /// lock is reported process-wide, as "a task at an await", and the lock
  /// is forgotten.
  @Test func aJobOfNoScopeLeavingALockIsAProcessWideFinding() async {
    let held = Checked.RawSpinLock(name: "&unscoped->await")
    let scope = LockValidationScope(endName: "the test")
    await scope.run { @Sendable () async in
      // Made outside the scope: no scope is bound where it is enqueued.
      let task = LockValidationScope.$bound.withValue(nil) {
        Task.detached {
          held.lock()
          await Task.yield()
          held.unlock()
        }
      }
      await task.value
    }
    #expect(!scope.findings.contains { $0.text.contains("&unscoped->await") })
    let found = LockValidation.findings.filter {
      LiveValidator.shared.render($0).contains("&unscoped->await")
    }
    #expect(found.map(\.kind) == [.locksHeldAtExit], "and no bad unlock balance after it")
    #expect(
      found.contains {
        LiveValidator.shared.render($0).contains(
          " is leaving a task at an await with locks still held!")
      })
  }

  /// A task made outside every scope (a service made on a Dispatch thread,
  /// which a test only feeds) that holds a lock across an `await` is no
  /// test's, though the test's task resumes it (enqueues its job): a task
  /// is a scope's when it is made there, not wherever it is resumed from.
  @Test func aTaskOfNoScopeResumedByATestIsNotTheTests() async {
    let held = Checked.RawSpinLock(name: "&service->await")
    let (stream, feed) = AsyncStream<Int>.makeStream()
    final class Box: @unchecked Sendable { var task: Task<Void, Never>? }
    let box = Box()
    let scope = LockValidationScope(endName: "the test")
    await scope.run { @Sendable () async in
      let made = DispatchSemaphore(value: 0)
      DispatchQueue.global().async {
        box.task = Task {
          for await _ in stream {
            held.lock()
            await Task.yield()
            LockValidationScope().run { held.unlock() }
          }
        }
        made.signal()
      }
      made.wait()
      for i in 0..<20 {
        feed.yield(i)
        try? await Task.sleep(nanoseconds: 2_000_000)
      }
    }
    feed.finish()
    await box.task?.value
    #expect(!scope.findings.contains { $0.text.contains("&service->await") })
  }

  /// A finding of a task that outlives its test (it inherited the test's
  /// scope) is the process's, not the test's: an issue recorded then would
  /// fail a test that passed.
  @Test func aFindingAfterTheTestEndedIsTheProcesss() async {
    let raw = Checked.RawSpinLock(name: "&late->raw")
    let mutex = Checked.Mutex(name: "&late->mutex")
    final class Box: @unchecked Sendable {
      var task: Task<Void, Never>?
      let reported = Atomic<Int>(0)
    }
    let box = Box()
    let scope = LockValidationScope(
      reporter: { _ in
        box.reported.add(1, ordering: .relaxed)
        return false
      }, endName: "the test")
    // The task takes its locks once the test has ended (`run` returned),
    // not after a time that a busy machine may not give it.
    let (testEnded, ending) = AsyncStream<Void>.makeStream()
    await scope.run { @Sendable () async in
      box.task = Task {
        for await _ in testEnded { break }
        raw.withLock { mutex.withLock {} }
      }
    }
    ending.finish()
    await box.task?.value
    #expect(scope.findings.isEmpty)
    #expect(box.reported.load(ordering: .relaxed) == 0)
    #expect(
      LockValidation.findings.contains {
        $0.kind == .invalidWaitContext && LockValidation.lockNames(of: $0).first == "&late->mutex"
      })
  }

  /// A test under the trait that returns holding a lock fails, with the
  /// lock's name.
  @Test func aTestThatReturnsHoldingALockFails() async throws {
    let leaked = Checked.Mutex(name: "&returned->lock")
    try await withKnownIssue("the test returns with the lock held") {
      try await LockValidationTrait().provideScope(
        for: Test.current!, testCase: Test.Case.current, performing: { leaked.lock() })
    } matching: { issue in
      issue.comments.contains {
        $0.rawValue.hasPrefix("lock validation: locks-held-at-exit")
          && $0.rawValue.contains("&returned->lock")
      }
    }
    // The task may have resumed on another thread, which does not hold
    // it: released in a scope of its own.
    LockValidationScope().run { leaked.unlock() }
  }

  /// Takes a lock and keeps it, on the actor's executor.
  actor Leaker {
    func leak(_ lock: Checked.Mutex) { lock.lock() }
  }

  /// A lock a child task returns holding, or that an actor's method called
  /// by the test leaves held, is the test's finding every time: the
  /// child's (or the actor's) job may end on its thread after the test's
  /// task went on and ended on another, and the scope's end waits for
  /// that job's check (before, a twentieth of such tests passed).
  @Test func aLockAChildTaskOrAnActorLeftIsTheTestsEveryTime() async {
    let actor = Leaker()
    var locks: [Checked.Mutex] = []
    for round in 0..<30 {
      let child = Checked.Mutex(name: "&child-left->lock")
      let actorLeft = Checked.Mutex(name: "&actor-left->lock")
      locks += [child, actorLeft]
      let childScope = LockValidationScope(endName: "the test")
      await childScope.run { @Sendable () async in
        await withTaskGroup(of: Void.self) { group in group.addTask { child.lock() } }
      }
      let actorScope = LockValidationScope(endName: "the test")
      await actorScope.run { @Sendable () async in await actor.leak(actorLeft) }
      #expect(
        childScope.findings.map(\.finding.kind) == [.locksHeldAtExit], "round \(round)")
      #expect(
        actorScope.findings.map(\.finding.kind) == [.locksHeldAtExit], "round \(round)")
      #expect(actorScope.findings.first?.text.contains("&actor-left->lock") == true)
    }
    // Held by pool threads, and forgotten by the validator: kept, never
    // destroyed held.
    withExtendedLifetime(locks) {}
  }

  /// Takes `lock` on the main actor and returns holding it.
  @MainActor static func leaveHeldOnTheMainActor(_ lock: Checked.RawSpinLock) { lock.lock() }

  /// A `@MainActor` test that returns holding a lock fails: its task
  /// leaves the main actor through the scope's executor, where the thread
  /// that ran it still holds the lock. The lock is then forgotten, so that
  /// the next main-actor code (another test's) is not validated under it.
  @Test func aMainActorTestThatReturnsHoldingALockFails() async throws {
    let leaked = Checked.RawSpinLock(name: "&mainactor->raw")
    let mutex = Checked.Mutex(name: "&mainactor->mutex")
    try await withKnownIssue("the main-actor code returns with the lock held") {
      try await LockValidationTrait().provideScope(
        for: Test.current!, testCase: Test.Case.current,
        performing: { await Self.leaveHeldOnTheMainActor(leaked) })
    } matching: { issue in
      issue.comments.contains {
        $0.rawValue.hasPrefix("lock validation: locks-held-at-exit")
          && $0.rawValue.contains("&mainactor->raw")
          && $0.rawValue.contains(" is leaving the main actor with locks still held!")
      }
    }
    // The next main-actor code takes a sleeping lock: under the leaked
    // raw spin lock, that would be an invalid wait context.
    let next = LockValidationScope(endName: "the test")
    await next.run { @Sendable () async in await MainActor.run { mutex.withLock {} } }
    #expect(next.findings.isEmpty)
    await MainActor.run { LockValidationScope().run { leaked.unlock() } }
  }

  /// A `@MainActor` caller passes `run` a closure that touches its own
  /// state and awaits: it runs in the caller's isolation. It did not
  /// compile (a non-`Sendable` closure sent to a nonisolated function).
  @MainActor @Test func aMainActorCallerRunsAScopeOverItsOwnState() async {
    let lock = Checked.Mutex(name: "&mainscope->lock")
    var count = 0
    let scope = LockValidationScope(endName: "the block")
    await scope.run {
      lock.withLock { count += 1 }
      await Task.yield()
      MainActor.assertIsolated()
      lock.withLock { count += 1 }
    }
    #expect(count == 2)
    #expect(scope.findings.isEmpty)
  }

  /// A test's task resumed by code that holds a lock (a thread of its
  /// own, or main-actor code of another task) is handed to the scope's
  /// executor there too, but that code is not leaving the main actor: its
  /// lock is no finding, and stays held until it is released.
  @Test func aTaskResumedUnderALockIsNoMainActorExit() async {
    let resumer = Checked.Mutex(name: "&resumer->lock")
    let scope = LockValidationScope(endName: "the test")
    await scope.run { @Sendable () async in
      await withCheckedContinuation { (resume: CheckedContinuation<Void, Never>) in
        SpawnedThread { resumer.withLock { resume.resume() } }.detach()
      }
      await withCheckedContinuation { (resume: CheckedContinuation<Void, Never>) in
        Task { @MainActor in resumer.withLock { resume.resume() } }
      }
    }
    #expect(scope.findings.isEmpty)
  }

  /// A block of the main queue (no task, no main-actor job) that resumes a
  /// test's task while it holds a lock is not main-actor code leaving the
  /// actor: the lock is the block's, released as it returns.
  @Test func aMainQueueBlockResumingUnderALockIsNoMainActorExit() async {
    let resumer = Checked.Mutex(name: "&main_resumer->lock")
    let scope = LockValidationScope(endName: "the test")
    await scope.run { @Sendable () async in
      for _ in 0..<20 {
        await withCheckedContinuation { (resume: CheckedContinuation<Void, Never>) in
          DispatchQueue.main.async { resumer.withLock { resume.resume() } }
        }
      }
    }
    #expect(scope.findings.isEmpty)
  }

  /// The issue points at the line that caused the finding (the innermost
  /// frame of its stack in the test's file), not at the test's declaration.
  @Test func theTraitsIssuePointsAtTheOffendingLine() async throws {
    let raw = Checked.RawSpinLock(name: "&line->raw")
    let zone = Checked.SpinLock(name: "&line->zone")
    let line = #line + 5
    try await withKnownIssue("the finding must fail a test run under the trait") {
      try await LockValidationTrait().provideScope(
        for: Test.current!, testCase: Test.Case.current,
        performing: {
          raw.withLock { zone.withLock {} }
        })
    } matching: { issue in
      issue.sourceLocation?.line == line
        && issue.sourceLocation?.fileName == "LockdepTestingTests.swift"
    }
  }

  @Test func expectLockViolationReportsAMissingFinding() {
    withKnownIssue("no finding where one was expected") {
      expectLockViolation(.circularDependency) {}
    }
  }

  @Test func aCycleAcrossTwoScopesIsFoundInTheSecond() {
    let a = Checked.Mutex(name: "&across->a")
    let b = Checked.Mutex(name: "&across->b")
    let first = LockValidationScope()
    first.run { a.withLock { b.withLock {} } }
    let second = LockValidationScope()
    second.run { b.withLock { a.withLock {} } }
    #expect(first.findings.isEmpty)
    #expect(second.findings.map(\.finding.kind) == [.circularDependency])
  }

  /// Threads that hit one finding at once report it once: the first
  /// takes its place before the (slow) reporter runs, the others count.
  @Test func aFindingHitByManyThreadsAtOnceIsReportedOnce() {
    final class Calls: Sendable { let count = Atomic<Int>(0) }
    let calls = Calls()
    let scope = LockValidationScope(reporter: { _ in
      calls.count.add(1, ordering: .relaxed)
      usleep(20_000)
      return false
    })
    let raw = Checked.RawSpinLock(name: "&many->raw")
    let threads = (0..<4).map { _ in
      spawn { scope.run { for _ in 0..<200 { raw.withLock { mightSleep() } } } }
    }
    for t in threads { pthread_join(t, nil) }
    #expect(calls.count.load(ordering: .relaxed) == 1)
    #expect(scope.findings.map(\.count) == [800])
  }

  @Test func findingsGoToTheScopeOfTheThreadThatCausedThem() {
    let quiet = LockValidationScope()
    let noisy = LockValidationScope()
    let raw = Checked.RawSpinLock(name: "&threads->raw")
    let mutex = Checked.Mutex(name: "&threads->mutex")
    let spin = Checked.SpinLock(name: "&threads->spin")
    let threads = [
      spawn {
        quiet.run { for _ in 0..<2000 { mutex.withLock { spin.withLock {} } } }
      },
      spawn {
        noisy.run { for _ in 0..<2000 { raw.withLock { spin.withLock {} } } }
      },
    ]
    for t in threads { pthread_join(t, nil) }
    #expect(quiet.findings.isEmpty)
    #expect(noisy.findings.map(\.count) == [2000], "every occurrence is attributed, and counted")
    #expect(noisy.findings.allSatisfy { $0.finding.kind == .invalidWaitContext })
  }
}

/// Starts `body` on a new pthread.
func spawn(_ body: @escaping @Sendable () -> Void) -> pthread_t {
  SpawnedThread(body).handle
}

/// Runs `body` on a new thread with `signal` unblocked (the test runner's
/// worker threads block signals), and joins it.
///
/// A handler is the process's (`installSignalHandler` replaces the one
/// before), and tests run at once: each in-process test raises a signal
/// of its own. Taken: SIGUSR1, SIGUSR2, SIGPROF, SIGURG, SIGXCPU
/// (LiveValidationTests), SIGWINCH (FastPathTests), SIGVTALRM, SIGTTOU
/// and real-time signals 40 to 43 (InterruptMaskTests), SIGPWR,
/// SIGSTKFLT, SIGXFSZ, SIGTTIN
/// (SignalQueueTests). A test in a process of its own (an exit test)
/// may use any.
func runOnAThread(unblocking signal: Int32, _ body: @escaping @Sendable () -> Void) {
  pthread_join(
    spawn {
      var set = sigset_t()
      sigemptyset(&set)
      sigaddset(&set, signal)
      pthread_sigmask(SIG_UNBLOCK, &set, nil)
      body()
    }, nil)
}

/// A default actor whose methods hold a lock across an `await` (the
/// Swift Testing and the XCTest tests of an actor's job left holding it).
actor LockAcrossAwaitSink {
  let lock = Checked.SpinLock(name: "&actor-sink->lock")
  /// Sleeps: the task resumes in another job of the actor.
  func flushSlowly() async {
    lock.lock()
    try? await Task.sleep(nanoseconds: 1_000_000)
    lock.unlock()
  }
  /// Yields: the actor may run the task on in the same job, on the same
  /// thread, where nothing tells the suspension apart.
  func flushYielding() async {
    lock.lock()
    await Task.yield()
    lock.unlock()
  }
}
