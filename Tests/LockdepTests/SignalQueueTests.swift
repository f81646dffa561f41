import Basics
import CLockdepSupport
import LockGraph
import Synchronization
import Testing

@testable import Lockdep

#if canImport(Glibc)
  import Glibc
#endif

/// The queue of a signal handler's events and the fast path's gate: a
/// handler run too long for the queue is dropped whole, and the thread's
/// fast path opens again once that has been reported; runs that repeat the
/// one before take no room, and are validated as many times as they ran.
@Suite struct SignalQueueTests {
  /// Handlers that ran, nested, on a thread without state before the
  /// validator existed (a lock in the inner one started it): the outer's
  /// `hardirq-enter` went by unqueued, the inner's is queued. The outer's
  /// is made up first, so each exit has its enter and the run starts with
  /// it.
  @Test func anEnterThatWentByUnqueuedIsMadeUpOutermostFirst() {
    final class Verbs: Sendable { let seen = Mutex<[LockEvent.Verb]>([]) }
    let verbs = Verbs()
    SpawnedThread {
      rlc_lockdep_enter_signal()  // the outer handler: its enter went by
      OrphanEvents.noteRunStart(threaded: true)
      rlc_lockdep_enter_signal()  // the inner one
      OrphanEvents.queue(LockEvent(.hardirqEnter, thread: Live.orphanThread))
      OrphanEvents.queue(LockEvent(.mightSleep, thread: Live.orphanThread))
      OrphanEvents.queue(LockEvent(.hardirqExit, thread: Live.orphanThread))
      rlc_lockdep_leave_signal()
      OrphanEvents.queue(LockEvent(.hardirqExit, thread: Live.orphanThread))
      OrphanEvents.endRun()
      rlc_lockdep_leave_signal()
      OrphanEvents.withQueue { queue in
        let events = (0..<queue.count).map { queue.entry($0).event }
        verbs.seen.withLock { $0 = events.map(\.verb) }
        #expect(events.first?.threaded == true)
        queue.clear()
      }
    }.join()
    #expect(
      verbs.seen.withLock { $0 }
        == [.hardirqEnter, .hardirqEnter, .mightSleep, .hardirqExit, .hardirqExit])
  }

  @Test func aDroppedHandlerRunDoesNotLeaveTheFastPathShut() {
    LockValidation.policy = .collect
    let inHandler = Checked.RawSpinLock(name: "&queue->handler")
    let task = Checked.RawSpinLock(name: "&queue->task")
    // 80 events: more than the queue's 64, so the run is dropped whole and
    // the queue is left empty.
    installSignalHandler(SIGPWR) { _ in
      for _ in 0..<40 { inHandler.withLock {} }
    }
    let seen = Mutex<(queued: Int, dropped: Int, shut: Bool, slow: Int64)>((-1, -1, true, -1))
    let scope = LockValidationScope()
    runOnAThread(unblocking: SIGPWR) {
      scope.run {
        for _ in 0..<3 { task.withLock {} }
        _ = raise(SIGPWR)
        task.withLock {}
        let thread = Unmanaged<LiveThread>.fromOpaque(rlc_lockdep_thread()!)
          .takeUnretainedValue()
        // Counted only by the full path: the fast path counts nothing.
        let before = thread.validator.statistics.acquisitions
        for _ in 0..<100 { task.withLock {} }
        let slow = thread.validator.statistics.acquisitions - before
        seen.withLock {
          $0 = (
            thread.deferred.count, thread.deferred.dropped, thread.gate.eventsDeferred, slow
          )
        }
      }
    }
    let (queued, dropped, shut, slow) = seen.withLock { $0 }
    #expect(queued == 0)
    #expect(dropped == 0, "the dropped run was reported")
    // As a `limit-exceeded` finding, which a test and an exit status see
    // (it was a line on standard error alone).
    let limits = scope.findings.compactMap { o -> String? in
      guard case .limitExceeded(let limit, let max, let consequence) = o.finding.detail else {
        return nil
      }
      return "\(limit) \(max) \(consequence)"
    }
    #expect(
      limits == [
        "MAX_HANDLER_EVENTS 64 1 signal handler run(s) not validated: more than 64 events "
          + "queued since the thread's last lock event"
      ], "\(limits)")
    #expect(!shut, "the gate's deferred-events byte was cleared")
    #expect(slow == 0, "the chain seen before took the fast path")
  }
  /// A handler run too long for the queue of a thread that never took a
  /// lock (`OrphanEvents`, 4 KiB) is dropped whole and said to be, as on a
  /// thread with state: the queue it left empty hid it, and the run was
  /// lost without a word.
  @Test func aDroppedRunOfAThreadWithoutStateIsReported() {
    LockValidation.policy = .collect
    let inHandler = Checked.RawSpinLock(name: "&orphan->handler")
    let task = Checked.RawSpinLock(name: "&orphan->task")
    installSignalHandler(SIGSTKFLT) { _ in
      for _ in 0..<40 { inHandler.withLock {} }
    }
    runOnAThread(unblocking: SIGSTKFLT) {
      _ = raise(SIGSTKFLT)  // the thread's first lock events: in the handler
      task.withLock {}
    }
    // A `limit-exceeded` finding (no scope: one would give the thread its
    // state before the signal).
    let said = LiveValidator.shared.findings.filter {
      guard case .limitExceeded(let limit, let max, let consequence) = $0.detail else {
        return false
      }
      return limit == "MAX_HANDLER_EVENTS" && max == 17
        && consequence.hasSuffix("queued before the thread's first lock event")
    }
    #expect(said.count == 1, "\(LiveValidator.shared.findings.map(\.detail))")
  }

  /// A run of a handler that takes `lock` (enter, acquire, release, exit).
  static func run(_ lock: ClassID, ip: UInt64 = 0x1000) -> [LockEvent] {
    let t = Live.orphanThread
    return [
      LockEvent(.hardirqEnter, thread: t),
      LockEvent(.acquire, thread: t, lockClass: lock, origin: Origin(ip: ip)),
      LockEvent(.release, thread: t, lockClass: lock, origin: Origin(ip: ip + 8)),
      LockEvent(.hardirqExit, thread: t),
    ]
  }

  /// Queues `runs` as handler runs, one after another.
  static func queue(_ runs: [[LockEvent]], capacity: Int) -> DeferredEvents {
    var queue = DeferredEvents(capacity: capacity)
    for run in runs {
      for (i, event) in run.enumerated() { queue.append(event, startsRun: i == 0) }
      queue.endRun()
    }
    return queue
  }

  /// What replay validates: each event's verb and class, in order.
  static func replayed(_ queue: DeferredEvents) -> [String] {
    var seen: [String] = []
    queue.forEachEvent { event, _ in seen.append("\(event.verb) \(event.lockClass.raw)") }
    return seen
  }

  @Test func runsThatRepeatTheOneBeforeTakeNoRoom() {
    // 100 runs of 4 events in a queue of 16: one stored, replayed 100 times.
    let a = Self.run(ClassID(1))
    let queue = Self.queue(Array(repeating: a, count: 100), capacity: 16)
    defer { queue.deallocate() }
    #expect(queue.count == 4)
    #expect(queue.dropped == 0)
    let expected = Array(repeating: a.map { "\($0.verb) \($0.lockClass.raw)" }, count: 100)
    #expect(Self.replayed(queue) == expected.flatMap { $0 })
  }

  @Test func aRunThatDiffersIsStoredWholeInOrder() {
    let a = Self.run(ClassID(1))
    // Differs from `a` after its first event (a prefix the queue did not
    // store), then from the same code at another address.
    let b = Self.run(ClassID(2))
    let c = Self.run(ClassID(1), ip: 0x2000)
    // A strict prefix of the run before: not a repeat of it.
    let d = Array(c.prefix(1))
    let runs = [a, a, a, b, b, c, d, d, a]
    let queue = Self.queue(runs, capacity: 64)
    defer { queue.deallocate() }
    #expect(queue.count == 4 + 4 + 4 + 1 + 4)
    #expect(queue.dropped == 0)
    #expect(Self.replayed(queue) == runs.flatMap { $0.map { "\($0.verb) \($0.lockClass.raw)" } })
    // The stored copy of a repeated prefix keeps the first run's stack.
    #expect(queue.entry(4).stack.count == queue.entry(0).stack.count)
  }

  /// Events stored outside a run (a handler that interrupts another
  /// between its end of run and its return starts none) follow the newest
  /// run: a run that repeats that one is stored, not counted on it, which
  /// would replay it before them (found by a review).
  @Test func aRepeatAfterEventsOutsideARunKeepsItsPlace() {
    let a = Self.run(ClassID(1))
    let b = Self.run(ClassID(2))
    var queue = DeferredEvents(capacity: 64)
    defer { queue.deallocate() }
    for (i, event) in a.enumerated() { queue.append(event, startsRun: i == 0) }
    queue.endRun()
    for event in b { queue.append(event, startsRun: false) }
    for (i, event) in a.enumerated() { queue.append(event, startsRun: i == 0) }
    queue.endRun()
    #expect(Self.replayed(queue) == (a + b + a).map { "\($0.verb) \($0.lockClass.raw)" })
  }

  /// Events outside a run that do not fit are dropped, not the runs
  /// queued before them (the whole queue was emptied).
  @Test func eventsOutsideARunThatDoNotFitLeaveTheRunsBefore() {
    let a = Self.run(ClassID(1))
    var queue = DeferredEvents(capacity: 8)
    defer { queue.deallocate() }
    for (i, event) in a.enumerated() { queue.append(event, startsRun: i == 0) }
    queue.endRun()
    for _ in 0..<2 {
      for event in Self.run(ClassID(2)) { queue.append(event, startsRun: false) }
    }
    queue.endRun()
    #expect(queue.dropped == 1)
    #expect(Self.replayed(queue) == a.map { "\($0.verb) \($0.lockClass.raw)" })
  }

  @Test func aRunThatDoesNotFitIsStillDroppedWhole() {
    // The third run differs: with the two events before it that repeat the
    // second's, it needs 4 more slots where 2 are left.
    let a = Self.run(ClassID(1))
    let b = Self.run(ClassID(2))
    let queue = Self.queue([a, Array(b.prefix(2)), b], capacity: 6)
    defer { queue.deallocate() }
    #expect(queue.dropped == 1)
    #expect(
      Self.replayed(queue)
        == (a + b.prefix(2)).map { "\($0.verb) \($0.lockClass.raw)" })
  }

  /// A handler that ran many times between two lock events of its thread,
  /// the same way each time but the last: the last run's finding is
  /// reported (the queue held 64 events, 16 runs of this handler), and
  /// nothing is reported as dropped.
  @Test(arguments: [true, false])
  func theLastOfManyHandlerRunsIsValidated(threadHasState: Bool) {
    LockValidation.policy = .collect
    let signal = threadHasState ? SIGXFSZ : SIGTTIN
    let raw = Checked.RawSpinLock(name: "&many->raw")
    let mutex = Checked.Mutex(name: "&many->mutex")
    let runs = Atomic<Int>(0)
    installSignalHandler(signal) { _ in
      // A mutex in a hard interrupt, on the 30th run only.
      if runs.add(1, ordering: .relaxed).newValue == 30 {
        mutex.withLock {}
      } else {
        raw.withLock {}
      }
    }
    let scope = LockValidationScope()
    let left = Mutex<(count: Int, dropped: Int)>((-1, -1))
    runOnAThread(unblocking: signal) {
      scope.run {
        if threadHasState { Checked.Mutex(name: "&many->first").withLock {} }
        for _ in 0..<30 { _ = raise(signal) }
      }
      if let raw = rlc_lockdep_thread() {
        let thread = Unmanaged<LiveThread>.fromOpaque(raw).takeUnretainedValue()
        left.withLock { $0 = (thread.deferred.count, thread.deferred.dropped) }
      }
    }
    #expect(runs.load(ordering: .relaxed) == 30)
    #expect(scope.findings.map(\.finding.kind) == [.sleepInAtomic, .invalidWaitContext])
    #expect(left.withLock { $0 } == (0, 0))
  }
}
