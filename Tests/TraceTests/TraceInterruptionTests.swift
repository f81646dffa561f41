import Foundation
import LockGraph
import Synchronization
import Testing

@testable import Trace

/// `TraceInterruption`: a reason ends the reading where it stands, as if
/// the trace ended after the last whole line or record handed on, in both
/// encodings, on one thread or two; the warning names that place.
@Suite struct TraceInterruptionTests {
  /// Pairs of events after the header (an acquisition and its release).
  static let pairs = 100_000

  /// A clean trace: a stack declared up front, then `pairs` acquisitions
  /// and releases of one lock, the acquisitions at that stack.
  static let text: String = {
    var lines = [
      "rawlockcheck-trace 1", "class a mutex name=&a", "thread 1 name=t1",
      "stack s1 0x401000 0x401100",
    ]
    for _ in 0..<pairs { lines += ["1 acquire a at=s1", "1 release a"] }
    return lines.joined(separator: "\n") + "\n"
  }()

  /// Lines before the first event.
  static let headerLines = 4

  /// An interruption whose reason comes at its `after + 1`th question
  /// (readers ask once a declaration, then once a batch of events: 6 is
  /// past this trace's header, before its end).
  final class Countdown: Sendable {
    let asked = Atomic<Int>(0)
    let after: Int
    init(after: Int) { self.after = after }
    var interruption: TraceInterruption {
      TraceInterruption { [self] in
        asked.add(1, ordering: .relaxed).newValue > after ? "interrupted for the test" : nil
      }
    }
  }

  /// The trace in `encoding`, in a temporary file.
  static func file(binary: Bool) throws -> URL {
    let text = RoundTrip.temporaryFile(Array(Self.text.utf8))
    guard binary else { return text }
    defer { try? FileManager.default.removeItem(at: text) }
    return RoundTrip.temporaryFile(
      try BinaryRoundTrip.rewrite(text.path, with: BinaryTraceWriter()))
  }

  /// The number in the warning after `prefix` (`t:` for a line, `at byte `).
  static func number(after prefix: String, in warning: String) -> Int? {
    guard let start = warning.range(of: prefix)?.upperBound else { return nil }
    return Int(warning[start...].prefix { $0.isNumber })
  }

  /// The trace (`binary` or text) read on one thread, asked to stop at
  /// the `after + 1`th question: its events, warnings, symbols, and bytes.
  static func read(binary: Bool, after: Int) throws -> (
    events: [LockEvent], warnings: [String], symbols: TraceSymbols, bytes: [UInt8]
  ) {
    let url = try Self.file(binary: binary)
    defer { try? FileManager.default.removeItem(at: url) }
    var recorder = Recorder()
    var warnings: [String] = []
    let symbols = try TraceReader(path: url.path, displayName: "t").read(
      into: &recorder, warning: { warnings.append($0) },
      interruption: Countdown(after: after).interruption)
    return (recorder.events, warnings, symbols, try [UInt8](Data(contentsOf: url)))
  }

  @Test(arguments: [false, true])
  func readsUpToALineOrRecordAndSaysWhere(binary: Bool) throws {
    let (events, warnings, symbols, bytes) = try Self.read(binary: binary, after: 6)
    #expect(events.count > 0 && events.count < 2 * Self.pairs, "\(events.count)")
    // A prefix of the trace's events, in order.
    for (i, event) in events.enumerated() where event.verb != (i % 2 == 0 ? .acquire : .release) {
      Issue.record("event \(i) is \(event.verb)")
      break
    }
    // The symbols as at the end of a whole trace.
    #expect(symbols.stacks == [[0x401000, 0x401100]])
    #expect(warnings.count == 1, "\(warnings)")
    let warning = warnings.first ?? ""
    #expect(warning.contains("interrupted for the test"), "\(warning)")
    if binary {
      #expect(warning.hasPrefix("t: interrupted for the test at byte "), "\(warning)")
      #expect(warning.hasSuffix(": read up to there"), "\(warning)")
      // That byte is a record's end: the file cut there reads the same
      // events, with no record cut short.
      let offset = try #require(Self.number(after: "at byte ", in: warning))
      let cut = RoundTrip.temporaryFile(Array(bytes.prefix(offset)))
      defer { try? FileManager.default.removeItem(at: cut) }
      var again = Recorder()
      var cutWarnings: [String] = []
      _ = try TraceReader(path: cut.path).read(into: &again, warning: { cutWarnings.append($0) })
      #expect(again.events.count == events.count)
      #expect(cutWarnings.isEmpty, "\(cutWarnings)")
    } else {
      #expect(warning.hasSuffix(": read up to this line"), "\(warning)")
      // Every line up to the one named was handed on, and none after it.
      let line = try #require(Self.number(after: "t:", in: warning))
      #expect(events.count == line - Self.headerLines)
    }
  }

