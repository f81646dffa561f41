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
      other one, or in the one --to names. IN may be - (standard input, any encoding) and \
      OUT - (standard output; binary is not written to a terminal). Exit status 2 when IN \
      cannot be read, OUT cannot be written or OUT is IN.
      """
  )

  /// The encodings by name, for `--to`.
  enum Target: String, ExpressibleByArgument, CaseIterable {
    case text, binary
  }

  @Option(help: "The encoding to write (default: the other one).")
  var to: Target?

  @Argument(help: "The trace to read; - for standard input.")
  var input: String

  @Argument(
    help: "The file to write (replaced only once it is written whole); - for standard output.")
  var output: String

  func run() throws {
    do {
      let source = try RereadableInput(input)
      try OutputFile.refuse(output, being: input, device: source.device, inode: source.inode)
      // OUT's temporary file is made before IN is read: an OUT that cannot
      // be written is said at once, not after a long trace was read. (A
      // FIFO or device waits: opening it waits for its reader.)
      let early = OutputFile.isReplacedWhole(output) ? try OutputFile(path: output) : nil
      // The first reading validates: a trace `report` refuses (contexts that
      // do not nest, an enable without a disable, spec/trace-format.md) is
      // refused here by the same rules, not written out for every other
      // command to refuse. A stream is copied as it is read: only as far
      // as it reads as a trace.
      var first = LockValidator()
      // Warnings (a truncated binary trace) are said by the second reading,
      // once the output is written: a failure to write comes alone.
      let symbols = try TraceReader(
        path: source.firstPath, displayName: QuotedText.fileName(input)
      ).read(into: &first, warning: { _ in }, tee: source.tee)
      try source.checkUnchanged()
      let reader = TraceReader(path: source.path, displayName: QuotedText.fileName(input))
      let encoding =
        to.map { TraceEncoding(rawValue: $0.rawValue)! } ?? (reader.encoding() ?? .text).other
      if encoding == .binary, output == "-", isatty(1) == 1 {
        throw OutputError(
          name: OutputError.standardOutput,
          message: "will not write a binary trace to a terminal (redirect it, or use --to text)")
      }
      switch encoding {
      case .text:
        try convert(reader, TextTraceWriter(capacity: Self.chunk + 4096), source, symbols, early)
      case .binary:
        try convert(reader, BinaryTraceWriter(capacity: Self.chunk + 4096), source, symbols, early)
      }
    } catch let error as TraceError {
      writeStandardError("rawlockcheck: \(error)\n")
      throw ExitCode(2)
    }
  }

  /// Bytes buffered before they are written to OUT.
  static let chunk = 1 << 20

  /// Reads IN the second time (the first validated it and found its
  /// modules and stacks, `symbols`, written first) into a rewriter that
  /// writes OUT a chunk at a time: `early` when it was opened before IN
  /// was read, else opened now.
  private func convert<W: TraceWriting>(
    _ reader: TraceReader, _ writer: W, _ source: RereadableInput, _ symbols: TraceSymbols,
    _ early: OutputFile?
  ) throws {
    // Both readers refuse a deeper stack; this guards the writer's limit.
    if let index = symbols.stacks.firstIndex(where: { $0.count > BinaryTraceFormat.maxStackDepth }),
      W.self == BinaryTraceWriter.self
    {
      throw TraceError(
        file: input, line: 0,
        message:
          "stack \(index + 1) of the trace (its distinct stacks, in declaration order) has \(symbols.stacks[index].count) addresses: the binary encoding holds at most \(BinaryTraceFormat.maxStackDepth)"
      )
    }
    let rewriter: TraceRewriter<W>
    do {
      rewriter = try TraceRewriter(writer: writer, symbols: symbols)
    } catch {
      throw TraceError(file: input, line: 0, message: error.message)
    }
    // Written to a temporary file (unless OUT is a device or a pipe) that
    // replaces OUT only once all is written: a trace the writer cannot
    // hold (a class name with a line break, in text) leaves OUT as it was.
    let file = try early ?? OutputFile(path: output)
    var sink = ChunkedRewriter(rewriter: rewriter, output: file)
    var warnings: [String] = []
    _ = try reader.read(into: &sink, warning: { warnings.append($0) })
    sink.drain()
    if let failure = sink.failure { throw failure }
    // Both readings read the same bytes, or OUT is left as it was.
    try source.checkUnchanged()
    try file.commit()
    for warning in warnings { TraceReader.standardError(warning) }
  }
}

/// A `TraceRewriter` whose output goes to an `OutputFile` a chunk at a
/// time; after a write fails, nothing more is written and `failure` says why.
struct ChunkedRewriter<W: TraceWriting>: TraceConsumer {
  var rewriter: TraceRewriter<W>
  let output: OutputFile
  private(set) var failure: OutputError?

  init(rewriter: TraceRewriter<W>, output: OutputFile) {
    self.rewriter = rewriter
    self.output = output
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
    if rewriter.writer.byteCount >= ConvertCommand.chunk { drain() }
  }

  /// Writes what is buffered (drops it after a failed write).
  mutating func drain() {
    let bytes = rewriter.writer.take()
    guard failure == nil else { return }
    do {
      try output.write(bytes)
    } catch {
      failure = error
    }
  }
}
