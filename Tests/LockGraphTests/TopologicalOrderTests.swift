import Basics
import Testing

@testable import LockGraph

/// The graph's topological order lets a new dependency skip the cycle
/// search only where no path exists: checked against a plain search of
/// the edges on random graphs, mostly in one order (as programs take their
/// locks), with back edges that close cycles (each cycle's classes then
/// one component of the order, which may reach each other).
@Suite struct TopologicalOrderTests {
  /// Whether a path of edges leads from `a` to `b`, by a plain search,
  /// through no class of `avoiding`.
  static func reaches(
    _ graph: DependencyGraph, from a: ClassID, to b: ClassID, avoiding: Set<Int> = []
  ) -> Bool {
    var seen: Set<Int32> = [a.raw]
    var stack = [a.raw]
    while let c = stack.popLast() {
      if c == b.raw { return true }
      for edge in graph.edges
      where edge.from.raw == c && !seen.contains(edge.to.raw) && !avoiding.contains(edge.to.index) {
        seen.insert(edge.to.raw)
        stack.append(edge.to.raw)
      }
    }
    return false
  }

  /// A class met for the first time is ranked beside the others (below
  /// them as an edge's `from`, above them as its `to`): a chain taken from
  /// either end never reorders, and the order stays right.
  @Test(arguments: [false, true])
  func aChainTakenFromEitherEndNeverReorders(fromTheEnd: Bool) {
    var order = TopologicalOrder()
    var graph = DependencyGraph()
    let n = 200
    for i in fromTheEnd ? Array((0..<n).reversed()) : Array(0..<n) {
      graph.add(
        from: ClassID(Int32(i)), to: ClassID(Int32(i + 1)), kinds: .exclusiveToNonRecursive,
        origin: Origin(), thread: ThreadID(0))
      order.addEdge(from: i, to: i + 1, in: graph)
    }
    #expect(order.reorders == 0)
    #expect(order.isValid)
    #expect(order.mayReach(from: 0, to: n) && !order.mayReach(from: n, to: 0))
  }

  /// Edges that close cycles merge the classes on them into one component:
  /// every pair the order says cannot be reached is not, by a plain
  /// search, and no class ranked above a class's ceiling reaches it, with
  /// few back edges and with many. With a few, the order still answers
  /// most questions.
  @Test(arguments: [(3, 5), (7, 5), (5, 12), (9, 20), (11, 40), (13, 40)])
  func backEdgesKeepTheOrderRight(seed: Int, backEdgePercent: Int) {
    var rng = SplitMix(seed: UInt64(seed))
    var graph = DependencyGraph()
    let classes = 40
    var skipped = 0
    for _ in 0..<(backEdgePercent > 10 ? 600 : 300) {
      var a = Int(rng.next() % UInt64(classes))
      var b = Int(rng.next() % UInt64(classes))
      if a == b { continue }
      if (a > b) != (Int(rng.next() % 100) < backEdgePercent) { swap(&a, &b) }
      if !graph.mayReach(from: ClassID(Int32(b)), to: ClassID(Int32(a))) { skipped += 1 }
      graph.add(
        from: ClassID(Int32(a)), to: ClassID(Int32(b)), kinds: .exclusiveToNonRecursive,
        origin: .unknown, thread: ThreadID(0))
    }
    for a in 0..<classes {
      let to = ClassID(Int32(a))
      let ceiling = graph.rankCeiling(reaching: to)
      for b in 0..<classes where a != b {
        let from = ClassID(Int32(b))
        if !graph.mayReach(from: from, to: to) {
          #expect(!Self.reaches(graph, from: from, to: to), "seed \(seed): \(b) reaches \(a)")
        }
        if let ceiling, graph.rank(of: b) > ceiling {
          #expect(!Self.reaches(graph, from: from, to: to), "seed \(seed): above the ceiling")
        }
      }
    }
    if backEdgePercent < 10 {
      #expect(skipped > 100, "seed \(seed): only \(skipped) searches skipped")
    }
  }

  /// Cycles that are not strong paths (a read-recursive rwlock taken in
  /// both orders with a spin lock) are components of the order: 100 of
  /// them (past the 64 the order once kept before giving up, after which
  /// every dependency searched the whole graph), joined in one order, then
  /// a chain taken from its end: no new dependency's check needs a
  /// search, and the order still tells which way paths go.
  @Test func manyAllowedCyclesKeepTheOrder() {
    var graph = DependencyGraph()
    func add(_ a: Int, _ b: Int) {
      graph.add(
        from: ClassID(Int32(a)), to: ClassID(Int32(b)), kinds: .sharedToRecursive,
        origin: .unknown, thread: ThreadID(0))
    }
    func mayReach(_ a: Int, _ b: Int) -> Bool {
      graph.mayReach(from: ClassID(Int32(a)), to: ClassID(Int32(b)))
    }
    var searches = 0
    for i in 0..<100 {
      add(2 * i, 2 * i + 1)
      add(2 * i + 1, 2 * i)
      // Each cycle after the last: 2i - 1 -> 2i.
      if i > 0 {
        if mayReach(2 * i, 2 * i - 1) { searches += 1 }
        add(2 * i - 1, 2 * i)
      }
    }
    for i in (200..<1200).reversed() {
      if mayReach(i + 1, i) { searches += 1 }
      add(i, i + 1)
    }
    #expect(searches == 0)
    #expect(mayReach(0, 1) && mayReach(1, 0) && mayReach(0, 199))
    #expect(!mayReach(199, 0) && !mayReach(1200, 200) && !mayReach(150, 3))
    #expect(Self.reaches(graph, from: ClassID(0), to: ClassID(199)))
  }

  @Test(arguments: 1...40)
  func aSkippedSearchNeverMissesAPath(seed: Int) {
    var rng = SplitMix(seed: UInt64(seed))
    var graph = DependencyGraph()
    let classes = 24
    let backEdgePercent = seed % 4 == 0 ? 2 : seed % 4 == 1 ? 0 : 3 * (seed % 4)
    var skipped = 0
    for _ in 0..<150 {
      var a = Int(rng.next() % UInt64(classes))
      var b = Int(rng.next() % UInt64(classes))
      if a == b { continue }
      // Mostly in one global order; sometimes against it.
      if (a > b) != (Int(rng.next() % 100) < backEdgePercent) { swap(&a, &b) }
      let from = ClassID(Int32(a))
      let to = ClassID(Int32(b))
      // The question the cycle check asks before adding from -> to.
      if !graph.mayReach(from: to, to: from) {
        skipped += 1
        #expect(!Self.reaches(graph, from: to, to: from), "seed \(seed): a path was missed")
      }
      graph.add(
        from: from, to: to, kinds: .exclusiveToNonRecursive, origin: .unknown,
        thread: ThreadID(0))
    }
    // Every pair, after the last edge.
    for a in 0..<classes {
      for b in 0..<classes where a != b {
        let from = ClassID(Int32(a))
        let to = ClassID(Int32(b))
        if !graph.mayReach(from: from, to: to) {
          #expect(!Self.reaches(graph, from: from, to: to), "seed \(seed): \(a) reaches \(b)")
        }
      }
    }
    if backEdgePercent == 0 {
      // In one order the order is kept, and most checks need no search.
      #expect(skipped > 75, "seed \(seed): only \(skipped) searches skipped")
    }
  }
}
