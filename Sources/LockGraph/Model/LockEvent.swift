/// One thing a thread did, as the validator consumes it. Traces and the
/// in-process recorder both produce these; the validator does not know which.
public struct LockEvent: Sendable {
  /// What the event does, one verb per trace event word.
  public enum Verb: UInt8, Sendable, CaseIterable {
    /// Lock operations, and the annotations `might_lock()` and `might_sleep()`.
    case acquire, release, mightLock, mightSleep
    /// Entering and leaving interrupt-like contexts.
    case hardirqEnter, hardirqExit, softirqEnter, softirqExit, nmiEnter, nmiExit
    /// Interrupts, bottom halves and preemption off and on.
    case irqDisable, irqEnable, bhDisable, bhEnable, preemptDisable, preemptEnable
    /// A lock (re)initialized, memory freed, the thread ended.
    case initLock, free, exit
  }

  /// What happened.
  public var verb: Verb
  /// The thread it happened on.
  public var thread: ThreadID
  /// The class of `acquire`, `release`, `mightLock` and `initLock`; a
  /// declared (subclass 0) class.
  public var lockClass: ClassID
  /// How an `acquire` takes the lock.
  public var read: ReadMode
  /// The `acquire` is a trylock.
  public var isTrylock: Bool
  /// `hardirq-enter threaded`.
  public var threaded: Bool
  /// The nesting subclass, 0 to 7.
  public var subclass: UInt8
  /// The class named by `nest=`, or `.none`.
  public var nest: ClassID
  /// The lock instance's address (0 when unknown), or the start of `free`.
  public var address: UInt64
  /// The length of `free`.
  public var length: UInt64
  /// Where it happened.
  public var origin: Origin

  @inlinable
  /// An event; fields a verb does not use keep their defaults.
  public init(
    _ verb: Verb, thread: ThreadID, lockClass: ClassID = .none, read: ReadMode = .exclusive,
    isTrylock: Bool = false, threaded: Bool = false, subclass: UInt8 = 0, nest: ClassID = .none,
    address: UInt64 = 0, length: UInt64 = 0, origin: Origin = .unknown
  ) {
    self.verb = verb
    self.thread = thread
    self.lockClass = lockClass
    self.read = read
    self.isTrylock = isTrylock
    self.threaded = threaded
    self.subclass = subclass
    self.nest = nest
    self.address = address
    self.length = length
    self.origin = origin
  }

  /// How many bytes from `address` a `free` releases (none for a length of
  /// 0, as `debug_check_no_locks_freed(mem, 0)` finds nothing), or 1 for
  /// the one lock an `init` re-initializes: what no held lock may lie in.
  /// A range is `address` and a length, not two ends: one that reaches the
  /// top of the address space has no end that fits in 64 bits. A length
  /// past the top is cut there: memory does not wrap round to address 0.
  public var freedLength: UInt64 {
    if verb == .initLock { return 1 }
    return address == 0 ? length : min(length, 0 &- address)
  }
}

/// An event that breaks the rules of the event stream itself (not a locking
/// bug of the program): contexts that do not nest, enables without disables.
/// Readers turn it into a `file:line:` error.
public struct EventError: Error, Equatable, Sendable, CustomStringConvertible {
  /// What is wrong.
  public var message: String
  /// An error saying `message`.
  public init(_ message: String) { self.message = message }
  /// The message.
  public var description: String { message }
}
