import Basics
import LockGraph
import Report
import WaitContext

/// The lock-class dependency graph of a validated trace, ready to draw:
/// one node per class (declared or subclass variant), one edge per
/// dependency, and the findings' part in it. Circular-dependency findings
/// mark the edges of their existing chain and add the dependency that would
/// have closed the cycle (which the validator refused, so it is not in the
/// graph); irq-lock-inversion findings mark the path from the irq-safe
/// class to the irq-unsafe one, with the dependency refused on it;
/// invalid-wait-context findings mark the edges from the locks held into
/// the lock taken.
struct ClassGraph {
  /// One lock class.
  struct Node {
    /// The class.
    var id: ClassID
    /// Its key in the trace.
    var key: String
    /// lockdep's display name (`name/N` for a subclass).
    var name: String
    /// Its subclass (`sub=`; 0 for a declared class).
    var subclass: UInt8
    /// The kind it was declared with.
    var kind: LockKind
    /// Its outer and inner wait types, as the configuration checks them.
    var outer: WaitType
    /// See `outer`.
    var inner: WaitType
    /// `outer` and `inner` as lockdep numbers them in this configuration
    /// (`CheckConfiguration.number`).
    var numbers: (outer: UInt8, inner: UInt8)
    /// normal, percpu or override.
    var lockType: LockType
    /// lockdep's four usage characters.
    var usage: String
    /// The class was taken in an invalid wait context.
    var invalidWaitContext = false

    /// The DOT node id (`c12`).
    var dotID: String { "c\(id.raw)" }

    /// `name` and lockdep's `{outer:inner}`, one a line.
    var label: [String] { [name, "{\(numbers.outer):\(numbers.inner)}"] }

    /// The border colour and a light fill of the same hue, by outer wait
    /// type (what the class needs from its caller): spin red, config
    /// orange, sleep blue, free and inv grey.
    var palette: (border: String, fill: String) {
      switch outer {
      case .spin: ("#c62828", "#ffcdd2")
      case .config: ("#ef6c00", "#ffe0b2")
      case .sleep: ("#1565c0", "#bbdefb")
      case .inv, .free, .task: ("#616161", "#eeeeee")
      }
    }

    /// The border colour (`palette`).
    var color: String { palette.border }

    /// The fill colour (`palette`).
    var fillColor: String { palette.fill }

    /// box for a normal class, hexagon for per-cpu, octagon for override.
    var shape: String {
      switch lockType {
      case .normal: "box"
      case .percpu: "hexagon"
      case .override: "octagon"
      }
    }
  }

  /// One dependency from -> to.
  struct Edge {
    /// The class held.
    var from: ClassID
    /// The class acquired while `from` was held.
    var to: ClassID
    /// lockdep's dependency kinds seen (`SR`, `ER`, `SN`, `EN`).
    var kinds: [String]
    /// Where the dependency was first recorded: the innermost frame of its
    /// stack, else the trace line.
    var site: String
    /// The innermost frame, shortened for a label (function and file
    /// name), else the trace line.
    var shortSite: String
    /// The thread that first recorded it.
    var thread: String?
    /// False for a dependency a finding refused (it would have closed a
    /// cycle, or made an irq-safe class wait for an irq-unsafe one).
    var inGraph = true
    /// Part of a reported circular dependency.
    var circularDependency = false
    /// Part of a reported irq lock inversion: the path from the irq-safe
    /// class to the irq-unsafe one.
    var irqLockInversion = false
    /// From a held lock into an acquisition in an invalid wait context.
    var invalidWaitContext = false

    /// Whether a finding marks it.
    var isMarked: Bool { circularDependency || irqLockInversion || invalidWaitContext }

    /// Red for a cycle, purple for an irq lock inversion, orange into an
    /// invalid wait context, else grey.
    var color: String {
      circularDependency
        ? "#d50000" : irqLockInversion ? "#6a1b9a" : invalidWaitContext ? "#ef6c00" : "#424242"
    }

    /// DOT's style: bold for a cycle or an irq lock inversion, dashed into
    /// an invalid wait context (both when it is both), solid otherwise.
    var style: String {
      switch (circularDependency || irqLockInversion, invalidWaitContext) {
      case (true, true): "bold,dashed"
      case (true, false): "bold"
      case (false, true): "dashed"
      case (false, false): "solid"
      }
    }
  }

