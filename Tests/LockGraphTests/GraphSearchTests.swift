import Basics
import Testing
import WaitContext

@testable import LockGraph

/// A cycle search (a forward search for a class) leaves out the classes
/// ranked above its target in the topological order. That must change
/// nothing lockdep's breadth-first search finds: on random graphs of every
/// dependency kind (so that the strong-path rule cuts some paths), the
/// class found and the path to it are those of the same search on the same
/// graph whose order was given up (a self-loop on a class of its own,
/// connected to nothing else), which leaves nothing out.
@Suite struct GraphSearchTests {
  static let kinds: [DependencyKinds] = [
    .exclusiveToNonRecursive, .exclusiveToRecursive, .sharedToNonRecursive, .sharedToRecursive,
    [.sharedToRecursive, .exclusiveToNonRecursive],
  ]

  @Test(arguments: 1...40)
  func leavingOutHigherRanksFindsTheSamePath(seed: Int) throws {
    var rng = SplitMix(seed: UInt64(seed))
    let count = 30
    let registry = ClassRegistry()
    for c in 0...count {
      _ = registry.declare(
        key: "c\(c)", name: nil, kind: .spinlock, waits: try ClassWaitTypes(kind: .spinlock))
    }
    let tables = registry.tables
    var ordered = DependencyGraph()
    var unordered = DependencyGraph()
    // The class of its own whose self-loop gives the order up.
    let loner = ClassID(Int32(count))
    unordered.add(
      from: loner, to: loner, kinds: .exclusiveToNonRecursive, origin: .unknown,
      thread: ThreadID(0))
    var searches = 0
    var found = 0
    for _ in 0..<200 {
      let a = ClassID(Int32(rng.next() % UInt64(count)))
      let b = ClassID(Int32(rng.next() % UInt64(count)))
      // Keep the graph acyclic (the order holds), in no global order.
      if a == b || TopologicalOrderTests.reaches(ordered, from: b, to: a) { continue }
      let kinds = Self.kinds[Int(rng.next() % UInt64(Self.kinds.count))]
      ordered.add(from: a, to: b, kinds: kinds, origin: .unknown, thread: ThreadID(0))
      unordered.add(from: a, to: b, kinds: kinds, origin: .unknown, thread: ThreadID(0))
      // The question a new dependency prev -> next asks where the order
      // cannot rule a path out: does next lead back to prev?
      let prev = ClassID(Int32(rng.next() % UInt64(count)))
      let next = ClassID(Int32(rng.next() % UInt64(count)))
      guard prev != next, ordered.mayReach(from: next, to: prev) else { continue }
      let onlyRecursive = rng.next() % 3 == 0
      let read: ReadMode = rng.next() % 2 == 0 ? .exclusive : .shared
      var results: [[String]?] = []
      for graph in [ordered, unordered] {
        var search = GraphSearch()
        let result = search.run(
          graph: graph, classes: tables, from: next, direction: .forward,
          rootOnlyRecursive: onlyRecursive, skipIrqUsageExempt: false,
          goal: .conflict(target: prev, targetRead: read))
        results.append(
          result.map { r in
            ["found \(r.found.raw)"]
              + r.path.map { "\(graph.edges[Int($0)].from.raw)->\(graph.edges[Int($0)].to.raw)" }
          })
      }
      searches += 1
      if results[0] != nil { found += 1 }
      #expect(results[0] == results[1], "seed \(seed): \(next.raw) to \(prev.raw)")
    }
    // Both outcomes are exercised: a path found, and none.
    #expect(searches > 20 && found > 5, "seed \(seed): \(searches) searches, \(found) found")
  }

  /// A search's answer is remembered only while the graph is unchanged:
  /// a new edge, a new kind on an edge (which can make a path strong) or a
  /// new usage bit each makes the same question find what it now finds.
  @Test func aRememberedAnswerLastsUntilTheGraphChanges() throws {
    let registry = ClassRegistry()
    for c in 0..<8 {
      _ = registry.declare(
        key: "c\(c)", name: nil, kind: .spinlock, waits: try ClassWaitTypes(kind: .spinlock))
    }
    let tables = registry.tables
    var graph = DependencyGraph()
    var search = GraphSearch()
    func c(_ i: Int32) -> ClassID { ClassID(i) }
    func cycle(from root: Int32, to target: Int32) -> ClassID? {
      search.run(
        graph: graph, classes: tables, from: c(root), direction: .forward,
        rootOnlyRecursive: false, skipIrqUsageExempt: false,
        goal: .conflict(target: c(target), targetRead: .exclusive)
      )?.found
    }
    func add(_ a: Int32, _ b: Int32, _ kinds: DependencyKinds) {
      graph.add(from: c(a), to: c(b), kinds: kinds, origin: .unknown, thread: ThreadID(0))
    }
    // A new edge.
    add(1, 2, .exclusiveToNonRecursive)
    #expect(cycle(from: 2, to: 0) == nil)
    #expect(cycle(from: 2, to: 0) == nil)
    add(2, 0, .exclusiveToNonRecursive)
    #expect(cycle(from: 2, to: 0) == c(0))
    // A new kind: -(*R)-> then -(S*)-> is no strong path, until 4 -> 5
    // gains an exclusive kind.
    add(3, 4, .exclusiveToRecursive)
    add(4, 5, .sharedToNonRecursive)
    #expect(cycle(from: 3, to: 5) == nil)
    add(4, 5, .exclusiveToNonRecursive)
    #expect(cycle(from: 3, to: 5) == c(5))
    // A new usage bit.
    add(6, 7, .exclusiveToNonRecursive)
    func unsafe() -> ClassID? {
      search.run(
        graph: graph, classes: tables, from: c(6), direction: .forward,
        rootOnlyRecursive: false, skipIrqUsageExempt: true,
        goal: .usage(UsageBit.enabledHardirq.mask))?.found
    }
    #expect(unsafe() == nil)
    tables.addUsage(c(7), UsageBit.enabledHardirq.mask)
    graph.addUsage(UsageBit.enabledHardirq.mask, to: c(7))
    #expect(unsafe() == c(7))
  }
}
