import Foundation
import LockGraph
import Testing
import WaitContext

@testable import Trace

#if canImport(Glibc)
  import Glibc
#endif

/// The graph file's text round-trips, and bad lines are `file:line:` errors.
@Suite struct GraphFileTests {
  /// The classes in a topological order of the file's graph, whatever
  /// order it lists its edges in; those on or after a cycle left out.
  @Test func classesAreOrderedTopologically() {
    var chain = GraphFile()
    let n = 50
    for i in (0..<n).reversed() {
      chain.edges.append(
        GraphFile.Edge(
          from: "c\(i)", to: "c\(i + 1)", kinds: .exclusiveToNonRecursive,
          location: GraphFile.Location()))
    }
    #expect(chain.topologicalClasses().map(\.key) == (0...n).map { "c\($0)" })
    var diamond = GraphFile()
    for (a, b) in [("b", "d"), ("a", "b"), ("c", "d"), ("a", "c"), ("d", "e"), ("e", "d")] {
      diamond.edges.append(
        GraphFile.Edge(
          from: a, to: b, kinds: .exclusiveToNonRecursive, location: GraphFile.Location()))
    }
    #expect(diamond.topologicalClasses().map(\.key) == ["a", "b", "c"])
  }

  @Test func roundTrip() throws {
    var graph = GraphFile()
    graph.classes = [
      GraphFile.Class(
        key: "zone lock", name: "&zone->lock", kind: .spinlock,
        waits: try ClassWaitTypes(kind: .spinlock)),
      GraphFile.Class(
        key: "w", name: nil, kind: .custom,
        waits: try ClassWaitTypes(kind: .custom, inner: .spin, outer: .sleep)),
    ]
    graph.edges = [
      GraphFile.Edge(
        from: "zone lock", fromSub: 1, to: "w",
        kinds: [.exclusiveToNonRecursive, .sharedToRecursive],
        location: GraphFile.Location(
          function: "f(\"x\")", file: "a b.swift", line: 3, trace: "t.rlt", traceLine: 9))
    ]
    let text = try graph.render(comment: "test")
    var parsed = try GraphFile.parse(text, file: "g")
    #expect(parsed.classes.map(\.line) == [3, 4])
    #expect(parsed.edges.map(\.line) == [5])
    for i in parsed.classes.indices { parsed.classes[i].line = 0 }
    for i in parsed.edges.indices { parsed.edges[i].line = 0 }
    #expect(parsed == graph)
    #expect(text.contains("kinds=EN,SR from-sub=1"))
  }

