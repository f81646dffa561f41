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
  /// nothing and makes no system call (inlined: two calls and a load). A
  /// handler installed while `body` runs is not blocked until the next call.
  @inlinable
  public static func withInterruptsMasked<R, E: Error>(_ body: () throws(E) -> R) throws(E) -> R {
    guard _fastPath(InterruptMask.noHandlerInstalled) else {
      return try InterruptMask.withSignalsBlocked(body)
    }
    InterruptMask.disable()
    defer { InterruptMask.enable() }
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

  /// The validator's `local_irq_disable()`.
  @usableFromInline
  static func disable() { Live.event(.irqDisable) }

  /// The validator's `local_irq_enable()`.
  @usableFromInline
  static func enable() { Live.event(.irqEnable) }

  /// `body` with the installed handlers' signals blocked and, when
  /// `validated`, interrupts off for the validator.
  @usableFromInline
  static func withSignalsBlocked<R, E: Error>(validated: Bool = true, _ body: () throws(E) -> R)
    throws(E) -> R
  {
    let installed = SignalHandlers.installed.load(ordering: .acquiring)
    var blocked = sigset_t()
    sigemptyset(&blocked)
    for bit in 0..<64 where installed & (1 << UInt64(bit)) != 0 {
      sigaddset(&blocked, Int32(bit + 1))
    }
    var saved = sigset_t()
    pthread_sigmask(SIG_BLOCK, &blocked, &saved)
    defer { pthread_sigmask(SIG_SETMASK, &saved, nil) }
    guard validated else { return try body() }
    return try Checked.withIRQsDisabled(body)
  }
}
