import Basics
import LockGraph
import Symbolizer

#if canImport(Glibc)
  import Glibc
#endif

/// The findings of one or more traces as SARIF 2.1.0 (`spec/reports.md`),
/// for CI systems: one run whose driver lists one rule per finding kind
/// (the kind's JSON name as its id, the title as its short description),
/// and one result per distinct finding.
///
/// A result's location is the innermost frame of the finding's stack that
/// has a file and line (in the checkout, or of another place the finding
/// names that is, first), else the trace line of the event; its code flow
/// holds the finding's stack as one thread flow, then the held locks'
/// stacks (or the dependency chain's) as further thread flows where they
/// exist.
public struct SARIFReport {
  /// The reports of each trace, in order; their results share the run.
  public var reports: [TextReport]
  /// The tool's version, for `tool.driver.version`.
  public var version: String
  /// The checkout's root (`--source-root`): files under it are given
  /// relative to it, with the base id `SRCROOT` (what GitHub code scanning
  /// resolves against the repository); nil: absolute `file://` URIs.
  public var sourceRoot: String?
  /// Where relative paths (a trace named on the command line) start from,
  /// to place them under `sourceRoot`.
  public var workingDirectory: String?
  /// `sourceRoot` with its symbolic links resolved, when it differs.
  var resolvedSourceRoot: String?
  /// The source root as the user spelled it (made absolute, without `.`
  /// and `//`), when it goes through a symbolic link: a build made through
  /// the link names its files that way.
  var spelledSourceRoot: String?
  /// Traces that could not be read, each with the error that stopped it:
  /// the run's invocation is then not successful, and says why (a CI
  /// system shows a log without results as a clean run otherwise).
  public var failures: [Failure] = []
  /// Warnings about traces that were read (a truncated binary trace, read
  /// up to its last whole record): notifications of level `warning`, which
  /// leave the run successful.
  public var warnings: [Failure] = []
  /// A trace that could not be read: the trace, when the error is about
  /// one, and the error's one line.
  public typealias Failure = (source: String?, message: String)
  /// The sources of reports written apart from the log (`results(of:)`,
  /// a trace at a time), listed among its artifacts after `reports`'.
  public var writtenSources: [String] = []

  /// The schema every SARIF 2.1.0 log names.
  public static let schema = "https://json.schemastore.org/sarif-2.1.0.json"

  /// A SARIF log of `reports`, with paths under `sourceRoot` relative to it.
  public init(
    reports: [TextReport], version: String, sourceRoot: String? = nil,
    spelledSourceRoot: String? = nil, workingDirectory: String? = nil
  ) {
    self.reports = reports
    self.version = version
    let directory = { (path: String) in path.hasSuffix("/") ? path : path + "/" }
    self.sourceRoot = sourceRoot.map(directory)
    // Through a symbolic link, files may be named by either path.
    self.resolvedSourceRoot = sourceRoot.flatMap(resolvedPath).map(directory)
    self.spelledSourceRoot = spelledSourceRoot.map(directory)
    self.workingDirectory = workingDirectory
  }

  /// An `artifactLocation`: relative to `SRCROOT` for a file under the
  /// source root, else an absolute or relative URI as the path is.
  func artifactLocation(_ path: String) -> JSONValue {
    let (uri, base) = artifactURI(path)
    guard let base else { return .object([("uri", .string(uri))]) }
    return .object([("uri", .string(uri)), ("uriBaseId", .string(base))])
  }

  /// The URI of `artifactLocation(path)`, and its base (`SRCROOT`) if any.
  func artifactURI(_ path: String) -> (uri: String, base: String?) {
    let path = placed(path)
    if let relative = underSourceRoot(path) { return (Self.uri(relative), "SRCROOT") }
    return (Self.uri(path), nil)
  }

  /// `path` relative to the source root (named as given, or with its links
  /// resolved), when it is under it.
  func underSourceRoot(_ path: String) -> String? {
    for root in [sourceRoot, resolvedSourceRoot, spelledSourceRoot] {
      if let root, path.hasPrefix(root) { return String(path.dropFirst(root.count)) }
    }
    return nil
  }

