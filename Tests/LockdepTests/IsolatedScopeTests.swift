import Basics
import LockGraph
import Lockdep
import LockdepTesting
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// A negative test (`expectLockViolation`) runs in an isolated scope: what
/// its rule-breaking teaches the validator stays in it, so a test that
/// takes the same locks the right way, before or after it or at the same
/// time, is not failed by it. The scope still starts from what the process
/// learnt before.
@Suite(.lockValidation) struct IsolatedScopeTests {
  init() { LockValidation.policy = .collect }

  @Test func aNegativeTestLeavesNoLockOrderBehind() {
    let raw = Checked.RawSpinLock(name: "&isolated->raw")
    let mutex = Checked.Mutex(name: "&isolated->mutex")
    expectLockViolation(.invalidWaitContext) {
      raw.withLock { mutex.withLock {} }
    }
    // Without isolation the edge raw -> mutex is in the graph, and this
    // closes a cycle with it.
    let after = LockValidationScope()
    after.run { mutex.withLock { raw.withLock {} } }
    #expect(after.findings.map(\.finding.kind) == [])
  }

  @Test func aNegativeTestLeavesNoIrqUsageBehind() {
    let spin = Checked.SpinLock(name: "&isolated->irq_spin")
    let unsafe = Checked.SpinLock(name: "&isolated->irq_unsafe")
    expectLockViolation(.inconsistentLockState) {
      Checked.withHardIRQ { spin.withLock {} }
      spin.withLock {}
    }
    // `unsafe` is taken with interrupts on, then under `spin`: an irq lock
    // inversion only if the scope's IN-HARDIRQ usage of `spin` leaked.
    let after = LockValidationScope()
    after.run {
      unsafe.withLock {}
      Checked.withIRQsDisabled { spin.withLock { unsafe.withLock {} } }
    }
    #expect(after.findings.map(\.finding.kind) == [])
  }

  @Test func anIsolatedScopeSeesWhatWasLearntBefore() {
    let a = Checked.Mutex(name: "&isolated->before_a")
    let b = Checked.Mutex(name: "&isolated->before_b")
    LockValidationScope().run { a.withLock { b.withLock {} } }
    let found = expectLockViolation(.circularDependency) {
      b.withLock { a.withLock {} }
    }
    #expect(found.map(\.kind) == [.circularDependency])
  }

  @Test func threadsThatJoinAnIsolatedScopeShareItsFork() {
    let a = Checked.Mutex(name: "&isolated->joined_a")
    let b = Checked.Mutex(name: "&isolated->joined_b")
    expectLockViolation(.circularDependency) {
      a.withLock { b.withLock {} }
      let scope = LockValidationScope.current!
      #expect(scope.isIsolated)
      pthread_join(spawn { scope.run { b.withLock { a.withLock {} } } }, nil)
    }
    let after = LockValidationScope()
    after.run { b.withLock { a.withLock {} } }
    #expect(after.findings.map(\.finding.kind) == [])
  }

  @Test func heldLocksCarryIntoAndOutOfAnIsolatedScope() {
    let outer = Checked.Mutex(name: "&isolated->held_outer")
    let inner = Checked.RawSpinLock(name: "&isolated->held_inner")
    let scope = LockValidationScope()
    scope.run {
      outer.lock()
      // The scope's fork knows `outer` is held: sleeping under `inner`
      // is found, and unlocking `outer` inside is balanced.
      let found = expectLockViolation(.sleepInAtomic) {
        inner.withLock { Checked.mightSleep() }
        outer.unlock()
        outer.lock()
      }
      #expect(found.map(\.kind) == [.sleepInAtomic])
      outer.unlock()
    }
    #expect(scope.findings.map(\.finding.kind) == [])
  }

  @Test func locksLeftHeldAtThreadExitAreTheScopesFinding() {
    // The thread exits after the scope's `run` returned: the check runs in
    // the thread's exit, outside any task, and still reaches the scope.
    let kept = Checked.Mutex(name: "&isolated->kept_at_exit")
    let scope = LockValidationScope()
    pthread_join(spawn { scope.run { kept.lock() } }, nil)
    #expect(scope.findings.map(\.finding.kind) == [.locksHeldAtExit])

    let leaked = Checked.Mutex(name: "&isolated->leaked_at_exit")
    let found = expectLockViolation(.locksHeldAtExit) {
      let scope = LockValidationScope.current!
      pthread_join(spawn { scope.run { leaked.lock() } }, nil)
    }
    #expect(found.map(\.kind) == [.locksHeldAtExit])
    #expect(
      !LockValidation.findings.contains {
        LockValidation.describe($0).contains("&isolated->leaked_at_exit")
      })
  }

  /// A thread's exit finding in a scope is printed from the thread's
  /// exit path, as one outside any scope is: not from the validator's
  /// frames under the scope's binding (`TaskLocal.withValue`), which
  /// stopped the reports' leaving out of the validator's own frames.
  @Test func anExitFindingInAScopeStartsAtTheThreadsExit() {
    let kept = Checked.SpinLock(name: "&isolated->exit_stack")
    // A scope without an end (a test's scope's `run` on a worker is
    // checked as it returns, not at the thread's exit).
    let scope = LockValidationScope(isolated: true)
    pthread_join(spawn { scope.run { kept.lock() } }, nil)
    let found = scope.findings.map(\.finding)
    #expect(found.map(\.kind) == [.locksHeldAtExit])
    let text = found.first.map(LockValidation.describe) ?? ""
    for inner in ["withValue", "atThreadExit", "LiveThread"] {
      #expect(!text.contains(inner), "\(text)")
    }
    #expect(text.contains("deallocate_tsd") || text.contains("start_thread"), "\(text)")
  }

  /// A lock reported held at its thread's exit is forgotten, as one
  /// reported at a test's end: a negative test's cleanup that releases it
  /// on another thread is no bad unlock balance.
  @Test func aLockReportedAtThreadExitIsForgotten() {
    let leaked = Checked.SpinLock(name: "&isolated->released_after_exit")
    expectLockViolation(.locksHeldAtExit) {
      let scope = LockValidationScope.current!
      pthread_join(spawn { scope.run { leaked.lock() } }, nil)
    }
    let cleanup = LockValidationScope()
    cleanup.run { leaked.unlock() }
    #expect(cleanup.findings.map(\.finding.kind) == [])
  }

  @Test func anIsolatedScopesFindingsAreNotTheProcesss() {
    let raw = Checked.RawSpinLock(name: "&isolated->quiet_raw")
    let mutex = Checked.Mutex(name: "&isolated->quiet_mutex")
    expectLockViolation(.invalidWaitContext) { raw.withLock { mutex.withLock {} } }
    #expect(
      !LockValidation.findings.contains {
        LockValidation.describe($0).contains("&isolated->quiet_mutex")
      })
  }
}
