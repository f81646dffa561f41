import ArgumentParser
import Basics
import LockGraph
import Report
import Trace
import WaitContext

/// `rawlockcheck stats`: what validating a trace took, in the spirit of
/// Linux's `/proc/lockdep_stats`: classes, dependencies, chains, depth,
/// events per kind and per thread, the busiest classes, findings per kind.
struct StatsCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "stats",
    abstract: "Validate traces and print lockdep_stats-style counters.",
    discussion: """
      Prints lock classes (declared, subclass variants), dependencies, chains validated \
      (chain-cache misses) and cache hits, the deepest held-lock stack, events per kind and \
      per thread (in text, the 20 busiest threads when there are more, and the others summed), \
      the ten most acquired classes and findings per kind. Each trace is validated and \
      counted on its own (as by report without --merge): text prints a block per trace, JSON \
      an object (an array of those that could be read, for several). --binary and \
      --debug-dir, with which report and graph symbolize, are taken and unused (stats prints \
      no stack), so that one command line serves all three (docs/spec/reports.md). Exit status 0, \
      or 2 when a trace cannot be read (the others are still counted).
      """
  )

  /// How `stats` prints: aligned text, or one JSON object.
  enum Format: String, ExpressibleByArgument, CaseIterable {
    case text, json
  }

  @OptionGroup var options: CheckOptions

  @Option(help: "Output format.")
  var format: Format = .text

  /// Taken, as every checking command takes them, and unused.
  @OptionGroup var symbolFiles: SymbolFileOptions

  @Argument(
    help: "Trace files (text or binary encoding); - for standard input (either encoding).")
  var traces: [String]

  mutating func validate() throws {
    traces = PositionalRuns.expand(traces)
    if traces.isEmpty { throw ValidationError("Missing expected argument '<traces> ...'") }
    try StandardInputUse.checkOnce(traces)
  }

  func run() throws {
    try OutputFile.refuse("-", beingAnyOf: traces)
    var objects = JSONReports(several: traces.count > 1)
    var anyErrors = false
    var printedAny = false
    for trace in traces {
      var counting = CountingValidator(LockValidator(configuration: options.configuration))
      let progress = ProgressBar(label: trace)
      do {
        _ = try TraceReader(
          path: ReportCommand.file(for: trace), displayName: QuotedText.fileName(trace)
        ).read(
          into: &counting, progress: progress.update,
          // A warning clears the bar first, not to share its line.
          warning: {
            progress.finish()
            TraceReader.standardError($0)
          })
        progress.finish()
      } catch {
        progress.finish()
        writeStandardError("rawlockcheck: \(error)\n")
        anyErrors = true
        continue
      }
      let stats = TraceStats(counting, source: trace)
      switch format {
      case .text:
        try writeStandardOutput((printedAny ? "\n" : "") + stats.text())
        printedAny = true
      case .json: try objects.add(stats.json())
      }
    }
    if format == .json { try objects.finish() }
    if anyErrors { throw ExitCode(2) }
  }
}

/// The counters of one validated trace, gathered once and printed as text
/// or JSON.
struct TraceStats {
  /// One class and how often it was acquired.
  struct ClassCount {
    /// The class's trace key.
    var key: String
    /// lockdep's display name (`name/N` for a subclass).
    var name: String
    /// The subclass, 0 for the declared class.
    var subclass: Int
    /// Acquisitions, trylocks included.
    var acquisitions: Int64
  }

  /// One thread and its event count.
  struct ThreadCount {
    /// The thread's token in the trace.
    var token: String
    /// Its name (`comm`), as a report's JSON gives it.
    var name: String
    /// lockdep's `comm/pid`.
    var label: String
    /// Events on the thread.
    var events: Int64
  }

  /// The trace, as named on the command line.
  var source: String
  /// Events validated.
  var events: Int64
  /// Classes declared by the trace.
  var declaredClasses: Int
  /// Subclass variants made on first use of `sub=`.
  var subclassVariants: Int
  /// Direct dependencies (graph edges).
  var dependencies: Int
  /// Acquisitions validated (trylocks included).
  var acquisitions: Int64
  /// Chains validated anew (chain-cache misses).
  var chainsValidated: Int64
  /// Acquisitions whose chain was in the cache.
  var chainCacheHits: Int64
  /// The most locks one thread held at once, and that thread's label.
  var maxHeldDepth: Int
  /// The thread that first reached `maxHeldDepth` (its event count unused).
  var maxHeldDepthThread: ThreadCount?
  /// Events per verb, in `LockEvent.Verb` order; verbs never seen left out.
  var eventsPerVerb: [(verb: String, count: Int64)]
  /// Events per thread, in declaration order.
  var eventsPerThread: [ThreadCount]
  /// The ten most acquired classes, most first (ties in class order).
  var busiestClasses: [ClassCount]
  /// Distinct findings and their occurrences per kind, in kind order.
  var findings: [(kind: FindingKind, distinct: Int, occurrences: Int)]

