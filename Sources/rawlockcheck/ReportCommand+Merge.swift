import ArgumentParser
import Basics
import LockGraph
import Report
import Symbolizer
import Trace
import WaitContext

#if canImport(Glibc)
  import Glibc
#endif

/// `report --merge`, `--graph-in` and `--graph-out`: validating the union
/// of several traces' dependency graphs, and keeping that graph between runs
/// (`docs/graph-file-format.md`).
extension ReportCommand {
  /// Whether the run goes through `runUnion()`.
  var keepsGraph: Bool { merge || graphIn != nil || graphOut != nil }

  /// Validates the traces (all in one validator with `--merge`, else each
  /// on its own), each validator seeded with `--graph-in`; prints as `run()`
  /// does; writes the union to `--graph-out` unless a trace or the graph
  /// file could not be read.
  func runUnion() throws {
    var seed: GraphFile? = nil
    var anyErrors = false
    var failures: [SARIFReport.Failure] = []
    // The graph file's temporary file is made before anything is read: a
    // `--graph-out` that cannot be written (no such directory, a
    // read-only file) is this run's error at once, as an unreadable
    // `--graph-in` is, not after every trace was validated for nothing.
    // A FIFO or device is opened only once the graph is made (opening it
    // waits for its reader, who may first write the trace).
    var graphFile: OutputFile? = nil
    if let graphOut, OutputFile.isReplacedWhole(graphOut) {
      do {
        graphFile = try OutputFile(path: graphOut, followingStandardOutput: true)
      } catch {
        writeStandardError("rawlockcheck: \(error)\n")
        failures.append((graphOut, "\(error)"))
        anyErrors = true
      }
    }
    if let graphIn, !anyErrors {
      do {
        seed = try GraphFile.read(
          path: Self.file(for: graphIn), displayName: QuotedText.fileName(graphIn),
          opening: ReadingInterruption.trace)
      } catch {
        // No trace is read; the report (a SARIF log) says why.
        writeStandardError("rawlockcheck: \(error)\n")
        failures.append((graphIn, "\(error)"))
        anyErrors = true
      }
    }
    let groups: [[String]] = anyErrors ? [] : merge ? [Self.once(traces)] : traces.map { [$0] }
    var anyFindings = false
    var objects = JSONReports(several: groups.count > 1)
    var sarif = sarifOutput()
    var warnings: [SARIFReport.Failure] = []
    var union = GraphFile()
    // The trace each class of `union` came from, for its conflicts.
    var classSources: [ExactKey: String] = [:]
    let run = unionRun
    let pool = run.symbolizerPool()
    // The last group's report: one made only as it is printed (JSON of
    // one group) looks its addresses up then.
    var last: TextReport?
    for (g, group) in groups.enumerated() {
      // Interrupted while the graph file was read: the first report still
      // is made (of the graph file alone, its traces not read), so that
      // the output is a whole report, as after any interrupt.
      if g > 0, ReadingInterruption.signal != nil {
        ReadingInterruption.sayNotRead(groups[g...].joined())
        break
      }
      let report: TextReport
      do {
        var unread: [SARIFReport.Failure] = []
        report = try run.validate(
          group, seed: seed, warnings: &warnings, unread: &unread, pool: pool)
        // The last group read: a signal from here on ends the run.
        if g == groups.count - 1 { ReadingInterruption.end() }
        if !unread.isEmpty {
          failures += unread
          anyErrors = true
        }
      } catch {
        let message = (error as? UnionRun.UnionError)?.message ?? "\(error)"
        writeStandardError("rawlockcheck: \(message)\n")
        anyErrors = true
        if let graphIn, (error as? UnionRun.UnionError)?.inGraphFile == true {
          // The graph file's fault, said once, of the graph file.
          failures.append((graphIn, message))
          break
        }
        failures.append((group.count == 1 ? group[0] : nil, message))
        continue
      }
      if !report.findings.isEmpty { anyFindings = true }
      switch format {
      case .text:
        try report.render { (block) throws(OutputError) in try writeStandardOutput(block) }
      case .json: try objects.add(JSONReport(report: report, version: RawLockCheck.version).value())
      case .sarif: try sarif.add(report)
      }
      run.symbolFiles.sayMissingSplitUnits(pool, report, of: report.source)
      last = report
      if let graphOut {
        let graph = Self.graphFile(of: report, seededFrom: graphIn)
        for (here, other) in union.formUnion(graph) {
          // One graph file holds one class per key: validated apart, the
          // traces could not say it, and the file would be refused with
          // them (`--graph-in`) as `--merge` refuses them.
          let message =
            "\(QuotedText.fileName(graphOut)): class \"\(QuotedText.shown(other.key))\" is "
            + "\(MergingConsumer.describe(other.kind, other.waits)) in \(QuotedText.fileName(group[0])) but "
            + "\(MergingConsumer.describe(here.kind, here.waits)) in "
            + "\(classSources[ExactKey(here.key)].map(QuotedText.fileName) ?? "an earlier trace"): "
            + "a graph file holds one class per key"
          writeStandardError("rawlockcheck: \(message)\n")
          failures.append((graphOut, message))
          anyErrors = true
        }
        for c in graph.classes where classSources[ExactKey(c.key)] == nil {
          classSources[ExactKey(c.key)] = group[0]
        }
      }
    }
    // The reading is over (a signal now ends the run); after an interrupt,
    // the graph file is not written: the old one stays, as after any run
    // that could not read everything.
    ReadingInterruption.end()
    if let graphOut, let reason = ReadingInterruption.reason {
      writeStandardError(
        "rawlockcheck: \(reason): \(QuotedText.fileName(graphOut)) not written\n")
    }
    // The graph file is written, to the temporary file beside it, before
    // the report is printed: a SARIF log then says the run failed when it
    // cannot be (a full disk too). It takes its place after the report (a
    // reader of the report that goes away ends the process by SIGPIPE,
    // which removes the temporary file: `InterruptCleanup`).
    if let graphOut, !anyErrors, ReadingInterruption.signal == nil {
      do throws(UnionRun.UnionError) {
        let text = try graphFileText(union, to: graphOut, several: groups.count > 1)
        do {
          // After the text report, when standard output goes to it too.
          let file = try graphFile ?? OutputFile(path: graphOut, followingStandardOutput: true)
          try file.write(text)
          try file.sync()
          graphFile = file
        } catch {
          writeStandardError("rawlockcheck: \(error)\n")
          throw UnionRun.UnionError(message: "\(error)")
        }
      } catch {
        failures.append((graphOut, error.message))
        anyErrors = true
      }
    }
    // Not committed after an error: the old graph file stays.
    if anyErrors || ReadingInterruption.signal != nil { graphFile = nil }
    ReadingInterruption.addFailure(to: &failures)
    try printCollected(
      objects: objects, sarif: &sarif, failures: failures,
      warnings: warnings)
    if let last { run.symbolFiles.sayMissingSplitUnits(pool, last, of: last.source) }
    try graphFile?.commit()
    try Self.end(anyErrors: anyErrors, anyFindings: anyFindings)
  }

