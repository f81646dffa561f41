import Allocator
import Basics
import CAllocationCounter
import LockGraph
import Lockdep
import RCU
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// Where RCU callbacks run and what queueing one costs, as the kernel has
/// them: `rcu_do_batch()` runs callbacks in softirq context (the RCU
/// softirq, or an rcuo kthread with bottom halves disabled), and
/// `call_rcu()` links the caller's `rcu_head` in, allocating nothing, so
/// that it is callable from a hard interrupt.
@Suite(.serialized)
struct CallbackContextTests {
  init() { LockValidation.policy = .collect }

  /// The findings of `kind` added since `count` findings were known,
  /// described, on any thread (callbacks run outside every scope), that
  /// name `text` (the process's findings: other suites run meanwhile).
  private func findings(of kind: FindingKind, after count: Int, naming text: String) -> [String] {
    LockValidation.findings.dropFirst(count).filter { $0.kind == kind }
      .map(LockValidation.describe).filter { $0.contains(text) }
  }

  /// A callback that may sleep is a sleep in atomic context (softirq), as
  /// `might_sleep()` in an RCU callback is in the kernel.
  @Test func aCallbackThatMaySleepIsASleepInAtomicContext() {
    let before = LockValidation.findings.count
    callRCU { Checked.mightSleep() }
    rcuBarrier()
    let found = findings(of: .sleepInAtomic, after: before, naming: "rcu_callbacks")
    #expect(found.count == 1, "\(found)")
  }

  /// A spinlock_t taken in task context with bottom halves enabled and in
  /// a callback is `{SOFTIRQ-ON-W} -> {IN-SOFTIRQ-W}`: the callback may
  /// interrupt its holder on that CPU.
  @Test func aLockTakenInACallbackIsUsedInSoftIRQ() {
    let lock = Checked.SpinLock(name: "&callback_test->lock")
    let before = LockValidation.findings.count
    lock.withLock {}
    callRCU { lock.withLock {} }
    rcuBarrier()
    let found = findings(of: .inconsistentLockState, after: before, naming: "&callback_test->lock")
    #expect(found.count == 1, "\(found)")
    #expect(found.first?.contains("{SOFTIRQ-ON-W} -> {IN-SOFTIRQ-W}") == true, "\(found)")
  }

  /// The README's use, `kfree` after a grace period in a callback, stays
  /// clean: SLUB takes `n->list_lock` with interrupts off (as the zone
  /// lock is), so a callback's frees (more than a CPU cache holds, which
  /// go back to the slab) and task context's allocations do not conflict.
  @Test func kfreeInCallbacksAndKmallocInTaskContextAreClean() {
    let pages = PageAllocator(pages: 256, cpus: 1)
    let slab = SlabAllocator(pages: pages)
    let before = LockValidation.findings.count
    for _ in 0..<3 {
      var objects: [UInt] = []
      for _ in 0..<300 { objects.append(UInt(bitPattern: slab.kmalloc(64)!)) }
      for object in objects {
        callRCU { slab.kfree(UnsafeMutableRawPointer(bitPattern: object)!) }
      }
      rcuBarrier()
    }
    #expect(slab.objectsInUse == 0)
    let found =
      findings(of: .inconsistentLockState, after: before, naming: "&n->list_lock")
      + findings(of: .irqLockInversion, after: before, naming: "&n->list_lock")
    #expect(found.isEmpty, "\(found)")
  }

  /// Once the queue has room, `callRCU` allocates nothing: a signal
  /// handler may call it while the thread it interrupted is inside
  /// `malloc`. (The queue used to drop its buffer after each batch, so the
  /// next callbacks grew a new one, under the raw lock, in the handler.)
  @Test(.enabled(if: rlc_allocation_counting() != 0, "allocations are counted"))
  func queueingACallbackAllocatesNothing() {
    // Warm: the thread's validator, the lock's chain, a batch run.
    callRCU {}
    rcuBarrier()
    // Three tries: a test running at once (`callRCUStress`) may fill the
    // process's queue, and this thread's call then grows it, once (the
    // grown buffer is kept). A queue that grew anew at each batch, the
    // bug, allocates on every try.
    var allocations: [Int] = []
    for _ in 0..<3 {
      let start = rlc_thread_allocations()
      for _ in 0..<1000 { callRCU {} }
      allocations.append(Int(rlc_thread_allocations() - start))
      rcuBarrier()
      if allocations.last == 0 { break }
    }
    #expect(allocations.last == 0, "\(allocations) allocations in 1,000 callRCU calls, per try")
  }