  /// Every class, in class order.
  var nodes: [Node]
  /// Every dependency in the order it was added, then refused ones.
  var edges: [Edge]
  /// What was drawn: the trace as named on the command line, or the
  /// run's name for several (`a.rlt + b.rlt`), with the graph file's.
  var source: String
  /// How many dependencies and classes the whole graph has, when this is
  /// a part of it (`limited(toEdges:)`).
  var whole: (edges: Int, nodes: Int)? = nil

  /// The graph of what `report` validated (one trace, several merged, a
  /// graph file's seed), its stacks read through the report's resolver.
  init(report: TextReport) {
    source = report.source
    let core = report.core
    let config = core.configuration
    let classes = core.classes
    let resolver = report.resolver
    nodes = (0..<classes.count).map { i in
      let id = ClassID(Int32(i))
      let c = classes[id]
      return Node(
        id: id, key: c.key, name: c.displayName, subclass: c.subclass, kind: c.kind,
        outer: config.effective(c.waits.effectiveOuter), inner: config.effective(c.waits.inner),
        numbers: (config.number(c.waits.effectiveOuter), config.number(c.waits.inner)),
        lockType: c.waits.lockType, usage: c.usage.usageCharacters)
    }
    func sites(_ origin: Origin) -> (String, String) {
      if let frame = resolver.frames(for: origin, first: 1).first, frame.function != nil {
        var short = frame.function!
        while short.last == " " { short.removeLast() }
        if let file = frame.file {
          let name = file.split(separator: "/").last.map(String.init) ?? file
          short += " (\(name)\(frame.line > 0 ? ":\(frame.line)" : ""))"
        }
        return (frame.reportText, short)
      }
      if origin.line > 0 {
        let at = report.traceLocation(origin)
        return (at, at)
      }
      // A frame in a known file (`libx.so+0x1f0`, a stripped library) is
      // a place; a bare address is not: a binary trace's event is named
      // instead, where a text trace names its line (the binary one's
      // edges were labelled with their frames' addresses before
      // 2026-12-07). One trace's events need no name; merged ones do.
      let frame = resolver.frames(for: origin, first: 1).first
      if let frame, frame.moduleName != nil { return (frame.reportText, frame.reportText) }
      if origin.event >= 0 {
        let at =
          report.sources.count > 1
          ? report.traceLocation(origin) : "event \(report.eventNumber(origin))"
        return (at, at)
      }
      if let frame { return (frame.reportText, frame.reportText) }
      // A graph file's edge keeps no event.
      let at = report.traceLocation(origin)
      return (at, at)
    }
    let graph = core.graph
    edges = graph.edges.map { e in
      let (site, short) = sites(e.origin)
      return Edge(
        from: e.from, to: e.to, kinds: Self.kindNames(e.kinds), site: site, shortSite: short,
        // A graph file's dependency (thread -1) keeps no thread.
        thread: e.thread.raw < 0 ? nil : core.threadLabel(e.thread))
    }
    /// `refused`'s key of the dependency `a -> b`.
    func pairKey(_ a: ClassID, _ b: ClassID) -> UInt64 {
      UInt64(UInt32(bitPattern: a.raw)) << 32 | UInt64(UInt32(bitPattern: b.raw))
    }
    var refused: [UInt64: Int] = [:]
    /// The index of `held -> lock`, the dependency a finding names: the
    /// graph's, or the one the finding refused, drawn beside it (made by
    /// the first finding that refused it; a cycle and an irq lock
    /// inversion may refuse the same pair).
    func dependency(_ held: LockSnapshot, _ lock: LockSnapshot, of finding: Finding) -> Int {
      if let e = graph.edge(from: held.lockClass, to: lock.lockClass) { return Int(e) }
      let key = pairKey(held.lockClass, lock.lockClass)
      if let i = refused[key] { return i }
      let (site, short) = sites(finding.origin)
      refused[key] = edges.count
      edges.append(
        Edge(
          from: held.lockClass, to: lock.lockClass,
          kinds: Self.kindNames(Self.kind(prev: held.read, next: lock.read)), site: site,
          shortSite: short, thread: core.threadLabel(finding.thread), inGraph: false))
      return edges.count - 1
    }
    // The held locks and the lock of each invalid wait context.
    var waitContexts: [([LockSnapshot], LockSnapshot)] = []
    for finding in report.findings {
      switch finding.detail {
      case .circularDependency(let held, let chain):
        // The chain is prev (#N) back to the lock taken (#0); each link's
        // origin is where the dependency into it was recorded. The existing
        // path runs #0 -> #1 -> ... -> #N; held -> lock would close it.
        for i in chain.indices.dropLast() {
          if let e = graph.edge(from: chain[i + 1].lockClass, to: chain[i].lockClass) {
            edges[Int(e)].circularDependency = true
          }
        }
        guard let lock = finding.lock else { continue }
        let i = dependency(held, lock, of: finding)
        edges[i].circularDependency = true
      case .irqUnsafeDependency(let held, _, _, _, _, _, _, let safeToHeld, let lockToUnsafe, _):
        // safe -> ... -> held, the refused held -> lock, lock -> ... -> unsafe.
        guard let lock = finding.lock else { continue }
        markIrqPath(safeToHeld.map(\.lockClass) + [held.lockClass], in: graph)
        markIrqPath([lock.lockClass] + lockToUnsafe.map(\.lockClass), in: graph)
        let i = dependency(held, lock, of: finding)
        edges[i].irqLockInversion = true
      case .irqInversion(_, _, _, let path):
        // The path's links name the classes after the lock's, either way.
        guard let lock = finding.lock else { continue }
        markIrqPath([lock.lockClass] + path.map(\.lockClass), in: graph)
      case .invalidWaitContext:
        guard let lock = finding.lock else { continue }
        if lock.lockClass.index < nodes.count {
          nodes[lock.lockClass.index].invalidWaitContext = true
        }
        waitContexts.append((finding.held, lock))
      default:
        continue
      }
    }
    // After the other findings: the dependency of an acquisition in an
    // invalid wait context may be one another finding refused (a cycle it
    // closes, reported after the wait context it breaks), drawn beside
    // the graph's edges.
    // Only the held locks of the lock's own interrupt context: lockdep's
    // `check_wait_context()` reads those (and the context itself); a lock
    // of the task a hard interrupt came in on is no dependency of the
    // lock, and its edge into it, if any, was taken validly.
    for (held, lock) in waitContexts {
      for h in held where h.irqContext == lock.irqContext {
        if let e = graph.edge(from: h.lockClass, to: lock.lockClass) {
          edges[Int(e)].invalidWaitContext = true
        } else if let i = refused[pairKey(h.lockClass, lock.lockClass)] {
          edges[i].invalidWaitContext = true
        }
      }
    }
  }

