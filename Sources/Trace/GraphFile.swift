import Basics
import LockGraph
import WaitContext

/// A lock-class dependency graph kept between runs (`report --graph-out`,
/// `--graph-in`; `docs/graph-file-format.md`): classes by key, and edges
/// with where each was first seen, as text, so that a later run of another
/// build can check against it and say where an old edge came from.
public struct GraphFile: Sendable, Equatable {
  /// The version this code reads and writes.
  public static let version = "1"
  /// The first word of the header line.
  public static let headerWord = "rawlockcheck-graph"

  /// A `class` line.
  public struct Class: Sendable, Equatable {
    /// The class's key (a trace's class id).
    public var key: String
    /// The display name, when it is not the key.
    public var name: String?
    /// The kind of lock.
    public var kind: LockKind
    /// Its wait types and lock type.
    public var waits: ClassWaitTypes
    /// The line of the graph file it was read from (0 when built).
    public var line: Int64 = 0

    /// A class; `line` is where it was read from, when it was.
    public init(
      key: String, name: String?, kind: LockKind, waits: ClassWaitTypes, line: Int64 = 0
    ) {
      self.key = key
      self.name = name
      self.kind = kind
      self.waits = waits
      self.line = line
    }
  }

  /// Where an edge was first seen: its symbolized innermost frame, and the
  /// trace and line it came from; any part may be absent.
  public struct Location: Sendable, Equatable {
    /// The function of the innermost frame.
    public var function: String?
    /// Its source file.
    public var file: String?
    /// Its source line, 0 when unknown.
    public var line: Int
    /// The trace the edge came from.
    public var trace: String?
    /// The line of that trace (text traces), 0 when unknown.
    public var traceLine: Int64

    /// A location from whichever parts are known.
    public init(
      function: String? = nil, file: String? = nil, line: Int = 0, trace: String? = nil,
      traceLine: Int64 = 0
    ) {
      self.function = function
      self.file = file
      self.line = line
      self.trace = trace
      self.traceLine = traceLine
    }
  }

  /// An `edge` line: `from` (subclass `fromSub`) was held when `to`
  /// (subclass `toSub`) was acquired.
  public struct Edge: Sendable, Equatable {
    /// The held class's key.
    public var from: String
    /// The held class's subclass, 0 to 7.
    public var fromSub: UInt8
    /// The acquired class's key.
    public var to: String
    /// The acquired class's subclass, 0 to 7.
    public var toSub: UInt8
    /// Every kind of the dependency seen.
    public var kinds: DependencyKinds
    /// Where it was first seen.
    public var location: Location
    /// The line of the graph file it was read from (0 when built).
    public var line: Int64 = 0

    /// An edge; `line` is where it was read from, when it was.
    public init(
      from: String, fromSub: UInt8 = 0, to: String, toSub: UInt8 = 0, kinds: DependencyKinds,
      location: Location, line: Int64 = 0
    ) {
      self.from = from
      self.fromSub = fromSub
      self.to = to
      self.toSub = toSub
      self.kinds = kinds
      self.location = location
      self.line = line
    }
  }

  /// The classes, in order; each key once.
  public var classes: [Class] = []
  /// The edges, in order; each names declared classes.
  public var edges: [Edge] = []

  /// An empty graph.
  public init() {}

  // MARK: Kinds

  static let kindNames: [(String, DependencyKinds)] = [
    ("EN", .exclusiveToNonRecursive), ("SN", .sharedToNonRecursive),
    ("ER", .exclusiveToRecursive), ("SR", .sharedToRecursive),
  ]

  /// `EN,SR`: the kinds as the file writes them.
  public static func text(_ kinds: DependencyKinds) -> String {
    kindNames.filter { kinds.contains($0.1) }.map(\.0).joined(separator: ",")
  }

  // MARK: Writing

