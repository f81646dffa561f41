import Foundation
import LockGraph
import Testing
import WaitContext

@testable import Trace

#if canImport(Glibc)
  import Glibc
#endif

/// `MappedTraceFile`: the bytes of a file from an offset that is no page
/// boundary, and pages given back behind the reader still read the same.
@Suite struct MappedTraceFileTests {
  @Test func aFileIsMappedFromAnyOffset() throws {
    let path = FileManager.default.temporaryDirectory
      .appendingPathComponent("mapped-\(UUID().uuidString)").path
    defer { unlink(path) }
    // 3 MiB of a pattern no two nearby offsets share.
    let bytes = (0..<(3 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 13) }
    try Data(bytes).write(to: URL(fileURLWithPath: path))
    let fd = open(path, O_RDONLY)
    #expect(fd >= 0)
    defer { close(fd) }
    // (The command's setting; readers in this process map files from now on.)
    TraceReading.mapsFiles = true
    for start in [0, 1, 4095, 4096, 5000] {
      let size = bytes.count - start
      guard
        var file = MappedTraceFile(
          fd: fd, start: UInt64(start), size: UInt64(size), name: "t")
      else {
        Issue.record("not mapped from \(start)")
        continue
      }
      #expect(file.bytes.count == size)
      #expect(Array(file.bytes.prefix(64)) == Array(bytes[start..<start + 64]))
      // Given back, and read again: the same bytes (from the file).
      file.release(before: size / 2)
      let quarter = size / 4
      #expect(
        Array(file.bytes[quarter..<quarter + 64])
          == Array(bytes[(start + quarter)..<(start + quarter + 64)]))
      #expect(Array(file.bytes.suffix(64)) == Array(bytes.suffix(64)))
    }
  }

  /// A mapped binary trace whose file shrinks while it is read, to a size
  /// inside its last page, does not fault: the rest of that page reads as
  /// zeros, which decode as records (or fail to). The reader checks the
  /// file's size when it stops, and says that it shrank, whatever the
  /// zeros gave.
  @Test func aBinaryFileThatShrinksInsideItsLastPageIsAnError() throws {
    let text = RoundTrip.temporaryFile(
      Array(
        ("rawlockcheck-trace 1\nclass A mutex\nclass B spinlock\n"
          + String(repeating: "1 acquire A\n1 acquire B\n1 release B\n1 release A\n", count: 20_000))
          .utf8))
    defer { try? FileManager.default.removeItem(at: text) }
    var bytes = try BinaryRoundTrip.rewrite(text.path, with: BinaryTraceWriter())
    // A last page of at least two bytes.
    while bytes.count % 4096 < 2 { bytes.append(0x00) }
    let file = RoundTrip.temporaryFile(bytes)
    defer { try? FileManager.default.removeItem(at: file) }
    let newSize = bytes.count - bytes.count % 4096 / 2
    Self.expectShrinkage(of: file.path, from: bytes.count, to: newSize, onTwoThreads: false)
  }

  /// The same read on two threads (`readOnTwoThreads`), the file cut
  /// inside a record while the validator is far behind the reader: what
  /// the record's first byte and the zeros after it decode to (an
  /// `irq-enable` of thread 0, which has not disabled them), refused by
  /// the validator, is not the error; the file's shrinking is, as read
  /// on one thread.
  @Test func aBinaryFileThatShrinksWhileReadOnTwoThreadsIsThatError() throws {
    var writer = BinaryTraceWriter()
    writer.header()
    let a = ClassID(0)
    let (t0, t1) = (ThreadID(0), ThreadID(1))
    writer.declareClass(
      id: a, key: "A", name: nil, kind: .mutex,
      waits: try ClassWaitTypes(kind: .mutex, inner: nil, outer: nil, lockType: nil))
    writer.declareThread(id: t0, token: "0", name: nil)
    writer.declareThread(id: t1, token: "1", name: nil)
    writer.event(LockEvent(.acquire, thread: t0, lockClass: a))
    writer.event(LockEvent(.release, thread: t0, lockClass: a))
    // Far more events than the pipeline holds (16 batches), and a last
    // page of at least 3,000 bytes, cut 1,000 bytes or more into it (no
    // page past the new end to fault on).
    for _ in 0..<50_000 {
      writer.event(LockEvent(.irqDisable, thread: t1))
      writer.event(LockEvent(.acquire, thread: t1, lockClass: a))
      writer.event(LockEvent(.release, thread: t1, lockClass: a))
      writer.event(LockEvent(.irqEnable, thread: t1))
    }
    while writer.bytes.count % 4096 < 3000 {
      writer.event(LockEvent(.irqDisable, thread: t1))
      writer.event(LockEvent(.irqEnable, thread: t1))
    }
    let bytes = writer.take()
    let file = RoundTrip.temporaryFile(bytes)
    defer { try? FileManager.default.removeItem(at: file) }
    // Right after an `irq-enable` record's type byte (its thread, 1, cut).
    let enable = Array(bytes.suffix(2))
    #expect(enable[1] == 1, "the last record is thread 1's irq-enable")
    let lastPage = bytes.count - bytes.count % 4096
    let newSize =
      try #require(
        (lastPage + 1000..<bytes.count - 1).first {
          // Only the pairs' records are there: such a byte starts one.
          bytes[$0] == enable[0] && bytes[$0 + 1] == 1
        }) + 1
    Self.expectShrinkage(of: file.path, from: bytes.count, to: newSize, onTwoThreads: true)
  }

  /// Reads the mapped binary trace at `path`, of `size` bytes, cutting it
  /// to `newSize` at the first progress report, and expects the error
  /// that says it shrank.
  static func expectShrinkage(
    of path: String, from size: Int, to newSize: Int, onTwoThreads: Bool,
    sourceLocation: SourceLocation = #_sourceLocation
  ) {
    TraceReading.mapsFiles = true
    var validator = LockValidator()
    var cut = false
    let progress: (UInt64, UInt64?) -> Void = { _, _ in
      if !cut { cut = truncate(path, off_t(newSize)) == 0 }
    }
    let reader = TraceReader(path: path, displayName: "t.rltb")
    let failure = #expect(throws: TraceError.self, sourceLocation: sourceLocation) {
      _ =
        onTwoThreads
        ? try reader.readOnTwoThreads(into: &validator, progress: progress)
        : try reader.read(into: &validator, progress: progress)
    }
    #expect(cut, sourceLocation: sourceLocation)
    #expect(
      failure?.description
        == "t.rltb: byte \(newSize): the file shrank while it was read: it ended after "
        + "\(newSize) of its \(size) bytes", sourceLocation: sourceLocation)
  }

  /// A program that reads traces through the library keeps its own `SIGBUS`
  /// handling: files are mapped only where the program opts in
  /// (`TraceReading.mapsFiles`), so a binary trace read with the library's
  /// defaults installs no handler. In a child process, where the setting
  /// is still the library's default (the test above turns it on here).
  @Test func aProgramReadingTracesKeepsItsBusHandling() async {
    await #expect(processExitsWith: .success) {
      precondition(!TraceReading.mapsFiles, "files are mapped by default")
      let bytes = try! BinaryRoundTrip.rewrite(
        BinaryRoundTrip.path("seed-scenario.rlt"), with: BinaryTraceWriter())
      let file = RoundTrip.temporaryFile(bytes)
      defer { try? FileManager.default.removeItem(at: file) }
      var before = sigaction()
      sigaction(SIGBUS, nil, &before)
      var validator = LockValidator()
      _ = try! TraceReader(path: file.path).read(into: &validator)
      precondition(validator.eventCount > 0, "nothing read")
      var after = sigaction()
      sigaction(SIGBUS, nil, &after)
      let handler = { (action: sigaction) in
        unsafeBitCast(action.__sigaction_handler, to: UInt.self)
      }
      precondition(handler(before) == handler(after), "a SIGBUS handler was installed")
    }
  }
}