  /// `path`, a relative one placed under the working directory when there
  /// is a source root to place it under and the file is there (a trace
  /// named on the command line, or a source file of a build that wrote
  /// relative paths, run from its checkout), else under the source root
  /// when it is there (a build that wrote paths relative to the checkout,
  /// `-fdebug-prefix-map=$PWD=.`, reported from elsewhere). A library's
  /// own relative path (glibc's `./nptl/pthread_create.c`, from its build
  /// directory) stays as it is, rather than name a file of the checkout
  /// that is not there.
  func placed(_ path: String) -> String {
    guard let sourceRoot, !path.hasPrefix("/") else { return path }
    let relative = path.hasPrefix("./") ? String(path.dropFirst(2)) : path
    for base in [workingDirectory.map { $0 + "/" }, sourceRoot] {
      if let base, case let joined = base + relative, access(joined, F_OK) == 0 {
        return joined
      }
    }
    return path
  }

  /// Whether `path` is the checkout's own code: under the source root
  /// (false without one), and not in its `.build` (a dependency checked
  /// out by SwiftPM, `.build/checkouts/...`, is a library).
  func isUnderSourceRoot(_ path: String) -> Bool {
    guard let relative = underSourceRoot(placed(path)) else { return false }
    return !relative.hasPrefix(".build/")
  }

  /// The whole log as one JSON object.
  public func value() -> JSONValue {
    // Each result made as it is written (`JSONReport.findingsValue()`);
    // only read while the log is written, on the writing thread.
    nonisolated(unsafe) let builders = reports.map { Builder(report: $0, log: self) }
    let results = reports.indices.flatMap { r in reports[r].findings.indices.map { (r, $0) } }
    return value(
      results: .elements(count: results.count) { builders[results[$0].0].result(results[$0].1) })
  }

  /// The results of `report`, a trace's, each made as it is written: for
  /// a log written a trace at a time (`value(results:)` with a marker
  /// where they go), which keeps no report once its results are written.
  public func results(of report: TextReport) -> (count: Int, result: (Int) -> JSONValue) {
    let builder = Builder(report: report, log: self)
    return (report.findings.count, { builder.result($0) })
  }

  /// The names a report gives its artifacts: a merged run's traces (its
  /// `source` joins their names), or its trace.
  public static func sourceNames(of report: TextReport) -> [String] {
    report.sources.isEmpty ? [report.source] : report.sources
  }

  /// The log with `results` as its run's results, which come before the
  /// artifacts and the invocation (what only the end of a run knows), so
  /// that a log written a trace at a time starts the same whatever follows.
  public func value(results: JSONValue) -> JSONValue {
    let rules = FindingKind.allCases.map { kind -> JSONValue in
      .object([
        ("id", .string(kind.rawValue)),
        ("name", .string(Self.ruleName(kind))),
        ("shortDescription", .object([("text", .string(Self.plainTitle(kind.title)))])),
        ("fullDescription", .object([("text", .string(SARIFRuleHelp.description(kind)))])),
        ("help", .object([("text", .string(SARIFRuleHelp.help(kind)))])),
        ("defaultConfiguration", .object([("level", .string("error"))])),
      ])
    }
    // Each source: a merged run's traces (its `source` joins their names),
    // and the traces a `--graph-in` file recorded.
    // Each once (the schema's `uniqueItems`): a trace named twice, or
    // both checked and recorded in the `--graph-in` file.
    var listed = Set<String>()
    let names = reports.flatMap(Self.sourceNames(of:)) + writtenSources
    let artifacts = names.compactMap { name -> JSONValue? in
      let (uri, base) = artifactURI(name)
      guard listed.insert("\(base ?? "") \(uri)").inserted else { return nil }
      return .object([("location", artifactLocation(name))])
    }
    var runFields: [(String, JSONValue)] = [
      (
        "tool",
        .object([
          (
            "driver",
            .object([
              ("name", .string("rawlockcheck")),
              ("version", .string(version)),
              ("semanticVersion", .string(version)),
              ("rules", .array(rules)),
            ])
          )
        ])
      ),
      ("columnKind", .string("unicodeCodePoints")),
      ("results", results),
      ("artifacts", .array(artifacts)),
    ]
    if let root = sourceRoot {
      runFields.append(
        ("originalUriBaseIds", .object([("SRCROOT", .object([("uri", .string(Self.uri(root)))]))])))
    }
    // Always one invocation, as code scanning tools write it: whether
    // every trace could be read, and the notifications when there are any.
    let levelled = failures.map { ("error", $0) } + warnings.map { ("warning", $0) }
    let notifications = levelled.map { level, failure -> JSONValue in
      var fields: [(String, JSONValue)] = [
        ("level", .string(level)),
        ("message", .object([("text", .string(failure.message))])),
      ]
      if let source = failure.source {
        let location = JSONValue.object([("artifactLocation", artifactLocation(source))])
        fields.append(("locations", .array([.object([("physicalLocation", location)])])))
      }
      return .object(fields)
    }
    runFields.append(
      (
        "invocations",
        .array([
          .object(
            [("executionSuccessful", .bool(failures.isEmpty))]
              + (notifications.isEmpty
                ? [] : [("toolExecutionNotifications", .array(notifications))]))
        ])
      ))
    let run: JSONValue = .object(runFields)
    return .object([
      ("$schema", .string(Self.schema)),
      ("version", .string("2.1.0")),
      ("runs", .array([run])),
    ])
  }

