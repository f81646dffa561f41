import Basics
import LockGraph
import LockdepTesting
import Synchronization
import Testing

@testable import Lockdep

#if canImport(Glibc)
  import Glibc
#endif

/// A scope's end (`LockValidationScope.end()`), and the findings of the
/// threads that outlive it. From a review of the change that added it:
/// each of these failed on its first version.
@Suite struct ScopeEndTests {
  init() { LockValidation.policy = .collect }

  struct Boom: Error {}

  /// Runs a negative test's block (`check(expecting: .recursiveLocking)`,
  /// which it does not cause) that starts a thread in its scope whose work
  /// (its `run`) takes `lock` and returns holding it only after the block
  /// returned (or threw); returns once that thread has exited.
  static func lateExit(throwing: Bool, lock: Checked.SpinLock) {
    let running = Atomic<Bool>(false)
    let blockEnded = Atomic<Bool>(false)
    let thread = PThreadMutex<pthread_t?>(nil)
    do {
      _ = try LockValidationScope.check(expecting: .recursiveLocking) { () throws -> Void in
        let scope = LockValidationScope.current!
        let t = spawn {
          scope.run {
            running.store(true, ordering: .releasing)
            while !blockEnded.load(ordering: .acquiring) { usleep(1000) }
            lock.lock()
          }
        }
        thread.withLock { $0 = t }
        while !running.load(ordering: .acquiring) { usleep(1000) }
        if throwing { throw Boom() }
      }
    } catch {}
    blockEnded.store(true, ordering: .releasing)
    if let t = thread.withLock({ $0 }) { pthread_join(t, nil) }
  }

  static func processFindings(naming name: String) -> [Finding] {
    LockValidation.findings.filter { LockValidation.describe($0).contains(name) }
  }

  /// A thread whose work in a negative test's block ends after the block
  /// stopped waiting for it (a `Thread` is not joined: `isFinished` comes
  /// before its exit) gives its finding (the work's leftover lock) to the
  /// process, not to a scope no one reads, after a block that returns or
  /// throws (its scope ended by `check`).
  @Test(arguments: [false, true])
  func aLateExitIsTheProcesssHoweverTheBlockEnded(throwing: Bool) {
    // A class per case (one place makes them all: one class, one finding).
    let name = "&scope_end->late_\(throwing)"
    Self.lateExit(
      throwing: throwing,
      lock: Checked.SpinLock(name: name, key: LockClassKey(name)))
    #expect(Self.processFindings(naming: name).map(\.kind) == [.locksHeldAtExit])
  }

