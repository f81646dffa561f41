import Basics
import LockGraph
import Report
import Symbolizer
import Trace
import WaitContext

/// Several traces (and a graph file of earlier runs) validated as one run:
/// the union of their dependency graphs, each trace's threads apart. What
/// `report --merge` and `--graph-in` validate, and what `graph` draws.
struct UnionRun {
  /// How the run checks.
  var configuration: CheckConfiguration
  /// The graph file the run is seeded with (`--graph-in`), for messages
  /// and the names of its recorded traces.
  var graphIn: String?
  /// Whether each trace's `--statistics` line is said.
  var statistics = false
  /// Where the traces' modules are found.
  var symbolFiles: SymbolFileOptions
  /// Which frames stacks leave out.
  var filter = FrameFilterChoice()

  /// One message for the user (already `file:line:` when it is about a line).
  struct UnionError: Error {
    /// About the `--graph-in` file, not a trace: every trace's validator
    /// would fail alike.
    var inGraphFile = false
    var message: String
  }

  /// Validates `paths` in one validator seeded with `seed`; the report's
  /// `sources` name each origin's trace (the seed's recorded traces first).
  ///
  /// A trace of several that cannot be read is said (one line) and added
  /// to `unread`, and the others are still validated and reported: one
  /// shard's empty or broken trace must not hide every other shard's
  /// findings (the events it held before the error are part of the
  /// union). With one trace, its error is thrown.
  func validate(
    _ paths: [String], seed: GraphFile?, warnings: inout [SARIFReport.Failure],
    unread: inout [SARIFReport.Failure], pool: SymbolizerPool
  ) throws -> TextReport {
    var validator = LockValidator(configuration: configuration)
    var sources: [String] = []
    /// The findings folded so far (`MergedFindings`), and their keys.
    var folded = 0
    var foldKeys: [[String]: Int] = [:]
    var resolvers: [any FrameResolving] = []
    var classSources: [String: String] = [:]
    if let seed, let graphIn {
      try Self.seed(
        validator.core, from: seed, file: graphIn, sources: &sources, resolvers: &resolvers,
        classSources: &classSources)
    }
    // Each source's first event in the run's numbering, and its symbols
    // (the seed's sources, and a trace that could not be read, have none).
    var firstEvents = [Int64](repeating: 0, count: sources.count)
    var traceSymbols = [TraceSymbols?](repeating: nil, count: sources.count)
    // The traces begun (all, unless `report` was interrupted).
    var begun = paths[...]
    for (i, path) in paths.enumerated() {
      // `report` interrupted: the traces not begun are left (the union
      // holds those read), and the run is named after those read.
      if ReadingInterruption.signal != nil {
        ReadingInterruption.sayNotRead(paths[i...])
        begun = paths[..<i]
        break
      }
      firstEvents.append(validator.eventCount)
      let progress = ProgressBar(label: path)
      // Summed over every thread so far: only for `--statistics`.
      let before = statistics ? (validator.eventCount, validator.statistics) : nil
      // Both moved in, not copied: a copy left here would make the
      // consumer's first new thread copy every thread's validator, and its
      // first new class every class's source (per trace: a quadratic merge
      // of thousands of shards).
      var consumer = MergingConsumer(
        validator: consume validator, trace: Int32(sources.count), source: path,
        threadPrefix: paths.count > 1 ? "\(i + 1):" : "", classSources: consume classSources)
      let started = MonotonicClock.now()
      let symbols: TraceSymbols
      var said: [SARIFReport.Failure] = []
      defer { warnings += said }
      let warn = ReportCommand.warning(path, progress: progress) { said.append($0) }
      defer { consumer.warnings.forEach(warn) }
      do {
        symbols = try TraceReader(
          path: ReportCommand.file(for: path), displayName: QuotedText.fileName(path)
        ).read(
          into: &consumer, progress: progress.update, warning: warn,
          interruption: ReadingInterruption.trace)
        progress.finish()
      } catch {
        progress.finish()
        if paths.count == 1 { throw UnionError(message: "\(error)") }
        writeStandardError("rawlockcheck: \(error)\n")
        unread.append((path, "\(error)"))
        validator = consumer.validator
        classSources = consumer.classSources
        sources.append(path)
        resolvers.append(AddressFrameResolver(stacks: []))
        traceSymbols.append(nil)
        continue
      }
      validator = consumer.validator
      classSources = consumer.classSources
      if let before {
        writeStandardError(
          ReportCommand.statisticsLine(
            path, validator, since: before, merged: paths.count > 1,
            seconds: MonotonicClock.now() - started))
      }
      sources.append(path)
      // Whether this trace has places with a return address (a
      // finding's, or a dependency's for `graph`): without them, or
      // stacks, its modules are not opened (nor said missing). Looked
      // for only where it decides that.
      let trace = Int32(sources.count - 1)
      let returnAddresses =
        symbols.modules.isEmpty || !symbols.stacks.isEmpty
        || validator.findings.findings.contains { f in
          f.origins.contains { $0.trace == trace && $0.ip != 0 }
        } || validator.graph.edges.contains { $0.origin.trace == trace && $0.origin.ip != 0 }
      resolvers.append(
        resolver(for: symbols, path: path, pool: pool, returnAddresses: returnAddresses))
      traceSymbols.append(symbols)
      // This trace's repeats of earlier traces' findings (and of its own,
      // at a stack and then at its first return address alone), folded
      // now, before they count towards the store's capacity.
      folded = validator.foldFindings(recordedSince: folded, into: &foldKeys) {
        MergedFindings.key(of: $0, symbols: traceSymbols)
      }
    }
    // The run's name: its traces, or for many (a CI run's shards), the
    // first and last few and how many; without traces, the graph file.
    let name =
      begun.isEmpty
      ? graphIn ?? ""
      : begun.count <= 8
        ? begun.joined(separator: " + ")
        : (begun.prefix(3) + ["..."] + begun.suffix(2)).joined(separator: " + ")
          + " (\(begun.count) traces)"
    var report = TextReport(
      validator: validator, source: name, resolver: MergedFrameResolver(resolvers: resolvers))
    report.sources = sources
    report.sourceFirstEvents = firstEvents
    return report
  }

