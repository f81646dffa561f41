import Basics

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// Reads a trace in either encoding, told apart by its first bytes: a
/// binary trace starts with `RLCT` (`docs/binary-trace-format.md`),
/// anything else is read as text (`spec/trace-format.md`).
public struct TraceReader {
  /// The trace file to read.
  public let path: String
  /// The name used in error messages and warnings.
  public let displayName: String
  /// Where a binary trace's malformed record is kept, the records before
  /// it read, instead of thrown; nil: thrown (`TraceCorruption`).
  public var corruption: TraceCorruption?

  /// A reader of the trace at `path`, called `displayName` (the path when
  /// nil) in messages.
  public init(path: String, displayName: String? = nil) {
    self.path = path
    self.displayName = displayName ?? path
  }

  /// The encoding of the file, from its first bytes; nil when it cannot be
  /// opened (reading it then says why). A pipe (standard input) is text:
  /// its first bytes cannot be read twice (`read` tells its encoding from
  /// the bytes it reads).
  public func encoding() -> TraceEncoding? {
    let fd = OpenedTraceInput.openForReading(path)
    if fd < 0 { return nil }
    defer { close(fd) }
    var info = stat()
    if fstat(fd, &info) == 0 && (info.st_mode & S_IFMT) != S_IFREG { return .text }
    guard let prefix = try? OpenedTraceInput.readPrefix(fd) else { return nil }
    return TraceEncoding.detect(prefix: prefix)
  }

  /// Reads the whole trace into `consumer` with the reader of its encoding,
  /// told from its first bytes (also on a pipe, which is read once).
  /// - Parameters:
  ///   - progress: called now and then with bytes read and the file size.
  ///   - warning: called with a one-line message about a truncated binary
  ///     trace, read up to its last whole event; by default the message
  ///     goes to standard error, after `rawlockcheck: `.
  ///   - interruption: asked between batches of events (``TraceInterruption``):
  ///     a reason it returns ends the reading there, as if the trace ended,
  ///     with a warning naming the place.
  /// - Returns: the trace's modules and stacks.
  /// - Throws: `TraceError` at the first malformed line or record.
  ///   - tee: given every byte read, in order (``TraceTee``).
  public func read<Consumer: TraceConsumer>(
    into consumer: inout Consumer, progress: ((UInt64, UInt64?) -> Void)? = nil,
    warning: ((String) -> Void)? = nil, interruption: TraceInterruption? = nil,
    tee: TraceTee? = nil
  ) throws(TraceError) -> TraceSymbols {
    try read(
      opened: openTrace(interruption: interruption, tee: tee), into: &consumer, progress: progress,
      warning: warning,
      interruption: interruption)
  }

  /// Opens the trace and reads its first bytes; `interruption` is asked
  /// while a pipe's are waited for.
  func openTrace(
    interruption: TraceInterruption? = nil, tee: TraceTee? = nil
  ) throws(TraceError) -> OpenedTraceInput {
    do {
      return try OpenedTraceInput(path: path, interruption: interruption, tee: tee)
    } catch {
      throw TraceError(file: displayName, line: 0, message: error.message)
    }
  }

  /// Reads an opened trace with the reader of its encoding.
  func read<Consumer: TraceConsumer>(
    opened: OpenedTraceInput, into consumer: inout Consumer,
    progress: ((UInt64, UInt64?) -> Void)?, warning: ((String) -> Void)?,
    interruption: TraceInterruption? = nil
  ) throws(TraceError) -> TraceSymbols {
    if let writer = opened.writer {
      (warning ?? Self.standardError)(
        "\(displayName): process \(writer) is still writing this trace: read as far as it has got")
    }
    switch opened.encoding {
    case .text:
      return try TextTraceReader(path: path, displayName: displayName).read(
        opened: opened, into: &consumer, progress: progress,
        warning: warning ?? Self.standardError, interruption: interruption)
    case .binary:
      var reader = BinaryTraceReader(path: path, displayName: displayName)
      reader.corruption = corruption
      return try reader.read(
        opened: opened, into: &consumer, progress: progress,
        warning: warning ?? Self.standardError, interruption: interruption)
    }
  }

  /// How a reader says a warning by default: `rawlockcheck: MESSAGE` on
  /// standard error.
  public static func standardError(_ message: String) {
    let line = Array(QuotedText.terminalLines("rawlockcheck: \(message)\n").utf8)
    line.withUnsafeBytes { _ = write(2, $0.baseAddress!, $0.count) }
  }
}
