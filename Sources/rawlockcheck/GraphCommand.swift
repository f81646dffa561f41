import ArgumentParser
import Basics
import LockGraph
import Report
import Trace

#if canImport(Glibc)
  import Glibc
#endif

/// `rawlockcheck graph`: the lock-class dependency graph of a trace, as
/// DOT, SVG (through Graphviz's `dot`) or JSON, with the edges of reported
/// circular dependencies and of invalid wait contexts highlighted.
struct GraphCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "graph",
    abstract: "Draw a trace's lock-class dependency graph (DOT, SVG or JSON).",
    discussion: """
      Each lock class is a node labelled with its name and {outer:inner} wait types, coloured \
      by its outer wait type (spin red, config orange, sleep blue, free and inv grey), a \
      hexagon when per-cpu and an octagon when an override. Each dependency is an edge \
      labelled with the innermost frame of its first stack (symbolized when the trace has \
      module lines), else its trace line. Edges of a reported circular dependency are red \
      and bold (the refused dependency that closes the cycle is drawn too); the path of an \
      irq lock inversion is purple and bold (with the dependency it refused); edges into an \
      acquisition in an invalid wait context are dashed orange, and that class has a double \
      border. svg runs Graphviz's dot -Tsvg. A graph of more than --max-edges dependencies \
      (for svg 500 unless given: Graphviz's layout of a few thousand edges takes minutes) \
      is drawn in part: the edges findings mark, then the other edges of their classes, then \
      the rest in the order first seen; the title and a line on stderr say how much. Exit \
      status 0, or 2 when the trace cannot be read, the output cannot be written or dot is \
      missing.
      """
  )

  /// What `graph` writes.
  enum Format: String, ExpressibleByArgument, CaseIterable {
    case dot, svg, json
  }

  @OptionGroup var options: CheckOptions

  @Option(help: "Output format.")
  var format: Format = .dot

  @Option(
    name: [.short, .customLong("output")], help: "Write to this file (default: standard output).")
  var output: String?

  @Option(
    parsing: .unconditional,
    help: ArgumentHelp(
      "Draw at most this many dependencies, those of findings first (0: all).",
      discussion: "Default: 500 for svg, all for dot and json.", valueName: "n"))
  var maxEdges: Int?

  /// The most edges drawn for `svg` unless `--max-edges` says otherwise.
  static let defaultSVGEdges = 500

  @OptionGroup var symbolFiles: SymbolFileOptions

  @Argument(
    help: "The trace file (text or binary encoding); - for standard input (either encoding).")
  var trace: String

  func validate() throws {
    if let maxEdges, maxEdges < 0 {
      throw ValidationError("--max-edges must be 0 (all) or more, got \(maxEdges)")
    }
  }

  func run() throws {
    try OutputFile.refuse(output, beingAnyOf: [trace])
    var validator = LockValidator(configuration: options.configuration)
    let progress = ProgressBar(label: trace)
    let symbols: TraceSymbols
    do {
      symbols = try TraceReader(
        path: ReportCommand.file(for: trace), displayName: QuotedText.printable(trace)
      ).read(
        into: &validator, progress: progress.update)
      progress.finish()
    } catch {
      progress.finish()
      writeStandardError("rawlockcheck: \(error)\n")
      throw ExitCode(2)
    }
    var graph = ClassGraph(
      validator: validator, source: trace,
      resolver: resolver(
        for: symbols, returnAddresses: validator.graph.edges.contains { $0.origin.ip != 0 }))
    let limit = maxEdges ?? (format == .svg ? Self.defaultSVGEdges : 0)
    if limit > 0 {
      graph = graph.limited(toEdges: limit)
      if let note = graph.partNote {
        writeStandardError("rawlockcheck: graph: \(trace): \(note); --max-edges 0 draws all\n")
      }
    }
    var bytes: [UInt8]
    switch format {
    case .dot: bytes = Array(graph.dot().utf8)
    case .json:
      bytes = graph.json().bytes()
      bytes.append(UInt8(ascii: "\n"))
    case .svg: bytes = try GraphvizDot.render(graph.dot(), format: "svg")
    }
    let file = try OutputFile(path: output)
    try file.write(bytes)
    try file.commit()
  }

  /// Symbolized frames when the trace names its modules; addresses otherwise.
  /// `returnAddresses`: whether the edges have return addresses (`ip=`) to
  /// symbolize when the trace has no stacks.
  func resolver(for symbols: TraceSymbols, returnAddresses: Bool) -> any FrameResolving {
    guard !symbols.modules.isEmpty, !symbols.stacks.isEmpty || returnAddresses else {
      if symbols.modules.isEmpty { symbolFiles.sayWarnings([], resolutions: [], of: trace) }
      return AddressFrameResolver(stacks: symbols.stacks)
    }
    let resolver = SymbolizingFrameResolver(
      modules: symbols.modules, stacks: symbols.stacks, debugDirectories: symbolFiles.debugDir,
      binaries: symbolFiles.binary,
      filter: FrameFilterChoice())
    symbolFiles.sayWarnings(resolver.moduleWarnings, resolutions: resolver.modules, of: trace)
    return resolver
  }
}

