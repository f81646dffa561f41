import Foundation
import LockGraph
import Testing
import WaitContext

@testable import Trace

/// A consumer that takes threads ahead (`TraceConsumer.takesThreadsAhead`)
/// is handed whole batches on a trace with a thread per task, and one that
/// does not gets declarations and events in trace order, in both encodings.
@Suite struct ThreadsAheadTests {
  /// Logs what reaches it: `declare <token>`, `name <token>`, and each
  /// batch's events as `<token> <verb>`.
  struct Log: TraceConsumer {
    let takesThreadsAhead: Bool
    var lines: [String] = []
    var tokens: [String] = []
    var batches = 0

    mutating func declareClass(key: String, name: String?, kind: LockKind, waits: ClassWaitTypes)
      -> ClassID
    {
      ClassID(0)
    }
    mutating func declareThread(token: String, name: String?) -> ThreadID {
      tokens.append(token)
      lines.append("declare \(token)")
      return ThreadID(Int32(tokens.count - 1))
    }
    mutating func nameThread(_ id: ThreadID, _ name: String) {
      lines.append("name \(tokens[id.index])")
    }
    mutating func consume(_ event: LockEvent) throws(EventError) {
      lines.append("\(tokens[event.thread.index]) \(event.verb)")
    }
    mutating func consume(_ events: UnsafeBufferPointer<LockEvent>) -> RefusedEvent? {
      batches += 1
      for event in events { lines.append("\(tokens[event.thread.index]) \(event.verb)") }
      return nil
    }
  }

  /// Forty threads that each take a lock and exit, one after the other;
  /// every fourth one named first.
  static let trace: String = {
    var text = "rawlockcheck-trace 1\nclass A spinlock\n"
    for t in 0..<40 {
      if t % 4 == 0 { text += "thread w\(t) name=worker\n" }
      text += "w\(t) acquire A\nw\(t) release A\nw\(t) exit\n"
    }
    return text
  }()

  static func read(ahead: Bool, binary: Bool) throws -> Log {
    let text = RoundTrip.temporaryFile(Array(trace.utf8))
    defer { try? FileManager.default.removeItem(at: text) }
    var path = text.path
    var binaryFile: URL? = nil
    if binary {
      let bytes = try BinaryRoundTrip.rewrite(text.path, with: BinaryTraceWriter())
      binaryFile = RoundTrip.temporaryFile(bytes)
      path = binaryFile!.path
    }
    defer { if let binaryFile { try? FileManager.default.removeItem(at: binaryFile) } }
    var log = Log(takesThreadsAhead: ahead)
    _ = try TraceReader(path: path).read(into: &log)
    return log
  }

  @Test(arguments: [false, true])
  func aConsumerThatTakesThreadsAheadGetsWholeBatches(binary: Bool) throws {
    let ahead = try Self.read(ahead: true, binary: binary)
    #expect(ahead.batches == 1)
    #expect(ahead.tokens == (0..<40).map { "w\($0)" })
    // Every event, in trace order, after its thread's declaration.
    let events = ahead.lines.filter { !$0.hasPrefix("declare ") && !$0.hasPrefix("name ") }
    #expect(events == (0..<40).flatMap { ["w\($0) acquire", "w\($0) release", "w\($0) exit"] })
    #expect(ahead.lines.filter { $0.hasPrefix("name ") }.count == 10)
  }

  @Test(arguments: [false, true])
  func anyOtherConsumerGetsTheTraceInOrder(binary: Bool) throws {
    let inOrder = try Self.read(ahead: false, binary: binary)
    var expected: [String] = []
    for t in 0..<40 {
      expected.append("declare w\(t)")
      if t % 4 == 0 { expected.append("name w\(t)") }
      expected += ["w\(t) acquire", "w\(t) release", "w\(t) exit"]
    }
    #expect(inOrder.lines == expected)
    #expect(inOrder.batches == 40)
  }
}