  /// On two threads, the reading thread asks; the validator gets the
  /// events read before the reason, and the warning comes at the end.
  @Test(arguments: [false, true])
  func stopsAReaderThread(binary: Bool) throws {
    let url = try Self.file(binary: binary)
    defer { try? FileManager.default.removeItem(at: url) }
    var validator = LockValidator()
    var warnings: [String] = []
    _ = try TraceReader(path: url.path, displayName: "t").readOnTwoThreads(
      into: &validator, warning: { warnings.append($0) },
      interruption: Countdown(after: 6).interruption)
    #expect(validator.eventCount > 0 && validator.eventCount < Int64(2 * Self.pairs))
    #expect(validator.findings.count == 0)
    #expect(warnings.count == 1 && warnings[0].contains("interrupted for the test"), "\(warnings)")
  }

  /// A text trace is read at least to the end of its header line: a
  /// reason at once is a trace with no events, not an empty file.
  @Test func aReasonAtOnceReadsTheHeaderOnly() throws {
    let (events, warnings, _, _) = try Self.read(binary: false, after: 0)
    #expect(events.isEmpty)
    #expect(warnings == ["t:1: interrupted for the test: read up to this line"])
  }

  /// An interruption whose reason comes once `delay` has passed.
  final class Deadline: Sendable {
    let end: ContinuousClock.Instant
    init(after delay: Duration) { end = .now + delay }
    var interruption: TraceInterruption {
      TraceInterruption { [end] in ContinuousClock.now >= end ? "interrupted for the test" : nil }
    }
  }

  /// Reads `part` through a pipe whose writer then goes quiet (it closes
  /// the pipe 20 s later, or once the reading is over), with a reason to
  /// stop 0.3 s in: the events read, the warnings, and the error thrown.
  static func readQuietPipe(_ part: [UInt8], twoThreads: Bool) throws -> (
    events: Int, warnings: [String], error: TraceError?
  ) {
    var ends: [Int32] = [0, 0]
    try #require(pipe(&ends) == 0)
    defer { close(ends[0]) }
    let done = DispatchSemaphore(value: 0)
    let closed = DispatchSemaphore(value: 0)
    let writer = ends[1]
    // Written before the reading starts (the pipe holds it all).
    let written =
      part.isEmpty ? 0 : part.withUnsafeBytes { write(writer, $0.baseAddress!, $0.count) }
    try #require(written == part.count)
    Thread.detachNewThread {
      _ = done.wait(timeout: .now() + 20)
      close(writer)
      closed.signal()
    }
    defer {
      done.signal()
      closed.wait()
    }
    let reader = TraceReader(path: "/dev/fd/\(ends[0])", displayName: "t")
    let interruption = Deadline(after: .milliseconds(300)).interruption
    var warnings: [String] = []
    do {
      if twoThreads {
        var validator = LockValidator()
        _ = try reader.readOnTwoThreads(
          into: &validator, warning: { warnings.append($0) }, interruption: interruption)
        return (Int(validator.eventCount), warnings, nil)
      }
      var recorder = Recorder()
      _ = try reader.read(
        into: &recorder, warning: { warnings.append($0) }, interruption: interruption)
      return (recorder.events.count, warnings, nil)
    } catch {
      return (0, warnings, error)
    }
  }

