import LockGraph
import WaitContext

/// Reads a text trace (`spec/trace-format.md`, version 1) and feeds its
/// declarations and events to a consumer, streaming: memory depends on the
/// number of declared classes, threads and stacks, not on the number of
/// events.
public struct TextTraceReader {
  /// The trace file to read.
  public let path: String
  /// The name used in error messages and reports.
  public let displayName: String

  /// The longest line a reader takes (1 MiB); a longer one is an error.
  public static let maxLineLength = LineReader.maxLineLength

  /// A reader of the trace at `path`, called `displayName` (the path
  /// when nil) in messages.
  public init(path: String, displayName: String? = nil) {
    self.path = path
    self.displayName = displayName ?? path
  }

  /// Reads the whole trace into `consumer`.
  /// - Parameter progress: called now and then with bytes read and the
  ///   file size (nil when unknown).
  /// - Parameter warning: called with a one-line message about a `#` that
  ///   follows a token directly (it starts a comment: the token is cut
  ///   there), once per trace, and about a last line cut short (without
  ///   its newline, it does not read: it is left out).
  /// - Returns: the trace's modules and stacks.
  /// - Throws: `TraceError` at the first malformed line.
  public func read<Consumer: TraceConsumer>(
    into consumer: inout Consumer, progress: ((UInt64, UInt64?) -> Void)? = nil,
    warning: (String) -> Void = { _ in }
  ) throws(TraceError) -> TraceSymbols {
    var lines: LineReader
    do {
      lines = try LineReader(path: path)
    } catch {
      throw TraceError(file: displayName, line: 0, message: Self.describe(error))
    }
    return try read(&lines, into: &consumer, progress: progress, warning: warning)
  }

  /// Reads an opened trace (its first bytes already read) into `consumer`.
  func read<Consumer: TraceConsumer>(
    opened: OpenedTraceInput, into consumer: inout Consumer,
    progress: ((UInt64, UInt64?) -> Void)? = nil, warning: (String) -> Void = { _ in },
    interruption: TraceInterruption? = nil
  ) throws(TraceError) -> TraceSymbols {
    var lines = LineReader(opened: opened)
    lines.interruption = interruption
    return try read(
      &lines, into: &consumer, progress: progress, warning: warning, interruption: interruption)
  }

  private func read<Consumer: TraceConsumer>(
    _ lines: inout LineReader, into consumer: inout Consumer,
    progress: ((UInt64, UInt64?) -> Void)?, warning: (String) -> Void,
    interruption: TraceInterruption? = nil
  ) throws(TraceError) -> TraceSymbols {
    var parser = TextTraceParser(file: displayName)
    var warned = false
    var lineNumber: Int64 = 0
    var nextProgress: UInt64 = 0
    while true {
      if let progress, lines.bytesRead >= nextProgress {
        progress(lines.bytesRead, lines.fileSize)
        nextProgress = lines.bytesRead + (1 << 22)
      }
      // Asked once each pass: after a buffer's event lines, and after each
      // line the general parser takes (a declaration); at a line's end,
      // the header read (a trace that ends before it is no trace).
      if parser.sawHeader, let interruption, let reason = interruption.reason() {
        warning("\(displayName):\(lineNumber): \(reason): read up to this line")
        break
      }
      // The event lines in the buffer, in place; then one line (at the
      // buffer's end, or one the event loop leaves) through the general
      // parser, which refills the buffer as needed.
      if parser.sawHeader {
        let (bytes, count) = lines.pending
        let parsed = parser.parseEvents(bytes, count: count, firstNumber: lineNumber + 1)
        if parsed.lines > 0 {
          lines.skip(parsed.consumed)
          lineNumber += Int64(parsed.lines)
          if parser.batch.isFull { try parser.flush(into: &consumer) }
          continue
        }
      }
      let line: UnsafeRawBufferPointer?
      do {
        line = try lines.nextLine()
      } catch {
        try parser.flush(into: &consumer)
        // Interrupted while a pipe was waited for: as between batches,
        // but before the header the trace is none.
        if case .interrupted(let reason) = error {
          guard parser.sawHeader else {
            throw TraceError(
              file: displayName, line: lineNumber + 1, message: InputWait.beforeHeader(reason))
          }
          warning("\(displayName):\(lineNumber): \(reason): read up to this line")
          break
        }
        var failure = TraceError(
          file: displayName, line: lineNumber + 1, message: Self.describe(error))
        if case .shrank = error { failure.fileShrank = true }
        throw failure
      }
      guard let line else { break }
      lineNumber += 1
      do {
        try parser.parse(line, number: lineNumber, into: &consumer)
      } catch {
        try parser.flush(into: &consumer)
        // A last line without its newline that does not read is a trace
        // cut short in the middle of a line (a copy of a trace being
        // written, a full disk): read up to the line before, as a binary
        // trace is read up to its last whole record, and say so.
        // Only a line that some text appended makes read (`CutLine`): a
        // wrong line at the end of a file without a final newline is an
        // error.
        guard lines.lastLineUnterminated, parser.sawHeader, error.line == lineNumber,
          parser.mayBeCut(line, message: error.message)
        else {
          // A file that ends inside its header has no trace to read: an
          // error still, which says the header was cut.
          if lines.lastLineUnterminated, !parser.sawHeader, error.line == lineNumber,
            Self.isHeaderCut(line)
          {
            throw TraceError(
              file: displayName, line: lineNumber,
              message: error.message + " (the file ends inside it: a trace cut short)")
          }
          throw error
        }
        warning(
          "\(displayName):\(lineNumber): the last line ends without a newline and does not read "
            + "(\(error.message)): the trace was cut short; read up to the line before")
        break
      }
      if !warned, let (at, token) = parser.glued {
        warned = true
        warning(
          "\(displayName):\(at): '#' right after \"\(TextTraceParser.clip(token))\" "
            + "starts a comment, which cuts the token there; write a token holding '#' in quotes")
      }
    }
    try parser.flush(into: &consumer)
    if !parser.sawHeader {
      // Named at the line where the file ended, the header still expected:
      // the line after the last (line 1 of an empty file), or the last
      // when it has no final newline.
      throw TraceError(
        file: displayName, line: lines.lastLineUnterminated ? lineNumber : lineNumber + 1,
        message: "empty trace: expected header \"rawlockcheck-trace 1\"")
    }
    progress?(lines.bytesRead, lines.fileSize)
    return parser.symbols
  }

  static func describe(_ failure: LineReader.Failure) -> String {
    switch failure {
    case .cannotOpen(let message), .copyFailed(let message): message
    case .readFailed(let why): "read failed: \(why)"
    case .lineTooLong: "line longer than \(LineReader.maxLineLength) bytes"
    case .shrank(let read, let size):
      "the file shrank while it was read: it ended after \(read) of its \(size) bytes"
    case .interrupted(let reason): InputWait.beforeHeader(reason)
    }
  }

  /// Whether `line` (after an optional byte order mark) is the start of
  /// the header, `rawlockcheck-trace 1`, and not all of it.
  static func isHeaderCut(_ line: UnsafeRawBufferPointer) -> Bool {
    let text = TextTraceParser.withoutByteOrderMark(line, number: 1)
    let header = Array("\(TraceVocabulary.headerWord) \(TraceVocabulary.version)".utf8)
    return !text.isEmpty && text.count < header.count && header.starts(with: text)
  }
}