  /// How many classes `busiestClasses` lists at most.
  static let busiestCount = 10
  /// How many threads the text lists at most (JSON lists every one): a
  /// program that starts a thread per task has a hundred thousand.
  static let threadLineCount = 20

  /// The counters of `counting`'s trace, called `source`.
  init(_ counting: CountingValidator, source: String) {
    let v = counting.validator
    let classes = v.classes
    self.source = source
    events = v.eventCount
    var declared = 0
    for i in 0..<classes.count where classes[ClassID(Int32(i))].subclass == 0 { declared += 1 }
    declaredClasses = declared
    subclassVariants = classes.count - declared
    dependencies = v.core.dependencyCount
    let s = v.statistics
    acquisitions = s.acquisitions
    chainsValidated = s.chainMisses
    chainCacheHits = s.chainHits
    maxHeldDepth = counting.maxHeldDepth
    eventsPerVerb = LockEvent.Verb.allCases.compactMap { verb in
      let n = counting.eventsPerVerb[Int(verb.rawValue)]
      return n == 0 ? nil : (verb.traceWord, n)
    }
    func thread(_ id: ThreadID, events: Int64) -> ThreadCount {
      ThreadCount(
        token: v.core.threadToken(id), name: v.core.threadName(id), label: v.threadLabel(id),
        events: events)
    }
    maxHeldDepthThread = counting.maxHeldDepthThread.map { thread($0, events: 0) }
    eventsPerThread = counting.eventsPerThread.indices.map { i in
      thread(ThreadID(Int32(i)), events: counting.eventsPerThread[i])
    }
    var perSlot = counting.acquisitions
    // PREEMPT_RT's `local_bh` map, which `bh-disable` takes: no event names
    // its class, the engine counts its takings.
    if s.localBottomHalfTakings > 0, let i = v.core.localBottomHalfClass?.index {
      if perSlot.count <= i * 8 {
        perSlot.append(contentsOf: repeatElement(0, count: i * 8 + 1 - perSlot.count))
      }
      perSlot[i * 8] += s.localBottomHalfTakings
    }
    var counts: [ClassCount] = []
    for (slot, n) in perSlot.enumerated() where n > 0 {
      let base = classes[ClassID(Int32(slot / 8))]
      let sub = slot % 8
      counts.append(
        ClassCount(
          key: base.key, name: sub == 0 ? base.displayName : "\(base.displayName)/\(sub)",
          subclass: sub,
          acquisitions: n))
    }
    busiestClasses = Self.busiest(counts, Self.busiestCount) { $0.acquisitions }
    var perKind: [FindingKind: (Int, Int)] = [:]
    for f in v.findings.findings {
      let old = perKind[f.kind] ?? (0, 0)
      perKind[f.kind] = (old.0 + 1, old.1 + f.count)
    }
    findings = perKind.keys.sorted().map { ($0, perKind[$0]!.0, perKind[$0]!.1) }
  }

  /// The first `count` of `items` by `value`, largest first, ties in the
  /// order of `items`.
  static func busiest<T>(_ items: [T], _ count: Int, by value: (T) -> Int64) -> [T] {
    Array(
      items.enumerated().sorted {
        value($0.element) != value($1.element)
          ? value($0.element) > value($1.element) : $0.offset < $1.offset
      }.prefix(count).map(\.element))
  }

