import LockGraph
import WaitContext

/// Placeholder: replaced by the recorder over `TextTraceWriter`.
final class TraceRecorder: Sendable {
  init?(path: String) { return nil }
  func recording(thread: ThreadID, token: String, name: String) -> ThreadRecording? { nil }
  func declareClass(_ id: ClassID, key: String, name: String, kind: LockKind, waits: ClassWaitTypes) {}
  func flushAll() {}
}

/// Placeholder.
final class ThreadRecording {
  func record(_ event: LockEvent) {}
  func noteStack(_ stack: StackID) {}
  func flush() {}
  func name(_ name: String) {}
}