  /// `rcuBarrier()` in a callback would wait for its own batch forever:
  /// it stops the program with a message instead of hanging it.
  @Test func rcuBarrierInACallbackStopsTheProgram() async {
    await #expect(processExitsWith: .failure) {
      callRCU { rcuBarrier() }
      rcuBarrier()
    }
  }

  /// A callback runs as a softirq, where nothing may sleep: `rcuBarrier()`
  /// there reports its sleep check before it stops the program, as inside
  /// a read-side section (before 2026-12-07 it stopped first, and the
  /// finding was never printed: an independent trial's).
  @Test func rcuBarrierInACallbackIsASleepInAtomicContextFirst() async {
    await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
      LockValidation.policy = .print
      callRCU { rcuBarrier() }
      rcuBarrier()
    }
    .map {
      expectStandardError(of: $0, contains: "BUG: sleeping function called from invalid context")
      expectStandardError(of: $0, contains: "rcuBarrier() in an RCU callback never returns")
    }
  }

  /// `KvfreeRCU.barrier()` inside a read-side section waits for a grace
  /// period that section holds open: it stops the program with a message,
  /// as `rcuBarrier()` does there, instead of hanging it.
  @Test func kvfreeBarrierInAReadSectionStopsWithAMessage() async {
    await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
      LockValidation.policy = .collect
      let pages = PageAllocator(pages: 64, cpus: 1)
      let kv = KvfreeRCU(
        slab: SlabAllocator(pages: pages), pages: pages, design: .nolock, cpus: 1,
        drainDelayMicroseconds: 0)
      withRCURead { kv.barrier() }
    }
    .map {
      expectStandardError(
        of: $0, contains: "KvfreeRCU.barrier() inside an RCU read-side section never returns")
    }
  }

  /// The process's first `callRCU` starts the callback thread, which
  /// allocates: in a signal handler it stops the program with a message
  /// instead of risking a deadlock inside the `malloc` it interrupted.
  @Test func aProcessesFirstCallRCUInASignalHandlerStopsWithAMessage() async {
    await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
      installSignalHandler(SIGUSR2) { _ in callRCU {} }
      raiseUnblocked(SIGUSR2)
    }
    .map {
      expectStandardError(of: $0, contains: "the process's first callRCU ran in a signal handler")
    }
    // Started first, it is callable there.
    await #expect(processExitsWith: .success) {
      rcuBarrier()
      installSignalHandler(SIGUSR2) { _ in callRCU {} }
      raiseUnblocked(SIGUSR2)
      rcuBarrier()
    }
  }
}

/// The read side in signal handlers: a thread registers there without
/// allocating (the registry's list runs through the threads' records), so
/// a handler that interrupted `malloc` does not deadlock; only the
/// process's first section, which sets the registry up, must come before.
struct ReadSideInHandlerTests {
  @Test func aProcessesFirstReadSectionInASignalHandlerStopsWithAMessage() async {
    await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
      installSignalHandler(SIGUSR2) { _ in withRCURead {} }
      raiseUnblocked(SIGUSR2)
    }
    .map {
      expectStandardError(
        of: $0, contains: "the process's first RCU read-side section ran in a signal handler")
    }
  }

  /// What a handler's section may run, its slow path, allocates nothing:
  /// a thread's first section (it registers: more threads than the list
  /// once had room for) and the policy's re-read every 64 sections (it
  /// made `ValidationPolicy.allCases`, an array, in a debug build). Either
  /// deadlocked a handler that interrupted `malloc`.
  @Test func aSectionsSlowPathAllocatesNothing() async {
    await #expect(processExitsWith: .success) {
      LockValidation.policy = .off
      withRCURead {}
      guard rlc_allocation_counting() == 1 else { return }
      let threads = (0..<100).map { _ in
        SpawnedThread {
          let before = rlc_thread_allocations()
          for _ in 0..<200 { withRCURead {} }
          precondition(rlc_thread_allocations() == before, "a read section allocated")
        }
      }
      for thread in threads { thread.join() }
    }
  }

  /// Threads that register in a handler (their first section there) and
  /// exit, many of them: each is in the registry while it lives (a grace
  /// period waits for its section) and out of it after (a grace period
  /// after they are gone returns).
  @Test func threadsRegisteringInAHandlerAreListedAndRemoved() async {
    await #expect(processExitsWith: .success) {
      withRCURead {}
      installSignalHandler(SIGUSR2) { _ in withRCURead {} }
      for _ in 0..<4 {
        let threads = (0..<50).map { _ in SpawnedThread { raiseUnblocked(SIGUSR2) } }
        for thread in threads { thread.join() }
        synchronizeRCU()
      }
    }
  }
}

/// Raises `signal` on this thread with it unblocked (test threads may
/// block it), so that its handler runs before this returns.
func raiseUnblocked(_ signal: Int32) {
  var set = sigset_t()
  sigemptyset(&set)
  sigaddset(&set, signal)
  pthread_sigmask(SIG_UNBLOCK, &set, nil)
  _ = raise(signal)
}

/// Expects the standard error of an exit test's process to contain `text`
/// (with all of it in the failure message).
func expectStandardError(
  of result: ExitTest.Result, contains text: String,
  sourceLocation: SourceLocation = #_sourceLocation
) {
  let said = String(decoding: result.standardErrorContent, as: UTF8.self)
  #expect(said.contains(text), "\(said)", sourceLocation: sourceLocation)
}