  /// `/proc/lockdep_stats`-style lines: a name, then its value right-aligned.
  /// Names from the trace (classes, threads) are printed with their control
  /// characters escaped, as reports print them.
  func text() -> String {
    var out = "\(QuotedText.printable(source)):\n"
    func line(_ name: String, _ value: Int64, _ suffix: String = "", indent: Int = 1) {
      let label = String(repeating: " ", count: indent) + QuotedText.printable(name) + ":"
      let number = String(value)
      let pad = String(repeating: " ", count: max(1, 44 - label.count - number.count))
      out += label + pad + number + suffix + "\n"
    }
    line("events", events)
    line(
      "lock-classes", Int64(declaredClasses + subclassVariants), " [max: \(ClassRegistry.capacity)]"
    )
    line("declared", Int64(declaredClasses), indent: 2)
    line("subclass variants", Int64(subclassVariants), indent: 2)
    line("direct dependencies", Int64(dependencies))
    line("acquisitions", acquisitions)
    line("chains validated (cache misses)", chainsValidated)
    line("chain cache hits", chainCacheHits)
    line(
      "max held depth", Int64(maxHeldDepth),
      " [max: \(LockValidator.maxHeldDepth)]"
        + (maxHeldDepthThread.map { " (\(QuotedText.printable($0.label)))" } ?? ""))
    let distinct = findings.reduce(0) { $0 + $1.distinct }
    let occurrences = findings.reduce(0) { $0 + $1.occurrences }
    line(
      "findings", Int64(distinct),
      " distinct, \(occurrences) occurrence\(occurrences == 1 ? "" : "s")")
    for f in findings {
      line(
        f.kind.rawValue, Int64(f.distinct),
        " (\(f.occurrences) occurrence\(f.occurrences == 1 ? "" : "s"))", indent: 2)
    }
    out += "\nevents per kind:\n"
    for (verb, n) in eventsPerVerb { line(verb, n, indent: 2) }
    if eventsPerThread.count <= Self.threadLineCount {
      out += "\nevents per thread:\n"
      for t in eventsPerThread { line(t.label, t.events, indent: 2) }
    } else {
      // The busiest (ties in declaration order), and the rest summed.
      let busiest = Self.busiest(eventsPerThread, Self.threadLineCount) { $0.events }
      out += "\nevents per thread (the \(Self.threadLineCount) busiest of "
      out += "\(eventsPerThread.count); --format json lists every one):\n"
      for t in busiest { line(t.label, t.events, indent: 2) }
      let shown = busiest.reduce(Int64(0)) { $0 + $1.events }
      let all = eventsPerThread.reduce(Int64(0)) { $0 + $1.events }
      line("\(eventsPerThread.count - busiest.count) other threads", all - shown, indent: 2)
    }
    out += "\nbusiest classes (acquisitions, top \(Self.busiestCount)):\n"
    if busiestClasses.isEmpty { out += "  none\n" }
    for c in busiestClasses { line(c.name, c.acquisitions, indent: 2) }
    return out
  }

  /// The same counters as one JSON object.
  func json() -> JSONValue {
    .object([
      ("tool", .string("rawlockcheck")),
      ("version", .string(RawLockCheck.version)),
      ("source", .string(source)),
      ("events", .int(events)),
      // Counters are plain numbers, as /proc/lockdep_stats lists them;
      // what qualifies one is a key of its own beside it.
      ("classes", .int(declaredClasses + subclassVariants)),
      ("classesDeclared", .int(declaredClasses)),
      ("subclassVariants", .int(subclassVariants)),
      ("maxClasses", .int(ClassRegistry.capacity)),
      ("dependencies", .int(dependencies)),
      ("acquisitions", .int(acquisitions)),
      ("chainsValidated", .int(chainsValidated)),
      ("chainCacheHits", .int(chainCacheHits)),
      ("maxHeldDepth", .int(maxHeldDepth)),
      (
        "maxHeldDepthThread",
        maxHeldDepthThread.map {
          .object([("id", .string($0.token)), ("name", .string($0.name))])
        } ?? .null
      ),
      ("maxHeldDepthLimit", .int(LockValidator.maxHeldDepth)),
      ("eventsPerKind", .object(eventsPerVerb.map { ($0.verb, .int($0.count)) })),
      (
        "eventsPerThread",
        // One object per thread (a trace of a thread per task has
        // millions): each made as it is written.
        .elements(count: eventsPerThread.count) { [eventsPerThread] i in
          let t = eventsPerThread[i]
          return .object([
            ("id", .string(t.token)), ("name", .string(t.name)), ("events", .int(t.events)),
          ])
        }
      ),
      (
        "busiestClasses",
        .array(
          busiestClasses.map { c in
            var fields: [(String, JSONValue)] = [
              ("class", .string(c.key)), ("name", .string(c.name)),
            ]
            if c.subclass != 0 { fields.append(("subclass", .int(c.subclass))) }
            fields.append(("acquisitions", .int(c.acquisitions)))
            return .object(fields)
          })
      ),
      (
        "findings",
        .object(
          findings.map {
            (
              $0.kind.rawValue,
              .object([("distinct", .int($0.distinct)), ("occurrences", .int($0.occurrences))])
            )
          })
      ),
    ])
  }
}