  /// Marks the dependencies between consecutive classes of `path` (in
  /// whichever direction the graph has them) as an irq lock inversion's.
  private mutating func markIrqPath(_ path: [ClassID], in graph: DependencyGraph) {
    for (a, b) in zip(path, path.dropFirst()) where a != b {
      if let e = graph.edge(from: a, to: b) ?? graph.edge(from: b, to: a) {
        edges[Int(e)].irqLockInversion = true
      }
    }
  }

  /// At most `limit` of the edges, with the classes they join, and at
  /// most `2 * limit` classes: the edges a finding marks first, then the
  /// other edges of the classes those join, then the rest, each group in
  /// the order first seen, and drawn in that order; then, while there is
  /// room among the classes, the classes taken in an invalid wait
  /// context, then the others (classes with no dependency drawn). The
  /// whole graph when it is no bigger than that. Graphviz's layout grows
  /// much faster than the edges (about 0.3 s for 500, 3 s for 1,000, over
  /// two minutes for 2,000), and with the classes too (23 s for 20,000
  /// with no edge at all); a picture of thousands shows nothing anyway.
  func limited(toEdges limit: Int) -> ClassGraph {
    let classLimit = 2 * limit
    guard edges.count > limit || nodes.count > classLimit else { return self }
    let marked = { (e: Edge) in e.isMarked }
    let flagged = Set(nodes.filter(\.invalidWaitContext).map(\.id.raw))
    var focus = flagged
    for e in edges where marked(e) {
      focus.insert(e.from.raw)
      focus.insert(e.to.raw)
    }
    let near = { (e: Edge) in focus.contains(e.from.raw) || focus.contains(e.to.raw) }
    let ranked =
      edges.indices.filter { marked(edges[$0]) }
      + edges.indices.filter { !marked(edges[$0]) && near(edges[$0]) }
      + edges.indices.filter { !marked(edges[$0]) && !near(edges[$0]) }
    let kept = ranked.prefix(limit).sorted()
    var part = self
    part.edges = kept.map { edges[$0] }
    var shown: Set<Int32> = []
    for e in part.edges {
      shown.insert(e.from.raw)
      shown.insert(e.to.raw)
    }
    // An edge's classes always (at most `classLimit`), then the rest.
    var room = classLimit - shown.count
    for wanted in [true, false] where room > 0 {
      for n in nodes where room > 0 && n.invalidWaitContext == wanted {
        if shown.insert(n.id.raw).inserted { room -= 1 }
      }
    }
    part.nodes = nodes.filter { shown.contains($0.id.raw) }
    part.whole = (edges.count, nodes.count)
    return part
  }

