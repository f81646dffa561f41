import LockGraph
import Testing
import WaitContext

@testable import Trace

/// The graph file's text round-trips, and bad lines are `file:line:` errors.
@Suite struct GraphFileTests {
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
    let text = graph.render(comment: "test")
    var parsed = try GraphFile.parse(text, file: "g")
    #expect(parsed.classes.map(\.line) == [3, 4])
    #expect(parsed.edges.map(\.line) == [5])
    for i in parsed.classes.indices { parsed.classes[i].line = 0 }
    for i in parsed.edges.indices { parsed.edges[i].line = 0 }
    #expect(parsed == graph)
    #expect(text.contains("kinds=EN,SR from-sub=1"))
  }

  @Test func unknownVersionIsAnError() {
    #expect(
      throws: TraceError(
        file: "g", line: 1,
        message: "unsupported graph file version 7 (this reader knows version 1)")
    ) {
      try GraphFile.parse("rawlockcheck-graph 7\n", file: "g")
    }
    #expect(
      throws: TraceError(file: "g", line: 4, message: "unknown option \"at=\" on an edge line")
    ) {
      try GraphFile.parse(
        "rawlockcheck-graph 1\nclass A mutex\nclass B mutex\nedge A -> B at=1\n", file: "g")
    }
  }
}
