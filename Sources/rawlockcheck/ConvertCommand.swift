import ArgumentParser
import Basics
import LockGraph
import Trace
import WaitContext

#if canImport(Glibc)
  import Glibc
#endif

/// `rawlockcheck convert`: rewrites a trace in the other encoding (or the
/// one asked for), without loss: the same declarations and events, so the
/// same report. Comments, blank lines, stack tokens and line numbers are
/// not events and are not kept; modules and stacks move to the front.
struct ConvertCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "convert",
    abstract: "Convert a trace between the text and binary encodings.",
    discussion: """
      Reads IN in either encoding (told apart by its first bytes) and writes OUT in the \
      other one, or in the one --to names. Exit status 2 when IN cannot be read.
      """
  )

  /// The encodings by name, for `--to`.
  enum Target: String, ExpressibleByArgument, CaseIterable {
    case text, binary
  }

  @Option(help: "The encoding to write (default: the other one).")
  var to: Target?

  @Argument(help: "The trace to read.")
  var input: String

  @Argument(help: "The file to write.")
  var output: String

  func run() throws {
    let reader = TraceReader(path: input)
    let encoding =
      to.map { TraceEncoding(rawValue: $0.rawValue)! } ?? (reader.encoding() ?? .text).other
    do {
      switch encoding {
      case .text: try convert(reader, TextTraceWriter(capacity: Self.chunk + 4096))
      case .binary: try convert(reader, BinaryTraceWriter(capacity: Self.chunk + 4096))
      }
    } catch let error as TraceError {
      writeStandardError("rawlockcheck: \(error)\n")
      throw ExitCode(2)
    }
  }

  /// Bytes buffered before they are written to OUT.
  static let chunk = 1 << 20

  /// Reads IN twice: once for its modules and stacks (written first), then
  /// into a rewriter that writes OUT a chunk at a time.
  private func convert<W: TraceWriting>(_ reader: TraceReader, _ writer: W) throws {
    var first = NullConsumer()
    let symbols = try reader.read(into: &first)
    // Both readers refuse a deeper stack; this guards the writer's limit.
    if let index = symbols.stacks.firstIndex(where: { $0.count > BinaryTraceFormat.maxStackDepth }),
      W.self == BinaryTraceWriter.self
    {
      throw TraceError(
        file: input, line: 0,
        message:
          "stack \(index + 1) of the trace (in declaration order) has \(symbols.stacks[index].count) addresses: the binary encoding holds at most \(BinaryTraceFormat.maxStackDepth)"
      )
    }
    let rewriter: TraceRewriter<W>
    do {
      rewriter = try TraceRewriter(writer: writer, symbols: symbols)
    } catch {
      throw TraceError(file: input, line: 0, message: error.message)
    }
    let fd = open(output, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
    guard fd >= 0 else {
      throw TraceError(
        file: output, line: 0, message: "cannot write: \(String(cString: strerror(errno)))")
    }
    defer { close(fd) }
    var sink = ChunkedRewriter(rewriter: rewriter, fd: fd)
    do {
      // Warnings (a truncated binary trace) were said by the first reading.
      _ = try reader.read(into: &sink, warning: { _ in })
    } catch {
      // What OUT holds so far is not a trace: leave none (a trace the
      // writer cannot hold, such as a class name with a line break in text).
      removeIfRegularFile(output)
      throw error
    }
    sink.drain()
    if sink.failed {
      throw TraceError(
        file: output, line: 0, message: "write failed: \(String(cString: strerror(errno)))")
    }
  }
}

/// Deletes `path` when it is a regular file (not a device or a pipe).
private func removeIfRegularFile(_ path: String) {
  var info = stat()
  if stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFREG { unlink(path) }
}

/// Takes declarations and events and keeps nothing, handing out ids in order.
struct NullConsumer: TraceConsumer {
  private var classes: Int32 = 0
  private var threads: Int32 = 0

  mutating func declareClass(key: String, name: String?, kind: LockKind, waits: ClassWaitTypes)
    -> ClassID
  {
    defer { classes += 1 }
    return ClassID(classes)
  }

  mutating func declareThread(token: String, name: String?) -> ThreadID {
    defer { threads += 1 }
    return ThreadID(threads)
  }

  mutating func nameThread(_ id: ThreadID, _ name: String) {}

  mutating func consume(_ event: LockEvent) throws(EventError) {}
}

/// A `TraceRewriter` whose output goes to a file descriptor a chunk at a time.
struct ChunkedRewriter<W: TraceWriting>: TraceConsumer {
  var rewriter: TraceRewriter<W>
  let fd: Int32
  private(set) var failed = false

  init(rewriter: TraceRewriter<W>, fd: Int32) {
    self.rewriter = rewriter
    self.fd = fd
  }

  mutating func declareClass(key: String, name: String?, kind: LockKind, waits: ClassWaitTypes)
    throws(EventError) -> ClassID
  {
    try rewriter.declareClass(key: key, name: name, kind: kind, waits: waits)
  }

  mutating func declareThread(token: String, name: String?) throws(EventError) -> ThreadID {
    try rewriter.declareThread(token: token, name: name)
  }

  mutating func nameThread(_ id: ThreadID, _ name: String) throws(EventError) {
    try rewriter.nameThread(id, name)
  }

  mutating func consume(_ event: LockEvent) throws(EventError) {
    try rewriter.consume(event)
    if rewriter.writer.bytes.count >= ConvertCommand.chunk { drain() }
  }

  /// Writes what is buffered.
  mutating func drain() {
    let bytes = rewriter.writer.take()
    bytes.withUnsafeBytes { b in
      var offset = 0
      while offset < b.count && !failed {
        let n = write(fd, b.baseAddress! + offset, b.count - offset)
        if n < 0 && errno == EINTR { continue }
        if n <= 0 {
          failed = true
          return
        }
        offset += n
      }
    }
  }
}
