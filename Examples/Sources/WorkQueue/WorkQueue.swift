import Lockdep

/// A kernel-style work queue: work items are queued under a spin lock from
/// any context, and run by `flush()`, which serializes flushers with a
/// mutex. In debug builds every lock operation is validated.
public final class WorkQueue: @unchecked Sendable {
  /// Protects `pending`; taken from interrupt-like contexts too, so it is
  /// a raw spin lock.
  private let lock = RawSpinLock(name: "&wq->lock")
  /// Serializes flushes (may sleep).
  private let flushMutex = Mutex(name: "&wq->flush_mutex")
  private var pending: [@Sendable () -> Void] = []
  /// How many work items have run.
  public let completed = Protected(0, by: RawSpinLock(name: "&wq->completed_lock"))

  /// An empty queue.
  public init() {}

  /// Queues `work`; never sleeps, so it may be called with spin locks held
  /// or from a signal handler.
  public func queue(_ work: @escaping @Sendable () -> Void) {
    lock.withLock { pending.append(work) }
  }

  /// Runs every queued item; may sleep.
  public func flush() {
    mightSleep()
    flushMutex.withLock {
      let items = lock.withLock { () -> [@Sendable () -> Void] in
        let taken = pending
        pending = []
        return taken
      }
      for item in items {
        item()
        completed.withLock { $0 += 1 }
      }
    }
  }

  /// The bug this example can show: flushing while holding the queue's
  /// raw spin lock takes a sleeping mutex where nothing may sleep.
  public func flushWhileHoldingTheQueueLock() {
    lock.withLock { flushMutex.withLock {} }
  }
}
