import LockGraph
import WaitContext

/// What a trace reader feeds: declarations and events. The validator is one
/// consumer; a converter or a test recorder may be another.
public protocol TraceConsumer {
  mutating func declareClass(key: String, name: String?, kind: LockKind, waits: ClassWaitTypes)
    -> ClassID
  mutating func declareThread(token: String, name: String?) -> ThreadID
  mutating func nameThread(_ id: ThreadID, _ name: String)
  mutating func consume(_ event: LockEvent) throws(EventError)
}

extension LockValidator: TraceConsumer {
  @inlinable
  public mutating func consume(_ event: LockEvent) throws(EventError) {
    try process(event)
  }
}

/// A `module` line: an executable mapping of the traced process.
public struct ModuleRecord: Sendable, Hashable {
  public var start: UInt64
  public var end: UInt64
  public var fileOffset: UInt64
  public var path: String
  /// The GNU build-id in hex, when known.
  public var buildID: String?

  public init(start: UInt64, end: UInt64, fileOffset: UInt64, path: String, buildID: String?) {
    self.start = start
    self.end = end
    self.fileOffset = fileOffset
    self.path = path
    self.buildID = buildID
  }
}

/// What a trace declares for symbolization: its modules, and its stacks
/// indexed by `StackID`.
public struct TraceSymbols: Sendable {
  public var modules: [ModuleRecord] = []
  public var stacks: [[UInt64]] = []
  public init() {}
}
