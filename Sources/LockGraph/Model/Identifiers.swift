/// A lock class known to the validator: an index into its class table.
/// Each subclass of a declared class is a class of its own, as in lockdep.
public struct ClassID: Hashable, Sendable, Comparable {
  /// The index into the class table; negative for `.none`.
  public var raw: Int32
  /// The class at index `raw`.
  @inlinable public init(_ raw: Int32) { self.raw = raw }
  /// No class (for optional fields kept unboxed on the fast path).
  @inlinable public static var none: ClassID { ClassID(-1) }
  /// `raw` as an array index.
  @inlinable public var index: Int { Int(raw) }
  /// Orders classes by index (declaration order).
  public static func < (a: ClassID, b: ClassID) -> Bool { a.raw < b.raw }
}

/// A thread known to the validator: an index into its thread table.
public struct ThreadID: Hashable, Sendable {
  /// The index into the thread table.
  public var raw: Int32
  /// The thread at index `raw`.
  @inlinable public init(_ raw: Int32) { self.raw = raw }
  /// `raw` as an array index.
  @inlinable public var index: Int { Int(raw) }
}

/// A recorded call stack, owned by whoever feeds the validator (a trace's
/// `stack` table, or the in-process recorder). The validator only stores it.
public struct StackID: Hashable, Sendable {
  /// The index into the owner's stack table; negative for `.none`.
  public var raw: Int32
  /// The stack at index `raw`.
  @inlinable public init(_ raw: Int32) { self.raw = raw }
  /// No stack.
  @inlinable public static var none: StackID { StackID(-1) }
  /// True for `.none`.
  @inlinable public var isNone: Bool { raw < 0 }
}

/// Where an event came from: its stack, or a single return address, and its
/// line in a text trace. Any part may be absent (zero or `.none`).
public struct Origin: Hashable, Sendable {
  // Laid out widest first: no padding between fields.
  /// The return address, or 0.
  public var ip: UInt64
  /// The line of a text trace, or 0.
  public var line: Int64
  /// The event's index in its stream (0-based), set by the validator.
  public var event: Int64

  /// The event's position in its stream counting from 1, as reports show
  /// it (the fourth event is 4); 0 for an origin of an earlier run
  /// (`event` -1).
  public var eventNumber: Int64 { event < 0 ? 0 : event + 1 }
  /// The call stack, or `.none`.
  public var stack: StackID
  /// Which of several merged sources (`report --merge`, a graph file) the
  /// stack and line belong to: 0 for the first or only one. It fills what
  /// was padding, so an origin stays 32 bytes.
  public var trace: Int32

  @inlinable
  /// An origin from whichever parts are known.
  public init(
    stack: StackID = .none, ip: UInt64 = 0, line: Int64 = 0, event: Int64 = 0, trace: Int32 = 0
  ) {
    self.stack = stack
    self.ip = ip
    self.line = line
    self.event = event
    self.trace = trace
  }

  /// An origin with no part known.
  @inlinable public static var unknown: Origin { Origin() }

  /// A key that identifies the code location for de-duplication: the stack,
  /// else the return address, else nothing (all such origins are one site).
  /// Stacks of different merged sources are different sites.
  var siteKey: UInt64 {
    if !stack.isNone {
      return UInt64(UInt32(bitPattern: stack.raw)) | UInt64(UInt32(bitPattern: trace)) << 32
        | (1 << 63)
    }
    return trace == 0 ? ip : ip ^ (UInt64(UInt32(bitPattern: trace)) &* 0x9E37_79B9_7F4A_7C15)
  }
}

/// How a lock is acquired (lockdep's `read` argument).
public enum ReadMode: UInt8, Sendable, Hashable {
  /// Exclusive (read=0).
  case exclusive = 0
  /// Shared, not recursive (read=1): a later writer blocks further readers.
  case shared = 1
  /// Shared and recursive (read=2): never blocks behind a waiting writer.
  case recursive = 2

  /// True for either kind of read.
  @inlinable public var isRead: Bool { self != .exclusive }
}