  /// The `--graph-out` file's text for `union`; the dependencies it
  /// leaves out are said on standard error.
  /// - Throws: the one-line error (said on standard error) when it cannot
  ///   be written.
  private func graphFileText(_ union: GraphFile, to graphOut: String, several: Bool)
    throws(UnionRun.UnionError) -> String
  {
    var union = union
    // Read back, each class and each subclass an edge names takes a slot
    // of the class table: a file with more could not be read. Checked
    // before the cycles are taken out, which registers the classes too.
    var variants = Set<ExactKey>()
    for e in union.edges {
      if e.fromSub != 0 { variants.insert(ExactKey("\(e.fromSub)\u{0}\(e.from)")) }
      if e.toSub != 0 { variants.insert(ExactKey("\(e.toSub)\u{0}\(e.to)")) }
    }
    let needed = union.classes.count + variants.count
    if needed > ClassRegistry.capacity {
      let message =
        "\(QuotedText.fileName(graphOut)): \(needed) lock classes and subclasses, more than a graph file can be read "
        + "back with (the limit is \(ClassRegistry.capacity))"
      writeStandardError("rawlockcheck: \(message)\n")
      throw UnionRun.UnionError(message: message)
    }
    if several {
      // Traces validated apart, each clean, may hold the two orders of
      // a pair between them: the file keeps the first, as one run over
      // all of them would have (and reported the second).
      let (acyclic, dropped) = Self.acyclic(union, configuration: options.configuration)
      union = acyclic
      for e in dropped {
        Self.sayLeftOut(
          e, from: graphOut, "with the other traces' dependencies (--merge reports it)")
      }
    }
    // A strong cycle lockdep's search missed (the validator holds it, and
    // reports it only if a later chain takes one of its dependencies
    // again): a graph file holds none (`GraphFile.strongCycleEdges()`).
    let closing = union.strongCycleEdges()
    if !closing.isEmpty {
      let left = Set(closing)
      for i in closing {
        Self.sayLeftOut(union.edges[i], from: graphOut, "with the dependencies before it")
      }
      union.edges = union.edges.enumerated().filter { !left.contains($0.offset) }.map(\.element)
    }
    let comment =
      "written by rawlockcheck \(RawLockCheck.version) from \(traces.joined(separator: " "))"
    do {
      return try union.render(comment: comment)
    } catch {
      writeStandardError("rawlockcheck: \(QuotedText.fileName(graphOut)): \(error)\n")
      throw UnionRun.UnionError(message: "\(QuotedText.fileName(graphOut)): \(error)")
    }
  }

