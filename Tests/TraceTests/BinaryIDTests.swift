import LockGraph
import Testing
import WaitContext

@testable import Trace

/// The binary event loop's id lookups: classes and threads whose trace ids
/// lie far past the dense tables (kept apart, in `IDTable`'s dictionary)
/// read back as the same events as ones with small ids.
@Suite struct BinaryIDTests {
  /// Two classes and threads with trace ids `classIDs` and `threadIDs`,
  /// then enough events (plain ones, and ones with fields) that
  /// most are decoded by the event loop rather than record by record.
  static func trace(classIDs: [Int32], threadIDs: [Int32]) throws -> [UInt8] {
    var writer = BinaryTraceWriter()
    writer.header()
    for (i, id) in classIDs.enumerated() {
      writer.declareClass(
        id: ClassID(id), key: "c\(i)", name: nil, kind: .rwlock,
        waits: try ClassWaitTypes(kind: .rwlock))
    }
    for (i, id) in threadIDs.enumerated() {
      writer.declareThread(id: ThreadID(id), token: "t\(i)", name: nil)
    }
    for round in 0..<200 {
      for (t, thread) in threadIDs.enumerated() {
        let outer = ClassID(classIDs[0])
        let inner = ClassID(classIDs[1])
        let address = UInt64(0x1000 * (t + 1) + round)
        writer.event(LockEvent(.acquire, thread: ThreadID(thread), lockClass: outer))
        writer.event(
          LockEvent(
            .acquire, thread: ThreadID(thread), lockClass: inner,
            read: round % 2 == 0 ? .shared : .exclusive, address: address))
        writer.event(LockEvent(.release, thread: ThreadID(thread), lockClass: inner))
        writer.event(LockEvent(.release, thread: ThreadID(thread), lockClass: outer))
      }
    }
    return writer.take()
  }

  /// The writer's per-thread rows of previous addresses, after `trace`.
  static func rows(threadIDs: [Int32]) throws -> Int {
    var writer = BinaryTraceWriter()
    for thread in threadIDs {
      writer.event(
        LockEvent(.acquire, thread: ThreadID(thread), lockClass: ClassID(0), address: 0x1000))
    }
    return writer.rowCount
  }

  /// Previous addresses are kept per thread written, not per thread id
  /// below the largest (a recorder's writer of thread 2,000,000,000 kept
  /// 2,000,000,000 rows); ids that share the lookup cache's slot (5 and 21)
  /// keep apart.
  @Test func aRowPerThreadWrittenWhateverItsID() throws {
    let dense = try Self.transcript(Self.trace(classIDs: [0, 1], threadIDs: [0, 1, 2]))
    let sparse = try Self.transcript(
      Self.trace(classIDs: [0, 1], threadIDs: [5, 21, 2_000_000_000]))
    #expect(sparse == dense)
    #expect(try Self.rows(threadIDs: [2_000_000_000]) == 1)
    #expect(try Self.rows(threadIDs: [5, 21, 5, 21, 2_000_000_000, 5]) == 3)
  }

  static func transcript(_ bytes: [UInt8]) throws -> [String] {
    var recorder = TranscriptRecorder()
    _ = try BinaryTraceReader.read(bytes: bytes, name: "t.rltb", into: &recorder)
    return recorder.entries
  }

  @Test func sparseIDsReadAsDenseOnes() throws {
    let dense = try Self.transcript(Self.trace(classIDs: [0, 1], threadIDs: [0, 1]))
    let sparse = try Self.transcript(
      Self.trace(classIDs: [1_000_000, 7], threadIDs: [3, 100_000]))
    #expect(dense.count == 4 + 200 * 2 * 4)
    #expect(sparse == dense)
  }

  /// The event loop's LEB128 decoder (`varint`: one, two and three bytes
  /// inline, longer ones out of line) reads back every length the writer
  /// writes, and moves past exactly its bytes. The event loop itself falls
  /// back to the careful path when a thread id is not found, which would
  /// hide a wrong decode there; this checks the decoder on its own.
  @Test func varintsOfEveryLengthDecode() throws {
    var values: [UInt64] = [0, 1, 127, 128, 16_383, 16_384, 100_000, 2_097_151, 2_097_152]
    for shift in stride(from: 21, to: 64, by: 7) {
      values += [(1 << UInt64(shift)) - 1, 1 << UInt64(shift)]
    }
    values += [UInt64.max, 0x8000_0000_0000_0000]
    for value in values {
      var bytes: [UInt8] = []
      VarInt.append(value, to: &bytes)
      let length = bytes.count
      bytes += [UInt8](repeating: 0xFF, count: 10)  // What follows, never read.
      try bytes.withUnsafeBytes { buffer in
        var p = buffer.baseAddress!
        let decoded = try BinaryTraceDecoder.varint(&p)
        #expect(decoded == value)
        #expect(p - buffer.baseAddress! == length, "\(value)")
      }
    }
  }
}