  /// A pipe whose writer has gone quiet (a program that hangs feeding
  /// `report -`): the wait for its next bytes asks the interruption too,
  /// so the reason ends the reading with what was read, and the warning
  /// names the place, as between batches. A reader that only waited would
  /// end when the writer closes the pipe, with no warning.
  @Test(arguments: [false, true], [false, true])
  func aReasonEndsTheWaitForAQuietPipe(binary: Bool, twoThreads: Bool) throws {
    let pairs = 10
    let text =
      "rawlockcheck-trace 1\nclass a mutex name=&a\nthread 1 name=t1\n"
      + String(repeating: "1 acquire a\n1 release a\n", count: pairs)
    let textFile = RoundTrip.temporaryFile(Array(text.utf8))
    defer { try? FileManager.default.removeItem(at: textFile) }
    let part =
      binary
      ? try BinaryRoundTrip.rewrite(textFile.path, with: BinaryTraceWriter()) : Array(text.utf8)
    let (events, warnings, error) = try Self.readQuietPipe(part, twoThreads: twoThreads)
    #expect(error == nil, "\(String(describing: error))")
    #expect(events == 2 * pairs)
    #expect(warnings.count == 1, "\(warnings)")
    let warning = warnings.first ?? ""
    if binary {
      #expect(warning == "t: interrupted for the test at byte \(part.count): read up to there")
    } else {
      #expect(warning == "t:\(3 + 2 * pairs): interrupted for the test: read up to this line")
    }
  }

  /// A quiet pipe before the trace's first bytes, or inside its header,
  /// holds no trace: the reason ends the reading with an error that says so.
  @Test(arguments: ["", "rawlockcheck-tra", "RLC"], [false, true])
  func aReasonBeforeTheHeaderIsNoTrace(part: String, twoThreads: Bool) throws {
    let (_, warnings, error) = try Self.readQuietPipe(Array(part.utf8), twoThreads: twoThreads)
    #expect(warnings.isEmpty, "\(warnings)")
    let message = try #require(error).description
    #expect(
      message.hasPrefix("t")
        && message.hasSuffix(
          ": interrupted for the test before the trace's header: nothing read"),
      "\(message)")
  }

  /// A FIFO no process opens for writing (until 20 s later, or the
  /// reading's end): the wait for its writer asks the interruption, so
  /// the reason ends it with an error before the header, for a trace and
  /// for a graph file. (A plain `open` waited through every signal.)
  @Test(arguments: [false, true])
  func aReasonEndsTheWaitForAFIFOsWriter(graphFile: Bool) throws {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
      "fifo-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    let path = directory.appendingPathComponent("f").path
    try #require(mkfifo(path, 0o600) == 0)
    let done = DispatchSemaphore(value: 0)
    let closed = DispatchSemaphore(value: 0)
    final class Flag: Sendable { let value = Atomic<Bool>(false) }
    let writerCame = Flag()
    Thread.detachNewThread {
      // A writer that comes late, writes nothing and goes: what ends a
      // reader that only waited.
      if done.wait(timeout: .now() + 20) == .timedOut {
        writerCame.value.store(true, ordering: .sequentiallyConsistent)
        let fd = open(path, O_WRONLY)
        if fd >= 0 { close(fd) }
      }
      closed.signal()
    }
    defer {
      done.signal()
      closed.wait()
    }
    let interruption = Deadline(after: .milliseconds(300)).interruption
    var message = ""
    do {
      if graphFile {
        _ = try GraphFile.read(path: path, displayName: "g", opening: interruption)
      } else {
        var recorder = Recorder()
        _ = try TraceReader(path: path, displayName: "t").read(
          into: &recorder, interruption: interruption)
      }
    } catch {
      message = error.description
    }
    let expected =
      graphFile
      ? "g: interrupted for the test before the graph file's header: nothing read"
      : "t: interrupted for the test before the trace's header: nothing read"
    #expect(message == expected)
    // Ended by the reason, not by the writer.
    let came = writerCame.value.load(ordering: .sequentiallyConsistent)
    #expect(!came)
  }

  /// No reason: the whole trace, no warning.
  @Test(arguments: [false, true])
  func noReasonReadsEverything(binary: Bool) throws {
    let (events, warnings, _, _) = try Self.read(binary: binary, after: .max)
    #expect(events.count == 2 * Self.pairs)
    #expect(warnings.isEmpty)
  }
}
