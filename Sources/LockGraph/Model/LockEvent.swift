/// One thing a thread did, as the validator consumes it. Traces and the
/// in-process recorder both produce these; the validator does not know which.
public struct LockEvent: Sendable {
  public enum Verb: UInt8, Sendable, CaseIterable {
    case acquire, release, mightLock, mightSleep
    case hardirqEnter, hardirqExit, softirqEnter, softirqExit, nmiEnter, nmiExit
    case irqDisable, irqEnable, bhDisable, bhEnable, preemptDisable, preemptEnable
    case initLock, free, exit
  }

  public var verb: Verb
  public var thread: ThreadID
  /// The class of `acquire`, `release`, `mightLock` and `initLock`; a
  /// declared (subclass 0) class.
  public var lockClass: ClassID
  public var read: ReadMode
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
  public var origin: Origin

  @inlinable
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
}

/// An event that breaks the rules of the event stream itself (not a locking
/// bug of the program): contexts that do not nest, enables without disables.
/// Readers turn it into a `file:line:` error.
public struct EventError: Error, Equatable, Sendable, CustomStringConvertible {
  public var message: String
  public init(_ message: String) { self.message = message }
  public var description: String { message }
}