  /// The file's text: header, an optional comment line, classes, edges.
  ///
  /// A graph file is tokenized as a text trace, which cannot hold a control
  /// character other than tab. Class keys name classes across runs, so a
  /// key holding one is refused rather than changed (a changed key would
  /// never match the class again); display names and where an edge came
  /// from are written with such characters spelled out (`\u{A}`).
  /// - Throws: `TraceWriteError` naming the first class key that holds one.
  public func render(comment: String? = nil) throws(TraceWriteError) -> String {
    for key in classes.map(\.key) + edges.flatMap({ [$0.from, $0.to] }) {
      if let bad = TextTraceWriter.unwritable(key) {
        throw TraceWriteError(
          "cannot write class \"\(QuotedText.shown(key))\" to a graph file: its key holds the control character \(QuotedText.escape(bad)), which a graph file cannot hold"
        )
      }
    }
    var out: [UInt8] = Array("\(Self.headerWord) \(Self.version)\n".utf8)
    if let comment { out += Array("# \(TextTraceWriter.writable(comment))\n".utf8) }
    func token(_ text: String) {
      out.append(0x20)
      TextTraceWriter.appendToken(text, to: &out)
    }
    func option(_ key: String, _ value: String) {
      out.append(0x20)
      out += Array(key.utf8)
      out.append(0x3D)
      TextTraceWriter.appendToken(TextTraceWriter.writable(value), to: &out)
    }
    for c in classes {
      out += Array("class".utf8)
      token(c.key)
      token(c.kind.rawValue)
      if let name = c.name, name != c.key { option("name", name) }
      let row = c.kind.row
      if row.inner != c.waits.inner { option("inner", c.waits.inner.description) }
      if c.waits.effectiveOuter != (row.outer ?? c.waits.inner) {
        option("outer", c.waits.effectiveOuter.description)
      }
      if c.waits.lockType != (row.lockType ?? .normal) {
        option("type", c.waits.lockType.description)
      }
      out.append(0x0A)
    }
    for e in edges {
      out += Array("edge".utf8)
      token(e.from)
      out += Array(" ->".utf8)
      token(e.to)
      option("kinds", Self.text(e.kinds))
      if e.fromSub != 0 { option("from-sub", "\(e.fromSub)") }
      if e.toSub != 0 { option("to-sub", "\(e.toSub)") }
      let l = e.location
      if let f = l.function { option("function", f) }
      if let f = l.file { option("file", f) }
      if l.line > 0 { option("line", "\(l.line)") }
      if let t = l.trace { option("trace", t) }
      if l.traceLine > 0 { option("trace-line", "\(l.traceLine)") }
      out.append(0x0A)
    }
    return String(decoding: out, as: UTF8.self)
  }

  // MARK: Reading

  /// Reads the graph file at `path`, called `displayName` in errors,
  /// whole. `opening` is asked while a FIFO's writer or a pipe's first
  /// bytes are waited for: its reason ends the reading before it began.
  /// - Throws: `TraceError` (`file:line: what`) at the first bad line, an
  ///   unknown version, or a file that cannot be read.
  public static func read(
    path: String, displayName: String? = nil, opening: TraceInterruption? = nil
  ) throws(TraceError) -> GraphFile {
    let name = displayName ?? path
    var lines: LineReader
    do {
      lines = try LineReader(path: path, opening: opening, kind: "graph file")
    } catch {
      throw TraceError(file: name, line: 0, message: TextTraceReader.describe(error))
    }
    var parser = GraphFileParser(file: name)
    var number: Int64 = 0
    while true {
      let line: UnsafeRawBufferPointer?
      do {
        line = try lines.nextLine()
      } catch {
        throw TraceError(file: name, line: number + 1, message: TextTraceReader.describe(error))
      }
      guard let line else { break }
      number += 1
      try parser.parse(line, number: number)
    }
    if !parser.sawHeader {
      throw TraceError(
        file: name, line: 0,
        message: "empty graph file: expected header \"\(headerWord) \(version)\"")
    }
    return parser.graph
  }

  /// Parses a graph file held in `text`, called `file` in errors.
  public static func parse(_ text: String, file: String) throws(TraceError) -> GraphFile {
    var parser = GraphFileParser(file: file)
    var number: Int64 = 0
    for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
      number += 1
      var bytes = Array(line.utf8)
      if bytes.last == 0x0D { bytes.removeLast() }
      let result = bytes.withUnsafeBytes { raw -> Result<Void, TraceError> in
        do throws(TraceError) {
          try parser.parse(raw, number: number)
          return .success(())
        } catch {
          return .failure(error)
        }
      }
      try result.get()
    }
    if !parser.sawHeader {
      throw TraceError(
        file: file, line: 0,
        message: "empty graph file: expected header \"\(headerWord) \(version)\"")
    }
    return parser.graph
  }
}

