import Foundation
import Testing

@testable import rawlockcheck

#if canImport(FoundationXML)
  import FoundationXML
#endif

@Suite struct GraphCommandTests {
  /// Graphviz's `dot` is on `PATH` (`scripts/install-deps.sh` installs it).
  static let hasDot: Bool = {
    let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
    return path.split(separator: ":").contains {
      FileManager.default.isExecutableFile(atPath: "\($0)/dot")
    }
  }()

  /// The DOT statement lines: `c0 [...]` for nodes, `c0 -> c1 [...]` for edges.
  func statements(_ dot: String) -> [String] {
    dot.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
  }

  /// The edge statements.
  func edges(_ dot: String) -> [String] {
    statements(dot).filter { $0.firstMatch(of: /^c[0-9]+ -> c[0-9]+ \[/) != nil }
  }

  /// The node statements.
  func nodes(_ dot: String) -> [String] {
    statements(dot).filter { $0.firstMatch(of: /^c[0-9]+ \[/) != nil }
  }

  func edge(_ dot: String, _ from: String, _ to: String) -> String? {
    statements(dot).first { $0.hasPrefix("\(from) -> \(to) [") }
  }

  func node(_ dot: String, _ id: String) -> String? {
    statements(dot).first { $0.hasPrefix("\(id) [") }
  }

  /// A DOT string keeps quotes and backslashes as DOT reads them, and
  /// writes control characters as reports write them (Graphviz refuses a
  /// NUL; an escape sequence would reach a terminal), a line feed too: in
  /// a name it would draw as the break between a label's lines
  /// (`quoted(lines:)`), and `a\nb` could not be told from a name `a`
  /// over its wait types.
  @Test func dotStringsEscapeControlCharacters() {
    #expect(ClassGraph.quoted("a\"b\\c\nd") == #""a\"b\\c\\u{A}d""#)
    #expect(ClassGraph.quoted(lines: ["a\nb", "{4:4}"]) == #""a\\u{A}b\n{4:4}""#)
    #expect(ClassGraph.quoted("x\u{0}y\u{1B}[31m\u{7F}") == #""x\\u{0}y\\u{1B}[31m\\u{7F}""#)
    #expect(ClassGraph.quoted("&zone->lock ü") == #""&zone->lock ü""#)
  }

  /// `graph -o FILE` and `report --graph-out FILE` refuse to write over the
  /// trace they read (by its path or a hard link), as `convert` does: one
  /// line naming the file, status 2, the trace untouched.
  @Test func anOutputThatIsTheTraceIsRefused() throws {
    let directory = FileManager.default.temporaryDirectory
      .appendingPathComponent("graph-same-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    let trace = directory.appendingPathComponent("t.rlt")
    let link = directory.appendingPathComponent("link.rlt")
    let original = try Data(
      contentsOf: FixturePaths.traces.appendingPathComponent("findings/circular-abba.rlt"))
    try original.write(to: trace)
    try FileManager.default.linkItem(at: trace, to: link)
    for arguments in [
      ["graph", "-o", trace.path, trace.path],
      ["graph", "--format", "json", "-o", link.path, trace.path],
      ["report", "--graph-out", link.path, trace.path],
    ] {
      let run = try ToolRun(arguments)
      #expect(run.status == 2, "\(arguments)")
      #expect(run.stderr.split(separator: "\n").count == 1, "\(run.stderr)")
      #expect(run.stderr.contains("is the input file"), "\(run.stderr)")
      #expect(try Data(contentsOf: trace) == original, "\(arguments)")
    }
    // A trace or graph file read from standard input (`-`) is the input
    // file too.
    for arguments in [
      ["graph", "-o", trace.path, "-"],
      ["graph", "-o", trace.path, "--graph-in", "-"],
      ["report", "--graph-out", trace.path, "-"],
    ] {
      let run = try ToolRun(
        arguments, in: directory, standardInput: FileHandle(forReadingFrom: trace))
      #expect(run.status == 2, "\(arguments)")
      #expect(run.stderr.contains("is the input file (-)"), "\(run.stderr)")
      #expect(try Data(contentsOf: trace) == original, "\(arguments)")
    }
    // A device on both sides is no file lost: `/dev/null` in and out.
    let null = try ToolRun(
      ["graph", "-o", "/dev/null", "-"], in: directory,
      standardInput: FileHandle(forReadingAtPath: "/dev/null")!)
    #expect(!null.stderr.contains("is the input file"), "\(null.stderr)")
  }

  @Test func circularAbbaHighlightsTheCycle() throws {
    let run = try ToolRun(["graph", "findings/circular-abba.rlt"])
    #expect(run.status == 0)
    #expect(run.stderr.isEmpty)
    let dot = run.stdout
    #expect(dot.hasPrefix("digraph "))
    #expect(nodes(dot).count == 2)
    #expect(node(dot, "c0")?.contains(#"label="&dev->lock\n{4:4}""#) == true)
    #expect(node(dot, "c1")?.contains(#"label="&fs->lock\n{4:4}""#) == true)
    #expect(node(dot, "c0")?.contains(##"color="#1565c0""##) == true)  // sleep: blue
    // The dependency in the graph, and the refused one that closes the cycle.
    let ab = try #require(edge(dot, "c0", "c1"))
    #expect(ab.contains(#"label="findings/circular-abba.rlt:12""#))
    #expect(ab.contains(##"color="#d50000""##) && ab.contains(#"style="bold""#))
    let ba = try #require(edge(dot, "c1", "c0"))
    #expect(ba.contains(##"color="#d50000""##) && ba.contains("constraint=false"))
    #expect(ba.contains(#"label="findings/circular-abba.rlt:16""#))
    #expect(edges(dot).count == 2)
  }

  @Test func circularThreeHighlightsEveryLink() throws {
    let run = try ToolRun(["graph", "findings/circular-three.rlt"])
    #expect(run.status == 0)
    let dot = run.stdout
    for (from, to) in [("c0", "c1"), ("c1", "c2"), ("c2", "c0")] {
      let line = try #require(edge(dot, from, to), "\(from) -> \(to)")
      #expect(line.contains(#"style="bold""#))
      #expect(line.contains(##"color="#d50000""##))
    }
    #expect(node(dot, "c0")?.contains(##"color="#ef6c00""##) == true)  // config: orange
  }

  @Test func invalidWaitContextDashesTheEdgesIntoTheLock() throws {
    let run = try ToolRun(["graph", "findings/invalid-wait-context-seed.rlt"])
    #expect(run.status == 0)
    let dot = run.stdout
    // Classes: 0 &some_lock, 1 &krcp->lock, 2 &pcp->lock, 3 &zone->lock.
    #expect(node(dot, "c0")?.contains(#"label="&some_lock\n{2:2}""#) == true)
    #expect(node(dot, "c0")?.contains(##"color="#c62828""##) == true)  // spin: red
    #expect(node(dot, "c3")?.contains("peripheries=2") == true)
    #expect(node(dot, "c0")?.contains("peripheries") == false)
    for from in ["c1", "c2"] {
      let line = try #require(edge(dot, from, "c3"), "\(from) -> c3")
      #expect(line.contains(#"style="dashed""#))
      #expect(line.contains(##"color="#ef6c00""##))
      #expect(line.contains(#"label="findings/invalid-wait-context-seed.rlt:14""#))
    }
    let plain = try #require(edge(dot, "c0", "c1"))
    #expect(!plain.contains("style="))
    #expect(!dot.contains(##"color="#d50000""##))
  }

  /// A lock taken in a hard interrupt where its wait type is not allowed
  /// breaks the interrupt's wait context, not its interrupted task's locks
  /// (lockdep's `check_wait_context()` reads the held locks of the
  /// acquisition's own interrupt context): the task's valid dependency
  /// into the same class is not dashed, though the finding lists the task's
  /// locks as held. (Before 2026-12-07 it was; found by an independent
  /// model of `graph`.)
  @Test func anInvalidWaitContextInAnInterruptDashesNoTaskEdge() throws {
    let trace = """
      rawlockcheck-trace 1
      class r raw_spinlock name=&r
      class m mutex name=&m
      class s spinlock name=&s
      1 acquire m
      1 acquire s
      1 release s
      1 hardirq-enter
      1 acquire r
      1 acquire s
      1 release s
      1 release r
      1 hardirq-exit
      1 release m

      """
    let run = try ToolRun(["graph", "--format", "json", "-"], input: trace)
    #expect(run.status == 0, "\(run.stderr)")
    let object = try #require(
      try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
    let edges = try #require(object["edges"] as? [[String: Any]])
    let flagged = edges.filter { $0["invalidWaitContext"] as? Bool == true }
    #expect(
      flagged.map { "\($0["fromName"] as? String ?? "?") -> \($0["toName"] as? String ?? "?")" }
        == ["&r -> &s"])
    let nodes = try #require(object["nodes"] as? [[String: Any]])
    #expect(
      nodes.filter { $0["invalidWaitContext"] as? Bool == true }.map { $0["name"] as? String } == [
        "&s"
      ])
  }

  /// An irq lock inversion's path from the irq-safe class to the
  /// irq-unsafe one is purple and bold, with the dependency the finding
  /// refused (drawn, as a cycle's is); a path made by a later usage mark
  /// (no dependency refused) is marked too.
  @Test(arguments: [
    ("findings/irq-lock-inversion.rlt", [("c0", "c1", false)]),
    ("findings/irq-lock-inversion-middle.rlt", [("c0", "c1", true), ("c1", "c2", false)]),
    ("findings/irq-lock-inversion-later.rlt", [("c0", "c1", true)]),
  ])
  func irqLockInversionMarksItsPath(trace: String, path: [(String, String, Bool)]) throws {
    let dot = try ToolRun(["graph", trace]).stdout
    for (from, to, inGraph) in path {
      let line = try #require(edge(dot, from, to), "\(from) -> \(to)")
      #expect(line.contains(##"color="#6a1b9a""##) && line.contains(#"style="bold""#), "\(line)")
      #expect(line.contains("constraint=false") == !inGraph)
      #expect(line.contains("refused (an irq-safe class would wait") == !inGraph)
    }
    let json = try ToolRun(["graph", "--format", "json", trace])
    let object = try #require(
      try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
    let edges = try #require(object["edges"] as? [[String: Any]])
    #expect(edges.filter { $0["irqLockInversion"] as? Bool == true }.count == path.count)
    #expect(edges.allSatisfy { $0["circularDependency"] as? Bool == false })
  }

  /// A dependency refused by an irq lock inversion and then by a cycle is
  /// drawn once, marked for both (the cycle's mark was lost).
  @Test func aPairRefusedTwiceIsMarkedForBoth() throws {
    let json = try ToolRun(["graph", "--format", "json", "findings/irq-inversion-then-cycle.rlt"])
    let object = try #require(
      try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
    let edges = try #require(object["edges"] as? [[String: Any]])
    let refused = edges.filter { $0["inGraph"] as? Bool == false }
    #expect(refused.count == 1)
    #expect(refused.first?["circularDependency"] as? Bool == true)
    #expect(refused.first?["irqLockInversion"] as? Bool == true)
  }

  /// A dependency taken in an invalid wait context that also closes a
  /// cycle (a spinlock_t under a raw_spinlock_t, after the other order) is
  /// refused, and drawn marked for both: the wait context is reported
  /// first, before the cycle refuses the dependency.
  @Test func aRefusedDependencyInAnInvalidWaitContextIsMarkedSo() throws {
    let directory = try MergeCommandTests.directory([
      "t.rlt": """
      rawlockcheck-trace 1
      class R raw_spinlock
      class S spinlock
      1 acquire S
      1 acquire R
      1 release R
      1 release S
      1 acquire R
      1 acquire S

      """
    ])
    defer { try? FileManager.default.removeItem(at: directory) }
    let trace = directory.appendingPathComponent("t.rlt")
    let json = try ToolRun(["graph", "--format", "json", trace.path])
    let object = try #require(
      try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
    let edges = try #require(object["edges"] as? [[String: Any]])
    let refused = try #require(edges.first { $0["inGraph"] as? Bool == false })
    #expect(refused["fromName"] as? String == "R" && refused["toName"] as? String == "S")
    #expect(refused["circularDependency"] as? Bool == true)
    #expect(refused["invalidWaitContext"] as? Bool == true)
    let dot = try ToolRun(["graph", trace.path]).stdout
    #expect(edge(dot, "c0", "c1")?.contains("dashed") == true)
  }

  @Test func mutexUnderRawSpinLock() throws {
    let run = try ToolRun(["graph", "findings/mutex-under-raw.rlt"])
    let line = try #require(edge(run.stdout, "c0", "c1"))
    #expect(line.contains(#"style="dashed""#))
    #expect(node(run.stdout, "c1")?.contains(#"label="m\n{4:4}""#) == true)
  }

  @Test func jsonHasTheSameAttributes() throws {
    let run = try ToolRun(["graph", "--format", "json", "findings/circular-abba.rlt"])
    #expect(run.status == 0)
    let object = try #require(
      try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
    let nodes = try #require(object["nodes"] as? [[String: Any]])
    #expect(nodes.map { $0["name"] as? String } == ["&dev->lock", "&fs->lock"])
    #expect(nodes.first?["kind"] as? String == "mutex")
    #expect(nodes.first?["outer"] as? Int == 4)
    #expect(nodes.first?["color"] as? String == "#1565c0")
    #expect(nodes.first?["shape"] as? String == "box")
    let edges = try #require(object["edges"] as? [[String: Any]])
    #expect(edges.count == 2)
    #expect(edges.map { $0["from"] as? String } == ["c0", "c1"])
    #expect(edges.map { $0["inGraph"] as? Bool } == [true, false])
    #expect(edges.map { $0["circularDependency"] as? Bool } == [true, true])
    #expect(edges.map { $0["invalidWaitContext"] as? Bool } == [false, false])
    #expect(edges.first?["kinds"] as? [String] == ["EN"])
    #expect(edges.first?["at"] as? String == "findings/circular-abba.rlt:12")
    #expect(edges.first?["thread"] as? String == "writer/1")
    #expect(edges.first?["style"] as? String == "bold")
  }

  /// A subclass variant's node says its subclass, as `stats`' busiest
  /// classes do (its `class` is its declared class's key, which it shares);
  /// a declared class's says none.
  @Test func jsonNodesGiveTheirSubclass() throws {
    let trace = """
      rawlockcheck-trace 1
      class i mutex name=&inode
      1 acquire i inst=1
      1 acquire i sub=2 inst=2
      1 release i inst=2
      1 release i inst=1

      """
    let run = try ToolRun(["graph", "--format", "json", "-"], input: trace)
    #expect(run.status == 0, "\(run.stderr)")
    let object = try #require(
      try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
    let nodes = try #require(object["nodes"] as? [[String: Any]])
    #expect(nodes.map { $0["name"] as? String } == ["&inode", "&inode/2"])
    #expect(nodes.map { $0["class"] as? String } == ["i", "i"])
    #expect(nodes.map { $0["subclass"] as? Int } == [nil, 2])
  }

  /// An edge whose stack cannot be symbolized (no `module` lines) is
  /// labelled with where the trace has it: its line in a text trace, its
  /// event in the binary encoding of the same trace, as `report` names
  /// an event there (README: "symbolized when the trace has module lines;
  /// the trace's file:LINE otherwise"), not with its frame's address.
  @Test func aBinaryTracesEdgeIsLabelledWithItsEvent() throws {
    let directory = FileManager.default.temporaryDirectory
      .appendingPathComponent("graph-binary-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    let text = directory.appendingPathComponent("t.rlt")
    try Data(
      """
      rawlockcheck-trace 1
      stack s1 0x401000
      class A mutex
      class B mutex
      1 acquire A
      1 acquire B at=s1

      """.utf8
    ).write(to: text)
    let binary = directory.appendingPathComponent("t.rltb")
    #expect(try ToolRun(["convert", text.path, binary.path], in: directory).status == 0)
    for (path, label) in [(text.path, "\(text.path):6"), (binary.path, "event 2")] {
      let run = try ToolRun(["graph", path], in: directory)
      let line = try #require(edge(run.stdout, "c0", "c1"))
      #expect(line.contains("label=\"\(label)\""), "\(line)")
    }
  }

  /// A trace of 60 classes taken in every ordered pair (1,770
  /// dependencies), then one pair the other way round (a cycle).
  static func bigTrace() throws -> URL {
    var lines = ["rawlockcheck-trace 1"]
    for c in 0..<60 { lines.append("class c\(c) mutex") }
    for a in 0..<60 {
      for b in (a + 1)..<60 {
        lines += ["1 acquire c\(a)", "1 acquire c\(b)", "1 release c\(b)", "1 release c\(a)"]
      }
    }
    lines += ["1 acquire c40", "1 acquire c5", "1 release c5", "1 release c40"]
    let file = FileManager.default.temporaryDirectory
      .appendingPathComponent("graph-big-\(UUID().uuidString).rlt")
    try (lines.joined(separator: "\n") + "\n").write(to: file, atomically: true, encoding: .utf8)
    return file
  }

  /// `--max-edges` draws that many edges, those of the finding among
  /// them, and says so in the title and on stderr; 0 draws them all.
  @Test func maxEdgesKeepsTheFindingsEdges() throws {
    let file = try Self.bigTrace()
    defer { try? FileManager.default.removeItem(at: file) }
    let all = try ToolRun(["graph", "--max-edges", "0", file.path])
    #expect(all.status == 0 && all.stderr.isEmpty)
    // 1,770 dependencies and the refused one that closes the cycle.
    #expect(edges(all.stdout).count == 1_771)
    let red = edges(all.stdout).filter { $0.contains(##"color="#d50000""##) }
    #expect(red.count == 2)
    let part = try ToolRun(["graph", "--max-edges", "50", file.path])
    #expect(part.status == 0)
    #expect(edges(part.stdout).count == 50)
    for edge in red { #expect(edges(part.stdout).contains(edge), "\(edge)") }
    #expect(part.stdout.contains("showing 50 of 1771 dependencies"))
    #expect(part.stderr.hasPrefix("rawlockcheck: graph: "))
    #expect(part.stderr.contains("showing 50 of 1771 dependencies"))
    #expect(part.stderr.split(separator: "\n").count == 1)
    // Every edge drawn joins classes drawn.
    let drawn = Set(nodes(part.stdout).map { $0.prefix { $0 != " " } })
    for edge in edges(part.stdout) {
      let ends = edge.split(separator: " ")
      #expect(drawn.contains(ends[0]) && drawn.contains(ends[2]), "\(edge)")
    }
    let json = try ToolRun(["graph", "--format", "json", "--max-edges", "50", file.path])
    let object = try #require(
      try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
    #expect((object["edges"] as? [Any])?.count == 50)
    #expect((object["whole"] as? [String: Any])?["edges"] as? Int == 1_771)
    #expect((object["whole"] as? [String: Any])?["nodes"] as? Int == 60)
  }

  /// Classes with no dependency count too: a graph of more than twice as
  /// many classes as `--max-edges` draws that many, the classes of the
  /// edges drawn first, then one taken in an invalid wait context, then
  /// others (a trace of 20,000 classes each taken alone kept Graphviz
  /// busy for 23 s: the limit drew every class without an edge).
  @Test func maxEdgesLimitsClassesWithoutDependenciesToo() throws {
    var lines = ["rawlockcheck-trace 1", "class a mutex", "class b mutex", "class r raw_spinlock"]
    lines += ["class m mutex"]
    for c in 0..<300 { lines.append("class c\(c) mutex") }
    for c in 0..<300 { lines += ["1 acquire c\(c)", "1 release c\(c)"] }
    // A cycle (a and b), then a mutex in a hard interrupt: an invalid wait
    // context with no lock held, so no edge into it.
    lines += ["1 acquire a", "1 acquire b", "1 release b", "1 release a"]
    lines += ["1 acquire b", "1 acquire a", "1 release a", "1 release b"]
    lines += ["2 hardirq-enter", "2 acquire m", "2 release m", "2 hardirq-exit"]
    let file = FileManager.default.temporaryDirectory
      .appendingPathComponent("graph-lonely-\(UUID().uuidString).rlt")
    try (lines.joined(separator: "\n") + "\n").write(to: file, atomically: true, encoding: .utf8)
    defer { try? FileManager.default.removeItem(at: file) }
    let run = try ToolRun(["graph", "--format", "json", "--max-edges", "3", file.path])
    #expect(run.status == 0, "\(run.stderr)")
    let object = try #require(
      try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
    let nodes = try #require(object["nodes"] as? [[String: Any]])
    let names = nodes.compactMap { $0["name"] as? String ?? $0["id"] as? String }
    #expect(nodes.count == 6, "\(names)")
    let classes = Set(nodes.compactMap { $0["class"] as? String })
    #expect(classes.isSuperset(of: ["a", "b", "m"]), "\(nodes)")
    #expect((object["whole"] as? [String: Any])?["nodes"] as? Int == 304)
    #expect(run.stderr.contains("and 6 of 304 classes (--max-edges)"), "\(run.stderr)")
    // No more than that: the whole graph.
    let all = try ToolRun(["graph", "--format", "json", "--max-edges", "0", file.path])
    let whole = try #require(
      try JSONSerialization.jsonObject(with: Data(all.stdout.utf8)) as? [String: Any])
    #expect((whole["nodes"] as? [Any])?.count == 304)
  }

  /// A negative limit is a usage error (status 2) that names the option.
  @Test func aNegativeMaxEdgesIsAUsageError() throws {
    let run = try ToolRun(["graph", "--max-edges=-1", "findings/circular-abba.rlt"])
    #expect(run.status == 2)
    #expect(run.stdout.isEmpty)
    #expect(
      run.stderr
        == "rawlockcheck: --max-edges must be 0 (all) or more, got -1 (see 'rawlockcheck graph --help')\n"
    )
  }

  /// An SVG is drawn in part by default: Graphviz's layout of 1,771 edges
  /// would take minutes.
  @Test(.enabled(if: hasDot, "Graphviz's dot is installed"))
  func svgOfABigGraphIsDrawnInPart() throws {
    let file = try Self.bigTrace()
    defer { try? FileManager.default.removeItem(at: file) }
    let run = try ToolRun(["graph", "--format", "svg", file.path])
    #expect(run.status == 0, "\(run.stderr)")
    #expect(run.stderr.contains("showing 500 of 1771 dependencies"))
    let parser = XMLParser(data: Data(run.stdout.utf8))
    #expect(parser.parse(), "\(String(describing: parser.parserError))")
    #expect(run.stdout.components(separatedBy: "class=\"edge\"").count - 1 == 500)
  }

  @Test func outputFile() throws {
    let file = FileManager.default.temporaryDirectory
      .appendingPathComponent("graph-\(UUID().uuidString).dot")
    defer { try? FileManager.default.removeItem(at: file) }
    let run = try ToolRun(["graph", "-o", file.path, "findings/circular-abba.rlt"])
    #expect(run.status == 0)
    #expect(run.stdout.isEmpty)
    let written = try String(contentsOf: file, encoding: .utf8)
    #expect(written == (try ToolRun(["graph", "findings/circular-abba.rlt"])).stdout)
  }

  /// Collects the text of an XML document's elements.
  final class TextCollector: NSObject, XMLParserDelegate {
    var text = ""
    func parser(_ parser: XMLParser, foundCharacters string: String) { text += string }
  }

  @Test(.enabled(if: hasDot, "Graphviz's dot is installed"))
  func svgParsesAndNamesTheClasses() throws {
    let run = try ToolRun(["graph", "--format", "svg", "findings/invalid-wait-context-seed.rlt"])
    #expect(run.status == 0, "\(run.stderr)")
    let parser = XMLParser(data: Data(run.stdout.utf8))
    let collector = TextCollector()
    parser.delegate = collector
    #expect(parser.parse(), "\(String(describing: parser.parserError))")
    for name in ["&some_lock", "&krcp->lock", "&pcp->lock", "&zone->lock", "{3:3}"] {
      #expect(collector.text.contains(name), "\(name)")
    }
    #expect(run.stdout.contains("stroke=\"#ef6c00\""))
    #expect(run.stdout.contains("stroke-dasharray"))
  }

  /// A class name of 20,000 bytes (a trace may have one): its label says
  /// how much is left out, and Graphviz, which refuses a quoted string of
  /// 16 KiB, draws the graph.
  @Test(.enabled(if: hasDot, "Graphviz's dot is installed"))
  func aLongNameIsShortenedForGraphviz() throws {
    let name = String(repeating: "n", count: 20_000)
    #expect(ClassGraph.quoted(name) == "\"" + name.prefix(1024) + "... (18976 more bytes)\"")
    let trace =
      "rawlockcheck-trace 1\nclass \"\(name)\" mutex\nclass B mutex\n"
      + "1 acquire \"\(name)\"\n1 acquire B\n1 release B\n1 release \"\(name)\"\n"
    let run = try ToolRun(["graph", "--format", "svg", "-"], input: trace)
    #expect(run.status == 0, "\(run.stderr)")
    #expect(run.stdout.contains("more bytes)"))
  }

  @Test func svgWithoutDotIsAClearError() throws {
    let process = Process()
    process.executableURL = FixturePaths.tool
    process.arguments = ["graph", "--format", "svg", "findings/circular-abba.rlt"]
    process.currentDirectoryURL = FixturePaths.traces
    process.environment = ["PATH": "/nonexistent"]
    let err = Pipe()
    process.standardError = err
    process.standardOutput = Pipe()
    try process.run()
    let message = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    #expect(process.terminationStatus == 2)
    #expect(message.hasPrefix("rawlockcheck: graph --format svg needs Graphviz's dot"))
  }

  /// What `dot` says on its standard error is said in the tool's words:
  /// when it fails, its first message ends the one-line error (status 2),
  /// and nothing of dot's comes before it (dot's own lines came first,
  /// then the tool's, which named only the status); when it succeeds
  /// with warnings, each is a line of the tool's, and the SVG is written.
  @Test func dotsMessagesAreSaidInTheToolsWords() throws {
    let dir = try MergeCommandTests.directory([:])
    defer { try? FileManager.default.removeItem(at: dir) }
    let dot = dir.appendingPathComponent("dot")
    func run(_ script: String) throws -> ToolRun {
      try Data(("#!/bin/sh\n" + script + "\n").utf8).write(to: dot)
      chmod(dot.path, 0o755)
      return try ToolRun.command(
        "/usr/bin/env",
        [
          "PATH=\(dir.path):/usr/bin:/bin", FixturePaths.tool.path, "graph", "--format", "svg",
          "findings/circular-abba.rlt",
        ])
    }
    let failed = try run(
      """
      echo "Error: $4: syntax error in line 3 near '->'" >&2
      echo "  in label of node A" >&2
      exit 1
      """)
    #expect(failed.status == 2)
    #expect(failed.stdout.isEmpty)
    let lines = failed.stderr.split(separator: "\n", omittingEmptySubsequences: false)
    #expect(lines.count == 2 && lines[1].isEmpty, "\(failed.stderr)")
    #expect(
      lines[0].hasPrefix("rawlockcheck: dot -Tsvg exited with status 1: Error: ")
        && lines[0].hasSuffix(": syntax error in line 3 near '->'"), "\(failed.stderr)")
    let warned = try run(
      """
      echo "Warning: Orthogonal edges do not currently handle edge labels" >&2
      echo "<svg/>" > "$3"
      """)
    #expect(warned.status == 0, "\(warned.stderr)")
    #expect(warned.stdout == "<svg/>\n")
    #expect(
      warned.stderr
        == "rawlockcheck: dot: Warning: Orthogonal edges do not currently handle edge labels\n")
  }

  /// SIGTERM (or Ctrl-C) while `dot` runs: the temporary files the tool
  /// made (the DOT text, dot's output, in `$TMPDIR`) are removed, the
  /// signal goes on to `dot` (sent to the tool alone, as a supervisor
  /// sends it, it left `dot` running for minutes), and the signal ends
  /// the tool as it would have. A `dot` that says where it was told to
  /// read and write, then waits, stands for a slow one; as Graphviz's
  /// does, it writes its output as the signal ends it (the tool removed
  /// its files without waiting for it, and the output was made again).
  @Test func aSignalLeavesNoTemporaryFileOrDotBehind() throws {
    let dir = try MergeCommandTests.directory([:])
    defer { try? FileManager.default.removeItem(at: dir) }
    let temporaries = dir.appendingPathComponent("tmp")
    try FileManager.default.createDirectory(at: temporaries, withIntermediateDirectories: true)
    let dot = dir.appendingPathComponent("dot")
    try Data(
      """
      #!/bin/sh
      echo $$ > "$0.pid"
      trap 'sleep 0.2; echo partial > "$3"; kill $child; exit 1' TERM INT
      echo "$@" > "$0.args.tmp"
      mv "$0.args.tmp" "$0.args"
      sleep 60 &
      child=$!
      wait $child

      """.utf8
    )
    .write(to: dot)
    chmod(dot.path, 0o755)
    // The tool is started with SIGTERM unblocked: the test runner spawns
    // its children with it blocked, and it would stay pending.
    let python = "/usr/bin/python3"
    guard FileManager.default.isExecutableFile(atPath: python) else { return }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: python)
    process.arguments = [
      "-c",
      "import os, signal, sys; signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGTERM]); "
        + "os.execv(sys.argv[1], sys.argv[1:])",
      FixturePaths.tool.path, "graph", "--format", "svg", "findings/circular-abba.rlt",
    ]
    process.currentDirectoryURL = FixturePaths.traces
    process.environment = ["PATH": dir.path + ":/usr/bin:/bin", "TMPDIR": temporaries.path]
    process.standardError = FileHandle.nullDevice
    process.standardOutput = FileHandle.nullDevice
    try process.run()
    let argsFile = dot.path + ".args"
    for _ in 0..<3000 where !FileManager.default.fileExists(atPath: argsFile) { usleep(10_000) }
    // `-Tsvg -o OUT IN`: both temporary files exist while dot runs.
    let args = try String(contentsOfFile: argsFile, encoding: .utf8)
      .split(separator: " ").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
    #expect(args.count == 4 && args[1] == "-o")
    let made = args.count == 4 ? [args[2], args[3]] : []
    for path in made {
      #expect(FileManager.default.fileExists(atPath: path), "\(path)")
      #expect(path.hasPrefix(temporaries.path + "/rawlockcheck-graph-"), "\(path)")
    }
    let started = ContinuousClock.now
    kill(process.processIdentifier, SIGTERM)
    // Ended (a zombie, or reaped) at once, not once dot is done.
    func ended() -> Bool {
      let status = try? String(
        contentsOfFile: "/proc/\(process.processIdentifier)/status", encoding: .utf8)
      return status.map { $0.contains("State:\tZ") } ?? true
    }
    while !ended() && ContinuousClock.now - started < .seconds(30) { usleep(10_000) }
    #expect(ended(), "the tool waited for dot")
    let pidText = try? String(contentsOfFile: dot.path + ".pid", encoding: .utf8)
    let pid = Int32(pidText?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "")
    #expect(pid != nil)
    if let pid {
      // Gone (or a zombie until it is reaped), not sleeping on.
      func dotEnded() -> Bool {
        let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
        return status.map { $0.contains("State:\tZ") } ?? true
      }
      let signalled = ContinuousClock.now
      while !dotEnded() && ContinuousClock.now - signalled < .seconds(10) { usleep(10_000) }
      #expect(dotEnded(), "dot outlived the tool")
      // Else it would hold what Foundation waits on.
      kill(pid, SIGKILL)
    }
    process.waitUntilExit()
    #expect(process.terminationReason == .uncaughtSignal && process.terminationStatus == SIGTERM)
    for path in made { #expect(!FileManager.default.fileExists(atPath: path), "\(path)") }
  }

  @Test func aBadTraceIsStatusTwoWithItsLine() throws {
    let run = try ToolRun(["graph", "malformed/unknown-class.rlt"])
    #expect(run.status == 2)
    #expect(run.stdout.isEmpty)
    #expect(run.stderr.hasPrefix("rawlockcheck: malformed/unknown-class.rlt:"))
  }
}