  /// What the title says of a part: `500 of 9373 dependencies, ...`.
  var partNote: String? {
    whole.map { whole in
      "showing \(edges.count) of \(whole.edges) dependencies and \(nodes.count) of "
        + "\(whole.nodes) classes (--max-edges)"
    }
  }

  /// lockdep's `calc_dep()` for a dependency the graph does not hold.
  static func kind(prev: ReadMode, next: ReadMode) -> DependencyKinds {
    switch (prev == .exclusive, next == .recursive) {
    case (false, true): .sharedToRecursive
    case (true, true): .exclusiveToRecursive
    case (false, false): .sharedToNonRecursive
    case (true, false): .exclusiveToNonRecursive
    }
  }

  /// The kinds' two-letter names, in bit order.
  static func kindNames(_ kinds: DependencyKinds) -> [String] {
    let all: [(DependencyKinds, String)] = [
      (.sharedToRecursive, "SR"), (.exclusiveToRecursive, "ER"),
      (.sharedToNonRecursive, "SN"), (.exclusiveToNonRecursive, "EN"),
    ]
    return all.filter { kinds.contains($0.0) }.map(\.1)
  }

  // MARK: DOT

  /// Above this many edges, only highlighted edges carry a label (the
  /// others keep theirs as a tooltip): Graphviz's layout of many labelled
  /// edges takes minutes.
  static let labelledEdgeLimit = 150

  /// The graph in Graphviz's DOT language.
  func dot() -> String {
    let labelEveryEdge = edges.count <= Self.labelledEdgeLimit
    var out = "digraph \"lock classes\" {\n"
    let title = ["lock-class dependencies: " + source] + (partNote.map { [$0] } ?? [])
    out += "  graph [label=\(Self.quoted(lines: title)), labelloc=t,"
    out += " fontname=\"Helvetica\", fontsize=12];\n"
    out += "  node [fontname=\"Helvetica\", fontsize=11, style=\"rounded,filled\"];\n"
    out += "  edge [fontname=\"Helvetica\", fontsize=8, color=\"#424242\"];\n"
    for n in nodes {
      var attributes = [
        ("label", Self.quoted(lines: n.label)),
        ("shape", n.shape),
        ("color", Self.quoted(n.color)),
        ("fillcolor", Self.quoted(n.fillColor)),
        (
          "tooltip",
          Self.quoted(
            "\(n.name): \(n.kind.rawValue), outer \(n.outer) inner \(n.inner), \(n.lockType), usage {\(n.usage)}"
          )
        ),
      ]
      if n.invalidWaitContext {
        attributes.append(("penwidth", "2.5"))
        attributes.append(("peripheries", "2"))
      }
      out += "  \(n.dotID) [\(Self.attributeList(attributes))];\n"
    }
    let byID = Dictionary(uniqueKeysWithValues: nodes.map { ($0.id.raw, $0) })
    for e in edges {
      let from = byID[e.from.raw]!
      let to = byID[e.to.raw]!
      var tooltip = "\(from.name) -> \(to.name) -(\(e.kinds.joined(separator: ",")))->"
      tooltip +=
        e.inGraph
        ? ", first at: \(e.site)"
        : e.circularDependency
          ? ", refused (closes a cycle) at: \(e.site)"
          : ", refused (an irq-safe class would wait for an irq-unsafe one) at: \(e.site)"
      if let thread = e.thread { tooltip += " (\(thread))" }
      var attributes = [("tooltip", Self.quoted(tooltip))]
      if labelEveryEdge || e.isMarked {
        attributes.insert(("label", Self.quoted(e.shortSite)), at: 0)
        attributes.append(("labeltooltip", Self.quoted(tooltip)))
      }
      if e.isMarked {
        attributes.append(("color", Self.quoted(e.color)))
        attributes.append(("fontcolor", Self.quoted(e.color)))
        attributes.append(("style", Self.quoted(e.style)))
        attributes.append(
          ("penwidth", e.circularDependency || e.irqLockInversion ? "2.5" : "1.5"))
      }
      // The refused dependency points back up the order the graph has.
      if !e.inGraph { attributes.append(("constraint", "false")) }
      out += "  \(from.dotID) -> \(to.dotID) [\(Self.attributeList(attributes))];\n"
    }
    out += "}\n"
    return out
  }