  /// A UTF-8 byte order mark before the header is skipped, as in a text
  /// trace (a file saved by a Windows editor), read from a file or text;
  /// anywhere else it is no part of a word.
  @Test func aByteOrderMarkBeforeTheHeaderIsSkipped() throws {
    let text = "\u{FEFF}rawlockcheck-graph 1\nclass X mutex\nclass Y mutex\nedge X -> Y kinds=EN\n"
    #expect(try GraphFile.parse(text, file: "g").edges.count == 1)
    let file = FileManager.default.temporaryDirectory.appendingPathComponent("bom-\(UUID()).rlg")
    try Data(text.utf8).write(to: file)
    defer { try? FileManager.default.removeItem(at: file) }
    #expect(try GraphFile.read(path: file.path).edges.count == 1)
    #expect(throws: TraceError.self) {
      try GraphFile.parse("rawlockcheck-graph 1\n\u{FEFF}class X mutex\n", file: "g")
    }
  }

  /// Numbers are tokenized as in a text trace: decimal or 0x-hexadecimal,
  /// in range.
  @Test func numbersMayBeHexadecimal() throws {
    let text = """
      rawlockcheck-graph 1
      class X mutex
      class Y mutex inner=2
      edge X -> Y kinds=EN to-sub=0x1 line=0x10 trace-line=0X20

      """
    let parsed = try GraphFile.parse(text, file: "g")
    #expect(parsed.classes.last?.waits.inner == .spin)
    let edge = try #require(parsed.edges.first)
    #expect(edge.toSub == 1)
    #expect(edge.location.line == 16)
    #expect(edge.location.traceLine == 32)
    #expect(throws: TraceError.self) {
      try GraphFile.parse(text.replacingOccurrences(of: "0x1 ", with: "0x8 "), file: "g")
    }
  }

  /// Class keys are bytes, as in a trace: a precomposed "é" and "e" with
  /// a combining accent are two classes of the graph file (an edge between
  /// them is not "from a class to itself") and of the registry it is
  /// loaded into, not one (as `String`'s canonical equality makes them).
  @Test func keysAreComparedByteByByte() throws {
    let composed = "\u{E9}"
    let decomposed = "e\u{301}"
    #expect(composed == decomposed)  // Why a `String` key will not do.
    var graph = GraphFile()
    graph.classes = [
      GraphFile.Class(
        key: composed, name: nil, kind: .rawSpinlock,
        waits: try ClassWaitTypes(kind: .rawSpinlock)),
      GraphFile.Class(
        key: decomposed, name: nil, kind: .mutex, waits: try ClassWaitTypes(kind: .mutex)),
    ]
    graph.edges = [
      GraphFile.Edge(
        from: composed, fromSub: 0, to: decomposed, kinds: [.exclusiveToNonRecursive],
        location: GraphFile.Location())
    ]
    let parsed = try GraphFile.parse(try graph.render(comment: "test"), file: "g")
    #expect(parsed.classes.count == 2 && parsed.edges.count == 1)
    let registry = ClassRegistry()
    let a = try #require(
      registry.register(
        key: composed, name: nil, kind: .rawSpinlock,
        waits: try ClassWaitTypes(kind: .rawSpinlock)))
    let b = try #require(
      registry.register(
        key: decomposed, name: nil, kind: .mutex, waits: try ClassWaitTypes(kind: .mutex)))
    #expect(a.isNew && b.isNew && a.id != b.id)
    #expect(registry.lookup(key: decomposed) == b.id)
  }

  @Test func controlCharactersAreRefusedInKeysAndSpelledOutElsewhere() throws {
    // A key names a class in every later run: changed, it would never match
    // again, so it is refused. A display name, a function, a file and the
    // comment are only shown: their control characters are spelled out.
    var graph = GraphFile()
    let waits = try ClassWaitTypes(kind: .mutex)
    graph.classes = [
      GraphFile.Class(key: "a", name: "x\ny", kind: .mutex, waits: waits),
      GraphFile.Class(key: "b", name: nil, kind: .mutex, waits: waits),
    ]
    graph.edges = [
      GraphFile.Edge(
        from: "a", to: "b", kinds: [.exclusiveToNonRecursive],
        location: GraphFile.Location(function: "f\rg", file: "c\u{1B}.swift", line: 1))
    ]
    let text = try graph.render(comment: "from\nt.rlt")
    #expect(text.split(separator: "\n").count == 5)
    let parsed = try GraphFile.parse(text, file: "g")
    #expect(parsed.classes.map(\.name) == ["x\\u{A}y", nil])
    #expect(parsed.edges.first?.location.function == "f\\u{D}g")
    #expect(parsed.edges.first?.location.file == "c\\u{1B}.swift")
    graph.classes[1].key = "b\nc"
    graph.edges[0].to = "b\nc"
    #expect(
      throws: TraceWriteError(
        "cannot write class \"b\\u{A}c\" to a graph file: its key holds the control character \\u{A}, which a graph file cannot hold"
      )
    ) {
      try graph.render()
    }
  }

  @Test func unknownVersionIsAnError() {
    #expect(
      throws: TraceError(
        file: "g", line: 1,
        message: "unsupported graph file version 7 (this reader knows version 1)")
    ) {
      try GraphFile.parse("rawlockcheck-graph 7\n", file: "g")
    }
    // A graph file is UTF-8: keys of different bytes do not read as one.
    let invalid: [UInt8] =
      Array("rawlockcheck-graph 1\nclass \"".utf8) + [0xFF] + Array("\" mutex\n".utf8)
    let path = "/tmp/graph-\(UInt64.random(in: 0...UInt64.max)).rlg"
    _ = invalid.withUnsafeBytes { bytes in
      let fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0o600)
      defer { close(fd) }
      return write(fd, bytes.baseAddress, bytes.count)
    }
    defer { unlink(path) }
    #expect(throws: TraceError(file: "g", line: 2, message: "not valid UTF-8")) {
      try GraphFile.read(path: path, displayName: "g")
    }
    // A later version's header may say more: still its version.
    #expect(
      throws: TraceError(
        file: "g", line: 1,
        message: "unsupported graph file version 2 (this reader knows version 1)")
    ) {
      try GraphFile.parse("rawlockcheck-graph 2 compressed=1\n", file: "g")
    }
    #expect(
      throws: TraceError(file: "g", line: 4, message: "unknown option \"at=\" on an edge line")
    ) {
      try GraphFile.parse(
        "rawlockcheck-graph 1\nclass A mutex\nclass B mutex\nedge A -> B at=1\n", file: "g")
    }
  }

  /// A trace given as the graph file (`--graph-in TRACE`) says so, in
  /// either encoding; a line the tokenizer refuses says why, as a trace's
  /// line would (not always "unterminated quote").
  @Test func aTraceOrABadLineSaysWhatItIs() {
    let notAGraph = "a trace, not a graph file (a trace is an argument of its own)"
    #expect(throws: TraceError(file: "g", line: 1, message: notAGraph)) {
      try GraphFile.parse("rawlockcheck-trace 1\nclass A mutex\n", file: "g")
    }
    #expect(
      throws: TraceError(
        file: "g", line: 1,
        message: "a binary trace, not a graph file (a trace is an argument of its own)")
    ) {
      try GraphFile.parse("RLCT\u{1}\n", file: "g")
    }
    #expect(
      throws: TraceError(
        file: "g", line: 2,
        message: "unknown escape \\q at column 9 (in quotes only \\\" and \\\\ are escapes)")
    ) {
      try GraphFile.parse("rawlockcheck-graph 1\nclass \"A\\q\" mutex\n", file: "g")
    }
  }

  /// An RCU class takes part in no dependency (lockdep's `check=0`): the
  /// validator never records an edge from or to one, and a file that has
  /// one is refused, on either side.
  @Test func anEdgeOfAnRCUClassIsRefused() throws {
    for edge in ["edge R -> A kinds=EN", "edge A -> R kinds=EN"] {
      #expect(
        throws: TraceError(
          file: "g", line: 4,
          message: "class \"R\" is an RCU class, which takes part in no dependency (check=0)")
      ) {
        try GraphFile.parse(
          "rawlockcheck-graph 1\nclass R rcu\nclass A mutex\n\(edge)\n", file: "g")
      }
    }
    #expect(
      try GraphFile.parse("rawlockcheck-graph 1\nclass R rcu\nclass A mutex\n", file: "g")
        .classes.count == 2)
  }
}
