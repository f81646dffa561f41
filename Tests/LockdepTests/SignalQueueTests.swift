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
/// fast path opens again once that has been reported.
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
    #expect(!shut, "the gate's deferred-events byte was cleared")
    #expect(slow == 0, "the chain seen before took the fast path")
  }
}