  /// `invalid-wait-context` as a PascalCase rule name: `InvalidWaitContext`.
  static func ruleName(_ kind: FindingKind) -> String {
    kind.rawValue.split(separator: "-").map { $0.prefix(1).uppercased() + $0.dropFirst() }
      .joined()
  }

  /// A title without lockdep's `[ ... ]` brackets.
  static func plainTitle(_ text: String) -> String {
    text.hasPrefix("[ ") && text.hasSuffix(" ]") ? String(text.dropFirst(2).dropLast(2)) : text
  }

  /// A path as a URI reference: `file://` and the percent-encoded path for
  /// an absolute path, the percent-encoded path alone for a relative one,
  /// whose first segment has its `:` encoded too (RFC 3986, 4.2: `c:d.rlt`
  /// would be read as a URI of scheme `c`).
  static func uri(_ path: String) -> String {
    var out = path.hasPrefix("/") ? "file://" : ""
    var firstRelativeSegment = !path.hasPrefix("/")
    for byte in path.utf8 {
      if byte == UInt8(ascii: "/") { firstRelativeSegment = false }
      switch byte {
      case UInt8(ascii: ":") where firstRelativeSegment:
        out += "%3A"
      case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
        UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."),
        UInt8(ascii: "_"), UInt8(ascii: "~"), UInt8(ascii: "/"), UInt8(ascii: "+"),
        UInt8(ascii: "@"), UInt8(ascii: ":"):
        out.unicodeScalars.append(Unicode.Scalar(byte))
      default:
        let hex = Array("0123456789ABCDEF".utf8)
        out += "%"
        out.unicodeScalars.append(Unicode.Scalar(hex[Int(byte >> 4)]))
        out.unicodeScalars.append(Unicode.Scalar(hex[Int(byte & 15)]))
      }
    }
    return out
  }

  /// Builds the results of one trace's report.
  struct Builder {
    var report: TextReport
    /// The log being built (for its source root).
    var log: SARIFReport
    /// Each finding's `partialFingerprints` value (`hashedApart()`).
    var fingerprints: [String] = []

    /// The builder of `report`'s results in `log`.
    init(report: TextReport, log: SARIFReport) {
      self.report = report
      self.log = log
      fingerprints = hashedApart()
    }
    var json: JSONReport { JSONReport(report: report, version: "") }
    var core: ValidatorCore { report.core }

    func name(_ c: ClassID) -> String { core.classes[c].displayName }

