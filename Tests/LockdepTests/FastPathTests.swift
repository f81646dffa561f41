import Basics
import CAllocationCounter
import LockGraph
import Lockdep
import Synchronization
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// The fast path and the validator under load: a chain seen before
/// allocates nothing; eight threads taking many classes in random but
/// consistent orders find nothing and crash nothing; an inconsistent order
/// on two threads is found without the deadlock happening; misuse is a
/// finding, never a crash.
@Suite struct FastPathTests {
  init() { LockValidation.policy = .collect }

  @Test(.enabled(if: rlc_allocation_counting() != 0, "allocations are counted"))
  func cachedAcquisitionsAllocateNothing() {
    let outer = Checked.Mutex(name: "&alloc->outer")
    let spin = Checked.SpinLock(name: "&alloc->spin")
    let raw = Checked.RawSpinLock(name: "&alloc->raw")
    let rw = Checked.RWLock(name: "&alloc->rw")
    func round() {
      outer.lock()
      spin.lock()
      raw.lock()
      raw.unlock()
      spin.unlock()
      outer.unlock()
      rw.readLock()
      rw.readUnlock()
    }
    // First rounds: new chains, stacks, held-lock array growth.
    for _ in 0..<10 { round() }
    let before = rlc_thread_allocations()
    for _ in 0..<10_000 { round() }
    let after = rlc_thread_allocations()
    #expect(after - before == 0, "\(after - before) allocations in 10,000 cached rounds")
  }

  /// Hand-over-hand locking (lock coupling down a list or a tree) releases
  /// a lock below the top at every step, which lockdep re-validates
  /// (`reacquire_held_locks()`): once its chains were seen, that
  /// allocates nothing either (it allocated an array every time).
  @Test(.enabled(if: rlc_allocation_counting() != 0, "allocations are counted"))
  func handOverHandLockingAllocatesNothing() {
    // A class per level (lockdep's subclasses would do too, but an
    // acquisition with one takes the full path, which may allocate).
    let nodes = (0..<4).map {
      Checked.Mutex(name: "&alloc->node\($0)", key: LockClassKey("&alloc->node\($0)"))
    }
    func walk() {
      nodes[0].lock()
      for i in 1..<nodes.count {
        nodes[i].lock()
        nodes[i - 1].unlock()
      }
      nodes[nodes.count - 1].unlock()
    }
    for _ in 0..<10 { walk() }
    let before = rlc_thread_allocations()
    for _ in 0..<10_000 { walk() }
    let after = rlc_thread_allocations()
    #expect(after - before == 0, "\(after - before) allocations in 10,000 walks")
  }

  @Test(.enabled(if: rlc_allocation_counting() != 0, "allocations are counted"))
  func theCounterSeesAllocations() {
    let before = rlc_thread_allocations()
    let array = Array(repeating: 1, count: 1000)
    #expect(rlc_thread_allocations() > before)
    #expect(array.count == 1000)
  }

  @Test func eightThreadsRandomConsistentOrdersFindNothing() {
    let scope = LockValidationScope()
    let locks: [ValidatedLock & KernelLock] = (0..<48).map { i in
      switch i {
      case 0..<12: Checked.Mutex(name: "&stress->m\(i)", key: LockClassKey("&stress->m\(i)"))
      case 12..<36: Checked.SpinLock(name: "&stress->s\(i)", key: LockClassKey("&stress->s\(i)"))
      default: Checked.RawSpinLock(name: "&stress->r\(i)", key: LockClassKey("&stress->r\(i)"))
      }
    }
    let deadline = monotonicSeconds() + 2
    let threads = (0..<8).map { _ in
      spawn {
        scope.run {
          var rng = SystemRandomNumberGenerator()
          // Two seconds, and at least 200 rounds a thread however slow the
          // build (ThreadSanitizer's ran a few hundred in all).
          var done = 0
          while monotonicSeconds() < deadline || done < 200 {
            done += 1
            var ranks = Set<Int>()
            let depth = Int.random(in: 1...5, using: &rng)
            while ranks.count < depth { ranks.insert(Int.random(in: 0..<locks.count, using: &rng)) }
            let path = ranks.sorted()
            for r in path { locks[r].lock() }
            for r in path.reversed() { locks[r].unlock() }
          }
        }
      }
    }
    for t in threads { pthread_join(t, nil) }
    #expect(scope.findings.isEmpty, "\(scope.findings.first?.text ?? "")")
  }

