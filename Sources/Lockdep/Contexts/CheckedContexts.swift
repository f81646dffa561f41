import LockGraph

// What user space has in place of the kernel's execution contexts, as
// scopes: each enters a context, runs the body, and leaves it however the
// body ends, so contexts always nest and balance. These are the validated
// forms, whatever the build; the free functions of the same names
// (`ContextScopes.swift`) are these in debug builds and do nothing else.

extension Checked {

  /// Runs `body` as a hard interrupt handler (a signal handler, a callback
  /// that must not block). `threaded`: a handler PREEMPT_RT would run in a
  /// thread (`hardirq_threaded`), whose limit is `config` instead of `spin`.
  public static func withHardIRQ<R, E: Error>(threaded: Bool = false, _ body: () throws(E) -> R)
    throws(E)
    -> R
  {
    try within(.hardirqEnter, .hardirqExit, threaded: threaded, body)
  }

  /// Runs `body` as a softirq (bottom half): deferred work that must not sleep.
  public static func withSoftIRQ<R, E: Error>(_ body: () throws(E) -> R) throws(E) -> R {
    try within(.softirqEnter, .softirqExit, body)
  }

  /// Runs `body` as an NMI: only wait-free primitives and trylocks are allowed.
  public static func withNMI<R, E: Error>(_ body: () throws(E) -> R) throws(E) -> R {
    try within(.nmiEnter, .nmiExit, body)
  }

  /// Runs `body` with interrupts disabled (`local_irq_save()`): locks taken
  /// here are irq-safe, and nothing may sleep.
  public static func withIRQsDisabled<R, E: Error>(_ body: () throws(E) -> R) throws(E) -> R {
    try within(.irqDisable, .irqEnable, body)
  }

  /// Runs `body` with bottom halves disabled (`local_bh_disable()`).
  public static func withBottomHalvesDisabled<R, E: Error>(_ body: () throws(E) -> R) throws(E) -> R
  {
    try within(.bhDisable, .bhEnable, body)
  }

  /// Runs `body` with preemption disabled (`preempt_disable()`): nothing may sleep.
  public static func withPreemptionDisabled<R, E: Error>(_ body: () throws(E) -> R) throws(E) -> R {
    try within(.preemptDisable, .preemptEnable, body)
  }

  /// Runs `body` between the events that enter (`enter`) and leave
  /// (`exit`) a context, however it ends.
  @inline(__always)
  static func within<R, E: Error>(
    _ enter: LockEvent.Verb, _ exit: LockEvent.Verb, threaded: Bool = false,
    _ body: () throws(E) -> R
  ) throws(E) -> R {
    Live.event(enter, threaded: threaded)
    defer { Live.event(exit) }
    return try body()
  }

  /// Marks a call that may sleep (`might_sleep()`): a finding when the caller
  /// is atomic (a spin lock held, interrupts or preemption off, an interrupt
  /// context, a real-time thread).
  public static func mightSleep() {
    Live.event(.mightSleep)
  }

  /// Checks an acquisition of `lock` here without taking it (`might_lock()`):
  /// the dependency and wait-context checks run as if it were taken.
  public static func mightLock(_ lock: ValidatedLock, read: Bool = false) {
    Live.mightLock(lock.lockClass, read: read ? .shared : .exclusive)
  }
}
