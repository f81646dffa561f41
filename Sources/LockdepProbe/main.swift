// A program that causes each kind of finding through the real lock types
// and context markers, for the tests that compare the live validator with
// `rawlockcheck report` on the trace it recorded (`RAWLOCKCHECK_TRACE`).
//
// Usage: LockdepProbe SCENARIO...  (or `all`); prints one line per distinct
// finding, `finding <kind> <count>`, after the scenarios ran.
import Allocator
import Basics
import CAllocationCounter
import Dispatch
import LockGraph
import Lockdep
import RCU
import Synchronization

#if canImport(Glibc)
  import Glibc
#endif

/// Runs `body` on a new thread (a pthread, so that its exit runs the
/// validator's thread-exit check) and waits for it.
nonisolated func runOnThread(_ body: @escaping @Sendable () -> Void) {
  SpawnedThread(body).join()
}

/// Runs a handler taking a raw spin lock for the first time in the
/// process, on a new thread (which took a lock before when
/// `onAKnownThread`), and prints how many allocations the thread made
/// while it ran: `allocated N`.
nonisolated func firstHandlerRun(onAKnownThread: Bool) {
  let irq = Checked.RawSpinLock(name: "&first->irq")
  let task = Checked.Mutex(name: "&first->task")
  installSignalHandler(SIGUSR1) { _ in irq.withLock {} }
  runOnThread {
    if onAKnownThread { task.withLock {} }
    var unblock = sigset_t()
    sigemptyset(&unblock)
    sigaddset(&unblock, SIGUSR1)
    pthread_sigmask(SIG_UNBLOCK, &unblock, nil)
    let before = rlc_thread_allocations()
    pthread_kill(pthread_self(), SIGUSR1)
    let after = rlc_thread_allocations()
    // Nothing is counted under a sanitizer (it interposes malloc).
    print(
      rlc_allocation_counting() == 0 ? "allocations not counted" : "allocated \(after - before)")
  }
}