  /// `paths` without a file named again (by the same path, another one or
  /// a hard link: the same device and inode), said on standard error: a
  /// trace merged with itself would report each finding twice, at one
  /// place. Standard input (`-`) counts as the file it is redirected from;
  /// a pipe, and paths that cannot be read, are kept (their reading says
  /// why).
  static func once(_ paths: [String]) -> [String] {
    var seen: [String: String] = [:]
    var kept: [String] = []
    for path in paths {
      var info = stat()
      // Standard input redirected from a file is that file; a pipe is
      // no other input.
      let known =
        path == "-"
        ? fstat(STDIN_FILENO, &info) == 0 && info.st_mode & S_IFMT == S_IFREG
        : stat(path, &info) == 0
      guard known else {
        kept.append(path)
        continue
      }
      let identity = "\(info.st_dev):\(info.st_ino)"
      if let first = seen[identity] {
        writeStandardError(
          "rawlockcheck: \(QuotedText.printable(path)): the same file as "
            + "\(QuotedText.printable(first)), merged once\n")
        continue
      }
      seen[identity] = path
      kept.append(path)
    }
    return kept
  }

  /// Says on standard error that the graph file `graphOut` leaves out
  /// edge `e` (with the trace and line it came from), which closes a cycle
  /// `closing` (`with ...`).
  static func sayLeftOut(_ e: GraphFile.Edge, from graphOut: String, _ closing: String) {
    let place =
      e.location.trace.map {
        " (\($0)\(e.location.traceLine > 0 ? ":\(e.location.traceLine)" : ""))"
      } ?? ""
    writeStandardError(
      "rawlockcheck: \(QuotedText.fileName(graphOut)): left out \(e.from) -> \(e.to)\(place): it closes a cycle "
        + "\(closing)\n")
  }

