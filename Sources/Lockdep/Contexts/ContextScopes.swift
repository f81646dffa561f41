// The context markers a program uses. In debug builds, and in any build
// with the package trait `Validation`, each is the validated marker of
// `Checked` (`CheckedContexts.swift`); otherwise it runs the body and
// nothing else, and calls no validator code.

#if DEBUG || Validation
  /// Runs `body` as a hard interrupt handler (a signal handler, a callback
  /// that must not block). `threaded`: a handler PREEMPT_RT would run in a
  /// thread (`hardirq_threaded`), whose limit is `config` instead of `spin`.
  @inlinable
  public func withHardIRQ<R, E: Error>(threaded: Bool = false, _ body: () throws(E) -> R)
    throws(E) -> R
  {
    #if DEBUG
      try Checked.within(
        .hardirqEnter, .hardirqExit, threaded: threaded, ip: Checked.callSite(), body)
    #else
      try Checked.withHardIRQ(threaded: threaded, body)
    #endif
  }

  /// Runs `body` as a softirq (bottom half): deferred work that must not sleep.
  @inlinable
  public func withSoftIRQ<R, E: Error>(_ body: () throws(E) -> R) throws(E) -> R {
    #if DEBUG
      try Checked.within(.softirqEnter, .softirqExit, ip: Checked.callSite(), body)
    #else
      try Checked.withSoftIRQ(body)
    #endif
  }

  /// Runs `body` as an NMI: only wait-free primitives and trylocks are allowed.
  @inlinable
  public func withNMI<R, E: Error>(_ body: () throws(E) -> R) throws(E) -> R {
    #if DEBUG
      try Checked.within(.nmiEnter, .nmiExit, ip: Checked.callSite(), body)
    #else
      try Checked.withNMI(body)
    #endif
  }

  /// Runs `body` with interrupts disabled (`local_irq_save()`): nothing may
  /// sleep, and locks taken are irq-safe.
  @inlinable
  public func withIRQsDisabled<R, E: Error>(_ body: () throws(E) -> R) throws(E) -> R {
    #if DEBUG
      try Checked.within(.irqDisable, .irqEnable, ip: Checked.callSite(), body)
    #else
      try Checked.withIRQsDisabled(body)
    #endif
  }

  /// Runs `body` with interrupts disabled as user space has them
  /// (`local_irq_save()`): the signals whose handlers `installSignalHandler`
  /// installed are blocked on this thread, and the validator sees
  /// interrupts off (`Checked.withInterruptsMasked`; where validation is
  /// not compiled in, `Plain.withInterruptsMasked`, which only blocks them).
  @inlinable
  public func withInterruptsMasked<R, E: Error>(_ body: () throws(E) -> R) throws(E) -> R {
    #if DEBUG
      try Checked.withInterruptsMasked(at: Checked.callSite(), body)
    #else
      try Checked.withInterruptsMasked(body)
    #endif
  }

  /// Runs `body` with bottom halves disabled (`local_bh_disable()`).
  @inlinable
  public func withBottomHalvesDisabled<R, E: Error>(_ body: () throws(E) -> R) throws(E) -> R {
    #if DEBUG
      try Checked.within(.bhDisable, .bhEnable, ip: Checked.callSite(), body)
    #else
      try Checked.withBottomHalvesDisabled(body)
    #endif
  }

  /// Runs `body` with preemption disabled (`preempt_disable()`): nothing may sleep.
  @inlinable
  public func withPreemptionDisabled<R, E: Error>(_ body: () throws(E) -> R) throws(E) -> R {
    #if DEBUG
      try Checked.within(.preemptDisable, .preemptEnable, ip: Checked.callSite(), body)
    #else
      try Checked.withPreemptionDisabled(body)
    #endif
  }

  /// Marks a call that may sleep (`might_sleep()`): a finding when the caller
  /// is atomic (a spin lock held, interrupts or preemption off, an interrupt
  /// context, a real-time thread).
  @inlinable
  public func mightSleep() { Checked.mightSleep(at: Checked.callSite()) }

  /// Checks an acquisition of `lock` here without taking it (`might_lock()`):
  /// the dependency and wait-context checks run as if it were taken.
  @inlinable
  public func mightLock(_ lock: ValidatedLock, read: Bool = false) {
    Checked.mightLock(lock, read: read, at: Checked.callSite())
  }

  /// `mightLock(_:read:)` of any lock type, so that code generic over
  /// `KernelLock` builds with validation as without; a lock that is not
  /// validated is not checked.
  @inlinable
  public func mightLock(_ lock: some KernelLock, read: Bool = false) {
    if let validated = lock as? ValidatedLock {
      Checked.mightLock(validated, read: read, at: Checked.callSite())
    }
  }

  /// Does nothing: a map that is not validated (a release build's
  /// `LockdepMap`) is not checked; this overload lets such code build in
  /// every build.
  @inlinable @inline(__always)
  public func mightLock(_ map: Plain.LockdepMap, read: Bool = false) {}
#else
  /// Runs `body` (a hard interrupt handler, when validation is compiled in).
  @inlinable @inline(__always)
  public func withHardIRQ<R, E: Error>(threaded: Bool = false, _ body: () throws(E) -> R)
    throws(E) -> R
  { try body() }

  /// Runs `body` (a softirq, when validation is compiled in).
  @inlinable @inline(__always)
  public func withSoftIRQ<R, E: Error>(_ body: () throws(E) -> R) throws(E) -> R {
    try body()
  }

  /// Runs `body` (an NMI, when validation is compiled in).
  @inlinable @inline(__always)
  public func withNMI<R, E: Error>(_ body: () throws(E) -> R) throws(E) -> R { try body() }

  /// Runs `body` (with interrupts disabled, when validation is compiled in).
  @inlinable @inline(__always)
  public func withIRQsDisabled<R, E: Error>(_ body: () throws(E) -> R) throws(E) -> R {
    try body()
  }

  /// Runs `body` with the signals whose handlers `installSignalHandler`
  /// installed blocked on this thread (`Plain.withInterruptsMasked`; the
  /// validator sees interrupts off too when validation is compiled in).
  @inlinable @inline(__always)
  public func withInterruptsMasked<R, E: Error>(_ body: () throws(E) -> R) throws(E) -> R {
    try Plain.withInterruptsMasked(body)
  }

  /// Runs `body` (with bottom halves disabled, when validation is compiled in).
  @inlinable @inline(__always)
  public func withBottomHalvesDisabled<R, E: Error>(_ body: () throws(E) -> R) throws(E) -> R {
    try body()
  }

  /// Runs `body` (with preemption disabled, when validation is compiled in).
  @inlinable @inline(__always)
  public func withPreemptionDisabled<R, E: Error>(_ body: () throws(E) -> R) throws(E) -> R {
    try body()
  }

  /// Does nothing (`might_sleep()`, when validation is compiled in).
  @inlinable @inline(__always)
  public func mightSleep() {}

  /// Does nothing (`might_lock()`, when validation is compiled in).
  @inlinable @inline(__always)
  public func mightLock(_ lock: some KernelLock, read: Bool = false) {}

  /// Does nothing (`might_lock()` of a map, when validation is compiled in).
  @inlinable @inline(__always)
  public func mightLock(_ map: Plain.LockdepMap, read: Bool = false) {}

  /// Does nothing (`might_lock()` of a validated map or lock, a debug
  /// build's `LockdepMap`, when validation is compiled in).
  @inlinable @inline(__always)
  public func mightLock(_ lock: ValidatedLock, read: Bool = false) {}
#endif