  /// In a block that expects `locks-held-at-exit`, a worker's `run` that
  /// returns holding a lock it took is that finding as the `run` returns
  /// (a work item that leaked a lock: the kernel's `process_one_work()`),
  /// within the block, not at the worker's exit after the block ended,
  /// and the lock is forgotten there: the late exit finds nothing more.
  @Test func aWorkersRunThatLeaksALockIsTheBlocksFindingAtOnce() {
    let name = "&scope_end->late_work"
    let worker = PThreadMutex<pthread_t?>(nil)
    let found = expectLockViolation(.locksHeldAtExit) {
      let scope = LockValidationScope.current!
      let lock = Checked.SpinLock(name: name, key: LockClassKey(name))
      let started = Atomic<Bool>(false)
      // The worker exits only after the block returned.
      let thread = spawn {
        scope.run { lock.lock() }
        started.store(true, ordering: .releasing)
        while !Self.lateWorkBlockEnded.load(ordering: .acquiring) { usleep(1000) }
      }
      while !started.load(ordering: .acquiring) { usleep(1000) }
      worker.withLock { $0 = thread }
    }
    #expect(found.map(\.kind) == [.locksHeldAtExit])
    #expect(
      found.first.map(LockValidation.describe)?.contains("leaving work of the block") == true)
    Self.lateWorkBlockEnded.store(true, ordering: .releasing)
    if let thread = worker.withLock({ $0 }) { pthread_join(thread, nil) }
    #expect(Self.processFindings(naming: name).isEmpty)
  }

  /// Two tests' work run in turn on one thread of a pool (a dispatch
  /// queue's worker): the first leaves a spin lock held. That is the first
  /// test's finding, and the second, which takes a mutex, is clean. Before
  /// 2026-12-07 the first passed and the second failed, as a mutex taken
  /// under the first's spin lock (an independent trial's, with a queue).
  @Test func aPooledThreadsLeakIsItsTestsNotTheNextTests() {
    let spin = Checked.SpinLock(name: "&pool->leaked", key: LockClassKey("scope_end.pool.spin"))
    let mutex = Checked.Mutex(name: "&pool->mutex", key: LockClassKey("scope_end.pool.mutex"))
    let pool = OneThreadPool()
    let leaker = LockValidationScope(endName: "the test")
    let next = LockValidationScope(endName: "the test")
    // Each test's own run (its body) hands its work to the pool's thread
    // and waits for it.
    leaker.run { pool.runAndWait { leaker.run { spin.lock() } } }
    next.run { pool.runAndWait { next.run { mutex.withLock {} } } }
    pool.finish()
    #expect(leaker.findings.map(\.kind) == [.locksHeldAtExit])
    #expect(
      leaker.findings.first?.text.contains("leaving work of the test on this thread") == true)
    #expect(next.findings.map(\.kind) == [], "\(next.findings.map(\.text))")
  }

  /// A block of `expectNoLockViolations` or of a negative test expecting
  /// another kind, whose work on a pool's thread leaks a lock: the
  /// block's `locks-held-at-exit` finding, and the next test's work on
  /// that thread is clean (a reviewer's: such blocks had no check at a
  /// worker's `run`'s end, and passed).
  /// A pool's thread that holds a lock of its own as it runs a test's
  /// work, which releases that lock and takes another, left held: the work
  /// leaked a lock, though the thread holds as many as before. Told by
  /// acquisition, not by count (before 2026-12-07 the test passed, and the
  /// thread's next work ran under the leaked lock).
  @Test func workThatSwapsTheWorkersLockForAnotherLeaksTheOther() {
    let own = Checked.Mutex(name: "&pool->own", key: LockClassKey("scope_end.swap.own"))
    let leaked = Checked.SpinLock(
      name: "&pool->swapped", key: LockClassKey("scope_end.swap.leaked"))
    let pool = OneThreadPool()
    pool.runAndWait { own.lock() }
    let test = LockValidationScope(endName: "the test")
    test.run {
      pool.runAndWait {
        test.run {
          own.unlock()
          leaked.lock()
        }
      }
    }
    let next = LockValidationScope(endName: "the test")
    next.run {
      pool.runAndWait {
        next.run {
          own.lock()
          own.unlock()
        }
      }
    }
    pool.runAndWait { leaked.unlock() }
    pool.finish()
    #expect(test.findings.map(\.kind) == [.locksHeldAtExit])
    let text = test.findings.first?.text ?? ""
    #expect(text.contains("leaving work of the test on this thread"), "\(text)")
    #expect(text.contains("&pool->swapped") && !text.contains("&pool->own"), "\(text)")
    #expect(next.findings.map(\.kind) == [], "\(next.findings.map(\.text))")
  }

  /// A test whose body begins on a thread holding a lock, releases it and
  /// takes another it leaves held: the test's finding at its end, naming
  /// the lock it took, which is forgotten (the thread's exit is clean).
  @Test func aTestThatSwapsALockHeldBeforeItForAnotherLeaksTheOther() {
    let own = Checked.Mutex(name: "&test->own", key: LockClassKey("scope_end.swap.before"))
    let leaked = Checked.SpinLock(
      name: "&test->swapped", key: LockClassKey("scope_end.swap.taken"))
    let test = LockValidationScope(endName: "the test")
    pthread_join(
      spawn {
        own.lock()
        test.run {
          own.unlock()
          leaked.lock()
        }
      }, nil)
    #expect(test.findings.map(\.kind) == [.locksHeldAtExit])
    let text = test.findings.first?.text ?? ""
    #expect(text.contains("&test->swapped") && !text.contains("&test->own"), "\(text)")
    // The test's finding alone: none at the thread's exit.
    #expect(Self.processFindings(naming: "&test->swapped").map(\.count) == [1])
    #expect(Self.processFindings(naming: "&test->own").isEmpty)
  }

  /// A test that begins holding a lock, releases it and takes it again at
  /// another line (a wait's unlock and lock) ends holding what it began
  /// with: no finding, and the lock is not forgotten (its release after is
  /// validated). A first version matched held locks by their origin too,
  /// and found the lock taken again leaked (a review's).
  @Test func aTestThatTakesItsLockAgainLeaksNothing() {
    let own = Checked.Mutex(name: "&test->retaken", key: LockClassKey("scope_end.retaken"))
    let test = LockValidationScope(endName: "the test")
    let after = LockValidationScope()
    pthread_join(
      spawn {
        own.lock()
        test.run {
          own.unlock()
          own.lock()
        }
        after.run { own.unlock() }
      }, nil)
    #expect(test.findings.map(\.kind) == [], "\(test.findings.map(\.text))")
    #expect(after.findings.map(\.kind) == [], "\(after.findings.map(\.text))")
  }

  @Test(arguments: [nil, FindingKind.sleepInAtomic])
  func aBlocksWorkOnAPooledThreadThatLeaksIsTheBlocksFinding(expecting kind: FindingKind?) {
    let tag = kind?.rawValue ?? "none"
    let spin = Checked.SpinLock(name: "&block_pool->\(tag)", key: LockClassKey("block.\(tag)"))
    let mutex = Checked.Mutex(
      name: "&block_pool->mutex_\(tag)", key: LockClassKey("block.mutex.\(tag)"))
    let pool = OneThreadPool()
    let (_, found, _) = LockValidationScope.check(expecting: kind) {
      let scope = LockValidationScope.current!
      pool.runAndWait { scope.run { spin.lock() } }
    }
    let next = LockValidationScope(endName: "the test")
    next.run { pool.runAndWait { next.run { mutex.withLock {} } } }
    pool.finish()
    #expect(found.map(\.kind) == [.locksHeldAtExit])
    #expect(
      found.first.map(LockValidation.describe)?.contains("leaving work of the block on this thread")
        == true)
    #expect(next.findings.map(\.kind) == [], "\(next.findings.map(\.text))")
  }

  /// A pool of one thread, which runs the work handed to it in turn.
  final class OneThreadPool: @unchecked Sendable {
    private let work = PThreadMutex<[@Sendable () -> Void]>([])
    private let done = Atomic<Int>(0)
    private let stopping = Atomic<Bool>(false)
    private var handed = 0
    private var thread: pthread_t?

    init() {
      thread = spawn { [self] in
        while !stopping.load(ordering: .acquiring) {
          guard let job = work.withLock({ $0.isEmpty ? nil : $0.removeFirst() }) else {
            usleep(200)
            continue
          }
          job()
          done.add(1, ordering: .releasing)
        }
      }
    }

    /// Runs `job` on the pool's thread and waits for it.
    func runAndWait(_ job: @escaping @Sendable () -> Void) {
      handed += 1
      work.withLock { $0.append(job) }
      while done.load(ordering: .acquiring) < handed { usleep(200) }
    }

    /// Ends the thread.
    func finish() {
      stopping.store(true, ordering: .releasing)
      if let thread { pthread_join(thread, nil) }
    }
  }

  /// Set once `aWorkersRunThatLeaksALockIsTheBlocksFindingAtOnce`'s block
  /// returned: its worker exits then.
  static let lateWorkBlockEnded = Atomic<Bool>(false)

  /// One bug at one site, found once by an ended isolated scope's fork
  /// (adopted by the process) and once by the process's validator, is one
  /// finding, counted twice: adopted, it is keyed as the check that found
  /// it keyed it (recursive locking: by the lock's class alone).
  @Test func anAdoptedFindingAndTheSameNativeOneAreOne() {
    let locks = (0..<2).map { _ in Checked.SpinLock(name: "&scope_end->dup") }
    let isolated = LockValidationScope(isolated: true)
    isolated.run {}  // makes its fork
    isolated.end()
    let plain = LockValidationScope()
    plain.end()
    pthread_join(
      spawn {
        for scope in [isolated, plain] {
          scope.run {
            locks[0].lock()
            locks[1].lock()
            locks[1].unlock()
            locks[0].unlock()
          }
        }
      }, nil)
    let found = Self.processFindings(naming: "&scope_end->dup")
    #expect(found.map(\.kind) == [.recursiveLocking])
    #expect(found.map(\.count) == [2])
  }

  /// A scoped thread's exit forgets the locks it took in the scope only:
  /// one it took before `run`, released later on another thread, is a bad
  /// unlock balance, as outside every test's scope. They are remembered as
  /// locks, not as a count: released first, the older one leaves the
  /// run's lock at the bottom, and that one is still forgotten.
  @Test(arguments: [false, true])
  func onlyTheLocksTakenInTheScopeAreForgottenAtExit(releasingTheOlderFirst: Bool) {
    let key = "&scope_end->\(releasingTheOlderFirst)"
    let outside = Checked.SpinLock(name: key + "_outside", key: LockClassKey(key + "_outside"))
    let inside = Checked.SpinLock(name: key + "_inside", key: LockClassKey(key + "_inside"))
    expectLockViolation(.locksHeldAtExit) {
      let scope = LockValidationScope.current!
      pthread_join(
        spawn {
          outside.lock()
          scope.run { inside.lock() }
          if releasingTheOlderFirst { outside.unlock() }
        }, nil)
    }
    let cleanup = LockValidationScope()
    cleanup.run { inside.unlock() }
    #expect(cleanup.findings.map(\.finding.kind) == [])
    guard !releasingTheOlderFirst else { return }
    let stray = LockValidationScope()
    stray.run { outside.unlock() }
    #expect(stray.findings.map(\.finding.kind) == [.badUnlockBalance])
  }

  /// A finding whose reporter is still running when the scope's owner
  /// collects those not reported (a `Task {}` that inherited a test's
  /// scope, racing the test's end) is left to that reporter: reported
  /// once. The trait read `findings` filtered on `wasReported`, which
  /// still says no then, and reported it again.
  @Test func aFindingBeingReportedIsNotLeftUnreported() {
    let reporting = Atomic<Bool>(false)
    let scope = LockValidationScope(reporter: { _ in
      reporting.store(true, ordering: .releasing)
      usleep(300_000)
      return true
    })
    let raw = Checked.RawSpinLock(
      name: "&scope_end->raw", key: LockClassKey("&scope_end->raw"))
    let spin = Checked.SpinLock(name: "&scope_end->spin", key: LockClassKey("&scope_end->spin"))
    let thread = spawn { scope.run { raw.withLock { spin.withLock {} } } }
    while !reporting.load(ordering: .acquiring) { usleep(1000) }
    // What the trait read: the finding not reported yet.
    #expect(scope.findings.filter { !$0.wasReported }.count == 1)
    #expect(scope.unreportedFindings.isEmpty)
    pthread_join(thread, nil)
    #expect(scope.findings.map(\.kind) == [.invalidWaitContext])
  }

  /// Whoever claims a finding first reports it: a reporter still running
  /// after `unreportedFindings` gave up waiting (a second) keeps it, and
  /// the end does not report it too (it did); one that declined it (no
  /// test current) leaves it to the end, once: a later call does not
  /// return it again.
  @Test(arguments: [true, false])
  func aFindingIsReportedByWhoeverClaimsItFirst(slowReporter: Bool) {
    let reporting = Atomic<Bool>(false)
    let name = "&scope_end->claimed_\(slowReporter)"
    let scope = LockValidationScope(reporter: { _ in
      reporting.store(true, ordering: .releasing)
      if slowReporter { usleep(2_500_000) }
      return slowReporter
    })
    let raw = Checked.RawSpinLock(name: name + "_raw", key: LockClassKey(name + "_raw"))
    let spin = Checked.SpinLock(name: name, key: LockClassKey(name))
    let thread = spawn { scope.run { raw.withLock { spin.withLock {} } } }
    while !reporting.load(ordering: .acquiring) { usleep(1000) }
    if !slowReporter { pthread_join(thread, nil) }
    let taken = scope.unreportedFindings
    #expect(taken.count == (slowReporter ? 0 : 1))
    #expect(scope.unreportedFindings.isEmpty)
    if slowReporter { pthread_join(thread, nil) }
    #expect(scope.findings.map(\.wasReported) == [slowReporter])
  }
}
