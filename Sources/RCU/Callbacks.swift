import CLockdepSupport
import CRCUSupport
import Lockdep
import Synchronization

#if canImport(Glibc)
  import Glibc
#endif

/// `call_rcu()`: runs `callback` after a grace period, on the RCU callback
/// thread. Never sleeps and takes only a raw spin lock, with interrupts
/// masked (`Checked.withInterruptsMasked`, as `__call_rcu()` does
/// `local_irq_save()`), so it may be called from any context: a read-side
/// section, under a raw spin lock, in a hard interrupt (a signal handler
/// installed with `installSignalHandler`). It allocates nothing while
/// fewer callbacks wait than the queue has room for (4,096 at first; the
/// callback thread makes more room, never a caller, after a batch that
/// filled more than half of it): a signal handler may interrupt `malloc`.
/// (A closure that captures state is allocated where it is made, by the
/// caller: in a signal handler, pass one that captures nothing, or state
/// allocated before.) The process's first `callRCU` (or `rcuBarrier()`)
/// starts the callback thread, which allocates: one in a handler
/// installed with `installSignalHandler` stops the program with a message
/// rather than risk a deadlock in `malloc`; make one at start-up.
///
/// Callbacks run in the order they were queued, as the kernel's do, in
/// softirq context (`rcu_do_batch()` runs them in the RCU softirq): a
/// callback must not sleep, and a lock it takes is used in softirq context
/// (`Checked.withSoftIRQ`). Checked as for PREEMPT_RT, they run with
/// bottom halves disabled instead, as that kernel's rcuc threads run them.
public func callRCU(_ callback: @escaping @Sendable () -> Void) {
  if _slowPath(!CallbackQueue.isStarted.load(ordering: .acquiring)) {
    precondition(
      rlc_lockdep_signal_depth() == 0,
      "the process's first callRCU ran in a signal handler: it starts the RCU callback "
        + "thread, which allocates; call rcuBarrier() once before installing the handler")
  }
  CallbackQueue.shared.enqueue(callback)
}

/// `rcu_barrier()`: waits until every callback queued by `callRCU` before
/// this call has run. May sleep (`mightSleep()`); must not be called inside
/// a read-side section (it would wait for itself) or from a callback
/// (likewise: both stop the program with a message).
public func rcuBarrier() {
  // First, as inside a read-side section: a callback runs as a softirq,
  // where it must not sleep (the finding is reported before the stop).
  Checked.mightSleep()
  precondition(
    !CallbackQueue.shared.isCallbackThread,
    "rcuBarrier() in an RCU callback never returns: it waits for the batch that runs it")
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
/// after the other, so callbacks run in queue order. `pending` always has
/// capacity: the thread swaps in its emptied `spare` for the batch, never
/// an array without storage, so `enqueue` only allocates past it.
final class CallbackQueue: @unchecked Sendable {
  static let shared = CallbackQueue()

  /// Whether `shared` was made (its thread started): a handler may queue.
  static let isStarted = Atomic<Bool>(false)

  /// The room of each of the two buffers at first.
  static let initialCapacity = 4096

  /// `rcu_callback_lock`: raw, so `callRCU` works from any context.
  private let lock = Checked.RawSpinLock(
    name: "rcu_callback_lock", key: LockClassKey("rcu_callback_lock"))
  /// A queued callback. In a struct of its own, the closure is stored as
  /// it is: an array of bare closures would hold each behind a
  /// reabstraction thunk, allocated at every `append`.
  private struct Callback {
    let run: @Sendable () -> Void
  }

  /// Queued callbacks (guarded by `lock`).
  private var pending: [Callback] = []
  /// The callback thread's empty buffer, swapped for `pending` (under
  /// `lock`) when it takes a batch; touched by that thread only.
  private var spare: [Callback] = []
  private let wake = Semaphore()
  /// The callback thread (`pthread_self()`), 0 until it runs.
  private let runner = Atomic<UInt>(0)

  private init() {
    pending.reserveCapacity(Self.initialCapacity)
    spare.reserveCapacity(Self.initialCapacity)
    KernelThread(name: "rcu_callbacks") { [self] in run() }.detach()
    Self.isStarted.store(true, ordering: .releasing)
  }

  /// Runs `body` where the kernel runs RCU callbacks: in the RCU softirq,
  /// or, on PREEMPT_RT (which has no RCU softirq, `use_softirq` being off),
  /// in the rcuc kthread with bottom halves disabled, where lockdep marks
  /// no softirq usage.
  private static func inCallbackContext(_ body: () -> Void) {
    if LockValidation.checksAsPreemptRT {
      Checked.withBottomHalvesDisabled(body)
    } else {
      Checked.withSoftIRQ(body)
    }
  }

  /// Whether the calling thread is the one that runs callbacks.
  var isCallbackThread: Bool {
    runner.load(ordering: .relaxed) == UInt(pthread_self())
  }

  func enqueue(_ callback: @escaping @Sendable () -> Void) {
    let wasEmpty = Checked.withInterruptsMasked {
      lock.lock()
      defer { lock.unlock() }
      let wasEmpty = pending.isEmpty
      pending.append(Callback(run: callback))
      return wasEmpty
    }
    if wasEmpty { wake.post() }
  }

  private func run() {
    runner.store(UInt(pthread_self()), ordering: .relaxed)
    while true {
      wake.wait()
      var batch: [Callback] = []
      swap(&batch, &spare)
      Checked.withInterruptsMasked {
        lock.lock()
        defer { lock.unlock() }
        swap(&batch, &pending)
      }
      if !batch.isEmpty {
        synchronizeRCU()
        Self.inCallbackContext {
          for callback in batch { callback.run() }
        }
      }
      // More room, here and not in a caller, once a batch came near it.
      let used = batch.count
      batch.removeAll(keepingCapacity: true)
      if used * 2 > batch.capacity { batch.reserveCapacity(batch.capacity * 2) }
      spare = batch
    }
  }
}