  /// Symbolized frames when the trace names its modules and has findings
  /// to show; addresses otherwise.
  /// Traces whose modules are the same files share a symbolizer
  /// (`pool`); its module warnings are said by the first of them.
  /// `returnAddresses`: whether what is shown has return addresses (`ip=`)
  /// to symbolize when the trace has no stacks; without either, its
  /// modules are not opened (nor said missing).
  func resolver(
    for symbols: TraceSymbols, path: String, pool: SymbolizerPool, returnAddresses: Bool = true
  ) -> any FrameResolving {
    guard !symbols.modules.isEmpty, !symbols.stacks.isEmpty || returnAddresses else {
      if symbols.modules.isEmpty { symbolFiles.sayWarnings([], resolutions: [], of: path) }
      return AddressFrameResolver(stacks: symbols.stacks)
    }
    // A module that replaced another (a library mapped where one was
    // unloaded): each stack is looked up in the modules it was declared
    // after.
    let (resolver, isNew) = pool.resolver(
      modules: symbols.symbolizerModules, stacks: symbols.stacks, lookups: symbols.lookups,
      filter: filter)
    guard isNew else { return resolver }
    symbolFiles.sayWarnings(resolver.moduleWarnings, resolutions: resolver.modules, of: path)
    return resolver
  }

  /// The symbolizers of this run's traces.
  func symbolizerPool() -> SymbolizerPool {
    SymbolizerPool(debugDirectories: symbolFiles.debugDir, binaries: symbolFiles.binary)
  }

  /// Registers the graph file's classes in `core` and seeds its edges, each
  /// with an origin in a source named after the trace it was recorded
  /// from (appended to `sources`, resolved to its recorded frame).
  static func seed(
    _ core: ValidatorCore, from graph: GraphFile, file: String, sources: inout [String],
    resolvers: inout [any FrameResolving], classSources: inout [String: String]
  ) throws(UnionError) {
    for c in graph.classes {
      let id: ClassID
      do {
        id = try MergingConsumer.register(
          key: c.key, name: c.name, kind: c.kind, waits: c.waits, in: core.classes,
          source: "\(file):\(c.line)", sources: &classSources)
      } catch {
        throw UnionError(inGraphFile: true, message: "\(file):\(c.line): \(error.message)")
      }
      if id == .none {
        throw UnionError(
          inGraphFile: true,
          message:
            "\(file):\(c.line): too many lock classes (the limit is \(ClassRegistry.capacity))")
      }
    }
    // An empty value (a hand-edited file) is no value.
    func given(_ text: String?) -> String? { text?.isEmpty == true ? nil : text }
    let recorded = RecordedFrameResolver(
      frames: graph.edges.map { e in
        let l = e.location
        let function = given(l.function)
        let file = given(l.file)
        guard function != nil || file != nil else { return [] }
        return [Frame(address: 0, function: function, file: file, line: l.line)]
      })
    // A strong cycle, whichever order the search would meet it in.
    if let first = graph.strongCycleEdges().first {
      let e = graph.edges[first]
      throw UnionError(
        inGraphFile: true,
        message:
          "\(file):\(e.line): edge \(e.from) -> \(e.to) closes a cycle with the edges above it")
    }
    var sourceIndex: [String: Int32] = [:]
    let tables = core.classes.tables
    // The classes ranked in a topological order of the file's graph first,
    // then the edges in the file's order (the one they were found in, which
    // the searches follow): linear, whatever that order.
    core.presetOrder(
      graph.topologicalClasses().compactMap { c in
        core.classes.lookup(key: c.key).map { tables.variant(of: $0, subclass: c.sub) }
      }.filter { $0 != .none })
    for (k, e) in graph.edges.enumerated() {
      let trace = given(e.location.trace)
      let name = trace ?? file
      let index: Int32
      if let known = sourceIndex[name] {
        index = known
      } else {
        index = Int32(sources.count)
        sourceIndex[name] = index
        sources.append(name)
        resolvers.append(recorded)
      }
      let hasFrame = !recorded.frames[k].isEmpty
      // A trace line without its trace is no place: not a line of the
      // graph file.
      let origin = Origin(
        stack: hasFrame ? StackID(Int32(k)) : .none, line: trace == nil ? 0 : e.location.traceLine,
        event: -1, trace: index)
      guard let fromBase = core.classes.lookup(key: e.from),
        let toBase = core.classes.lookup(key: e.to)
      else {
        throw UnionError(inGraphFile: true, message: "\(file):\(e.line): unknown class")
      }
      let from = tables.variant(of: fromBase, subclass: e.fromSub)
      let to = tables.variant(of: toBase, subclass: e.toSub)
      if from == .none || to == .none {
        throw UnionError(
          inGraphFile: true,
          message:
            "\(file):\(e.line): too many lock classes (the limit is \(ClassRegistry.capacity))")
      }
      if !core.seedDependency(from: from, to: to, kinds: e.kinds, origin: origin) {
        throw UnionError(
          inGraphFile: true,
          message:
            "\(file):\(e.line): edge \(e.from) -> \(e.to) closes a cycle with the edges above it"
        )
      }
    }
  }
}
