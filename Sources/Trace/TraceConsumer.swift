import Basics
import LockGraph
import WaitContext

/// What a trace reader feeds: declarations and events. The validator is one
/// consumer; a converter or a test recorder may be another.
public protocol TraceConsumer {
  /// A `class` line: returns the id later events use for `key`; throws
  /// when the consumer cannot take the class (a merging consumer that
  /// knows `key` as another kind).
  mutating func declareClass(key: String, name: String?, kind: LockKind, waits: ClassWaitTypes)
    throws(EventError) -> ClassID
  /// `declareClass` of a class declared at `site` (`trace.rlt:12`,
  /// `trace.rltb: byte 40`), for a consumer that says where a class came
  /// from (a merge, when another trace declares it otherwise). The
  /// default ignores `site`.
  mutating func declareClass(
    key: String, name: String?, kind: LockKind, waits: ClassWaitTypes, site: String
  ) throws(EventError) -> ClassID
  /// A new thread (a `thread` line, or the first event of an
  /// undeclared token): returns its id; throws when the consumer cannot
  /// take it (a writer whose encoding cannot hold the token).
  mutating func declareThread(token: String, name: String?) throws(EventError) -> ThreadID
  /// A `thread` line that names a thread already declared; throws when the
  /// consumer cannot take the name.
  mutating func nameThread(_ id: ThreadID, _ name: String) throws(EventError)
  /// One event; throws when it breaks the rules of the stream itself.
  mutating func consume(_ event: LockEvent) throws(EventError)
  /// Events in stream order, as that many `consume(_:)` calls would take
  /// them: readers hand over events in batches, so that dispatch costs
  /// once per batch.
  /// - Returns: nil, or the index of the first event refused (the events
  ///   after it are not consumed) and why.
  mutating func consume(_ events: UnsafeBufferPointer<LockEvent>) -> RefusedEvent?
  /// `consume(_:)` of a reader's batch, with each event's byte offset in
  /// the trace (`positions[i]` for `events[i]`), for a consumer that
  /// passes them on (the reader thread's pipeline). The default ignores
  /// them.
  mutating func consume(_ events: UnsafeBufferPointer<LockEvent>, positions: UnsafePointer<Int64>)
    -> RefusedEvent?
  /// Whether a thread may be declared or named before the events read
  /// ahead of its declaration are consumed: true for a consumer whose
  /// earlier events do not depend on a later thread's declaration or name
  /// (a validator), false (the default) for one that needs declarations and
  /// events in trace order (a writer). Readers hand a consumer that takes
  /// threads ahead whole batches on a trace with a thread per task, not a
  /// batch per thread.
  var takesThreadsAhead: Bool { get }
}

/// The event of a batch a consumer refused, and why.
public struct RefusedEvent: Sendable {
  /// Its index in the batch.
  public var index: Int
  /// Why it was refused.
  public var error: EventError
  /// The event at `index` refused for `error`.
  public init(index: Int, error: EventError) {
    self.index = index
    self.error = error
  }
}

extension TraceConsumer {
  /// `declareClass(key:name:kind:waits:)`, `site` unused.
  public mutating func declareClass(
    key: String, name: String?, kind: LockKind, waits: ClassWaitTypes, site: String
  ) throws(EventError) -> ClassID {
    try declareClass(key: key, name: name, kind: kind, waits: waits)
  }

  /// Consumes the events one at a time with `consume(_:)`.
  public mutating func consume(_ events: UnsafeBufferPointer<LockEvent>) -> RefusedEvent? {
    for index in events.indices {
      do {
        try consume(events[index])
      } catch {
        return RefusedEvent(index: index, error: error)
      }
    }
    return nil
  }

  /// False: declarations and events arrive in trace order.
  public var takesThreadsAhead: Bool { false }

  /// `consume(_:)`, the positions ignored.
  public mutating func consume(
    _ events: UnsafeBufferPointer<LockEvent>, positions: UnsafePointer<Int64>
  ) -> RefusedEvent? {
    consume(events)
  }
}

extension LockValidator: TraceConsumer {
  @inlinable
  /// Validates `event` (`process(_:)`).
  public mutating func consume(_ event: LockEvent) throws(EventError) {
    try process(event)
  }

  /// True: a thread's declaration and name change nothing the events
  /// before them are validated against (names are read when reporting).
  public var takesThreadsAhead: Bool { true }

  /// Validates the events in order (`process(_:)` on a batch).
  public mutating func consume(_ events: UnsafeBufferPointer<LockEvent>) -> RefusedEvent? {
    process(events).map { RefusedEvent(index: $0.index, error: $0.error) }
  }
}