  /// `key=value` pairs, comma-separated.
  static func attributeList(_ attributes: [(String, String)]) -> String {
    attributes.map { "\($0.0)=\($0.1)" }.joined(separator: ", ")
  }

  /// A DOT string literal of `s`: quotes and backslashes escaped, control
  /// characters written as reports write them (`\u{0}`, `\u{A}`:
  /// Graphviz refuses a NUL, a line feed in a name would draw as the
  /// break between a label's lines, and the rest draw nothing readable).
  static func quoted(_ s: String) -> String { quoted(lines: [s]) }

  /// A DOT string literal drawn as `lines`, one below the other (joined
  /// with DOT's `\n`), each escaped as `quoted(_:)` escapes; a line whose
  /// text would pass `maxLineBytes` ends there with how many bytes of it
  /// are left out.
  static func quoted(lines: [String]) -> String {
    var out = "\""
    for (i, line) in lines.enumerated() {
      if i > 0 { out += "\\n" }
      escape(line, into: &out)
    }
    return out + "\""
  }

  /// The most bytes of one line of a DOT string literal. Graphviz refuses
  /// a quoted string of 16 KiB or more (`syntax error ... scanning a
  /// quoted string`), which a trace's class name may be; nobody reads a
  /// label that long anyway.
  static let maxLineBytes = 1024

  /// `s` escaped into a DOT string literal's text, at most `maxLineBytes`
  /// of it.
  private static func escape(_ s: String, into out: inout String) {
    var written = 0
    for (offset, scalar) in zip(s.unicodeScalars.indices, s.unicodeScalars) {
      let text: String
      switch scalar {
      case "\"": text = "\\\""
      case "\\": text = "\\\\"
      default:
        // A control character's escape has its backslash escaped in
        // turn: DOT prints it as is.
        text =
          QuotedText.isPrintable(scalar) ? String(scalar) : "\\" + QuotedText.escape(scalar)
      }
      if written + text.utf8.count > maxLineBytes {
        let left = s.utf8.distance(from: offset, to: s.utf8.endIndex)
        out += "... (\(left) more bytes)"
        return
      }
      out += text
      written += text.utf8.count
    }
  }

  // MARK: JSON

  /// The graph as one JSON object: nodes and edges with the attributes the
  /// DOT form draws.
  func json() -> JSONValue {
    let byID = Dictionary(uniqueKeysWithValues: nodes.map { ($0.id.raw, $0) })
    var header: [(String, JSONValue)] = [
      ("tool", .string("rawlockcheck")),
      ("version", .string(RawLockCheck.version)),
      ("source", .string(source)),
    ]
    if let whole {
      header.append(
        ("whole", .object([("edges", .int(whole.edges)), ("nodes", .int(whole.nodes))])))
    }
    return .object(
      header + [
        (
          "nodes",
          .elements(count: nodes.count) { [nodes] i in
            let n = nodes[i]
            // The subclass when not 0, as `stats`' busiest classes give it.
            let subclass: [(String, JSONValue)] =
              n.subclass == 0 ? [] : [("subclass", .int(Int(n.subclass)))]
            return .object(
              [
                ("id", .string(n.dotID)),
                ("class", .string(n.key)),
                ("name", .string(n.name)),
              ] + subclass + [
                ("kind", .string(n.kind.rawValue)),
                ("outer", .int(n.numbers.outer)),
                ("inner", .int(n.numbers.inner)),
                ("lockType", .string(n.lockType.description)),
                ("usage", .string(n.usage)),
                ("color", .string(n.color)),
                ("shape", .string(n.shape)),
                ("invalidWaitContext", .bool(n.invalidWaitContext)),
              ])
          }
        ),
        (
          "edges",
          .elements(count: edges.count) { [edges] i in
            let e = edges[i]
            return .object([
              ("from", .string(byID[e.from.raw]!.dotID)),
              ("to", .string(byID[e.to.raw]!.dotID)),
              ("fromName", .string(byID[e.from.raw]!.name)),
              ("toName", .string(byID[e.to.raw]!.name)),
              ("kinds", .array(e.kinds.map(JSONValue.string))),
              ("at", .string(e.site)),
              ("label", .string(e.shortSite)),
              ("thread", .optional(e.thread)),
              ("inGraph", .bool(e.inGraph)),
              ("circularDependency", .bool(e.circularDependency)),
              ("irqLockInversion", .bool(e.irqLockInversion)),
              ("invalidWaitContext", .bool(e.invalidWaitContext)),
              ("color", .string(e.color)),
              ("style", .string(e.style)),
            ])
          }
        ),
      ])
  }
}
