import Foundation
import Testing

/// `graph` of several traces (the union `report --merge` validates) and of a
/// graph file (`--graph-in`, the graph a CI run keeps between runs).
@Suite struct GraphOfSeveralTracesTests {
  let graphs = GraphCommandTests()

  /// A then B in one trace and B then A in another: drawn together, the
  /// dependency of the first is part of a circular dependency and the
  /// second's, refused, closes it, each labelled with its own trace's line
  /// and thread (numbered per trace, as `report --merge` numbers them).
  @Test func twoTracesAreDrawnAsTheirUnion() throws {
    let dir = try MergeCommandTests.directory([
      "t1.rlt": MergeCommandTests.first, "t2.rlt": MergeCommandTests.second,
    ])
    defer { try? FileManager.default.removeItem(at: dir) }
    let run = try ToolRun(["graph", "t1.rlt", "t2.rlt"], in: dir)
    #expect(run.status == 0, "\(run.stderr)")
    #expect(graphs.nodes(run.stdout).count == 2)
    let ab = try #require(graphs.edge(run.stdout, "c0", "c1"))
    let ba = try #require(graphs.edge(run.stdout, "c1", "c0"))
    #expect(ab.contains(#"label="t1.rlt:5""#), "\(ab)")
    #expect(ab.contains("first at: t1.rlt:5 (thread/1:1)"), "\(ab)")
    #expect(ba.contains(#"label="t2.rlt:5""#), "\(ba)")
    #expect(ba.contains("refused (closes a cycle) at: t2.rlt:5 (thread/2:7)"), "\(ba)")
    for edge in [ab, ba] { #expect(edge.contains(##"color="#d50000""##), "\(edge)") }
    #expect(run.stdout.contains("lock-class dependencies: t1.rlt + t2.rlt"))
    // Each trace alone has no cycle to mark.
    let alone = try ToolRun(["graph", "t1.rlt"], in: dir)
    #expect(graphs.edges(alone.stdout).count == 1)
    #expect(try #require(graphs.edge(alone.stdout, "c0", "c1")).contains("#d50000") == false)
  }

  /// `--graph-in` alone draws the graph file: its classes, and its edges
  /// at the trace lines it recorded, with no thread (a graph file keeps
  /// none); with a trace that takes the locks the other way, the file's
  /// edge and the refused one form the cycle `report --graph-in` reports.
  @Test func aGraphFileIsDrawnAloneAndWithATrace() throws {
    let dir = try MergeCommandTests.directory([
      "t1.rlt": MergeCommandTests.first, "t2.rlt": MergeCommandTests.second,
    ])
    defer { try? FileManager.default.removeItem(at: dir) }
    let kept = try ToolRun(["report", "--graph-out", "ci.graph", "t1.rlt"], in: dir)
    #expect(kept.status == 0, "\(kept.stderr)")
    let alone = try ToolRun(["graph", "--graph-in", "ci.graph", "--format", "json"], in: dir)
    #expect(alone.status == 0, "\(alone.stderr)")
    let object = try #require(
      try JSONSerialization.jsonObject(with: Data(alone.stdout.utf8)) as? [String: Any])
    #expect(object["source"] as? String == "ci.graph")
    let names = (object["nodes"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String }
    #expect(names == ["&a->lock", "&b->lock"])
    let edges = try #require(object["edges"] as? [[String: Any]])
    #expect(edges.count == 1)
    #expect(edges.first?["at"] as? String == "t1.rlt:5")
    #expect(edges.first?["thread"] is NSNull)
    #expect(edges.first?["circularDependency"] as? Bool == false)

    let both = try ToolRun(["graph", "--graph-in", "ci.graph", "t2.rlt"], in: dir)
    #expect(both.status == 0, "\(both.stderr)")
    let ba = try #require(graphs.edge(both.stdout, "c1", "c0"))
    #expect(ba.contains("refused (closes a cycle) at: t2.rlt:5"), "\(ba)")
    #expect(
      try #require(graphs.edge(both.stdout, "c0", "c1")).contains(##"color="#d50000""##))
    #expect(both.stdout.contains("lock-class dependencies: t2.rlt + ci.graph"))
  }

  /// What cannot be drawn is said in one line with status 2, and what can
  /// be still is: a trace of several that cannot be read leaves the others'
  /// graph; with none read there is no graph; usage mistakes are refused
  /// (status 2, as every command refuses them).
  @Test func unreadableInputsAndMisuse() throws {
    let dir = try MergeCommandTests.directory([
      "t1.rlt": MergeCommandTests.first, "bad.rlt": "rawlockcheck-trace 1\nnonsense\n",
    ])
    defer { try? FileManager.default.removeItem(at: dir) }
    let partly = try ToolRun(["graph", "t1.rlt", "bad.rlt"], in: dir)
    #expect(partly.status == 2)
    #expect(partly.stderr.contains("bad.rlt:2:"), "\(partly.stderr)")
    #expect(graphs.edges(partly.stdout).count == 1)
    let none = try ToolRun(["graph", "bad.rlt", "missing.rlt"], in: dir)
    #expect(none.status == 2)
    #expect(none.stdout.isEmpty)
    #expect(none.stderr.split(separator: "\n").count == 2, "\(none.stderr)")
    let noGraphFile = try ToolRun(["graph", "--graph-in", "missing.graph", "t1.rlt"], in: dir)
    #expect(noGraphFile.status == 2)
    #expect(noGraphFile.stderr.contains("missing.graph"), "\(noGraphFile.stderr)")
    #expect(noGraphFile.stdout.isEmpty)
    for arguments in [
      ["graph"], ["graph", "--graph-in", "a.graph", "--graph-in", "b.graph"],
      ["graph", "--graph-in", "-", "-"],
    ] {
      let misuse = try ToolRun(arguments, in: dir)
      #expect(misuse.status == 2, "\(arguments): \(misuse.status)")
      #expect(misuse.stderr.split(separator: "\n").count == 1, "\(misuse.stderr)")
      #expect(misuse.stdout.isEmpty, "\(arguments)")
    }
  }

  /// A trace's modules are opened (and said missing) only when something
  /// drawn has a return address or the trace has stacks, as `report` opens
  /// them only for what it prints: read through the union, `graph` said a
  /// module missing for a trace with neither.
  @Test func modulesAreOpenedOnlyForAddressesDrawn() throws {
    let module = "module 0x1000-0x2000 0 /nonexistent/libx.so\n"
    let dir = try MergeCommandTests.directory([
      "plain.rlt": "rawlockcheck-trace 1\n" + module
        + "class A spinlock\nclass B spinlock\n1 acquire A\n1 acquire B\n1 release B\n"
        + "1 release A\n",
      "ip.rlt": "rawlockcheck-trace 1\n" + module
        + "class A spinlock\nclass B spinlock\n1 acquire A ip=0x1100\n1 acquire B ip=0x1200\n"
        + "1 release B\n1 release A\n",
    ])
    defer { try? FileManager.default.removeItem(at: dir) }
    let plain = try ToolRun(["graph", "plain.rlt"], in: dir)
    #expect(plain.status == 0)
    #expect(plain.stderr.isEmpty, "\(plain.stderr)")
    let withIP = try ToolRun(["graph", "ip.rlt"], in: dir)
    #expect(withIP.status == 0)
    #expect(withIP.stderr.contains("module /nonexistent/libx.so not found"), "\(withIP.stderr)")
  }

}
