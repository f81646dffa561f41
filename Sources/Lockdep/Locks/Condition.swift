import CLockdepSupport

#if canImport(Glibc)
  import Glibc
#endif

extension Checked {
  /// A condition variable (`pthread_cond_t`, `NSCondition`'s wait) to wait
  /// on with a `Checked.Mutex` held. Lockdep has none (the kernel waits on
  /// wait queues): a wait is validated as the kernel's sleeping wait with a
  /// mutex dropped around it, `mutex_unlock()`, `might_sleep()`,
  /// `schedule()`, `mutex_lock()`. So a wait with a spin lock held, with
  /// interrupts or preemption off, in a signal handler or on a real-time
  /// thread is a sleep in atomic context, and the mutex taken again under
  /// the locks still held is a dependency of each (a wait whose waker needs
  /// one of those is a lock-order cycle, found from a run that did not hang).
  public final class Condition: @unchecked Sendable {
    let condition = ConditionVariable()

    /// A condition variable.
    public init() {}

    /// Waits until woken (`pthread_cond_wait()`: spurious wake-ups too, so
    /// wait in a loop that checks the condition), with `mutex` held, which
    /// the wait releases and takes again; both are recorded at this call's
    /// site. Stops the program if the calling thread does not hold `mutex`
    /// (waiting without it is undefined behaviour).
    @inline(never)  // its return address is its call site
    public func wait(_ mutex: Checked.Mutex) {
      let ip = UInt64(UInt(bitPattern: rlc_return_address()))
      mutex.assertHeld()
      mutex.validateRelease(ip: ip)
      Checked.mightSleep(at: ip)
      condition.wait(mutex.mutex.mutex)
      mutex.validateAcquire(ip: ip)
    }

    /// `wait(_:)` for at most `timeout`: whether it was woken (or woke
    /// spuriously) before then. `mutex` is held again either way.
    @inline(never)  // its return address is its call site
    public func wait(_ mutex: Checked.Mutex, timeout: Duration) -> Bool {
      let ip = UInt64(UInt(bitPattern: rlc_return_address()))
      mutex.assertHeld()
      mutex.validateRelease(ip: ip)
      Checked.mightSleep(at: ip)
      let woken = condition.wait(mutex.mutex.mutex, timeout: timeout)
      mutex.validateAcquire(ip: ip)
      return woken
    }

    /// Wakes one waiter, if any (`pthread_cond_signal()`).
    public func signal() { condition.signal() }

    /// Wakes every waiter (`pthread_cond_broadcast()`).
    public func broadcast() { condition.broadcast() }
  }
}

extension Plain {
  /// `Checked.Condition` without validation: what `Condition` names in
  /// release builds.
  public final class Condition: @unchecked Sendable {
    @usableFromInline let condition = ConditionVariable()

    /// A condition variable.
    public init() {}

    /// Waits until woken, with `mutex` held (`pthread_cond_wait()`).
    @inlinable public func wait(_ mutex: Plain.Mutex) { condition.wait(mutex.mutex.mutex) }

    /// `wait(_:)` for at most `timeout`: whether it was woken before then.
    @inlinable public func wait(_ mutex: Plain.Mutex, timeout: Duration) -> Bool {
      condition.wait(mutex.mutex.mutex, timeout: timeout)
    }

    /// Wakes one waiter, if any.
    @inlinable public func signal() { condition.signal() }

    /// Wakes every waiter.
    @inlinable public func broadcast() { condition.broadcast() }
  }
}
