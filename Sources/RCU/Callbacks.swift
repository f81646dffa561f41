import CRCUSupport
import Lockdep

/// `call_rcu()`: runs `callback` after a grace period, on the RCU callback
/// thread. Never sleeps and takes only a raw spin lock, with interrupts
/// masked (`Checked.withInterruptsMasked`, as `__call_rcu()` does
/// `local_irq_save()`), so it may be called from any context: a read-side
/// section, under a raw spin lock, in a hard interrupt (a signal handler
/// installed with `installSignalHandler`).
/// Callbacks run in the order they were queued.
public func callRCU(_ callback: @escaping @Sendable () -> Void) {
  CallbackQueue.shared.enqueue(callback)
}

/// `rcu_barrier()`: waits until every callback queued by `callRCU` before
/// this call has run. May sleep (`mightSleep()`); must not be called inside
/// a read-side section (it would wait for itself) or from a callback.
public func rcuBarrier() {
  Checked.mightSleep()
  precondition(!rcuReadLockHeld(), "rcuBarrier() inside an RCU read-side section never returns")
  let done = Semaphore()
  callRCU { done.post() }
  done.wait()
}

/// The callbacks waiting for a grace period, and the thread that runs them.
///
/// Invariants: `pending` is touched only with `lock` held, and `lock` is
/// only taken with interrupts masked (it is irq-safe); `wake` is posted
/// each time `pending` goes from empty to non-empty, so the thread never
/// sleeps while callbacks wait; the thread takes the whole of `pending` as
/// one batch, waits one grace period (which began after every callback of
/// the batch was queued), then runs the batch in order; batches run one
/// after the other, so callbacks run in queue order.
final class CallbackQueue: @unchecked Sendable {
  static let shared = CallbackQueue()

  /// `rcu_callback_lock`: raw, so `callRCU` works from any context.
  private let lock = Checked.RawSpinLock(
    name: "rcu_callback_lock", key: LockClassKey("rcu_callback_lock"))
  /// Queued callbacks (guarded by `lock`).
  private var pending: [@Sendable () -> Void] = []
  private let wake = Semaphore()

  private init() {
    pending.reserveCapacity(256)
    KernelThread(name: "rcu_callbacks") { [self] in run() }.detach()
  }

  func enqueue(_ callback: @escaping @Sendable () -> Void) {
    let wasEmpty = Checked.withInterruptsMasked {
      lock.lock()
      defer { lock.unlock() }
      let wasEmpty = pending.isEmpty
      pending.append(callback)
      return wasEmpty
    }
    if wasEmpty { wake.post() }
  }

  private func run() {
    while true {
      wake.wait()
      let batch = Checked.withInterruptsMasked {
        lock.lock()
        defer { lock.unlock() }
        let batch = pending
        pending = []
        return batch
      }
      guard !batch.isEmpty else { continue }
      synchronizeRCU()
      for callback in batch { callback() }
    }
  }
}