  @Test func anInconsistentOrderOnTwoThreadsIsFoundWithoutDeadlocking() {
    let scope = LockValidationScope()
    let a = Checked.Mutex(name: "&order->a")
    let b = Checked.Mutex(name: "&order->b")
    let firstDone = Atomic<Bool>(false)
    // The second thread starts after the first is done: the orders never
    // overlap in time, so no deadlock can happen, and it is found anyway.
    let first = spawn {
      scope.run { a.withLock { b.withLock {} } }
      firstDone.store(true, ordering: .releasing)
    }
    pthread_join(first, nil)
    let second = spawn { scope.run { b.withLock { a.withLock {} } } }
    pthread_join(second, nil)
    let done = firstDone.load(ordering: .acquiring)
    #expect(done)
    #expect(scope.findings.map(\.finding.kind) == [.circularDependency])
  }

  @Test func unlockingOnAnotherThreadIsAFindingNotACrash() {
    let scope = LockValidationScope()
    let lock = Checked.Mutex(name: "&handoff->lock")
    pthread_join(spawn { scope.run { lock.lock() } }, nil)
    pthread_join(spawn { scope.run { lock.unlock() } }, nil)
    // The first thread exits holding what it took in the scope (a finding
    // of the scope's, though the exit is past its `run`); the second never
    // held it.
    #expect(scope.findings.map(\.finding.kind) == [.locksHeldAtExit, .badUnlockBalance])
  }

  @Test func twoThousandLocksHeldAtOnceIsALimitFinding() {
    let scope = LockValidationScope()
    pthread_join(
      spawn {
        scope.run {
          let locks = (0..<2000).map { i in
            Checked.SpinLock(name: "&many->\(i)", key: LockClassKey("&many->\(i)"))
          }
          for l in locks { l.lock() }
          for l in locks.reversed() { l.unlock() }
        }
      }, nil)
    let kinds = Set(scope.findings.map(\.finding.kind))
    #expect(kinds.contains(.limitExceeded))
    #expect(!kinds.contains(.badUnlockBalance), "validation stopped: no false imbalance")
  }
}

func monotonicSeconds() -> Double {
  var ts = timespec()
  clock_gettime(CLOCK_MONOTONIC, &ts)
  return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

/// Signals arriving while their thread is inside the validator: the
/// validator is not re-entrant (its slow path holds the core's lock), so a
/// handler that interrupts it runs unvalidated; nothing deadlocks, nothing
/// is corrupted, and nothing is falsely reported.
@Suite struct SignalStormTests {
  // A hang (a handler deadlocked against the validator) fails the test
  // instead of the run. The limit counts from when the test is started,
  // which on two cores can be minutes before its body runs (a one-minute
  // limit failed a run in which the body took a tenth of a second).
  @Test(.timeLimit(.minutes(10)))
  func handlersInterruptingTheValidatorAreSkippedCleanly() {
    LockValidation.policy = .collect
    let handled = Atomic<Int>(0)
    // Each validated run of the handler is a finding (might-sleep in a
    // hard interrupt): the slow path, which takes the core's lock.
    installSignalHandler(SIGWINCH) { _ in
      mightSleep()
      handled.add(1, ordering: .relaxed)
    }
    let scope = LockValidationScope()
    let running = Atomic<Bool>(true)
    let outer = Checked.Mutex(name: "&storm->outer")
    let worker = SpawnedThread {
      var set = sigset_t()
      sigemptyset(&set)
      sigaddset(&set, SIGWINCH)
      pthread_sigmask(SIG_UNBLOCK, &set, nil)
      scope.run {
        // A fixed number of rounds (and on until a handler ran), so that
        // the test lasts as long as its own work: a sender that counted
        // its signals waited out one wake-up after each, which on a loaded
        // machine took over a minute.
        var rounds = 0
        while rounds < 500 || handled.load(ordering: .relaxed) == 0 {
          // A new class each round: a new chain, so the slow path (and the
          // core's lock) every time.
          let fresh = Checked.Mutex(name: "&storm->k", key: LockClassKey("&storm->k\(rounds)"))
          outer.withLock { fresh.withLock {} }
          rounds += 1
        }
      }
      // No signal lands outside the scope: one still pending is dropped
      // with the thread.
      pthread_sigmask(SIG_BLOCK, &set, nil)
      running.store(false, ordering: .releasing)
    }
    // Signals until the worker is done: at least one, however slowly this
    // thread is scheduled.
    repeat {
      pthread_kill(worker.handle, SIGWINCH)
      usleep(20)
    } while running.load(ordering: .acquiring)
    worker.join()
    let kinds = Set(scope.findings.map(\.finding.kind))
    #expect(kinds.isSubset(of: [.sleepInAtomic]), "only the handler's might-sleep")
    #expect(handled.load(ordering: .relaxed) > 0, "the handler ran")
  }
}
