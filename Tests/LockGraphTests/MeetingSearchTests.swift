import Basics
import Testing
import WaitContext

@testable import LockGraph

/// The cycle search from both ends (`MeetingSearch`) must find what
/// lockdep's breadth-first search finds, the same class by the same path,
/// and nothing where it finds nothing: on random graphs without
/// recursive-read edges (where it applies), small and sparse to large and
/// dense, with a topological order that prunes and without one, against
/// lockdep's search written out plainly and against `GraphSearch` with it
/// turned off.
@Suite struct MeetingSearchTests {
  /// The kinds of an edge without a recursive read (any mix).
  static let kinds: [DependencyKinds] = [
    .exclusiveToNonRecursive, .sharedToNonRecursive,
    [.exclusiveToNonRecursive, .sharedToNonRecursive],
  ]

  /// A search's answer as text: the class found and the path's edges.
  static func describe(_ result: GraphSearch.Result?, in graph: DependencyGraph) -> [String]? {
    result.map { r in
      ["found \(r.found.raw)"]
        + r.path.map { "\(graph.edges[Int($0)].from.raw)->\(graph.edges[Int($0)].to.raw)" }
    }
  }

  @Test(arguments: 1...40)
  func findsWhatLockdepsSearchFinds(seed: Int) throws {
    var rng = SplitMix(seed: UInt64(seed) &* 104_729)
    // From 20 classes and few edges to 110 and many: paths of every length.
    let count = 20 + (seed % 4) * 30
    let edgesWanted = count * (2 + seed % 5)
    let registry = ClassRegistry()
    for c in 0...count {
      _ = registry.declare(
        key: "c\(c)", name: nil, kind: .mutex, waits: try ClassWaitTypes(kind: .mutex))
    }
    let tables = registry.tables
    var graph = DependencyGraph()
    // Every third seed gives the order up (a self-loop on a class of its
    // own), so that nothing is pruned by rank.
    if seed % 3 == 0 {
      let loner = ClassID(Int32(count))
      graph.add(
        from: loner, to: loner, kinds: .exclusiveToNonRecursive, origin: .unknown,
        thread: ThreadID(0))
    }
    var outcomes = (found: 0, notFound: 0)
    var meeting = GraphSearch()
    var plain = GraphSearch()
    plain.meetsInTheMiddle = false
    var added = 0
    while added < edgesWanted {
      let a = ClassID(Int32(rng.next() % UInt64(count)))
      let b = ClassID(Int32(rng.next() % UInt64(count)))
      // The question a new dependency a -> b asks: does b lead back to a?
      if a != b && graph.mayReach(from: b, to: a) {
        #expect(MeetingSearch.applies(graph: graph, root: b, target: a, rootOnlyRecursive: false))
        let read: ReadMode = rng.next() % 2 == 0 ? .exclusive : .shared
        let goal = GraphSearch.Goal.conflict(target: a, targetRead: read)
        var answers: [[String]?] = []
        for search in [true, false] {
          var s = search ? meeting : plain
          answers.append(
            Self.describe(
              s.run(
                graph: graph, classes: tables, from: b, direction: .forward,
                rootOnlyRecursive: false, skipIrqUsageExempt: false, goal: goal), in: graph))
          if search { meeting = s } else { plain = s }
        }
        let expected = GraphSearchTests.lockdepBFS(
          graph, tables, from: b, forward: true, rootOnlyRecursive: false,
          skipIrqUsageExempt: false, goal: goal)
        #expect(answers[0] == expected, "seed \(seed): \(b.raw) to \(a.raw)")
        #expect(answers[1] == expected, "seed \(seed): \(b.raw) to \(a.raw) (plain)")
        if expected == nil { outcomes.notFound += 1 } else { outcomes.found += 1 }
        // A refused dependency is not added, as the validator refuses it.
        if expected != nil { continue }
      }
      if a == b { continue }
      let kinds = Self.kinds[Int(rng.next() % UInt64(Self.kinds.count))]
      graph.add(from: a, to: b, kinds: kinds, origin: .unknown, thread: ThreadID(0))
      added += 1
    }
    #expect(outcomes.found > 2 && outcomes.notFound > 5, "seed \(seed): \(outcomes)")
  }

  /// A recursive-read edge anywhere, or a root taken as a recursive read,
  /// leaves the question to the plain search (a path may be weak there).
  @Test func aRecursiveReadLeavesItToThePlainSearch() {
    var graph = DependencyGraph()
    let (a, b, c) = (ClassID(0), ClassID(1), ClassID(2))
    graph.add(
      from: a, to: b, kinds: .exclusiveToNonRecursive, origin: .unknown, thread: ThreadID(0))
    #expect(MeetingSearch.applies(graph: graph, root: b, target: a, rootOnlyRecursive: false))
    #expect(!MeetingSearch.applies(graph: graph, root: b, target: a, rootOnlyRecursive: true))
    #expect(!MeetingSearch.applies(graph: graph, root: a, target: a, rootOnlyRecursive: false))
    graph.add(from: b, to: c, kinds: .sharedToRecursive, origin: .unknown, thread: ThreadID(0))
    #expect(!MeetingSearch.applies(graph: graph, root: b, target: a, rootOnlyRecursive: false))
  }
}