  /// The report's classes and dependency graph as a graph file: each edge
  /// with its first stack's innermost frame and its trace location.
  static func graphFile(of report: TextReport, seededFrom graphIn: String? = nil) -> GraphFile {
    var graph = GraphFile()
    let classes = report.core.classes
    for i in 0..<classes.count {
      let c = classes[ClassID(Int32(i))]
      if c.subclass != 0 { continue }
      graph.classes.append(
        GraphFile.Class(
          key: c.key, name: c.name == c.key ? nil : c.name, kind: c.kind, waits: c.waits))
    }
    for edge in report.core.graph.edges {
      let from = classes[edge.from]
      let to = classes[edge.to]
      // An edge seeded from `graphIn` (numbered -1) without a trace of its
      // own is listed there under the graph file's name: it keeps no trace.
      let source = report.sourceName(edge.origin)
      let seededWithoutTrace = edge.origin.event == -1 && source == graphIn
      var location = GraphFile.Location(
        trace: seededWithoutTrace ? nil : source, traceLine: edge.origin.line)
      if let frame = report.resolver.frames(for: edge.origin, first: 1).first,
        frame.function != nil || frame.file != nil
      {
        location.function = frame.function
        location.file = frame.file
        location.line = frame.file == nil ? 0 : frame.line
      }
      graph.edges.append(
        GraphFile.Edge(
          from: classes[from.base].key, fromSub: from.subclass, to: classes[to.base].key,
          toSub: to.subclass, kinds: edge.kinds, location: location))
    }
    return graph
  }
}

extension ReportCommand {
  /// `union` without the edges that close a cycle with the edges before
  /// them, and those edges: a graph file is acyclic (a later run seeds its
  /// validator with it, which refuses a cycle).
  static func acyclic(_ union: GraphFile, configuration: CheckConfiguration) -> (
    GraphFile, [GraphFile.Edge]
  ) {
    let core = LockValidator(configuration: configuration).core
    var classSources: [String: String] = [:]
    for c in union.classes {
      // Keys are distinct in a union: no kind conflicts.
      _ = try? MergingConsumer.register(
        key: c.key, name: c.name, kind: c.kind, waits: c.waits, in: core.classes, source: "",
        sources: &classSources)
    }
    var kept = union
    kept.edges = []
    var dropped: [GraphFile.Edge] = []
    let tables = core.classes.tables
    for e in union.edges {
      if let fromBase = core.classes.lookup(key: e.from),
        let toBase = core.classes.lookup(key: e.to),
        case let from = tables.variant(of: fromBase, subclass: e.fromSub),
        case let to = tables.variant(of: toBase, subclass: e.toSub),
        from != .none, to != .none,
        core.seedDependency(from: from, to: to, kinds: e.kinds, origin: Origin(event: -1))
      {
        kept.edges.append(e)
      } else {
        dropped.append(e)
      }
    }
    return (kept, dropped)
  }
}

extension GraphFile {
  /// Adds `other`'s classes (a key already here keeps its class) and
  /// edges (an edge already here gains `other`'s kinds, keeping its
  /// location).
  /// - Returns: `other`'s classes whose key is here with another kind or
  ///   other wait types, each with the class here.
  mutating func formUnion(_ other: GraphFile) -> [(here: Class, other: Class)] {
    var keys: [ExactKey: Int] = [:]
    for (i, c) in classes.enumerated() { keys[ExactKey(c.key)] = i }
    var conflicts: [(here: Class, other: Class)] = []
    for c in other.classes {
      if let i = keys[ExactKey(c.key)] {
        let here = classes[i]
        if here.kind != c.kind || !MergingConsumer.sameWaits(here.waits, c.waits) {
          conflicts.append((here, c))
        }
      } else {
        keys[ExactKey(c.key)] = classes.count
        classes.append(c)
      }
    }
    var index: [ExactKey: Int] = [:]
    for (i, e) in edges.enumerated() { index[Self.pair(e)] = i }
    for e in other.edges {
      if let i = index[Self.pair(e)] {
        edges[i].kinds.formUnion(e.kinds)
      } else {
        index[Self.pair(e)] = edges.count
        edges.append(e)
      }
    }
    return conflicts
  }

  private static func pair(_ e: Edge) -> ExactKey {
    ExactKey("\(e.from)\u{0}\(e.fromSub)\u{0}\(e.to)\u{0}\(e.toSub)")
  }
}
