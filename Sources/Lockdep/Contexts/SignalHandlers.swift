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
  return SignalHandlers.install(signal)
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

  /// Serializes installations: each sets every installed signal's mask.
  private static let installing = PThreadMutex(())

  /// The trampoline as `sigaction` takes it: one function, so that a
  /// signal whose handler it still is can be told from one the program
  /// set since.
  private static let trampoline: @convention(c) (Int32) -> Void = { signo in run(signo) }

  /// Installs the trampoline for `signal`, with every signal installed
  /// through here blocked while any of them runs, and adds `signal` to
  /// the masks of those installed before (whose handler is still the
  /// trampoline; their own flags and masks kept): one handler never
  /// interrupts another, as a hard interrupt's handler runs with
  /// interrupts off in the kernel. (Nested, a handler could interrupt
  /// another in the middle of queueing an event (`DeferredEvents.append`),
  /// which is not reentrant: false findings of every kind, a crash, and a
  /// trace no reader could read.) The signal is marked installed first,
  /// and its own handler set last, so that no handler of it runs before
  /// the others block it. A program that sets such a signal's action
  /// itself meanwhile may have it replaced (`sigaction` has no
  /// compare-and-swap).
  static func install(_ signal: Int32) -> Bool {
    return installing.withLock { _ in
      let bit = UInt64(1) << UInt64(signal - 1)
      let before = installed.load(ordering: .acquiring)
      installed.bitwiseOr(bit, ordering: .releasing)
      for other in Int32(1)..<Int32(count) where before & (1 << UInt64(other - 1)) != 0 {
        var current = sigaction()
        guard other != signal, sigaction(other, nil, &current) == 0,
          unsafeBitCast(current.__sigaction_handler.sa_handler, to: UInt.self)
            == unsafeBitCast(trampoline, to: UInt.self)
        else { continue }
        sigaddset(&current.sa_mask, signal)
        sigaction(other, &current, nil)
      }
      var action = sigaction()
      action.__sigaction_handler.sa_handler = trampoline
      action.sa_flags = Int32(SA_RESTART)
      action.sa_mask = signalSet(before | bit)
      guard sigaction(signal, &action, nil) == 0 else {
        if before & bit == 0 { installed.bitwiseAnd(~bit, ordering: .releasing) }
        return false
      }
      // The libc's `sa_restorer` (glibc's `__restore_rt`), which the
      // kernel makes the handler's return address.
      var set = sigaction()
      if sigaction(signal, nil, &set) == 0, let restorer = set.sa_restorer {
        signalFrameReturn.store(
          UInt64(UInt(bitPattern: unsafeBitCast(restorer, to: Int.self))), ordering: .relaxed)
      }
      return true
    }
  }

  /// The signals of `bits` (bit `signal - 1` each, as `installed`).
  static func signalSet(_ bits: UInt64) -> sigset_t {
    var set = sigset_t()
    sigemptyset(&set)
    for bit in 0..<64 where bits & (1 << UInt64(bit)) != 0 { sigaddset(&set, Int32(bit + 1)) }
    return set
  }

  /// The return address of an installed handler's frame: the signal
  /// frame's restorer (`__restore_rt`), as `sigaction` reports it once
  /// one is installed (0 before).
  static let signalFrameReturn = Atomic<UInt64>(0)

  /// How many of a handler's `count` frames in `frames` to keep: those up
  /// to the signal frame's return (`__restore_rt`), not what lies below,
  /// the code the signal interrupted, which differs with every signal:
  /// kept, one bug in a handler was as many findings as the places its
  /// signals landed (a finding is told apart by its stack). All of them
  /// when the signal frame is not among them.
  static func framesAboveSignalFrame(_ frames: UnsafeMutableBufferPointer<UInt64>, count: Int)
    -> Int
  {
    let restorer = signalFrameReturn.load(ordering: .relaxed)
    guard restorer != 0 else { return count }
    var i = 0
    while i < count {
      if frames[i] == restorer { return i + 1 }
      i += 1
    }
    return count
  }

  /// The trampoline every installed signal runs: a hard interrupt around
  /// the user's handler. Its enter and exit carry this function's return
  /// address as their call site: their queued stacks start there
  /// (`DeferredEvents.append`) whichever queue holds them, so that a
  /// handler's lock still held at its exit is one finding before and
  /// after its thread's first lock. Never inlined: the address is the
  /// trampoline's.
  @inline(never)
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
    let ip = UInt64(UInt(bitPattern: rlc_return_address()))
    Live.event(.hardirqEnter, threaded: box.threaded, ip: ip)
    box.handler(signo)
    Live.event(.hardirqExit, ip: ip)
    if rlc_lockdep_signal_depth() == 1 { Live.endHandlerRun() }
    Live.signalHandler(entering: false)
    errno = saved
  }
}