    func message(_ f: Finding) -> String {
      let names = core.lockNames(of: f)
      var text = json.title(f)
      // A limit's title names it alone; its value and what went unchecked.
      if case .limitExceeded(let limit, let max, let consequence) = f.detail {
        text += " (\(limit) \(max)): \(consequence)"
      }
      if !names.isEmpty { text += ": " + names.joined(separator: ", ") }
      text += " (thread \(core.threadLabel(f.thread)))"
      return text
    }

    /// A physical location: a file and line (and column when known); the
    /// file alone when the line is unknown (compiler-generated code).
    func physical(file: String, line: Int, column: Int) -> JSONValue {
      let artifact: (String, JSONValue) = (
        "artifactLocation", log.artifactLocation(file)
      )
      guard line > 0 else { return .object([artifact]) }
      var region: [(String, JSONValue)] = [("startLine", .int(line))]
      if column > 0 { region.append(("startColumn", .int(column))) }
      return .object([artifact, ("region", .object(region))])
    }

    /// Where the trace recorded the event, when it is a text trace.
    func traceLocation(_ origin: Origin) -> JSONValue? {
      guard origin.line > 0 else { return nil }
      return physical(file: report.sourceName(origin), line: Int(origin.line), column: 0)
    }

    /// The result's location: the innermost frame with a file and line
    /// under the source root (the checkout's code, which a code scanning
    /// service annotates, rather than a library's the finding happened
    /// in), else the first such frame of the other places the finding
    /// names (`Finding.origins`), else the innermost frame with a file and
    /// line, else the innermost with a file, else the trace's line, else
    /// the trace itself (a file without a line is at line 1: code scanning
    /// needs one). A lock left held at a thread's exit is looked for in
    /// the stack that took it first (the first held lock's), the exit's
    /// last: the exit is in libc's thread teardown.
    func primaryLocation(_ f: Finding) -> JSONValue {
      // Frames past a stale one (a binary rebuilt since the trace) are its
      // callers, in the libraries below it: the trace's own location says
      // more of where the finding is than a libc file would.
      func framesOf(_ origin: Origin) -> [Frame] {
        Array(
          report.resolver.frames(for: origin, first: TextReport.maxFramesShown).prefix {
            // Nor past a frame of a module not found (an address alone).
            !$0.isStale && ($0.function != nil || $0.sourceFile != nil)
          })
      }
      func inCheckout(_ frame: Frame) -> Bool {
        frame.line > 0 && frame.sourceFile.map(log.isUnderSourceRoot) == true
      }
      // A lock left held at a thread's exit is where it was taken, with or
      // without a source root: the exit's own stack is the thread's
      // teardown, in libc, which says nothing of the leak.
      let places = f.kind == .locksHeldAtExit ? f.held.map(\.origin) + [f.origin] : f.origins
      let frames = framesOf(places[0])
      var checkout = frames.first(where: inCheckout)
      for origin in places.dropFirst() where checkout == nil {
        checkout = framesOf(origin).first(where: inCheckout)
      }
      var fields: [(String, JSONValue)] = []
      // Without a line, the file's first: code scanning needs a line
      // (`region.startLine`) in a result's location.
      if let frame = checkout ?? frames.first(where: { $0.sourceFile != nil && $0.line > 0 })
        ?? frames.first(where: { $0.sourceFile != nil })
      {
        fields.append(
          (
            "physicalLocation",
            physical(
              file: frame.sourceFile!, line: max(frame.line, 1),
              column: frame.line > 0 ? frame.column : 0)
          ))
        if let function = frame.function {
          fields.append(
            ("logicalLocations", .array([.object([("fullyQualifiedName", .string(function))])])))
        }
      } else if let trace = traceLocation(places[0]) {
        fields.append(("physicalLocation", trace))
      } else {
        fields.append(
          ("physicalLocation", physical(file: report.sourceName(f.origin), line: 1, column: 0)))
      }
      return .object(fields)
    }

