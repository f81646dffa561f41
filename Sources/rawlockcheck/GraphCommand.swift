import ArgumentParser
import Basics
import LockGraph
import Report
import Trace

#if canImport(Glibc)
  import Glibc
#endif

/// `rawlockcheck graph`: the lock-class dependency graph of traces (their
/// union, as `report --merge` validates it) and of a graph file, as
/// DOT, SVG (through Graphviz's `dot`) or JSON, with the edges of reported
/// circular dependencies and of invalid wait contexts highlighted.
struct GraphCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "graph",
    abstract: "Draw the lock-class dependency graph of traces (DOT, SVG or JSON).",
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
      (for svg 500 unless given: Graphviz's layout of a few thousand edges takes minutes), \
      or of more than twice as many classes, is drawn in part: the edges findings mark, then \
      the other edges of their classes, then the rest in the order first seen, and at most \
      twice as many classes, those of the edges drawn first; the title and a line on stderr \
      say how much. Several \
      traces are drawn as one graph, the union that report --merge validates (each trace's \
      threads apart); --graph-in adds a graph file's classes and dependencies (a CI run's \
      graph kept by report --graph-out), and alone draws that file. Exit status 0, or 2 when \
      a trace or the graph file cannot be read (the traces that could be are drawn), the \
      output cannot be written or dot is missing.
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

  // Given once (`OnceOptions`), as `report`'s.
  @Option(
    name: .customLong("graph-in"),
    help: ArgumentHelp(
      "Also draw the classes and dependencies of a graph file written by report --graph-out; - for standard input. Once.",
      valueName: "file"))
  var graphIn: String?

  @Argument(
    help:
      "Trace files (text or binary encoding), drawn as one graph; - for standard input (either encoding)."
  )
  var traces: [String] = []

  mutating func validate() throws {
    traces = PositionalRuns.expand(traces)
    if let maxEdges, maxEdges < 0 {
      throw ValidationError("--max-edges must be 0 (all) or more, got \(maxEdges)")
    }
    if traces.isEmpty && graphIn == nil {
      throw ValidationError("Missing expected argument '<traces> ...' (or --graph-in <file>)")
    }
    try StandardInputUse.checkOnce(traces + [graphIn].compactMap { $0 })
  }

  func run() throws {
    try OutputFile.refuse(output ?? "-", beingAnyOf: traces + [graphIn].compactMap { $0 })
    // A file is opened before anything is read: one that cannot be
    // written (no such directory, a read-only file) is said at once, not
    // after a long trace was validated for nothing. (A FIFO waits.)
    let early = OutputFile.isReplacedWhole(output) ? try OutputFile(path: output) : nil
    var seed: GraphFile? = nil
    if let graphIn {
      do {
        seed = try GraphFile.read(
          path: ReportCommand.file(for: graphIn), displayName: QuotedText.fileName(graphIn))
      } catch {
        writeStandardError("rawlockcheck: \(error)\n")
        throw ExitCode(2)
      }
    }
    let run = UnionRun(
      configuration: options.configuration, graphIn: graphIn, symbolFiles: symbolFiles)
    let paths = ReportCommand.once(traces)
    var warnings: [SARIFReport.Failure] = []
    var unread: [SARIFReport.Failure] = []
    let report: TextReport
    let pool = run.symbolizerPool()
    do {
      report = try run.validate(
        paths, seed: seed, warnings: &warnings, unread: &unread, pool: pool)
    } catch {
      writeStandardError(
        "rawlockcheck: \((error as? UnionRun.UnionError)?.message ?? "\(error)")\n")
      throw ExitCode(2)
    }
    // Nothing read (every trace of several said why): nothing to draw.
    if seed == nil && unread.count == paths.count { throw ExitCode(2) }
    // A class past the class table has no node: said, as `report` says it.
    let pastTable = report.findings.filter {
      if case .limitExceeded(let limit, _, _) = $0.detail {
        limit == "MAX_LOCKDEP_KEYS"
      } else {
        false
      }
    }.reduce(0) { $0 + $1.count }
    if pastTable > 0 {
      writeStandardError(
        "rawlockcheck: graph: \(report.source): \(pastTable) acquisition(s) of classes past the "
          + "class table (MAX_LOCKDEP_KEYS, \(ClassRegistry.capacity)) not drawn\n")
    }
    var graph = ClassGraph(report: report)
    if let graphIn, !traces.isEmpty { graph.source += " + \(graphIn)" }
    let limit = maxEdges ?? (format == .svg ? Self.defaultSVGEdges : 0)
    if limit > 0 {
      graph = graph.limited(toEdges: limit)
      if let note = graph.partNote {
        writeStandardError(
          "rawlockcheck: graph: \(report.source): \(note); --max-edges 0 draws all\n")
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
    let file = try early ?? OutputFile(path: output)
    try file.write(bytes)
    try file.commit()
    symbolFiles.sayMissingSplitUnits(pool, report, of: report.source)
    // A trace of several that could not be read was said; the others are drawn.
    if !unread.isEmpty { throw ExitCode(2) }
  }
}

/// Graphviz's `dot`, run on a DOT text through a temporary file.
enum GraphvizDot {
  /// `makeTemporaryFile` in `temporaryDirectory()`.
  /// - Throws: `ExitCode(2)` after a one-line error when it cannot be made.
  private static func temporaryFile(suffix: String) throws -> (fd: Int32, path: String) {
    let directory = temporaryDirectory()
    guard let made = makeTemporaryFile(prefix: "\(directory)/rawlockcheck-graph-", suffix: suffix)
    else {
      writeStandardError(
        "rawlockcheck: cannot create a temporary file in \(QuotedText.printable(directory)): "
          + "\(String(cString: strerror(errno)))\n")
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
    // dot's own messages, kept to be said in this tool's words: the first
    // in the one-line error when it fails, each as a line of its own when
    // it succeeds with warnings.
    let (errFD, errPath) = try temporaryFile(suffix: ".err")
    defer {
      close(errFD)
      removeTemporaryFile(errPath)
    }
    let status = spawnAndWait(["dot", "-T\(format)", "-o", outPath, path], standardError: errFD)
    let said = messages(readAll(errFD, limit: 1 << 16) ?? [])
    switch status {
    case .notFound:
      writeStandardError(
        "rawlockcheck: graph --format \(format) needs Graphviz's dot, which is not on PATH "
          + "(install graphviz, or use --format dot and run dot yourself)\n")
      throw ExitCode(2)
    case .failed(let message):
      writeStandardError("rawlockcheck: dot: \(message)\(said.first.map { ": \($0)" } ?? "")\n")
      throw ExitCode(2)
    case .exited(0):
      for line in said { writeStandardError("rawlockcheck: dot: \(line)\n") }
      guard let bytes = readAll(outFD) else {
        writeStandardError(
          "rawlockcheck: cannot read dot's output: \(String(cString: strerror(errno)))\n")
        throw ExitCode(2)
      }
      return bytes
    case .exited(let code):
      writeStandardError(
        "rawlockcheck: dot -T\(format) exited with status \(code)"
          + "\(said.first.map { ": \($0)" } ?? "")\n")
      throw ExitCode(2)
    }
  }

  /// The lines of what a program wrote to its standard error (its first
  /// 64 KiB: `render`), each made printable and cut to 300 characters,
  /// blank ones left out, at most 20.
  static func messages(_ bytes: [UInt8]) -> [String] {
    String(decoding: bytes, as: UTF8.self).split(whereSeparator: \.isNewline)
      .map { line in
        let text = QuotedText.printable(String(line.prefix(300)))
        return String(
          text.drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " }.reversed())
      }
      .filter { !$0.isEmpty }.prefix(20).map { $0 }
  }

  /// Everything in the file open as `descriptor`, from its start, or its
  /// first `limit` bytes; nil when a read fails (`errno` says why).
  static func readAll(_ descriptor: Int32, limit: Int = .max) -> [UInt8]? {
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 1 << 16)
    var offset: off_t = 0
    while bytes.count < limit {
      let wanted = min(chunk.count, limit - bytes.count)
      let count = chunk.withUnsafeMutableBytes {
        pread(descriptor, $0.baseAddress!, wanted, offset)
      }
      if count < 0, errno == EINTR { continue }
      if count < 0 { return nil }
      if count == 0 { return bytes }
      bytes += chunk[..<count]
      offset += off_t(count)
    }
    return bytes
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
  /// inherited, its standard error sent to `standardError` when given,
  /// and waits for it. A signal that ends this process while
  /// the child runs is passed on to it (`InterruptCleanup`): the signals
  /// are blocked from before it starts until it is tracked, and it is
  /// untracked before it is reaped (its pid cannot be another process's
  /// until then). The child starts with no signal blocked and the default
  /// actions of those this process ignores (SIGXFSZ).
  static func spawnAndWait(_ arguments: [String], standardError: Int32? = nil) -> Outcome {
    var cArguments: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
    defer { for p in cArguments { free(p) } }
    InterruptCleanup.install()
    var handled = sigset_t()
    sigemptyset(&handled)
    for number in InterruptCleanup.handled { sigaddset(&handled, number) }
    var before = sigset_t()
    pthread_sigmask(SIG_BLOCK, &handled, &before)
    var attributes = posix_spawnattr_t()
    posix_spawnattr_init(&attributes)
    defer { posix_spawnattr_destroy(&attributes) }
    var none = sigset_t()
    sigemptyset(&none)
    posix_spawnattr_setsigmask(&attributes, &none)
    var defaults = sigset_t()
    sigemptyset(&defaults)
    sigaddset(&defaults, SIGXFSZ)
    posix_spawnattr_setsigdefault(&attributes, &defaults)
    posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    if let standardError { posix_spawn_file_actions_adddup2(&actions, standardError, 2) }
    var pid = pid_t()
    let rc = posix_spawnp(&pid, arguments[0], &actions, &attributes, &cArguments, environ)
    if rc == 0 { InterruptCleanup.trackChild(pid) }
    pthread_sigmask(SIG_SETMASK, &before, nil)
    if rc == ENOENT { return .notFound }
    if rc != 0 { return .failed(String(cString: strerror(rc))) }
    // Ended, and left unreaped (`WNOWAIT`) until it is untracked.
    var ended = siginfo_t()
    while waitid(P_PID, id_t(pid), &ended, WEXITED | WNOWAIT) < 0 {
      if errno != EINTR {
        InterruptCleanup.trackChild(0)
        return .failed(String(cString: strerror(errno)))
      }
    }
    InterruptCleanup.trackChild(0)
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0 {
      if errno != EINTR { return .failed(String(cString: strerror(errno))) }
    }
    // WIFEXITED and WEXITSTATUS are macros Swift cannot import.
    if status & 0x7f == 0 { return .exited((status >> 8) & 0xff) }
    return .failed("killed by signal \(status & 0x7f)")
  }
}
