import Basics
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

/// What a trace declares for symbolization: its modules, and its stacks
/// indexed by `StackID`.
public struct TraceSymbols: Sendable {
  public var modules: [ModuleRecord] = []
  public var stacks: [[UInt64]] = []
  public init() {}
}