    /// One frame as a SARIF location: its file and line when known, its
    /// function as a logical location, its text as the message.
    func frameLocation(_ frame: Frame) -> JSONValue {
      var fields: [(String, JSONValue)] = []
      let address: (String, JSONValue) = (
        "address", .object([("absoluteAddress", .int(Int64(bitPattern: frame.address)))])
      )
      // A frame recorded in a graph file (`--graph-in`) has no address.
      let addresses = frame.address == 0 ? [] : [address]
      if let file = frame.sourceFile,
        case .object(let parts) = physical(file: file, line: frame.line, column: frame.column).node
      {
        fields.append(("physicalLocation", .object(parts + addresses)))
      } else if !addresses.isEmpty {
        fields.append(("physicalLocation", .object(addresses)))
      }
      if let function = frame.function {
        fields.append(
          ("logicalLocations", .array([.object([("fullyQualifiedName", .string(function))])])))
      }
      var text = frame.isInlined ? frame.reportText + " [inlined]" : frame.reportText
      // A file under the source root is named relative to it in the text
      // too: no path of the machine that ran the tool in an uploaded log.
      if let file = frame.sourceFile, let relative = log.underSourceRoot(log.placed(file)),
        file != relative
      {
        text = text.replacing(file, with: relative)
      }
      fields.append(("message", .object([("text", .string(text))])))
      return .object(fields)
    }

    /// A thread flow of `origin`'s stack, innermost frame first, or of its
    /// trace line (or event, or trace alone for an earlier run's) when it
    /// has no stack; nil when it has none of them.
    func threadFlow(_ origin: Origin, message: String) -> JSONValue? {
      let (frames, omitted) = report.shownFrames(for: origin)
      var locations: [JSONValue] = frames.map { .object([("location", frameLocation($0))]) }
      if omitted > 0 {
        locations.append(
          .object([
            (
              "location",
              .object([("message", .object([("text", .string("... \(omitted) more frames"))]))])
            )
          ]))
      }
      if locations.isEmpty {
        // No stack: the trace's line, or a binary trace's event (as the
        // text report says `t.rltb: event 6`).
        let name = report.sourceName(origin)
        var place: (physical: JSONValue, text: String)? = nil
        if let trace = traceLocation(origin) {
          place = (trace, "\(name):\(origin.line)")
        } else if origin.event >= 0 {
          place = (
            .object([("artifactLocation", log.artifactLocation(name))]),
            "\(name): event \(report.eventNumber(origin))"
          )
        } else if !name.isEmpty {
          // An earlier run's dependency (`--graph-in`) recorded with no
          // line and no stack (from a binary trace): its trace alone, as
          // the text report names it.
          place = (.object([("artifactLocation", log.artifactLocation(name))]), name)
        }
        if let place {
          locations = [
            .object([
              (
                "location",
                .object([
                  ("physicalLocation", place.physical),
                  ("message", .object([("text", .string(place.text))])),
                ])
              )
            ])
          ]
        }
      }
      if locations.isEmpty { return nil }
      return .object([
        ("message", .object([("text", .string(message))])),
        ("locations", .array(locations)),
      ])
    }

    /// The extra stacks a finding's kind carries: the held locks', or the
    /// dependency chain's links.
    func extraFlows(_ f: Finding) -> [JSONValue] {
      var flows: [JSONValue] = []
      func chain(_ links: [ChainLink], _ what: String) {
        // The last link of a cycle is the acquisition itself: the first flow.
        for link in links where link.origin != f.origin {
          if let flow = threadFlow(link.origin, message: "\(what) \(name(link.lockClass))") {
            flows.append(flow)
          }
        }
      }
      switch f.detail {
      case .circularDependency(_, let links):
        chain(links, "dependency into")
      case .irqUnsafeDependency(let held, _, _, _, _, _, _, let safeToHeld, let lockToUnsafe, _):
        chain(TakenLinks.safeSide(safeToHeld, held: held), "dependency into")
        chain(lockToUnsafe, "dependency into")
      case .irqInversion(let forwards, let other, _, let path):
        chain(
          TakenLinks.inversion(path, forwards: forwards, lock: f.lock, other: other),
          "dependency into")
      case .inconsistentLockState(let previous, _, let origin?, _):
        if let flow = threadFlow(origin, message: "\(previous.usageString) usage first set here") {
          flows.append(flow)
        }
      default:
        break
      }
      for (i, held) in f.held.enumerated() {
        if let flow = threadFlow(
          held.origin, message: "#\(i): \(name(held.lockClass)) acquired here")
        {
          flows.append(flow)
        }
      }
      return flows
    }

