import Foundation
import LockGraph
import Testing
import WaitContext

@testable import Trace

/// Readers hand events to their consumer in batches (`EventBatch`); what
/// the consumer sees, and the error a reader reports, must be what it was
/// event by event.
@Suite struct EventBatchTests {
  /// Enough events to fill several batches.
  static let pairs = EventBatch.capacity * 3 / 2

  /// A text trace of `pairs` acquire/release pairs, then `tail`.
  static func text(tail: [String]) -> String {
    var lines = ["rawlockcheck-trace 1", "class a mutex", "thread 1"]
    for _ in 0..<pairs { lines += ["1 acquire a", "1 release a"] }
    return (lines + tail).joined(separator: "\n") + "\n"
  }

  static func validate(_ text: String) -> (TraceError?, Int64) {
    let file = RoundTrip.temporaryFile(Array(text.utf8))
    defer { try? FileManager.default.removeItem(at: file) }
    var validator = LockValidator()
    do {
      _ = try TextTraceReader(path: file.path, displayName: "t.rlt").read(into: &validator)
      return (nil, validator.eventCount)
    } catch {
      return (error, validator.eventCount)
    }
  }

  /// An event the validator refuses, after more than a batch of events and
  /// before a malformed line: the refused event is the error, at its line,
  /// and nothing after it was validated.
  @Test func refusedEventIsReportedAtItsLineBeforeLaterErrors() {
    let line = 3 + 2 * Self.pairs + 1
    let (error, count) = Self.validate(Self.text(tail: ["1 hardirq-exit", "1 no-such-verb"]))
    #expect(error?.description == "t.rlt:\(line): hardirq-exit without hardirq-enter")
    #expect(count == Int64(2 * Self.pairs))
    let (clean, all) = Self.validate(Self.text(tail: ["1 acquire a", "1 release a"]))
    #expect(clean == nil)
    #expect(all == Int64(2 * Self.pairs + 2))
  }

  /// Interrupt contexts nest up to `ThreadValidator.maxContextDepth` (a
  /// bound on memory, as for held locks): one enter more is refused at its
  /// line, whichever kind it is, and the events before it were validated.
  @Test(arguments: ["hardirq-enter", "softirq-enter", "nmi-enter"])
  func interruptContextsNestUpToTheirLimit(last: String) {
    let limit = ThreadValidator.maxContextDepth
    let enters = ["hardirq-enter", "softirq-enter", "hardirq-enter threaded", "nmi-enter"]
    var lines = ["rawlockcheck-trace 1", "class a raw_spinlock", "thread 1"]
    lines += (0..<limit).map { "1 \(enters[$0 % enters.count])" }
    let (full, fullCount) = Self.validate((lines + ["1 acquire a"]).joined(separator: "\n"))
    #expect(full == nil)
    #expect(fullCount == Int64(limit + 1))
    let (error, count) = Self.validate((lines + ["1 \(last)"]).joined(separator: "\n"))
    #expect(
      error?.description
        == "t.rlt:\(lines.count + 1): \(last): more than \(limit) interrupt contexts nested")
    #expect(count == Int64(limit))
  }

  /// The same in a binary trace: the refused event's byte offset, not the
  /// unknown record after it.
  @Test func refusedBinaryEventIsReportedAtItsOffset() {
    var writer = BinaryTraceWriter()
    writer.header()
    let a = ClassID(0)
    let t = ThreadID(0)
    writer.declareClass(
      id: a, key: "a", name: nil, kind: .mutex,
      waits: try! ClassWaitTypes(kind: .mutex, inner: nil, outer: nil, lockType: nil))
    writer.declareThread(id: t, token: "1", name: nil)
    for _ in 0..<Self.pairs {
      writer.event(LockEvent(.acquire, thread: t, lockClass: a))
      writer.event(LockEvent(.release, thread: t, lockClass: a))
    }
    var bytes = writer.take()
    let offset = bytes.count
    writer.event(LockEvent(.hardirqExit, thread: t))
    bytes += writer.take() + [0x17]
    let (error, _) = BinaryRoundTrip.validate(bytes)
    #expect(error?.byte == UInt64(offset))
    #expect(error?.message == "hardirq-exit without hardirq-enter")
  }

  /// A thread first named after other events is declared to the consumer
  /// after them, not before: batching does not reorder declarations.
  @Test func declarationsStayInStreamOrder() throws {
    var trace = ["rawlockcheck-trace 1", "class a mutex", "1 acquire a", "1 release a"]
    trace += ["2 acquire a", "thread 2 name=late", "class b spinlock", "2 release a"]
    let (entries, _) = try Self.transcript(trace.joined(separator: "\n"))
    let order = entries.map { String($0.prefix(while: { $0 != " " })) }
    #expect(order == ["class", "thread", "1", "1", "thread", "2", "name", "class", "2"])
  }

  /// Lines the one-pass event parser takes and lines it leaves to the
  /// general parser (quotes, comments, options, flags) give the same events.
  @Test func plainAndGeneralEventLinesAgree() throws {
    let body = [
      "1 acquire a", "1 acquire b read", "1 release b", "2 acquire a sub=1", "2 release a",
      "1 release a", "1 might-sleep", "1 irq-disable", "1 irq-enable", "1 acquire b try",
      "1 release b",
    ]
    let head = ["rawlockcheck-trace 1", "class a mutex", "class b rwlock", "thread 1", "thread 2"]
    let plain = try Self.transcript((head + body).joined(separator: "\n")).0
    let general = try Self.transcript(
      (head + body.map { $0.replacingOccurrences(of: "1 ", with: "\"1\" ") + " # c" })
        .joined(separator: "\n")
    ).0
    #expect(plain == general)
    #expect(plain.count == 4 + body.count)
  }

  static func transcript(_ text: String) throws -> ([String], TraceSymbols) {
    let file = RoundTrip.temporaryFile(Array((text + "\n").utf8))
    defer { try? FileManager.default.removeItem(at: file) }
    var recorder = TranscriptRecorder()
    let symbols = try TextTraceReader(path: file.path).read(into: &recorder)
    return (recorder.entries, symbols)
  }
}
