#if canImport(Glibc)
  import Glibc
#endif

extension Checked {
  /// Runs `body` with interrupts disabled as user space has them
  /// (`local_irq_save()` ... `local_irq_restore()`): the signals whose
  /// handlers were installed with `installSignalHandler` (the program's hard
  /// interrupts) are blocked on this thread while `body` runs, so that none
  /// of them can interrupt it and spin on a lock it holds, and the validator
  /// sees interrupts off (`withIRQsDisabled`), so the raw spin locks taken
  /// in `body` count as irq-safe. With no such handler installed it blocks
  /// nothing and makes no system call (inlined: three calls, its call site
  /// and the two events, and a load). A
  /// handler installed while `body` runs is not blocked until the next call.
  @inlinable
  public static func withInterruptsMasked<R, E: Error>(_ body: () throws(E) -> R) throws(E) -> R {
    try withInterruptsMasked(at: callSite(), body)
  }

  /// `withInterruptsMasked(_:)` from call site `ip` (which reports print
  /// as where interrupts were last turned off or on).
  @inlinable
  static func withInterruptsMasked<R, E: Error>(at ip: UInt64, _ body: () throws(E) -> R)
    throws(E) -> R
  {
    guard _fastPath(InterruptMask.noHandlerInstalled) else {
      return try InterruptMask.withSignalsBlocked(ip: ip, body)
    }
    InterruptMask.disable(at: ip)
    defer { InterruptMask.enable(at: ip) }
    return try body()
  }
}

extension Plain {
  /// Runs `body` with the signals whose handlers were installed with
  /// `installSignalHandler` blocked on this thread, as
  /// `Checked.withInterruptsMasked` does, but tells no validator: what
  /// `withInterruptsMasked` is where validation is not compiled in. With no
  /// such handler installed it blocks nothing and makes no system call.
  @inlinable
  public static func withInterruptsMasked<R, E: Error>(_ body: () throws(E) -> R) throws(E) -> R {
    guard _fastPath(InterruptMask.noHandlerInstalled) else {
      return try InterruptMask.withSignalsBlocked(validated: false, body)
    }
    return try body()
  }
}

/// The parts of `Checked.withInterruptsMasked` and
/// `Plain.withInterruptsMasked` their inlined bodies call.
@usableFromInline
enum InterruptMask {
  /// Whether no handler was installed through `installSignalHandler`.
  @usableFromInline
  static var noHandlerInstalled: Bool {
    SignalHandlers.installed.load(ordering: .acquiring) == 0
  }

  /// The validator's `local_irq_disable()`, at `ip`.
  @usableFromInline
  static func disable(at ip: UInt64) { Live.event(.irqDisable, ip: ip) }

  /// The validator's `local_irq_enable()`, at `ip`.
  @usableFromInline
  static func enable(at ip: UInt64) { Live.event(.irqEnable, ip: ip) }

  /// `body` with the installed handlers' signals blocked and, when
  /// `validated`, interrupts off for the validator.
  @usableFromInline
  static func withSignalsBlocked<R, E: Error>(
    validated: Bool = true, ip: UInt64 = 0, _ body: () throws(E) -> R
  ) throws(E) -> R {
    var blocked = SignalHandlers.signalSet(SignalHandlers.installed.load(ordering: .acquiring))
    var saved = sigset_t()
    pthread_sigmask(SIG_BLOCK, &blocked, &saved)
    defer { pthread_sigmask(SIG_SETMASK, &saved, nil) }
    guard validated else { return try body() }
    return try Checked.within(.irqDisable, .irqEnable, ip: ip, body)
  }
}