/// Parses a graph file line by line.
struct GraphFileParser {
  let file: String
  var sawHeader = false
  var graph = GraphFile()
  /// The class keys declared, compared byte by byte (`ExactKey`), as a
  /// trace's are.
  private var keys: Set<ExactKey> = []
  /// The keys of RCU classes (lockdep's `check=0`), which no edge names.
  private var unchecked: Set<ExactKey> = []
  private var tokenizer = Tokenizer()
  private var number: Int64 = 0

  init(file: String) { self.file = file }

  func fail(_ message: String) -> TraceError {
    TraceError(file: file, line: number, message: message)
  }

  mutating func parse(_ whole: UnsafeRawBufferPointer, number: Int64) throws(TraceError) {
    self.number = number
    let line = TextTraceParser.withoutByteOrderMark(whole, number: number)
    if !sawHeader && number == 1 && BinaryTraceFormat.startsWithMagic(line) {
      throw fail("a binary trace, not a graph file (a trace is an argument of its own)")
    }
    // A graph file is UTF-8, as a text trace is: two keys of different
    // bytes must not read as one (U+FFFD).
    if line.contains(where: { $0 >= 0x80 }), String(validating: line, as: UTF8.self) == nil {
      throw fail("not valid UTF-8")
    }
    do {
      try tokenizer.split(line)
    } catch {
      if !sawHeader {
        throw fail("expected header \"\(GraphFile.headerWord) \(GraphFile.version)\"")
      }
      throw fail(error.message)
    }
    let tokens = tokenizer.tokens
    if tokens.isEmpty { return }
    let words = tokens.map { Tokenizer.text(line, $0.start, $0.end) }
    let options = tokens.map { isOption(line, $0) }
    if !sawHeader {
      if words[0] == TraceVocabulary.headerWord {
        throw fail("a trace, not a graph file (a trace is an argument of its own)")
      }
      guard words[0] == GraphFile.headerWord, tokens.count >= 2, !tokens[0].quoted else {
        throw fail("expected header \"\(GraphFile.headerWord) \(GraphFile.version)\"")
      }
      guard words[1] == GraphFile.version else {
        throw fail(
          "unsupported graph file version \(TextTraceParser.clip(words[1])) (this reader knows version \(GraphFile.version))"
        )
      }
      // Version 1's header is two words; a later version's may say more.
      guard tokens.count == 2 else {
        throw fail("expected header \"\(GraphFile.headerWord) \(GraphFile.version)\"")
      }
      sawHeader = true
      return
    }
    switch tokens[0].quoted ? "" : words[0] {
    case "class": try parseClass(words, options)
    case "edge": try parseEdge(words, options)
    case GraphFile.headerWord: throw fail("header repeated")
    default:
      throw fail("expected a class or edge line, got \"\(TextTraceParser.clip(words[0]))\"")
    }
  }

  /// A token of the form `key=value` (the `=` before any quote).
  private func isOption(_ line: UnsafeRawBufferPointer, _ token: Tokenizer.Token) -> Bool {
    var i = token.start
    while i < token.end {
      if line[i] == 0x22 { return false }
      if line[i] == 0x3D { return i > token.start }
      i += 1
    }
    return false
  }

  /// The options after the positional words, by key; each key at most once
  /// and one of `allowed`.
  private func optionValues(
    _ words: [String], _ options: [Bool], from first: Int, allowed: [String], on what: String
  ) throws(TraceError) -> [String: String] {
    var values: [String: String] = [:]
    for i in first..<words.count {
      guard options[i] else {
        throw fail("expected key=value, got \"\(TextTraceParser.clip(words[i]))\"")
      }
      let word = words[i]
      let eq = word.firstIndex(of: "=")!
      let key = String(word[..<eq])
      guard allowed.contains(key) else { throw fail("unknown option \"\(key)=\" on \(what) line") }
      guard values[key] == nil else { throw fail("option \"\(key)=\" given twice") }
      values[key] = String(word[word.index(after: eq)...])
    }
    return values
  }