/// Graphviz's `dot`, run on a DOT text through a temporary file.
enum GraphvizDot {
  /// `makeTemporaryFile` under /tmp.
  /// - Throws: `ExitCode(2)` after a one-line error when it cannot be made.
  private static func temporaryFile(suffix: String) throws -> (fd: Int32, path: String) {
    guard let made = makeTemporaryFile(prefix: "/tmp/rawlockcheck-graph-", suffix: suffix) else {
      writeStandardError(
        "rawlockcheck: cannot create a temporary file: \(String(cString: strerror(errno)))\n")
      throw ExitCode(2)
    }
    return made
  }

  /// Runs `dot -T<format>` on `source` and returns what it wrote (through
  /// a second temporary file, so that the caller writes the output and
  /// sees whether that failed).
  /// - Throws: `ExitCode(2)` after a one-line error when `dot` is not on
  ///   `PATH`, a temporary file cannot be written or read, or `dot` fails.
  static func render(_ source: String, format: String) throws -> [UInt8] {
    let (fd, path) = try temporaryFile(suffix: ".dot")
    defer { removeTemporaryFile(path) }
    let written = writeAll(Array(source.utf8), to: fd)
    close(fd)
    if written != 0 {
      writeStandardError(
        "rawlockcheck: cannot write a temporary file: \(String(cString: strerror(written)))\n")
      throw ExitCode(2)
    }
    let (outFD, outPath) = try temporaryFile(suffix: ".out")
    defer {
      close(outFD)
      removeTemporaryFile(outPath)
    }
    let status = spawnAndWait(["dot", "-T\(format)", "-o", outPath, path])
    switch status {
    case .notFound:
      writeStandardError(
        "rawlockcheck: graph --format \(format) needs Graphviz's dot, which is not on PATH "
          + "(install graphviz, or use --format dot and run dot yourself)\n")
      throw ExitCode(2)
    case .failed(let message):
      writeStandardError("rawlockcheck: dot: \(message)\n")
      throw ExitCode(2)
    case .exited(0):
      guard let bytes = readAll(outFD) else {
        writeStandardError(
          "rawlockcheck: cannot read dot's output: \(String(cString: strerror(errno)))\n")
        throw ExitCode(2)
      }
      return bytes
    case .exited(let code):
      writeStandardError("rawlockcheck: dot -T\(format) exited with status \(code)\n")
      throw ExitCode(2)
    }
  }

  /// Everything in the file open as `descriptor`, from its start; nil
  /// when a read fails (`errno` says why).
  static func readAll(_ descriptor: Int32) -> [UInt8]? {
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 1 << 16)
    var offset: off_t = 0
    while true {
      let count = chunk.withUnsafeMutableBytes {
        pread(descriptor, $0.baseAddress!, $0.count, offset)
      }
      if count < 0, errno == EINTR { continue }
      if count < 0 { return nil }
      if count == 0 { return bytes }
      bytes += chunk[..<count]
      offset += off_t(count)
    }
  }

  /// How a spawned program ended.
  enum Outcome: Equatable {
    /// Not found on `PATH`.
    case notFound
    /// Could not be started, or was killed: why.
    case failed(String)
    /// Exited with this status.
    case exited(Int32)
  }

  /// Runs `arguments[0]` (searched on `PATH`) with the standard streams
  /// inherited, and waits for it.
  static func spawnAndWait(_ arguments: [String]) -> Outcome {
    var cArguments: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
    defer { for p in cArguments { free(p) } }
    var pid = pid_t()
    let rc = posix_spawnp(&pid, arguments[0], nil, nil, &cArguments, environ)
    if rc == ENOENT { return .notFound }
    if rc != 0 { return .failed(String(cString: strerror(rc))) }
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0 {
      if errno != EINTR { return .failed(String(cString: strerror(errno))) }
    }
    // WIFEXITED and WEXITSTATUS are macros Swift cannot import.
    if status & 0x7f == 0 { return .exited((status >> 8) & 0xff) }
    return .failed("killed by signal \(status & 0x7f)")
  }
}
