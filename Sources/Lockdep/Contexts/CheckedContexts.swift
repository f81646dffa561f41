import CLockdepSupport
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
  @inline(never)  // its return address is its call site
  public static func withHardIRQ<R, E: Error>(threaded: Bool = false, _ body: () throws(E) -> R)
    throws(E)
    -> R
  {
    let callSite = UInt64(UInt(bitPattern: rlc_return_address()))
    return try within(.hardirqEnter, .hardirqExit, threaded: threaded, ip: callSite, body)
  }

  /// Runs `body` as a softirq (bottom half): deferred work that must not sleep.
  @inline(never)  // its return address is its call site
  public static func withSoftIRQ<R, E: Error>(_ body: () throws(E) -> R) throws(E) -> R {
    let callSite = UInt64(UInt(bitPattern: rlc_return_address()))
    return try within(.softirqEnter, .softirqExit, ip: callSite, body)
  }

  /// Runs `body` as an NMI: only wait-free primitives and trylocks are allowed.
  @inline(never)  // its return address is its call site
  public static func withNMI<R, E: Error>(_ body: () throws(E) -> R) throws(E) -> R {
    let callSite = UInt64(UInt(bitPattern: rlc_return_address()))
    return try within(.nmiEnter, .nmiExit, ip: callSite, body)
  }

  /// Runs `body` with interrupts disabled (`local_irq_save()`): locks taken
  /// here are irq-safe, and nothing may sleep.
  @inline(never)  // its return address is its call site
  public static func withIRQsDisabled<R, E: Error>(_ body: () throws(E) -> R) throws(E) -> R {
    let callSite = UInt64(UInt(bitPattern: rlc_return_address()))
    return try within(.irqDisable, .irqEnable, ip: callSite, body)
  }

  /// Runs `body` with bottom halves disabled (`local_bh_disable()`).
  @inline(never)  // its return address is its call site
  public static func withBottomHalvesDisabled<R, E: Error>(_ body: () throws(E) -> R) throws(E) -> R
  {
    let callSite = UInt64(UInt(bitPattern: rlc_return_address()))
    return try within(.bhDisable, .bhEnable, ip: callSite, body)
  }

  /// Runs `body` with preemption disabled (`preempt_disable()`): nothing may sleep.
  @inline(never)  // its return address is its call site
  public static func withPreemptionDisabled<R, E: Error>(_ body: () throws(E) -> R) throws(E) -> R {
    let callSite = UInt64(UInt(bitPattern: rlc_return_address()))
    return try within(.preemptDisable, .preemptEnable, ip: callSite, body)
  }

  /// The call site of the function that calls this, for a context scope
  /// that is not a frame of its own in every build: in a debug build, where
  /// nothing is inlined, the return address of this one's caller (a free
  /// function's, or `withInterruptsMasked`'s: its call site); in an
  /// optimized one, where an `@inlinable` scope is inlined into its
  /// caller, this call's own return address, a place in that caller.
  @usableFromInline @inline(never)
  static func callSite() -> UInt64 {
    #if DEBUG
      UInt64(UInt(bitPattern: rlc_return_address_of_caller()))
    #else
      UInt64(UInt(bitPattern: rlc_return_address()))
    #endif
  }

  /// Runs `body` between the events that enter (`enter`) and leave
  /// (`exit`) a context, however it ends, both from `ip`: the call site of
  /// the scope (each public scope reads its own return address, which a
  /// report prints as where interrupts were last turned off or on; a
  /// debug build's free function of the same name, a frame of its own,
  /// reads and passes its own).
  @usableFromInline
  static func within<R, E: Error>(
    _ enter: LockEvent.Verb, _ exit: LockEvent.Verb, threaded: Bool = false, ip: UInt64,
    _ body: () throws(E) -> R
  ) throws(E) -> R {
    Live.event(enter, threaded: threaded, ip: ip)
    defer { Live.event(exit, ip: ip) }
    return try body()
  }

  /// Marks a call that may sleep (`might_sleep()`): a finding when the caller
  /// is atomic (a spin lock held, interrupts or preemption off, an interrupt
  /// context, a real-time thread).
  @inline(never)  // its return address is its call site
  public static func mightSleep() {
    mightSleep(at: UInt64(UInt(bitPattern: rlc_return_address())))
  }

  /// `mightSleep()` at call site `ip` (a free function's, `callSite()`):
  /// the place a trace records, and a signal handler's event keeps where
  /// no stack can be taken.
  @usableFromInline
  static func mightSleep(at ip: UInt64) {
    Live.event(.mightSleep, ip: ip)
  }

  /// Checks an acquisition of `lock` here without taking it (`might_lock()`):
  /// the dependency and wait-context checks run as if it were taken.
  @inline(never)  // its return address is its call site
  public static func mightLock(_ lock: ValidatedLock, read: Bool = false) {
    mightLock(lock, read: read, at: UInt64(UInt(bitPattern: rlc_return_address())))
  }

  /// `mightLock(_:read:)` at call site `ip`.
  @usableFromInline
  static func mightLock(_ lock: ValidatedLock, read: Bool, at ip: UInt64) {
    Live.mightLock(lock.lockClass, read: read ? .shared : .exclusive, ip: ip)
  }
}