let scenarios: [(String, () -> Void)] = [
  (
    "invalid-wait-context",
    {
      let raw = Checked.RawSpinLock(name: "&krcp->lock")
      let zone = Checked.SpinLock(name: "&zone->lock")
      raw.withLock { zone.withLock {} }
    }
  ),
  (
    "circular-dependency",
    {
      let a = Checked.Mutex(name: "&a->lock")
      let b = Checked.Mutex(name: "&b->lock")
      a.withLock { b.withLock {} }
      b.withLock { a.withLock {} }
    }
  ),
  (
    // Unlocks of locks not held, in a loop, each on a new thread whose
    // first event the loop's first unlock is: one finding per lock, of 10.
    "stray-unlocks",
    {
      runOnThread {
        let mutex = Checked.Mutex(name: "&stray->mutex")
        for _ in 0..<10 { mutex.unlock() }
      }
      runOnThread {
        let spin = Checked.SpinLock(name: "&stray->spin")
        for _ in 0..<10 { spin.unlock() }
      }
    }
  ),
  (
    "recursive-locking",
    {
      let locks = (0..<2).map { _ in Checked.SpinLock(name: "&same->lock") }
      locks[0].withLock { locks[1].withLock {} }
    }
  ),
  (
    "inconsistent-lock-state",
    {
      let lock = Checked.RawSpinLock(name: "&irq->lock")
      withHardIRQ { lock.withLock {} }
      lock.withLock {}
    }
  ),
  (
    "irq-lock-inversion",
    {
      let safe = Checked.RawSpinLock(name: "&safe->lock")
      let unsafe = Checked.RawSpinLock(name: "&unsafe->lock")
      withHardIRQ { safe.withLock {} }
      unsafe.withLock {}  // irqs on: HARDIRQ-ON
      withIRQsDisabled { safe.withLock { unsafe.withLock {} } }
    }
  ),
  (
    "bad-unlock-balance",
    {
      Checked.Mutex(name: "&never->held").unlock()
    }
  ),
  (
    "held-lock-freed",
    {
      var lock: Checked.SpinLock? = Checked.SpinLock(name: "&freed->lock")
      lock!.lock()
      lock = nil
    }
  ),
  (
    // A lock freed (its last reference dropped) while another thread
    // holds it: live, the freeing thread holds nothing there (the holder's
    // exit reports the lock); a trace's reader checks every thread's held
    // locks, and finds it held at the free, whose stack the trace keeps.
    "freed-while-another-holds",
    {
      let box = FreedBox()
      let locked = Atomic<Bool>(false)
      let freed = Atomic<Bool>(false)
      let holder = SpawnedThread {
        box.lock!.lock()
        locked.store(true, ordering: .releasing)
        while !freed.load(ordering: .acquiring) { usleep(1000) }
      }
      while !locked.load(ordering: .acquiring) { usleep(1000) }
      box.lock = nil  // FREED HERE
      freed.store(true, ordering: .releasing)
      holder.join()
    }
  ),
  (
    "sleep-in-atomic",
    {
      withPreemptionDisabled { mightSleep() }
    }
  ),
  (
    "locks-held-at-exit",
    {
      let leaked = Checked.Mutex(name: "&leaked->lock")
      runOnThread { leaked.lock() }
    }
  ),
  (
    // The main thread ends the process holding a lock (no key destructor
    // runs for it): its exit is checked at `atexit`.
    "main-exits-holding",
    {
      MainExit.lock = Checked.Mutex(name: "&main-exit->lock")
      MainExit.lock.lock()
    }
  ),
  (
    "nested-lock-not-taken",
    {
      let outer = Checked.Mutex(name: "&outer->lock")
      let inner = Checked.Mutex(name: "&inner->lock")
      inner.lock(nestLock: outer)
      inner.unlock()
    }
  ),
  (
    "policy-off",
    {
      // Off: nothing validated, on any thread; back on: found again.
      let raw = Checked.RawSpinLock(name: "&off->raw")
      let zone = Checked.SpinLock(name: "&off->zone")
      raw.withLock { zone.withLock {} }  // validated first: found once
      LockValidation.policy = .off
      raw.withLock { zone.withLock {} }
      runOnThread { raw.withLock { Checked.Mutex(name: "&off->mutex").withLock {} } }
      LockValidation.policy = .collect
      raw.withLock { zone.withLock {} }  // counted again
    }
  ),
  (
    "program-collects",
    {
      // The program chooses to collect; RAWLOCKCHECK, when set, overrides.
      LockValidation.policy = .collect
      let raw = Checked.RawSpinLock(name: "&chosen->raw")
      let zone = Checked.SpinLock(name: "&chosen->zone")
      raw.withLock { zone.withLock {} }
    }
  ),
  (
    "signal-handler",
    {
      // A spinlock_t in a hard interrupt (a signal handler): found, with
      // the handler's stack, once the handler returned.
      let lock = Checked.SpinLock(name: "&handler->lock")
      installSignalHandler(SIGUSR1) { _ in lock.withLock {} }
      Checked.Mutex(name: "&handler->first").withLock {}
      unblock(SIGUSR1)
      raise(SIGUSR1)
    }
  ),
  (
    "signal-first-event",
    {
      // The process's first lock event is in a signal handler, on a thread
      // without validator state, through a lock first made there (a lazy
      // static): the handler is still a hard interrupt, so its spinlock_t
      // is an invalid wait context, and taking it later with interrupts
      // on is an inconsistent lock state.
      installSignalHandler(SIGUSR2) { _ in FirstEvent.lock.withLock {} }
      // Delivered here whatever mask the probe's parent passed on.
      var set = sigset_t()
      sigemptyset(&set)
      sigaddset(&set, SIGUSR2)
      pthread_sigmask(SIG_UNBLOCK, &set, nil)
      raise(SIGUSR2)
      FirstEvent.lock.withLock {}
    }
  ),
  (
    "signal-then-exit",
    {
      // The main thread's only lock event is in a signal handler, and the
      // process ends without another: the handler's events are validated
      // at exit (they were queued, and lost).
      let lock = Checked.Mutex(name: "&exit-signal->mutex")
      installSignalHandler(SIGUSR1) { _ in lock.withLock {} }
      unblock(SIGUSR1)
      raise(SIGUSR1)
      exit(0)
    }
  ),
  (
    "thread-signal-might-sleep",
    {
      // A might-sleep in a handler on a thread that has neither validator
      // state nor stack bounds yet: queued without a frame, it is
      // validated (a finding) and recorded without a stack, not with a
      // stack id the trace never declares.
      installSignalHandler(SIGUSR2) { _ in mightSleep() }
      runOnThread {
        unblock(SIGUSR2)
        raise(SIGUSR2)
        Checked.Mutex(name: "&signal-might-sleep->after").withLock {}
      }
    }
  ),
  (
    "record-stress",
    {
      // 8 threads, 12 classes in random but consistent orders, 2,000
      // rounds each: every event must reach the recorded trace.
      let locks = (0..<12).map { i in
        Checked.Mutex(name: "&stress->l\(i)", key: LockClassKey("&stress->l\(i)"))
      }
      let threads = (0..<8).map { t in
        SpawnedThread {
          var rng = SplitMix(seed: UInt64(t + 1))
          for _ in 0..<2000 {
            let first = Int(rng.next() % 6)
            let second = first + 1 + Int(rng.next() % 5)
            locks[first].lock()
            locks[second].lock()
            locks[second].unlock()
            locks[first].unlock()
          }
        }
      }
      for t in threads { t.join() }
    }
  ),
  (
    "cached-loop",
    {
      let outer = Checked.Mutex(name: "&loop->outer")
      for _ in 0..<200 {
        outer.lock()
        outer.unlock()
      }
    }
  ),
  (
    "limit-exceeded",
    {
      runOnThread {
        let locks = (0..<1100).map { i in
          Checked.Mutex(name: "&deep->lock\(i)", key: LockClassKey("&deep->lock\(i)"))
        }
        for l in locks { l.lock() }
        for l in locks.reversed() { l.unlock() }
      }
    }
  ),
  (
    // Clean: objects locked by one thread and freed by another after it
    // unlocked them, handed over through a queue the validator does not
    // see. No finding live; the recorded trace must not find one either.
    "handoff",
    {
      final class Object: @unchecked Sendable {
        let lock = Checked.Mutex(name: "&object->lock")
      }
      let queue = PThreadMutex<[Object]>([])
      let done = PThreadMutex(false)
      let producer = SpawnedThread {
        for _ in 0..<200_000 {
          let object = Object()
          object.lock.withLock {}
          queue.withLock { $0.append(object) }
        }
        done.withLock { $0 = true }
      }
      let consumer = SpawnedThread {
        while true {
          let taken = queue.withLock { q -> [Object] in
            defer { q.removeAll() }
            return q
          }
          if taken.isEmpty && done.withLock({ $0 }) && queue.withLock({ $0.isEmpty }) { break }
          _ = taken
        }
      }
      producer.join()
      consumer.join()
    }
  ),
  (
    // Clean: a thread per task, 3,000 of them, each taking a lock once.
    "thread-per-task",
    {
      let lock = Checked.Mutex(name: "&task->lock")
      for _ in 0..<3000 { runOnThread { lock.withLock {} } }
    }
  ),
  (
    // A dependency made first by a thread that then waits (its recording
    // unwritten), and taken again by this one often enough to fill its
    // buffer, before a cycle closes on it: the dependency's stack is the
    // first thread's, offline as live.
    "stacks-across-threads",
    {
      let a = Checked.Mutex(name: "&across->a")
      let b = Checked.Mutex(name: "&across->b")
      let started = PThreadMutex(false)
      let finish = PThreadMutex(false)
      let worker = SpawnedThread {
        a.withLock { b.withLock {} }
        started.withLock { $0 = true }
        while !finish.withLock({ $0 }) { usleep(100) }
      }
      while !started.withLock({ $0 }) { usleep(100) }
      for _ in 0..<20_000 { a.withLock { b.withLock {} } }
      b.withLock { a.withLock {} }
      finish.withLock { $0 = true }
      worker.join()
    }
  ),
  (
    // One half of an inversion across runs: a then b, the locks made in
    // that order. Its other half, "order-backward", makes them (and so
    // registers their classes) the other way round.
    "order-forward",
    {
      let a = Checked.Mutex(name: "&merge->a")
      let b = Checked.Mutex(name: "&merge->b")
      a.withLock { b.withLock {} }
    }
  ),
  (
    "order-backward",
    {
      let b = Checked.Mutex(name: "&merge->b")
      let a = Checked.Mutex(name: "&merge->a")
      b.withLock { a.withLock {} }
    }
  ),
  (
    // A finding, then a fault: the recorder flushes the trace, then the
    // action SIGSEGV had before it takes the fault (here the program's
    // handler, installed above; in most programs the Swift runtime's crash
    // report), not the default action the recorder used to put back.
    "crash-after-finding",
    {
      let raw = Checked.RawSpinLock(name: "&crash->raw")
      let zone = Checked.SpinLock(name: "&crash->zone")
      raw.withLock { zone.withLock {} }
      UnsafeMutablePointer<Int>(bitPattern: 8)!.pointee = 1
    }
  ),
  (
    // A run stopped with SIGTERM (a CI job's time limit) after 1,000
    // acquisitions, no finding among them: still buffered, they are
    // flushed before the signal ends the process.
    "stopped",
    {
      let lock = Checked.Mutex(name: "&stopped->lock")
      for _ in 0..<1000 { lock.withLock {} }
      // A test runner's threads block it, and a process it starts
      // inherits the mask.
      var unblock = sigset_t()
      sigemptyset(&unblock)
      sigaddset(&unblock, SIGTERM)
      pthread_sigmask(SIG_UNBLOCK, &unblock, nil)
      raise(SIGTERM)
    }
  ),
  (
    // A program that ends with `_exit()` (which runs no exit handler)
    // after 1,000 acquisitions, flushing its trace first.
    "flushed-then-exit",
    {
      let lock = Checked.Mutex(name: "&flushed->lock")
      for _ in 0..<1000 { lock.withLock {} }
      LockValidation.flushTrace()
      _exit(0)
    }
  ),
  (
    // Two classes of one name (made on two lines), nested: no finding.
    "same-name",
    {
      let outer = Checked.Mutex(name: "&twin->lock")
      let inner = Checked.Mutex(name: "&twin->lock")
      outer.withLock { inner.withLock {} }
    }
  ),
  (
    // A lock taken with an invalid subclass (and unlocked) in a signal
    // handler, sent every 50 µs while this thread validates new chains:
    // reported once the handler returned, never under the validator (it
    // deadlocked on the core's lock the interrupted thread held), and its
    // unlock left out with it (also before the thread had state).
    "signal-subclass",
    {
      let handlerLock = Checked.SpinLock(name: "&signal->nested")
      installSignalHandler(SIGUSR2) { _ in
        handlerLock.lock(subclass: 9)
        handlerLock.unlock()
      }
      // A test runner's threads block SIGUSR2, and a process it starts
      // inherits the mask.
      var unblock = sigset_t()
      sigemptyset(&unblock)
      sigaddset(&unblock, SIGUSR2)
      pthread_sigmask(SIG_UNBLOCK, &unblock, nil)
      let target = pthread_self()
      let stop = Atomic<Bool>(false)
      let sender = SpawnedThread {
        while !stop.load(ordering: .relaxed) {
          pthread_kill(target, SIGUSR2)
          usleep(50)
        }
      }
      final class Object: @unchecked Sendable { let lock = Checked.Mutex(name: "&signal->object") }
      for i in 0..<3000 {
        let a = Checked.Mutex(name: "&signal->a\(i % 50)", key: LockClassKey("&signal->a\(i % 50)"))
        let b = Checked.Mutex(name: "&signal->b\(i % 37)", key: LockClassKey("&signal->b\(i % 37)"))
        a.withLock { b.withLock { Object().lock.withLock {} } }
      }
      stop.store(true, ordering: .relaxed)
      sender.join()
      signal(SIGUSR2, SIG_IGN)
    }
  ),
  (
    // Eight threads make the same new chains at the same moment (a thread
    // pool starting one code path): each dependency's first event in the
    // trace is the one that made it, with its stack.
    "race-stacks",
    {
      let rounds = 100
      let pairs = (0..<rounds).map { i in
        (0..<8).map { _ in
          (
            Checked.Mutex(name: "&race->a\(i)", key: LockClassKey("&race->a\(i)")),
            Checked.Mutex(name: "&race->b\(i)", key: LockClassKey("&race->b\(i)"))
          )
        }
      }
      let go = Atomic<Int>(-1)
      let threads = (0..<8).map { t in
        SpawnedThread {
          for r in 0..<rounds {
            while go.load(ordering: .acquiring) < r {}
            pairs[r][t].0.withLock { pairs[r][t].1.withLock {} }
          }
        }
      }
      for r in 0..<rounds {
        go.store(r, ordering: .releasing)
        usleep(300)
      }
      for t in threads { t.join() }
    }
  ),
  (
    // A finding in a test's scope (one that shows its findings, as the
    // Swift Testing trait and `LockValidatedTestCase` do) and one in a
    // plain scope: `print` prints only the second.
    "scoped-findings",
    {
      let raw = Checked.RawSpinLock(name: "&shown->raw")
      let zone = Checked.SpinLock(name: "&shown->zone")
      LockValidationScope(endName: "the test").run { raw.withLock { zone.withLock {} } }
      let keptRaw = Checked.RawSpinLock(name: "&kept->raw")
      let keptZone = Checked.SpinLock(name: "&kept->zone")
      LockValidationScope().run { keptRaw.withLock { keptZone.withLock {} } }
    }
  ),
  (
    // A test's scope ends holding a lock (reported and forgotten), which
    // is released later on another thread (as a task resumed after an
    // `await` would): no bad unlock balance, live or in the trace.
    "forgotten-released-elsewhere",
    {
      let held = Checked.Mutex(name: "&forgotten->lock")
      LockValidationScope(endName: "the test").run { held.lock() }
      runOnThread { held.unlock() }
      held.withLock {}
    }
  ),
  (
    // Two places making locks of one name at once, on two threads, round
    // after round: the class registered second is `name#2`, live and in
    // the trace alike. The first place's two locks nest (recursive
    // locking), and each finding prints the class named in its report.
    "race-same-names",
    {
      let rounds = 100
      let go = Atomic<Int>(-1)
      let first = SpawnedThread {
        for r in 0..<rounds {
          while go.load(ordering: .acquiring) < r {}
          let a = Checked.SpinLock(
            name: "&dev\(r)->lock", fileID: "A.swift", line: 1, column: r + 1)
          let b = Checked.SpinLock(
            name: "&dev\(r)->lock", fileID: "A.swift", line: 1, column: r + 1)
          a.withLock { b.withLock {} }
        }
      }
      let second = SpawnedThread {
        for r in 0..<rounds {
          while go.load(ordering: .acquiring) < r {}
          let c = Checked.SpinLock(
            name: "&dev\(r)->lock", fileID: "B.swift", line: 2, column: r + 1)
          c.withLock {}
        }
      }
      for r in 0..<rounds {
        go.store(r, ordering: .releasing)
        usleep(200)
      }
      first.join()
      second.join()
      for finding in LockValidation.findings {
        let lines = LockValidation.describe(finding).split(separator: "\n")
        if let i = lines.firstIndex(where: { $0.hasSuffix(" is trying to acquire lock:") }) {
          print("named \(lines[i + 1].split(separator: "{")[0])")
        }
      }
    }
  ),
  (
    // A child forked before anything was validated (a daemon's first
    // fork): it validates and records on its own, in `name.<pid>.ext`,
    // and the parent keeps the trace's name (the child took it, or the
    // parent emptied the child's trace after it exited).
    "fork-first",
    {
      let child = fork()
      if child == 0 {
        let lock = Checked.Mutex(name: "&child->lock")
        for _ in 0..<10 { lock.withLock {} }
        exit(0)
      }
      var status: Int32 = 0
      waitpid(child, &status, 0)
      print("child \(child) \(status)")
      let lock = Checked.Mutex(name: "&parent->lock")
      for _ in 0..<1000 { lock.withLock {} }
    }
  ),
  (
    // A handler's first run in the process, on a thread the validator has
    // not seen: its events wait with their stacks, walked without the
    // thread's cached bounds (each frame copied through the kernel). The
    // run allocates nothing (`firstHandlerRun`), not even type metadata
    // the Swift runtime makes at a first use: a tuple's did, and a handler
    // that interrupted malloc on a new thread then waited forever for
    // malloc's lock (`signals-at-exit` hung about once in a hundred runs).
    "first-handler-allocates-nothing",
    { firstHandlerRun(onAKnownThread: false) }
  ),
  (
    // The same on a thread that took a lock before (its events validated
    // at once, its stack walked within its cached bounds).
    "first-handler-on-a-known-thread-allocates-nothing",
    { firstHandlerRun(onAKnownThread: true) }
  ),
  (
    // A handler taking a raw spin lock, sent to threads while they exit:
    // every handler run is validated and recorded (the probe prints how
    // many ran), whether it ran before the thread's validator ended or not.
    "signals-at-exit",
    {
      let irq = Checked.RawSpinLock(name: "&irq->lock")
      let handled = Atomic<Int>(0)
      let worked = Atomic<Int>(0)
      installSignalHandler(SIGUSR1) { _ in
        irq.withLock {}
        handled.add(1, ordering: .relaxed)
      }
      let work = Checked.Mutex(name: "&work->lock")
      for _ in 0..<200 {
        let started = Atomic<Bool>(false)
        let stop = Atomic<Bool>(false)
        let thread = SpawnedThread {
          var unblock = sigset_t()
          sigemptyset(&unblock)
          sigaddset(&unblock, SIGUSR1)
          pthread_sigmask(SIG_UNBLOCK, &unblock, nil)
          started.store(true, ordering: .releasing)
          while !stop.load(ordering: .acquiring) {
            work.withLock {}
            worked.add(1, ordering: .relaxed)
          }
        }
        while !started.load(ordering: .acquiring) {}
        // Signals while it works, then while it exits, until it is gone
        // (ESRCH).
        for n in 0..<2000 {
          if n == 10 { stop.store(true, ordering: .releasing) }
          if pthread_kill(thread.handle, SIGUSR1) != 0 { break }
        }
        thread.join()
      }
      print("handled \(handled.load(ordering: .relaxed)) worked \(worked.load(ordering: .relaxed))")
    }
  ),
  (
    // Two handlers, each taking a raw spin lock of its own, sent one
    // after the other to threads that take a mutex in task context: no
    // handler interrupts the other (each blocks the other's signal while
    // it runs), so nothing is found. Nested, they corrupted the queue of
    // handler events: false findings of every kind, now and then a crash.
    "nested-signals",
    {
      let a = Checked.RawSpinLock(name: "&nested->a")
      let b = Checked.RawSpinLock(name: "&nested->b")
      installSignalHandler(SIGUSR1) { _ in a.withLock {} }
      installSignalHandler(SIGUSR2) { _ in b.withLock {} }
      let stop = Atomic<Bool>(false)
      let started = Atomic<Int>(0)
      let threads = (0..<4).map { _ in
        SpawnedThread {
          var unblock = sigset_t()
          sigemptyset(&unblock)
          sigaddset(&unblock, SIGUSR1)
          sigaddset(&unblock, SIGUSR2)
          pthread_sigmask(SIG_UNBLOCK, &unblock, nil)
          let mine = Checked.Mutex(name: "&nested->mine")
          started.add(1, ordering: .releasing)
          while !stop.load(ordering: .acquiring) { mine.withLock {} }
        }
      }
      while started.load(ordering: .acquiring) < threads.count {}
      for _ in 0..<5000 {
        for thread in threads {
          pthread_kill(thread.handle, SIGUSR1)
          pthread_kill(thread.handle, SIGUSR2)
        }
      }
      stop.store(true, ordering: .releasing)
      for thread in threads { thread.join() }
    }
  ),
  (
    // A handler that takes a sleeping lock (an invalid wait context in a
    // hard interrupt) and returns holding another, run twice from one
    // call site on a thread that never captured a stack: first before
    // the thread took any lock (its events queued as orphans), then
    // after. One bug, one finding: both runs' stacks are the same.
    "orphan-signal-twice",
    {
      let sleeping = Checked.Mutex(name: "&orphan->sleeping")
      let other = Checked.Mutex(name: "&orphan->other")
      // And returns holding a raw spin lock (a lock held at the
      // interrupt's exit): one instance a run, of one class.
      let key = LockClassKey("&orphan->kept")
      let kept = (0..<2).map { _ in Checked.RawSpinLock(name: "&orphan->kept", key: key) }
      let runs = Atomic<Int>(0)
      installSignalHandler(SIGUSR1) { _ in
        sleeping.withLock {}
        kept[runs.add(1, ordering: .relaxed).oldValue].lock()
      }
      runOnThread {
        var unblock = sigset_t()
        sigemptyset(&unblock)
        sigaddset(&unblock, SIGUSR1)
        pthread_sigmask(SIG_UNBLOCK, &unblock, nil)
        for round in 0..<2 {
          if round == 1 { other.withLock {} }
          pthread_kill(pthread_self(), SIGUSR1)
        }
      }
    }
  ),
  (
    // Threads making the first locks of a class at once: the one that
    // registers the class declares it in the trace while the others
    // already take their locks of it (the trace must declare the class
    // before any of their events names it).
    "race-classes",
    {
      let rounds = 300
      let go = Atomic<Int>(-1)
      let threads = (0..<8).map { _ in
        SpawnedThread {
          for r in 0..<rounds {
            while go.load(ordering: .acquiring) < r {}
            let lock = Checked.Mutex(name: "&race->c\(r)", key: LockClassKey("&race->c\(r)"))
            lock.withLock {}
          }
        }
      }
      for r in 0..<rounds {
        go.store(r, ordering: .releasing)
        usleep(200)
      }
      for t in threads { t.join() }
    }
  ),
  (
    // A thread whose state is made again after its exit (a pthread key
    // destructor that runs after the validator's and takes a lock): the
    // trace declares it under a token of its own.
    "late-destructor",
    {
      let lock = Checked.Mutex(name: "&late->lock")
      lock.withLock {}
      LateDestructor.lock = lock
      let key = LateDestructor.makeKey()
      for _ in 0..<20 {
        runOnThread {
          pthread_setspecific(key, UnsafeRawPointer(bitPattern: 1))
          LateDestructor.lock.withLock {}
        }
      }
    }
  ),
  (
    // A hard-interrupt handler takes a raw spin lock that the code it
    // interrupted holds, taken with interrupts on: it spins for ever (the
    // probe hangs, and is killed by its test; `all` leaves it out). The
    // handler's events are validated once it has waited a while, and the
    // thread's recording written, before it spins on.
    "handler-deadlock",
    {
      let lock = Checked.RawSpinLock(name: "&deadlock->lock")
      HandlerTarget.take(lock)
      lock.lock()
      raise(SIGUSR1)
      lock.unlock()
    }
  ),
  (
    // First a handler interrupts the main thread while it waits for a lock
    // another thread holds (with interrupts off there), and takes that
    // lock: the handler finds it taken for more than 50 ms, and the main
    // thread's validator lists it (an acquisition is validated before it
    // waits), so its events are validated early; it then gets the lock
    // and returns. Then a real self-deadlock, on another lock: reported
    // too (before 2026-12-06 the first report used up the thread's one).
    // The probe hangs in the second, and is killed by its test.
    "handler-waits-then-deadlocks",
    {
      let first = Checked.RawSpinLock(name: "&waits->first")
      let second = Checked.RawSpinLock(name: "&waits->second")
      HandlerTarget.take(first)
      let main = pthread_self()
      let locked = Atomic<Bool>(false)
      let other = SpawnedThread {
        first.withLockIRQSave {
          locked.store(true, ordering: .releasing)
          usleep(20_000)
          pthread_kill(main, SIGUSR1)
          usleep(300_000)
        }
      }
      while !locked.load(ordering: .acquiring) { usleep(1000) }
      first.lock()
      first.unlock()
      other.join()
      HandlerTarget.take(second)
      second.lock()
      raise(SIGUSR1)
      second.unlock()
    }
  ),
  (
    // The main thread holds a raw spin lock and takes and releases
    // another in a loop; a handler sent from another thread takes the
    // first: a self-deadlock. Recorded, the handler most often interrupts
    // the validator itself (every event takes the full path), where
    // nothing can be validated: a line on standard error says so; else
    // the handler's events are validated. A line names the lock either
    // way. The probe hangs, and is killed by its test.
    "handler-deadlock-in-validator",
    {
      let outer = Checked.RawSpinLock(name: "&busy->outer")
      let inner = Checked.RawSpinLock(name: "&busy->inner")
      HandlerTarget.take(outer)
      let main = pthread_self()
      let go = Atomic<Bool>(false)
      let sender = SpawnedThread {
        while !go.load(ordering: .acquiring) { usleep(100) }
        usleep(30_000)
        pthread_kill(main, SIGUSR1)
      }
      outer.lock()
      go.store(true, ordering: .releasing)
      while true {
        inner.lock()
        inner.unlock()
      }
      outer.unlock()
      sender.join()
    }
  ),
  (
    // Two threads that name themselves before their first lock: the
    // state made then takes the system's name, which is the one given
    // (one `thread` line), or its first 15 bytes (the full name follows).
    "thread-names",
    {
      let lock = Checked.Mutex(name: "&named->lock")
      for name in ["worker", "a-long-worker-name"] {
        runOnThread {
          LockValidation.setThreadName(name)
          lock.withLock {}
        }
      }
    }
  ),
  (
    // `kmalloc(.atomic)` and `kfree` under a raw spin lock with the CPU's
    // object cache warm (an object freed to it first): the allocation
    // takes the cached object and the free puts it back, with the size
    // class's `&n->list_lock` untouched. Checked as for PREEMPT_RT
    // (`RAWLOCKCHECK_PREEMPT_RT`), each takes `&s->cpu_slab->lock`, a
    // sleeping lock there: an invalid wait context, as on that kernel;
    // without it, SLUB's fast path takes no lock, and nothing is found.
    "kmalloc-warm-under-raw-lock",
    {
      let slab = SlabAllocator(pages: PageAllocator(pages: 32, cpus: 1))
      let raw = Checked.RawSpinLock(name: "&warm->lock")
      slab.kfree(slab.kmalloc(32)!)
      let object = raw.withLock { slab.kmalloc(32, gfp: .atomic) }
      raw.withLock { slab.kfree(object!) }
      // `.noLocks` takes trylocks only, on PREEMPT_RT too: no finding.
      let tried = raw.withLock { slab.kmalloc(32, gfp: .noLocks) }
      slab.kfree(tried!)
    }
  ),
  (
    // Ten threads that each read under RCU and exit. The RCU layer removes
    // an exiting thread's reader record under `rcu_registry_lock`, before
    // the validator's exit check (a thread exit hook): each thread is one
    // thread of the trace, with one `exit` (after it, the lock was taken
    // on a new state: a second thread, `tid.2`, with an exit of its own).
    // The main thread takes a lock first, so that the validator's key
    // destructor is made before the RCU layer's, and runs first.
    "rcu-reader-exit",
    {
      let lock = Checked.Mutex(name: "&reader->lock")
      lock.withLock {}
      for _ in 0..<10 {
        runOnThread {
          lock.withLock {}
          rcuReadLock()
          rcuReadUnlock()
        }
      }
    }
  ),
  (
    // `fork()` without `exec`: the child shares the parent's trace file and
    // its unwritten buffers. The child takes the two locks the other way
    // round (a cycle, had its events reached the trace) and exits; the
    // parent's trace holds the parent's events only: 50 rounds of a -> b
    // before the fork and 50 after, each two acquisitions and releases.
    "fork",
    {
      let a = Checked.Mutex(name: "&fork->a")
      let b = Checked.Mutex(name: "&fork->b")
      for _ in 0..<50 { a.withLock { b.withLock {} } }
      let child = fork()
      if child == 0 {
        for _ in 0..<50 { b.withLock { a.withLock {} } }
        exit(0)
      }
      var status: Int32 = 0
      waitpid(child, &status, 0)
      for _ in 0..<50 { a.withLock { b.withLock {} } }
    }
  ),
  (
    // `fork()` while another thread makes lock classes and takes them: a
    // child inherits the validator's locks as that thread held them. Each
    // child takes two new locks and exits; none may wait forever (the
    // child validates nothing).
    "fork-while-busy",
    {
      let stop = Atomic<Bool>(false)
      let busy = SpawnedThread {
        var round = 0
        while !stop.load(ordering: .relaxed) {
          let m = Checked.Mutex(name: "&busy->lock\(round % 512)")
          let n = Checked.Mutex(name: "&busy->inner\(round % 512)")
          m.withLock { n.withLock {} }
          round += 1
        }
      }
      for i in 0..<40 {
        let child = fork()
        if child == 0 {
          let a = Checked.Mutex(name: "&child->a\(i)")
          let b = Checked.Mutex(name: "&child->b\(i)")
          a.withLock { b.withLock {} }
          exit(0)
        }
        var status: Int32 = 0
        waitpid(child, &status, 0)
      }
      stop.store(true, ordering: .relaxed)
      busy.join()
    }
  ),
  (
    // A thread that exits holding a lock while `main` returns: its
    // finding, printed by that thread (symbolized, which takes a while the
    // first time), must not be cut short by the process's exit.
    "leak-at-thread-exit-while-main-returns",
    {
      let lock = Checked.Mutex(name: "&leaker->lock")
      let took = Atomic<Bool>(false)
      _ = SpawnedThread {
        lock.lock()
        took.store(true, ordering: .releasing)
      }
      while !took.load(ordering: .acquiring) {}
      usleep(1000)
    }
  ),
  (
    // `fork()` while another thread makes the validator (its first lock):
    // a child forked while the validator was half made must not wait
    // forever for it (for Swift's lazy-initialization lock, or a lock of
    // the validator's, held by a thread the child did not inherit). Prints
    // `hung N`, children that had not exited after 10 s (killed), and
    // exits 1 when there were any.
    "fork-while-creating",
    {
      // Both locks are made first: the child must not be the first to
      // make one either (Swift's runtime makes a type's metadata under
      // a lock of its own, which the maker may hold at the fork).
      let made = Checked.Mutex(name: "&maker->lock")
      let childs = Checked.Mutex(name: "&child->lock")
      let go = Atomic<Bool>(false)
      let maker = SpawnedThread {
        while !go.load(ordering: .relaxed) {}
        made.withLock {}
      }
      var children: [pid_t] = []
      go.store(true, ordering: .relaxed)
      for _ in 0..<30 {
        let child = fork()
        if child == 0 {
          childs.withLock {}
          exit(0)
        }
        children.append(child)
      }
      maker.join()
      reportHungChildren(children)
    }
  ),
  (
    // `fork()` while another thread takes the process's first lock, which
    // makes the validator (a few milliseconds): forks every 100 µs from the
    // moment that thread starts, each child making and taking a lock of
    // its own. A child forked while the validator was half made must not
    // wait for it (Swift's lazy initialization of it, begun by a thread
    // the child did not inherit). Run with `RAWLOCKCHECK` set, so that
    // nothing before makes the validator. Prints `hung N`, children that
    // had not exited after 10 s (killed), and exits 1 when there were any.
    "fork-while-starting",
    {
      // The types' metadata is made here, not first in a child: a child
      // forked while another thread makes a type's metadata waits for the
      // Swift runtime's lock of it forever, with or without a validator.
      _ = ObjectIdentifier(Checked.Mutex.self)
      _ = ObjectIdentifier(pthread_mutex_t.self)
      let maker = SpawnedThread {
        let first = Checked.Mutex(name: "&first->lock")
        first.withLock {}
      }
      var children: [pid_t] = []
      for _ in 0..<60 {
        let child = fork()
        if child == 0 {
          let own = Checked.Mutex(name: "&child->lock")
          own.withLock {}
          _exit(0)
        }
        children.append(child)
        usleep(100)
      }
      maker.join()
      reportHungChildren(children)
    }
  ),
  (
    // More lock classes than the class table holds (lockdep's
    // MAX_LOCKDEP_KEYS): a key per lock, 1,048,576 of them, then one more
    // and an ABBA that is no longer checked. One limit-exceeded finding,
    // then nothing (validation off, as lockdep turns itself off); it
    // crashed the process before.
    "class-table-full",
    {
      var keep: [Checked.Mutex] = []
      keep.reserveCapacity(ClassRegistry.capacity + 1)
      for i in 0...ClassRegistry.capacity {
        keep.append(Checked.Mutex(name: "k", key: LockClassKey("k\(i)")))
      }
      // Choosing a policy again (as a test does) leaves validation off:
      // the locks made from here have no class.
      LockValidation.policy = .collect
      let a = Checked.Mutex(name: "&late->a")
      let b = Checked.Mutex(name: "&late->b")
      a.withLock { b.withLock {} }
      b.withLock { a.withLock {} }
      print("made \(keep.count + 2)")
    }
  ),
  (
    // Whether the RCU layer's read side uses membarrier():
    // `membarrier yes` or `membarrier no` (RAWLOCKCHECK_RCU_NO_MEMBARRIER).
    "rcu-membarrier",
    {
      withRCURead {}
      print("membarrier \(ReaderDiagnostics.usesMembarrier ? "yes" : "no")")
    }
  ),
  (
    // The trace's writes fail for a while (the file-size limit lowered,
    // SIGXFSZ ignored: EFBIG, as a full disk's ENOSPC), then have room
    // again (the limit put back): the recorder writes nothing after its
    // first failure, so that the trace reads as cut short there. It went
    // on writing before, after a gap that had lost classes' declarations,
    // and the trace could not be read past the gap (an independent
    // trial's, with a full disk freed again). Each phase makes new classes
    // (each a declaration written at once); the last ends with an invalid
    // wait context. Prints `trace-write-gap done`.
    "trace-write-gap",
    {
      signal(SIGXFSZ, SIG_IGN)
      var saved = rlimit()
      getrlimit(Int32(RLIMIT_FSIZE.rawValue), &saved)
      func makeClasses(_ phase: String, _ count: Int) {
        for i in 0..<count {
          let a = Checked.Mutex(
            name: "&gap_\(phase)_\(i)->a", key: LockClassKey("gap.\(phase).\(i).a"))
          let b = Checked.Mutex(
            name: "&gap_\(phase)_\(i)->b", key: LockClassKey("gap.\(phase).\(i).b"))
          a.lock()
          b.lock()
          b.unlock()
          a.unlock()
        }
      }
      makeClasses("before", 100)
      var small = saved
      small.rlim_cur = 1 << 16
      setrlimit(Int32(RLIMIT_FSIZE.rawValue), &small)
      makeClasses("failing", 2_000)
      setrlimit(Int32(RLIMIT_FSIZE.rawValue), &saved)
      makeClasses("after", 2_000)
      let raw = Checked.RawSpinLock(name: "&gap->raw")
      let mutex = Checked.Mutex(name: "&gap->mutex")
      raw.withLock { mutex.withLock {} }
      print("trace-write-gap done")
    }
  ),
  (
    // A program whose executable is deleted while it runs (a rebuild
    // replaced it) makes a finding: its report still names its own code,
    // read through `/proc/self/exe` (its frames were `name (deleted)+0x..`).
    // Runs only as a copy named `unlinked-copy-*`, which it deletes.
    "unlinked-executable",
    {
      let path = String(cString: realpath("/proc/self/exe", nil))
      guard path.contains("/unlinked-copy-") else {
        printToStandardError("LockdepProbe: unlinked-executable runs only as an unlinked-copy-*\n")
        exit(2)
      }
      unlink(path)
      let raw = Checked.RawSpinLock(name: "&unlinked->raw")
      let zone = Checked.SpinLock(name: "&unlinked->zone")
      raw.withLock { zone.withLock {} }
    }
  ),
  (
    // A SIGALRM handler installed with plain `signal()`, which the
    // validator does not know as a handler, takes a checked mutex of its
    // own a thousand times a second for a second while the thread it
    // interrupts takes locks (and makes and frees one) in a loop: its
    // events, validated inside the interrupted validator, corrupted the
    // held locks (false `bad-unlock-balance`) or waited for ever for the
    // recorder's lock the validator held (an independent trial's). Prints
    // `plain-signal-handler ran N`.
    "plain-signal-handler",
    {
      PlainHandler.lock = Checked.Mutex(name: "&plain_handler->lock")
      let outer = Checked.Mutex(name: "&plain_handler->outer")
      signal(SIGALRM) { _ in
        PlainHandler.lock?.lock()
        PlainHandler.lock?.unlock()
      }
      unblock(SIGALRM)
      var tick = itimerval(
        it_interval: timeval(tv_sec: 0, tv_usec: 1000), it_value: timeval(tv_sec: 0, tv_usec: 1000))
      setitimer(Int32(ITIMER_REAL.rawValue), &tick, nil)
      let start = time(nil)
      var loops = 0
      while time(nil) - start < 2 {
        outer.lock()
        let made = Checked.Mutex(name: "&plain_handler->made")
        made.lock()
        made.unlock()
        outer.unlock()
        loops += 1
      }
      var off = itimerval()
      setitimer(Int32(ITIMER_REAL.rawValue), &off, nil)
      signal(SIGALRM, SIG_IGN)
      print("plain-signal-handler ran \(loops)")
    }
  ),
  (
    // A dispatch worker thread that exits holding a lock, the process's
    // first finding: its report is symbolized in the thread's exit (a
    // thread-specific data destructor), where libdispatch's own state for
    // the thread is gone. The symbolizer's first use inflated DWARF with
    // `DispatchQueue.concurrentPerform` there: a crash (an independent
    // trial's). Waits for the worker's exit (libdispatch ends an idle one
    // after 5 s), 60 s at most; prints `exited after N s`.
    "dispatch-worker-exit",
    {
      let mutex = Checked.Mutex(name: "&worker->leaked")
      DispatchQueue.global().async { mutex.lock() }
      let start = time(nil)
      while !LockValidation.findings.contains(where: { $0.kind == .locksHeldAtExit })
        && time(nil) - start < 60
      {
        usleep(100_000)
      }
      print("exited after \(time(nil) - start) s")
    }
  ),
]

// `crash-after-finding`'s own SIGSEGV handler, installed before the
// validator (and its recorder) starts, as the Swift runtime installs its
// crash reporter before `main`: it says so and ends the process, status 0.
if CommandLine.arguments.contains("crash-after-finding") {
  var action = sigaction()
  action.__sigaction_handler.sa_handler = { _ in
    printToStandardError("LockdepProbe: the program's SIGSEGV handler ran\n")
    _exit(0)
  }
  sigaction(SIGSEGV, &action, nil)
}
// Findings are collected and listed at the end, unless RAWLOCKCHECK says
// otherwise (the policy tests run the probe with print, abort and off).
if getenv("RAWLOCKCHECK") == nil { LockValidation.policy = .collect }
var names = Array(CommandLine.arguments.dropFirst())
if names == ["all"] {
  // Those that hang, one that ends the process, one that waits for a
  // worker thread's exit, and one that prints a line of its own.
  let leftOut = [
    "handler-deadlock", "handler-waits-then-deadlocks", "handler-deadlock-in-validator",
    "flushed-then-exit", "dispatch-worker-exit", "rcu-membarrier", "plain-signal-handler",
    "trace-write-gap", "unlinked-executable",
  ]
  names = scenarios.map(\.0).filter { !leftOut.contains($0) }
}
for name in names {
  guard let scenario = scenarios.first(where: { $0.0 == name }) else {
    printToStandardError("LockdepProbe: unknown scenario \(name)\n")
    exit(2)
  }
  scenario.1()
}
for f in LockValidation.findings {
  print("finding \(f.kind.rawValue) \(f.count)")
}

/// Waits up to 10 s for `children` to exit, kills those that have not,
/// prints `hung N` (how many), and exits 1 when there were any.
func reportHungChildren(_ children: [pid_t]) {
  var hung = 0
  let deadline = time(nil) + 10
  for child in children {
    var status: Int32 = 0
    while waitpid(child, &status, WNOHANG) == 0 {
      if time(nil) > deadline {
        kill(child, SIGKILL)
        waitpid(child, &status, 0)
        hung += 1
        break
      }
      usleep(1000)
    }
  }
  print("hung \(hung)")
  if hung > 0 { exit(1) }
}

func printToStandardError(_ s: String) {
  _ = s.withCString { write(2, $0, strlen($0)) }
}

/// Unblocks `signal` on the calling thread: delivered whatever mask the
/// probe's parent passed on.
func unblock(_ signal: Int32) {
  var set = sigset_t()
  sigemptyset(&set)
  sigaddset(&set, signal)
  pthread_sigmask(SIG_UNBLOCK, &set, nil)
}

/// The lock SIGUSR1's handler takes in the scenarios whose handler
/// deadlocks (`handler-deadlock` and the two after it).
enum HandlerTarget {
  nonisolated(unsafe) static var lock: Checked.RawSpinLock?

  /// Makes `lock` the one the handler takes, installs the handler (a hard
  /// interrupt) and unblocks SIGUSR1 on the calling thread.
  static func take(_ lock: Checked.RawSpinLock) {
    self.lock = lock
    installSignalHandler(SIGUSR1) { _ in HandlerTarget.lock?.withLock {} }
    unblock(SIGUSR1)
  }
}

/// The lock `plain-signal-handler`'s handler takes.
enum PlainHandler {
  nonisolated(unsafe) static var lock: Checked.Mutex?
}

/// Holds the lock `freed-while-another-holds` frees.
final class FreedBox: @unchecked Sendable {
  var lock: Checked.SpinLock? = Checked.SpinLock(name: "&freed_elsewhere->lock")
}

/// The lock `signal-first-event` makes in a signal handler.
enum FirstEvent {
  static let lock = Checked.SpinLock(name: "&first->lock")
}

/// The lock `main-exits-holding` leaves held.
enum MainExit {
  nonisolated(unsafe) static var lock: Checked.Mutex! = nil
}

/// A pthread key whose destructor takes a validated lock
/// (`late-destructor`).
enum LateDestructor {
  nonisolated(unsafe) static var lock: Checked.Mutex! = nil
  static func makeKey() -> pthread_key_t {
    var key = pthread_key_t()
    pthread_key_create(&key) { _ in LateDestructor.lock.withLock {} }
    return key
  }
}
