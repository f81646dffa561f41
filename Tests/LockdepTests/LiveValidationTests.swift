import LockGraph
import Lockdep
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// Every finding kind reachable through the real lock types and context
/// markers, each in a scope of its own so that tests running in parallel
/// do not see each other's findings.
@Suite struct LiveValidationTests {
  init() { LockValidation.policy = .collect }

  /// The kinds of the findings `body` causes, run on a thread of its own
  /// (so that what it leaves held ends with that thread, and cannot change
  /// what other tests on a shared worker thread see).
  func kinds(_ body: @escaping @Sendable () -> Void) -> [FindingKind] {
    let scope = LockValidationScope()
    pthread_join(spawn { scope.run(body) }, nil)
    return scope.findings.map(\.finding.kind)
  }

  /// `mightLock` through a generic `KernelLock`, as code written for
  /// both builds calls it.
  static func mightTake<L: KernelLock>(_ lock: L) { mightLock(lock) }

  /// Code generic over `KernelLock` builds with validation as without
  /// (the unvalidated types' signatures): `mightLock` of any lock type
  /// checks a validated one, and a nest lock may be of any type (one that
  /// is not validated serializes nothing the validator knows of).
  @Test func lockCodeGenericOverKernelLockBuildsAndIsChecked() {
    let raw = RawSpinLock(name: "&generic->raw")
    let mutex = Mutex(name: "&generic->mutex")
    #expect(kinds { raw.withLock { Self.mightTake(mutex) } } == [.invalidWaitContext])
    let plain = Plain.SpinLock()
    let inner = SpinLock(name: "&generic->inner")
    #expect(
      kinds {
        inner.lock(nestLock: plain)
        inner.unlock()
      }.isEmpty)
  }

  @inline(never) static func takeBoth(_ a: SpinLock, _ c: SpinLock) {
    a.lock()
    c.lock()
  }

  @inline(never) static func releaseFirst(_ a: SpinLock) { a.unlock() }

  /// A lock re-validated by an out-of-order unlock keeps its acquisition's
  /// site (its held-lock line), taken on the fast path without a stack:
  /// the unlock's stack, captured for the re-validation, is not its own.
  @Test func aLockReValidatedByAnUnlockKeepsItsSite() {
    let a = SpinLock(name: "&keeps->a")
    let c = SpinLock(name: "&keeps->c")
    let scope = LockValidationScope()
    pthread_join(
      spawn {
        scope.run {
          for _ in 0..<2 {
            Self.takeBoth(a, c)
            c.unlock()
            a.unlock()
          }
          Self.takeBoth(a, c)
          Self.releaseFirst(a)
          mightSleep()
          c.unlock()
        }
      }, nil)
    let text = scope.findings.first?.text ?? ""
    let held = text.split(separator: "\n").first { $0.contains("#0: (&keeps->c)") } ?? ""
    #expect(held.contains("takeBoth"), "\(text)")
  }

  @Test func mutexUnderARawSpinLockIsAnInvalidWaitContext() {
    let raw = Checked.RawSpinLock(name: "&raw")
    let mutex = Checked.Mutex(name: "&mutex")
    let found = kinds {
      raw.withLock { mutex.withLock {} }
    }
    #expect(found.contains(.invalidWaitContext))
    #expect(found.contains(.sleepInAtomic))
  }

  @Test func spinLockUnderARawSpinLockIsAnInvalidWaitContextOnly() {
    let raw = Checked.RawSpinLock(name: "&krcp->lock")
    let zone = Checked.SpinLock(name: "&zone->lock")
    let found = kinds { raw.withLock { zone.withLock {} } }
    #expect(found == [.invalidWaitContext])
  }

  @Test func abbaIsACycleWithoutDeadlocking() {
    let a = Checked.Mutex(name: "&a")
    let b = Checked.Mutex(name: "&b")
    let found = kinds {
      a.withLock { b.withLock {} }
      b.withLock { a.withLock {} }
    }
    #expect(found == [.circularDependency])
  }

  @Test func sameClassTwiceIsRecursive() {
    let found = kinds {
      let locks = (0..<2).map { _ in Checked.SpinLock() }  // one site: one class
      locks[0].withLock { locks[1].withLock {} }
    }
    #expect(found == [.recursiveLocking])
  }

  @Test func subclassNestingIsAllowed() {
    let found = kinds {
      let locks = (0..<2).map { _ in Checked.SpinLock() }
      locks[0].lock()
      locks[1].lock(subclass: 1)
      locks[1].unlock()
      locks[0].unlock()
    }
    #expect(found.isEmpty)
  }

  @Test func unlockOfALockNotHeld() {
    let lock = Checked.SpinLock()
    #expect(kinds { lock.unlock() } == [.badUnlockBalance])
  }

  /// Unlocks of a lock not held, in a loop at one line: one finding,
  /// counted, however the validator reached its stack. The thread's first
  /// event (its state made) and the later ones capture on different
  /// paths inside the validator; the stack of each starts at the unlock's
  /// call site, so the occurrences are one stack, as acquisitions are
  /// (spec/reports.md: the same kind, classes and stack is one finding).
  @Test(arguments: ["mutex", "spinlock", "rwsem", "map"])
  func strayUnlocksInALoopAreOneFinding(lock: String) {
    let scope = LockValidationScope()
    pthread_join(
      spawn {
        scope.run {
          let mutex = Checked.Mutex(name: "&stray->mutex")
          let spin = Checked.SpinLock(name: "&stray->spin")
          let rwsem = Checked.RWSemaphore(name: "&stray->rwsem")
          let map = LockdepMap(.mutex, name: "&stray->map")
          for _ in 0..<10 {
            switch lock {
            case "mutex": mutex.unlock()
            case "spinlock": spin.unlock()
            case "rwsem": rwsem.unlock()
            default: map.release()
            }
          }
        }
      }, nil)
    #expect(scope.findings.map(\.finding.kind) == [.badUnlockBalance])
    #expect(scope.findings.map(\.count) == [10])
  }

  @Test func lockFreedWhileHeld() {
    let found = kinds {
      var lock: Checked.SpinLock? = Checked.SpinLock(name: "&doomed")
      lock!.lock()
      lock = nil
    }
    #expect(found.contains(.heldLockFreed))
  }

  @Test func usedInHardIRQThenWithIRQsOnIsInconsistent() {
    let lock = Checked.RawSpinLock(name: "&irq")
    let found = kinds {
      withHardIRQ { lock.withLock {} }
      lock.withLock {}
    }
    #expect(found == [.inconsistentLockState])
  }

  @Test func mightSleepWithPreemptionDisabled() {
    #expect(kinds { withPreemptionDisabled { mightSleep() } } == [.sleepInAtomic])
  }

  /// Locks of one class taken under a nest lock, more than lockdep's (or
  /// this validator's) depth limit, share one held entry: each is held
  /// (`assertHeld`), they go in any order, and nothing is found.
  @Test func manyLocksOfOneClassUnderANestLockShareOneEntry() {
    let outer = Checked.Mutex(name: "&mm->mmap_lock")
    let key = LockClassKey("&anon_vma->rwsem")
    let locks = (0..<1500).map { _ in Checked.SpinLock(name: "&anon_vma->rwsem", key: key) }
    let found = kinds {
      outer.lock()
      for lock in locks { lock.lock(nestLock: outer) }
      for lock in locks { lock.assertHeld() }
      for lock in locks { lock.unlock() }
      for lock in locks { lock.assertNotHeld() }
      outer.unlock()
    }
    #expect(found == [])
  }

  @Test func nestLockNotHeld() {
    let outer = Checked.Mutex(name: "&outer")
    let inner = Checked.Mutex(name: "&inner")
    let found = kinds {
      inner.lock(nestLock: outer)
      inner.unlock()
    }
    #expect(found == [.nestedLockNotTaken])
  }

  /// Raises `signal` on a new thread (which unblocks it: the test runner's
  /// worker threads block signals), in `scope` if given; `lockFirst` takes
  /// a lock first, so the thread has validator state before the handler
  /// runs.
  func raiseOnAThread(_ signal: Int32, in scope: LockValidationScope?, lockFirst: Bool = true) {
    runOnAThread(unblocking: signal) {
      if lockFirst { Checked.Mutex(name: "&signal->first").withLock {} }
      if let scope { scope.run { _ = raise(signal) } } else { _ = raise(signal) }
    }
  }

  @Test func aSignalHandlerRunsAsAHardInterrupt() {
    let lock = Checked.SpinLock(name: "&signal->lock")
    installSignalHandler(SIGUSR1) { _ in lock.withLock {} }
    // spinlock_t in a (non-threaded) hard interrupt: config under a spin limit.
    let first = LockValidationScope()
    raiseOnAThread(SIGUSR1, in: first)
    #expect(first.findings.map(\.finding.kind) == [.invalidWaitContext])
    let raw = Checked.RawSpinLock(name: "&signal->raw")
    installSignalHandler(SIGUSR2) { _ in raw.withLock {} }
    let second = LockValidationScope()
    raiseOnAThread(SIGUSR2, in: second)
    #expect(second.findings.isEmpty)
  }

  @Test func aHandlersQueuedEventsAreValidatedBeforeTheNextFastPathEvent() {
    // The handler's might-sleep is queued; the thread's next acquisition
    // would take the fast path (its chain was seen before), but the queue
    // goes first: the finding sees no lock held. Validated later, it would
    // list `&queued->next` as held.
    let next = Checked.RawSpinLock(name: "&queued->next")
    installSignalHandler(SIGPROF) { _ in mightSleep() }
    let scope = LockValidationScope()
    runOnAThread(unblocking: SIGPROF) {
      scope.run {
        next.withLock {}
        _ = raise(SIGPROF)
        next.lock()
        Checked.RawSpinLock(name: "&queued->slow").withLock {}
        next.unlock()
      }
    }
    #expect(scope.findings.map(\.finding.kind) == [.sleepInAtomic])
    #expect(scope.findings.first?.finding.held.isEmpty == true)
  }

  @Test func aHandlerOnAThreadThatNeverTookALockIsValidated() {
    // The thread's first lock events are the handler's: its validator state
    // cannot be made in the handler (that allocates), so they wait in
    // static thread-local memory until the scope ends.
    let lock = Checked.Mutex(name: "&signal->fresh")
    installSignalHandler(SIGURG) { _ in lock.withLock {} }
    let scope = LockValidationScope()
    raiseOnAThread(SIGURG, in: scope, lockFirst: false)
    // A mutex in a hard interrupt: mutex_lock()'s might_sleep() in atomic
    // context, then the invalid wait context (sleep under a spin limit),
    // in __lock_acquire()'s order, with the handler's stack.
    #expect(scope.findings.map(\.finding.kind) == [.sleepInAtomic, .invalidWaitContext])
    #expect(scope.findings.first.map { !$0.finding.origin.stack.isNone } == true)
  }

  @Test func aHandlerOnAThreadThatExitsWithoutAnotherEventIsValidated() {
    // As above, but nothing on the thread reads findings or ends a scope:
    // the queued events are validated when the thread exits.
    let lock = Checked.Mutex(name: "&signal->exiting")
    installSignalHandler(SIGXCPU) { _ in lock.withLock {} }
    raiseOnAThread(SIGXCPU, in: nil, lockFirst: false)
    let found = LockValidation.findings.filter {
      LockValidation.describe($0).contains("&signal->exiting")
    }
    #expect(found.map(\.kind) == [.sleepInAtomic, .invalidWaitContext])
  }

  /// A bug in a handler is one finding, counted, wherever its signals
  /// land: a handler's stack ends at its signal frame (`__restore_rt`),
  /// not in the code each signal interrupted, which made each landing
  /// place a finding of its own (9 to 49 of them for one bug, in a run of
  /// 100,000 signals).
  @Test func aHandlersBugIsOneFindingWhereverItsSignalsLand() {
    let lock = Checked.Mutex(name: "&signal->landing")
    installSignalHandler(SIGIO) { _ in lock.withLock {} }
    let task = Checked.RawSpinLock(name: "&landing->task")
    let scope = LockValidationScope()
    runOnAThread(unblocking: SIGIO) {
      scope.run {
        task.withLock {}
        raiseHere(SIGIO)
        task.withLock {}  // validates the run queued so far
        raiseThere(SIGIO)
        task.withLock {}
      }
    }
    #expect(scope.findings.map(\.finding.kind) == [.sleepInAtomic, .invalidWaitContext])
    #expect(scope.findings.map(\.count) == [2, 2])
  }

  /// `LockValidation.findings` counts each finding's occurrences, as a
  /// report of the same events' trace does (it kept the first count, 1).
  @Test func aRepeatedFindingIsCountedLive() {
    let raw = Checked.RawSpinLock(name: "&counted->raw")
    let zone = Checked.SpinLock(name: "&counted->zone")
    let scope = LockValidationScope()
    scope.run {
      for _ in 0..<3 { raw.withLock { zone.withLock {} } }
    }
    // One distinct finding in the scope too, which counts the repeats.
    #expect(scope.findings.map(\.count) == [3])
    #expect(scope.findings.first?.title == "lock validation: invalid-wait-context (3 times)")
    let found = LockValidation.findings.filter {
      LockValidation.describe($0).contains("&counted->zone")
    }
    #expect(found.map(\.kind) == [.invalidWaitContext])
    #expect(found.first?.count == 3)
  }

  @Test func aLockFreedWhileHeldIsHeldNoLonger() {
    // lockdep reports it and stops; this validator goes on, without the
    // freed lock: what the thread does next is checked against the locks
    // that still exist.
    let scope = LockValidationScope()
    scope.run {
      do {
        let raw = Checked.RawSpinLock(name: "&freed->raw")
        raw.lock()
      }
      Checked.Mutex(name: "&freed->after").withLock {}
    }
    #expect(scope.findings.map(\.finding.kind) == [.heldLockFreed])
    // The range freed is the lock object's block (at least its 16-byte
    // header and the lock), not one byte.
    if case .heldLockFreed(let from, let to, _, _) = scope.findings.first?.finding.detail {
      #expect(to - from + 1 >= 24, "\(from)-\(to)")
      #expect(scope.findings.first?.finding.lock?.instance == from)
    } else {
      Issue.record("no range")
    }
  }

  /// A lock freed by dropping its last reference: its stack starts at the
  /// line that dropped it, not in the Swift runtime's release path
  /// (`swift_release`, `_swift_release_dealloc`, `swift::RefCounts`).
  @Test func aFreedLocksStackStartsInTheCodeThatFreedIt() {
    let scope = LockValidationScope()
    scope.run {
      do {
        let raw = Checked.RawSpinLock(name: "&freed->top")
        raw.lock()
      }
    }
    let text = scope.findings.first?.text ?? ""
    let backtrace = text.components(separatedBy: "stack backtrace:\n").last ?? ""
    let first = backtrace.split(separator: "\n").first.map(String.init) ?? ""
    #expect(first.contains("LiveValidationTests.swift"), "\(text)")
  }

  /// A lock freed with the object that holds it: its stack starts at the
  /// line that dropped the object, not in the object's compiler-made
  /// `deinit` and deallocating `deinit`, which only release what it holds.
  @Test func aLockFreedWithItsOwnerStartsWhereTheOwnerWasDropped() {
    final class Owner {
      let lock = Checked.RawSpinLock(name: "&owner->lock")
    }
    struct Holder {
      var owners: [Owner]
      let lock = Checked.RawSpinLock(name: "&holder->lock")
    }
    let scope = LockValidationScope()
    scope.run {
      do {
        let owner = Owner()
        owner.lock.lock()
      }
      // In an array, and in a value that holds that.
      do {
        let holder = Holder(owners: [Owner(), Owner()])
        holder.owners[1].lock.lock()
        holder.lock.lock()
      }
    }
    #expect(scope.findings.count == 3)
    for finding in scope.findings {
      let text = finding.text
      let backtrace = text.components(separatedBy: "stack backtrace:\n").last ?? ""
      let first = backtrace.split(separator: "\n").first.map(String.init) ?? ""
      // The test's closure (whose line the compiler may give as none).
      #expect(first.contains("aLockFreedWithItsOwnerStartsWhereTheOwnerWasDropped"), "\(text)")
      #expect(
        !first.contains("deinit") && !first.contains("outlined") && !first.contains("swift_"),
        "\(text)")
    }
  }

  /// A lock freed below held ones makes them taken again (`reacquire`),
  /// and a finding made then (a recursion found again) starts where the
  /// lock was dropped, not in the validator's own frames (it began with
  /// `PThreadMutex.withLock` and 27 frames of the validator and runtime).
  @Test func aFindingAtAFreeStartsWhereTheLockWasDropped() {
    let scope = LockValidationScope()
    scope.run {
      var below: Checked.RawSpinLock? = Checked.RawSpinLock(name: "&free->below")
      let first = Checked.RawSpinLock(name: "&free->same", key: LockClassKey("&free->same"))
      let second = Checked.RawSpinLock(name: "&free->same", key: LockClassKey("&free->same"))
      below?.lock()
      first.lock()
      second.lock()
      below = nil
      second.unlock()
      first.unlock()
    }
    let kinds = scope.findings.map(\.finding.kind)
    #expect(kinds.contains(.recursiveLocking) && kinds.contains(.heldLockFreed), "\(kinds)")
    for occurrence in scope.findings {
      let text = occurrence.text
      let backtrace = text.components(separatedBy: "stack backtrace:\n").last ?? ""
      let first = backtrace.split(separator: "\n").first.map(String.init) ?? ""
      #expect(first.contains("aFindingAtAFreeStartsWhereTheLockWasDropped"), "\(text)")
    }
  }

  @Test func mapsOfKindsWithoutWaitTypesTakeTheirInnerOne() {
    // The kernel's DEFINE_WAIT_OVERRIDE_MAP(printk_legacy_map, LD_WAIT_SLEEP),
    // taken with lock_map_acquire_try(): inside it the running limit is its
    // inner type, so a spinlock_t under a raw spin lock is allowed there,
    // and only there.
    let raw = Checked.RawSpinLock(name: "&override->raw")
    let spin = Checked.SpinLock(name: "&override->spin")
    let legacy = Checked.LockdepMap(.waitOverride, inner: .sleep, name: "printk_legacy_map")
    #expect(
      kinds {
        raw.withLock {
          legacy.acquire(trylock: true)
          spin.withLock {}
          legacy.release()
        }
      } == [])
    #expect(kinds { raw.withLock { spin.withLock {} } } == [.invalidWaitContext])
    // A custom map is checked with the inner type it is given: one that
    // spins is fine under a raw spin lock; one that sleeps is a sleeping
    // acquisition in atomic context, under a spin limit.
    let spinning = Checked.LockdepMap(.custom, inner: .spin, name: "custom-spinning")
    let sleeping = Checked.LockdepMap(.custom, inner: .sleep, name: "custom-sleeping")
    #expect(
      kinds {
        raw.withLock {
          spinning.acquire()
          spinning.release()
        }
      } == [])
    #expect(
      kinds {
        raw.withLock {
          sleeping.acquire()
          sleeping.release()
        }
      }
        == [.sleepInAtomic, .invalidWaitContext])
  }

  @Test func anInvalidSubclassIsALimitAndLeftOut() {
    // lockdep: "BUG: looking up invalid subclass" (MAX_LOCKDEP_SUBCLASSES
    // is 8). Not a subclass taken modulo 8 (subclass 0: recursive
    // locking); its unlock is left out with it (no bad unlock balance);
    // and, unlike the kernel's debug_locks_off(), the thread stays
    // validated (the sleep under the raw lock is found).
    let key = LockClassKey("&subclass->lock")
    let outer = Checked.Mutex(name: "&subclass->lock", key: key)
    let inner = Checked.Mutex(name: "&subclass->lock", key: key)
    let raw = Checked.RawSpinLock(name: "&subclass->raw")
    let (_, found, texts) = LockValidationScope.check(expecting: nil) {
      outer.withLock {
        inner.lock(subclass: 8)
        inner.unlock()
      }
      inner.lock(subclass: -1)
      inner.unlock()
      raw.withLock { Checked.mightSleep() }
    }
    #expect(found.map(\.kind) == [.limitExceeded, .limitExceeded, .sleepInAtomic])
    // The kernel's title names the limit alone; its value follows.
    #expect(texts.first?.contains("\nBUG: MAX_LOCKDEP_SUBCLASSES too low!\n") == true)
    #expect(texts.first?.contains("\nMAX_LOCKDEP_SUBCLASSES: 8\n") == true)
    #expect(
      texts.first?.contains("&subclass->lock: lock(subclass: 8) and its unlock were not validated")
        == true)
  }

  @Test func readerWriterLocksNestAsTheKernelsDo() {
    let semKey = LockClassKey("&rwsem->nest")
    let parent = Checked.RWSemaphore(name: "&rwsem->nest", key: semKey)
    let child = Checked.RWSemaphore(name: "&rwsem->nest", key: semKey)
    let rwKey = LockClassKey("&rwlock->nest")
    let first = Checked.RWLock(name: "&rwlock->nest", key: rwKey)
    let second = Checked.RWLock(name: "&rwlock->nest", key: rwKey)
    let outer = Checked.Mutex(name: "&rwsem->outer")
    // down_read_nested(), down_write_nest_lock(), write_lock_nested().
    let nested = kinds {
      parent.readLock()
      child.readLock(subclass: 1)
      child.readUnlock()
      parent.readUnlock()
      outer.withLock {
        parent.lock(nestLock: outer)
        child.lock(nestLock: outer)
        child.unlock()
        parent.unlock()
      }
      first.lock()
      second.lock(subclass: 1)
      second.unlock()
      first.unlock()
    }
    #expect(nested == [])
    // Without the annotation, two reads of one rwsem class (not recursive).
    let plain = kinds {
      parent.readLock()
      child.readLock()
      child.readUnlock()
      parent.readUnlock()
    }
    #expect(plain == [.recursiveLocking])
  }

  @Test func anUnbalancedReadUnlockIsAFindingNotACrash() {
    // lib/locking-selftest.c's double_unlock_rlock: reported, and the
    // program goes on (the reader count does not wrap or trap).
    let rw = Checked.RWLock(name: "&double->rwlock")
    let found = kinds {
      rw.readLock()
      rw.readUnlock()
      rw.readUnlock()
      rw.lock()
      rw.unlock()
    }
    #expect(found == [.badUnlockBalance])
  }

  @Test func aRealTimeThreadMustNotSleep() {
    let scope = LockValidationScope()
    let mutex = Checked.Mutex(name: "&rt->mutex")
    let spin = Checked.RawSpinLock(name: "&rt->spin")
    pthread_join(
      spawn {
        scope.run {
          LockValidation.markCurrentThreadRealTime()
          spin.withLock {}
          mutex.withLock {}
        }
      }, nil)
    #expect(scope.findings.map(\.finding.kind) == [.sleepInAtomic])
  }

  /// In a Swift task the mark would fall on a thread of the pool, which
  /// runs other tasks next (other tests' among them, blamed for it: an
  /// independent trial's): it marks nothing there, and a mutex the task
  /// takes after it is no sleep in atomic context.
  @Test func aRealTimeMarkInATaskMarksNoThread() async {
    let scope = LockValidationScope()
    let mutex = Checked.Mutex(name: "&rt->task_mutex")
    await scope.run {
      LockValidation.markCurrentThreadRealTime()
      mutex.withLock {}
    }
    #expect(scope.findings.map(\.finding.kind) == [])
  }

  @Test func cleanNestingHasNoFinding() {
    let mutex = Checked.Mutex(name: "&m")
    let spin = Checked.SpinLock(name: "&s")
    let raw = Checked.RawSpinLock(name: "&r")
    let found = kinds {
      for _ in 0..<100 {
        mutex.withLock { spin.withLock { raw.withLock {} } }
      }
    }
    #expect(found.isEmpty)
  }
}

/// Raises `signal` from one place (`LiveValidationTests`' landing test).
@inline(never) func raiseHere(_ signal: Int32) { _ = raise(signal) }
/// Raises `signal` from another place.
@inline(never) func raiseThere(_ signal: Int32) { _ = raise(signal) }