    /// The key of the result's fingerprint in `partialFingerprints`.
    static let fingerprintKey = "rawlockcheckFinding/v1"

    /// What identifies the finding from one run (and build) to the next,
    /// for a code scanning service to match results across runs (GitHub's
    /// `partialFingerprints`, which its API upload does not compute): the
    /// kind, the names of the classes it names, and the functions (not the
    /// lines or addresses, which move with every edit) of its stack's
    /// innermost 8 frames, hashed (FNV-1a, 64 bits, in hexadecimal).
    ///
    /// Two findings of one report that hash alike (another stack whose
    /// functions are the same, or unknown: unsymbolized addresses) are
    /// told apart as GitHub's own line hashes are, by their occurrence:
    /// the second `hash:2`, and so on, in the report's order, so that a
    /// code scanning service keeps them as two alerts, and a lone one
    /// keeps the value it always had. (Across traces, one hash is the same
    /// mistake found again, and stays one alert.)
    func hashedApart() -> [String] {
      var seen: [String: Int] = [:]
      return report.findings.map { f in
        let hash = fingerprint(f)
        let n = seen[hash, default: 0] + 1
        seen[hash] = n
        return n == 1 ? hash : "\(hash):\(n)"
      }
    }

    /// The hash `hashedApart()` starts from, alike for findings it tells apart.
    func fingerprint(_ f: Finding) -> String {
      var hash: UInt64 = 0xcbf2_9ce4_8422_2325
      func add(_ text: String) {
        for byte in text.utf8 {
          hash ^= UInt64(byte)
          hash &*= 0x0000_0100_0000_01B3
        }
        hash ^= 0xFF
        hash &*= 0x0000_0100_0000_01B3
      }
      add(f.kind.rawValue)
      // In the order the fingerprint has always hashed them.
      for name in core.lockNames(of: f, heldFirst: true) { add(name) }
      for frame in report.resolver.frames(for: f.origin, first: 8) { add(frame.function ?? "?") }
      let digits = String(hash, radix: 16)
      return String(repeating: "0", count: 16 - digits.count) + digits
    }

    /// The SARIF result of the report's finding `index`.
    func result(_ index: Int) -> JSONValue {
      let f = report.findings[index]
      let what = f.lock.map { "taking \(name($0.lockClass))" } ?? f.kind.rawValue
      var flows: [JSONValue] = []
      if let main = threadFlow(f.origin, message: "\(core.threadLabel(f.thread)) \(what)") {
        flows.append(main)
      }
      flows += extraFlows(f)
      var fields: [(String, JSONValue)] = [
        ("ruleId", .string(f.kind.rawValue)),
        ("ruleIndex", .int(FindingKind.allCases.firstIndex(of: f.kind)!)),
        ("level", .string("error")),
        ("message", .object([("text", .string(message(f)))])),
        ("locations", .array([primaryLocation(f)])),
      ]
      if !flows.isEmpty {
        fields.append(("codeFlows", .array([.object([("threadFlows", .array(flows))])])))
      }
      fields.append(
        ("partialFingerprints", .object([(Self.fingerprintKey, .string(fingerprints[index]))])))
      fields.append(("occurrenceCount", .int(f.count)))
      fields.append(
        (
          "properties",
          .object([
            ("thread", .string(core.threadToken(f.thread))),
            ("event", .int(report.eventNumber(f.origin))),
            // The event's own trace: the report's, or among several
            // merged sources the one it came from (a run of several
            // traces not merged has one result per trace's finding).
            ("trace", .string(report.sourceName(f.origin))),
          ])
        ))
      return .object(fields)
    }
  }
}
