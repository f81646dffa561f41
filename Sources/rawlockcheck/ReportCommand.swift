import ArgumentParser
import Basics
import LockGraph
import Report
import Trace

#if canImport(Glibc)
  import Glibc
#endif

/// `rawlockcheck report`: validates traces offline and prints the findings.
struct ReportCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "report",
    abstract: "Validate traces and report what lockdep would.",
    discussion: """
      Each trace is validated on its own. Text output prints lockdep-style blocks and a \
      summary line per trace; JSON prints one object per trace (an array for several); \
      SARIF prints one SARIF 2.1.0 log with one run for all traces. A trace of "-" is read \
      from standard input. With --merge, all traces are validated as one run: the union of \
      their dependency graphs (CI shards, separate processes), each trace's threads apart. \
      --graph-in and --graph-out keep that graph between runs (docs/graph-file-format.md).
      """
  )

  @OptionGroup var options: CheckOptions

  @Option(help: "Output format.")
  var format: OutputFormat = .text

  @OptionGroup var symbolFiles: SymbolFileOptions

  @Option(
    name: .customLong("source-root"),
    help: ArgumentHelp(
      "With --format sarif: give files under this directory relative to it (base id SRCROOT), as code scanning expects.",
      valueName: "dir"))
  var sourceRoot: String?

  /// Ends what the JSON and SARIF formats collect over every trace: the
  /// JSON output (one object for one report, an array of those that could
  /// be read for several: `JSONReports`), or the SARIF log (which names
  /// the traces that could not be read, `failures`).
  func printCollected(
    objects: JSONReports, sarif: inout SARIFOutput,
    failures: [SARIFReport.Failure], warnings: [SARIFReport.Failure]
  ) throws(OutputError) {
    if format == .sarif { try sarif.finish(failures: failures, warnings: warnings) }
    if format == .json { try objects.finish() }
  }

  /// The SARIF log's output, its results written a trace at a time.
  func sarifOutput() -> SARIFOutput {
    SARIFOutput(
      log: SARIFReport(
        reports: [], version: RawLockCheck.version, sourceRoot: absoluteSourceRoot,
        spelledSourceRoot: spelledSourceRoot, workingDirectory: currentDirectory()))
  }

  /// `--source-root` made absolute as spelled, without `.` and `//` (a
  /// `..` after a symbolic link means the link target's parent, which only
  /// `realpath` tells: such a spelling has none).
  var spelledSourceRoot: String? {
    guard let sourceRoot, !sourceRoot.split(separator: "/").contains("..") else { return nil }
    return normalizedPath(sourceRoot)
  }

  /// `--source-root` as the directory it names (`realpath`: `link/..` is
  /// the link target's parent, as the kernel reads it).
  var absoluteSourceRoot: String? { sourceRoot.map { resolvedPath($0) ?? normalizedPath($0) } }

  @Option(
    name: .customLong("hide-frames"),
    help: ArgumentHelp(
      "Also leave out the leading frames of a stack whose function (linkage or demangled name) starts with this prefix, or that belong to this Swift module, such as your own lock wrappers (repeatable).",
      valueName: "prefix"))
  var hiddenFramePrefixes: [String] = []

  @Flag(help: "Keep rawlockcheck's own frames (Lockdep, LockdepTesting) at the top of stacks.")
  var allFrames = false

  @Option(
    name: .customLong("reader-thread"),
    help: ArgumentHelp(
      "Read each trace on a thread of its own while validating: on, off, or auto (on when this process may use more than one core, for a trace of 1 MiB or more or not in a regular file).",
      valueName: "choice"))
  var readerThread: ReaderThreadChoice = .auto

  @Flag(help: "Print events per second and the chain-cache hit rate to standard error.")
  var statistics = false

  @Flag(
    help:
      "Validate the union of the traces' dependency graphs (separate processes, CI shards) as one run."
  )
  var merge = false

  // Given once each (`OnceOptions`): a graph file given and silently not
  // read is a cycle not found.
  @Option(
    name: .customLong("graph-in"),
    help: ArgumentHelp(
      "Check against the classes and dependencies of a graph file written by an earlier run; - for standard input. Once.",
      valueName: "file"))
  var graphIn: String?

  @Option(
    name: .customLong("graph-out"),
    help: ArgumentHelp(
      "Write the classes and dependencies seen (with --graph-in's) to a graph file. Once.",
      valueName: "file"))
  var graphOut: String?

  @Argument(
    help:
      "Trace files (text or binary encoding, docs/spec/trace-format.md); - for standard input (either encoding)."
  )
  var traces: [String]

  mutating func validate() throws {
    if hiddenFramePrefixes.contains("") {
      throw ValidationError("--hide-frames needs a prefix: an empty one would hide every frame")
    }
    traces = PositionalRuns.expand(traces)
    if traces.isEmpty { throw ValidationError("Missing expected argument '<traces> ...'") }
    if let sourceRoot {
      guard isDirectory(sourceRoot) else {
        throw ValidationError("--source-root \(QuotedText.fileName(sourceRoot)): not a directory")
      }
      // A relative root is placed against the working directory: one that
      // was removed has no path (`.` became `/`, silently).
      if !sourceRoot.hasPrefix("/"), currentDirectory() == nil {
        throw ValidationError(
          "--source-root \(QuotedText.fileName(sourceRoot)): relative, and the working directory "
            + "has no path (\(String(cString: strerror(errno)))): give it as an absolute path")
      }
    }
    try StandardInputUse.checkOnce(traces + [graphIn].compactMap { $0 })
    if let graphOut, format != .text, graphOut == "-" || OutputFile.isStandardOutput(graphOut) {
      throw ValidationError(
        "--graph-out \(graphOut) would write the graph file into the \(format.rawValue) document on standard output: name a file"
      )
    }
  }

  /// The file to open for a trace argument: `-` is standard input.
  static func file(for path: String) -> String { path == "-" ? "/dev/stdin" : path }

  func run() throws {
    if sourceRoot != nil && format != .sarif {
      writeStandardError(
        "rawlockcheck: --source-root is used only with --format sarif; "
          + "the \(format.rawValue) report is as without it\n")
    }
    // The graph file may be the one read (`--graph-in`), never a trace;
    // the report is written to neither.
    try OutputFile.refuse(graphOut, beingAnyOf: traces)
    try OutputFile.refuse("-", beingAnyOf: traces + [graphIn].compactMap { $0 })
    try OutputFile.refuseOverwriting(
      graphOut, unlessStartingWith: GraphFile.headerWord, version: GraphFile.version)
    ReadingInterruption.begin()
    if keepsGraph { return try runUnion() }
    var anyFindings = false
    var anyErrors = false
    var objects = JSONReports(several: traces.count > 1)
    var sarif = sarifOutput()
    var failures: [SARIFReport.Failure] = []
    var warnings: [SARIFReport.Failure] = []
    let pool = unionRun.symbolizerPool()
    // The last trace's report: one made only as it is printed (JSON of
    // one trace) looks its addresses up then.
    var last: (report: TextReport, path: String)?
    for (i, path) in traces.enumerated() {
      if ReadingInterruption.signal != nil {
        ReadingInterruption.sayNotRead(traces[i...])
        break
      }
      let progress = ProgressBar(label: path)
      var validator = LockValidator(configuration: options.configuration)
      let symbols: TraceSymbols
      let started = MonotonicClock.now()
      var said: [SARIFReport.Failure] = []
      defer { warnings += said }
      // A malformed record of a binary trace ends its reading: the records
      // before it are reported, and it is this trace's error (status 2).
      let corruption = TraceCorruption()
      do {
        var reader = TraceReader(
          path: Self.file(for: path), displayName: QuotedText.fileName(path))
        reader.corruption = corruption
        let warning = Self.warning(path, progress: progress) { said.append($0) }
        symbols =
          try readerThread.isOn(forTraceAt: path)
          ? reader.readOnTwoThreads(
            into: &validator, progress: progress.update, warning: warning,
            interruption: ReadingInterruption.trace)
          : reader.read(
            into: &validator, progress: progress.update, warning: warning,
            interruption: ReadingInterruption.trace)
        progress.finish()
        if let error = corruption.error {
          writeStandardError("rawlockcheck: \(error)\n")
          failures.append((path, "\(error)"))
          anyErrors = true
        }
        // The last trace read: a signal from here on (its symbolizing)
        // ends the run.
        if i == traces.count - 1 { ReadingInterruption.end() }
        if statistics {
          writeStandardError(
            Self.statisticsLine(path, validator, seconds: MonotonicClock.now() - started))
        }
      } catch {
        progress.finish()
        writeStandardError("rawlockcheck: \(error)\n")
        failures.append((path, "\(error)"))
        anyErrors = true
        continue
      }
      if validator.findings.count > 0 { anyFindings = true }
      let report = TextReport(
        validator: validator, source: path,
        resolver: unionRun.resolver(
          for: symbols, path: path, pool: pool,
          returnAddresses: Self.haveReturnAddresses(validator.findings.findings)))
      switch format {
      case .text:
        try report.render { (block) throws(OutputError) in try writeStandardOutput(block) }
      case .json: try objects.add(JSONReport(report: report, version: RawLockCheck.version).value())
      case .sarif: try sarif.add(report)
      }
      symbolFiles.sayMissingSplitUnits(pool, report, of: path)
      last = (report, path)
    }
    // The reading is over: a signal from here on ends the run.
    ReadingInterruption.end()
    ReadingInterruption.addFailure(to: &failures)
    try printCollected(
      objects: objects, sarif: &sarif, failures: failures,
      warnings: warnings)
    if let last { symbolFiles.sayMissingSplitUnits(pool, last.report, of: last.path) }
    try Self.end(anyErrors: anyErrors, anyFindings: anyFindings)
  }

  /// Ends the run with its status: 128 plus the signal's number when an
  /// interrupt cut the reading short (`ReadingInterruption`), else 2 when
  /// something could not be read, 1 for findings, 0.
  static func end(anyErrors: Bool, anyFindings: Bool) throws {
    if let interrupted = ReadingInterruption.exitCode { throw interrupted }
    if anyErrors { throw ExitCode(2) }
    if anyFindings { throw ExitCode(1) }
  }

  /// A reader's warning callback for trace `path`: clears `progress`'s bar
  /// (a warning printed over it would share its line), says the warning on
  /// standard error, as by default, and hands it to `keep` (for the SARIF
  /// log's notifications).
  static func warning(
    _ path: String, progress: ProgressBar, keep: @escaping (SARIFReport.Failure) -> Void
  ) -> (String) -> Void {
    { message in
      progress.finish()
      TraceReader.standardError(message)
      keep((path, message))
    }
  }

  /// The run's traces validated as one (`--merge`, `--graph-in`), and
  /// their frames.
  var unionRun: UnionRun {
    UnionRun(
      configuration: options.configuration, graphIn: graphIn, statistics: statistics,
      symbolFiles: symbolFiles,
      filter: FrameFilterChoice(hidden: hiddenFramePrefixes, keepOwnFrames: allFrames))
  }

  /// Whether any place of `findings` (`Finding.origins`) has a return
  /// address.
  static func haveReturnAddresses(_ findings: [Finding]) -> Bool {
    findings.contains { $0.origins.contains { $0.ip != 0 } }
  }

  static func statisticsLine(_ path: String, _ v: LockValidator, seconds: Double) -> String {
    statisticsLine(
      path, v, since: (0, ThreadValidator.Statistics()), merged: false, seconds: seconds)
  }

  /// `--statistics`' line for a trace whose events `v` validated after
  /// `before` (its event count and counters then): the trace's own events
  /// and chain-cache lookups, and the classes and dependencies of the
  /// whole graph (with `merged`, said to be the merged graph's so far).
  static func statisticsLine(
    _ path: String, _ v: LockValidator,
    since before: (events: Int64, counters: ThreadValidator.Statistics),
    merged: Bool, seconds: Double
  ) -> String {
    let s = v.statistics
    let events = v.eventCount - before.events
    let hits = s.chainHits - before.counters.chainHits
    let misses = s.chainMisses - before.counters.chainMisses
    let lookups = hits + misses
    let hitRate = lookups == 0 ? 0 : Double(hits) / Double(lookups) * 100
    let rate = seconds > 0 ? Double(events) / seconds : 0
    return
      "\(path): \(events) events in \(String(format2: seconds)) s, \(Int(rate)) events/s; "
      + "chain cache \(hits) hits, \(misses) misses (\(String(format2: hitRate))% hits); "
      + "\(v.classes.count) classes, \(v.core.dependencyCount) dependencies"
      + (merged ? " in the merged graph so far\n" : "\n")
  }
}

extension String {
  /// A number with two decimals, without Foundation.
  init(format2 value: Double) {
    let hundredths = Int((value * 100).rounded())
    let frac = abs(hundredths % 100)
    self = "\(hundredths / 100).\(frac < 10 ? "0" : "")\(frac)"
  }
}

/// A monotonic clock (`CLOCK_MONOTONIC`).
enum MonotonicClock {
  /// Seconds.
  static func now() -> Double { Double(nanoseconds()) / 1e9 }

  /// Nanoseconds; safe in a signal handler (no allocation, no lock).
  static func nanoseconds() -> UInt {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt(truncatingIfNeeded: ts.tv_sec) &* 1_000_000_000
      &+ UInt(truncatingIfNeeded: ts.tv_nsec)
  }
}