  private mutating func parseClass(_ words: [String], _ options: [Bool]) throws(TraceError) {
    guard words.count >= 3, !options[1], !options[2] else {
      throw fail("expected \"class <key> <kind> [name=] [inner=] [outer=] [type=]\"")
    }
    let key = words[1]
    guard keys.insert(ExactKey(key)).inserted else {
      throw fail("class \"\(key)\" declared twice")
    }
    guard let kind = LockKind(rawValue: words[2]) else {
      let known = LockKind.allCases.map(\.rawValue).joined(separator: ", ")
      throw fail(
        "unknown lock kind \"\(TextTraceParser.clip(words[2]))\" (expected one of \(known))")
    }
    if kind.row.isRCU { unchecked.insert(ExactKey(key)) }
    let v = try optionValues(
      words, options, from: 3, allowed: ["name", "inner", "outer", "type"], on: "a class")
    func wait(_ key: String) throws(TraceError) -> WaitType? {
      guard let text = v[key] else { return nil }
      guard let w = WaitType(traceName: text) else {
        throw fail("\(key)= must be inv, free, spin, config or sleep (or 0 to 4), got \"\(text)\"")
      }
      return w
    }
    var lockType: LockType? = nil
    if let text = v["type"] {
      guard let t = LockType(traceName: text) else {
        throw fail("unknown lock type \"\(text)\" (expected normal, percpu or override)")
      }
      lockType = t
    }
    let inner = try wait("inner")
    let outer = try wait("outer")
    let waits: ClassWaitTypes
    do {
      waits = try ClassWaitTypes(kind: kind, inner: inner, outer: outer, lockType: lockType)
    } catch {
      switch error {
      case .innerRequired(let k): throw fail("a \(k.rawValue) class needs inner=")
      case .lockTypeFixed(let k):
        throw fail("a \(k.rawValue) class has lock type \(k.row.lockType!), not type=\(lockType!)")
      }
    }
    graph.classes.append(
      GraphFile.Class(key: key, name: v["name"], kind: kind, waits: waits, line: number))
  }

  private mutating func parseEdge(_ words: [String], _ options: [Bool]) throws(TraceError) {
    guard words.count >= 4, !options[1], words[2] == "->", !options[2], !options[3] else {
      throw fail("expected \"edge <from> -> <to> kinds=<kinds> ...\"")
    }
    for key in [words[1], words[3]] where !keys.contains(ExactKey(key)) {
      throw fail("unknown class \"\(TextTraceParser.clip(key))\"")
    }
    for key in [words[1], words[3]] where unchecked.contains(ExactKey(key)) {
      throw fail(
        "class \"\(TextTraceParser.clip(key))\" is an RCU class, which takes part in no "
          + "dependency (check=0)")
    }
    let v = try optionValues(
      words, options, from: 4,
      allowed: ["kinds", "from-sub", "to-sub", "function", "file", "line", "trace", "trace-line"],
      on: "an edge")
    guard let kindsText = v["kinds"] else { throw fail("an edge needs kinds=") }
    var kinds = DependencyKinds()
    for name in kindsText.split(separator: ",", omittingEmptySubsequences: false) {
      guard let k = GraphFile.kindNames.first(where: { $0.0 == name }) else {
        throw fail("kinds= lists EN, SN, ER or SR, got \"\(TextTraceParser.clip(kindsText))\"")
      }
      kinds.insert(k.1)
    }
    func count(_ key: String, max: Int64) throws(TraceError) -> Int64 {
      guard let text = v[key] else { return 0 }
      // Decimal or 0x-hexadecimal, as numbers in a text trace.
      guard let u = NumberText.parse(text.utf8), u <= UInt64(max), case let n = Int64(u) else {
        throw fail(
          "\(key)= must be a number from 0 to \(max), got \"\(TextTraceParser.clip(text))\"")
      }
      return n
    }
    let fromSub = UInt8(try count("from-sub", max: 7))
    let toSub = UInt8(try count("to-sub", max: 7))
    // A class depends on itself only as lockdep lets it: a recursive read
    // taken while a read of the class is held (`check_deadlock()` lets it
    // by, and `check_prev_add()` records the -(SR)-> dependency).
    if ExactKey(words[1]) == ExactKey(words[3]) && fromSub == toSub && kinds != .sharedToRecursive {
      throw fail("an edge from a class to itself is SR only (a recursive read under a read)")
    }
    let location = GraphFile.Location(
      function: v["function"], file: v["file"], line: Int(try count("line", max: Int64(Int32.max))),
      trace: v["trace"], traceLine: try count("trace-line", max: Int64.max))
    graph.edges.append(
      GraphFile.Edge(
        from: words[1], fromSub: fromSub, to: words[3], toSub: toSub, kinds: kinds,
        location: location, line: number))
  }
}
