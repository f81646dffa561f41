import Basics
import CLockdepSupport
import LockGraph
import Symbolizer
import Synchronization

#if canImport(Glibc)
  import Glibc
#endif

/// Installs `handler` for `signal` (`sigaction`) so that it runs as a hard
/// interrupt handler: the validator checks what it does as lockdep checks
/// an interrupt handler (only raw spin locks, never a sleeping lock, and
/// irq-safety of the locks it takes against the code it interrupts).
///
/// The handler's lock events are queued, not validated in the handler (the
/// validator allocates, and the signal may have interrupted `malloc`), and
/// are validated, with the stacks they were taken from, before the
/// thread's next lock event. The handler always runs as a hard interrupt
/// (a `Checked` lock in it is validated in any build); without a running
/// validator that costs a counter. Returns false when `sigaction` fails.
@discardableResult
public func installSignalHandler(
  _ signal: Int32, threaded: Bool = false, _ handler: @escaping @Sendable (Int32) -> Void
) -> Bool {
  guard signal > 0 && signal < SignalHandlers.count else { return false }
  let box = Unmanaged.passRetained(
    SignalHandlers.Box(
      handler: handler, threaded: threaded, validated: true))
  let old = SignalHandlers.slots[Int(signal)].exchange(
    UInt(bitPattern: box.toOpaque()), ordering: .acquiringAndReleasing)
  if old != 0 {
    Unmanaged<SignalHandlers.Box>.fromOpaque(UnsafeRawPointer(bitPattern: old)!).release()
  }
  // Where validation is compiled in, the validator starts now, outside
  // any handler: a handler that runs first then has its events queued
  // from its start (not from a lock in it that would start the
  // validator, in the handler).
  if lockValidationIsCompiledIn {
    Live.start()
    // The installing thread (usually the main one, which signals sent to
    // the process often interrupt) gets its stack bounds now: a handler
    // that runs before it took a lock is then shown with its stack.
    StackCapture.prepareCallingThread()
  }
  var action = sigaction()
  action.__sigaction_handler.sa_handler = { signo in SignalHandlers.run(signo) }
  action.sa_flags = Int32(SA_RESTART)
  sigemptyset(&action.sa_mask)
  guard sigaction(signal, &action, nil) == 0 else { return false }
  SignalHandlers.installed.bitwiseOr(1 << UInt64(signal - 1), ordering: .releasing)
  return true
}

/// The handlers installed through `installSignalHandler`, by signal number.
enum SignalHandlers {
  static let count = 65

  final class Box: Sendable {
    let handler: @Sendable (Int32) -> Void
    let threaded: Bool
    /// The handler runs as a validated hard interrupt.
    let validated: Bool
    init(handler: @escaping @Sendable (Int32) -> Void, threaded: Bool, validated: Bool) {
      self.handler = handler
      self.threaded = threaded
      self.validated = validated
    }
  }

  /// Retained `Box` pointers (0: none), by signal number; read by the
  /// handler without a lock.
  static let slots = AtomicWords(count: count)

  /// The signals installed so far, bit `signal - 1` each: what
  /// `Checked.withInterruptsMasked` blocks.
  static let installed = Atomic<UInt64>(0)

  /// The trampoline every installed signal runs: a hard interrupt around
  /// the user's handler.
  static func run(_ signo: Int32) {
    let raw = slots[Int(signo)].load(ordering: .acquiring)
    guard raw != 0 else { return }
    let box = Unmanaged<Box>.fromOpaque(UnsafeRawPointer(bitPattern: raw)!).takeUnretainedValue()
    guard box.validated else {
      box.handler(signo)
      return
    }
    let saved = errno
    Live.signalHandler(entering: true)
    if rlc_lockdep_signal_depth() == 1 && rlc_lockdep_thread() == nil {
      OrphanEvents.noteRunStart(threaded: box.threaded)
    }
    Live.event(.hardirqEnter, threaded: box.threaded)
    box.handler(signo)
    Live.event(.hardirqExit)
    if rlc_lockdep_signal_depth() == 1 { Live.endHandlerRun() }
    Live.signalHandler(entering: false)
    errno = saved
  }
}
