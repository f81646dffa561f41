/// A topological order of a growing dependency graph (Pearce and Kelly's
/// dynamic algorithm, "A dynamic topological sort algorithm for directed
/// acyclic graphs", 2006), so that most new dependencies need no cycle
/// search: when the new edge's `from` comes before its `to`, no path can
/// lead back, and lockdep's `check_noncircular()` would find nothing.
///
/// Invariants: while `isValid`, every class with an edge has a distinct
/// `rank`, and every edge a -> b has `rank[a] < rank[b]`; a class without
/// one has rank -1. Once an edge closes any cycle (one that is not a strong
/// path is allowed in the graph), `isValid` is false for good and every
/// question is answered "may reach".
struct TopologicalOrder: Sendable {
  private var rank: [Int32] = []
  private var nextRank: Int32 = 0
  private(set) var isValid = true
  /// Visit marks of the reordering searches.
  private var mark: [UInt32] = []
  private var generation: UInt32 = 0

  /// Whether a path from class `a` to class `b` (`a != b`) may exist.
  func mayReach(from a: Int, to b: Int) -> Bool {
    guard isValid else { return true }
    guard a < rank.count, b < rank.count, rank[a] >= 0, rank[b] >= 0 else {
      // A class without an edge reaches nothing, and nothing reaches it.
      return false
    }
    return rank[a] < rank[b]
  }

  /// The rank of class `c`: -1 when it has no edge, or the order was given up.
  func rank(of c: Int) -> Int32 { isValid && c < rank.count ? rank[c] : -1 }

  /// The highest rank of a class that may reach class `c` (`c`'s own: ranks
  /// rise along every path); nil when the order was given up or `c` has
  /// no edge.
  func ceiling(reaching c: Int) -> Int32? {
    guard isValid, c < rank.count, rank[c] >= 0 else { return nil }
    return rank[c]
  }

  /// Records the edge a -> b, just added to `graph`.
  mutating func addEdge(from a: Int, to b: Int, in graph: DependencyGraph) {
    guard isValid else { return }
    if a == b {
      isValid = false
      return
    }
    let needed = max(a, b) + 1
    if rank.count < needed {
      rank.append(contentsOf: repeatElement(-1, count: needed - rank.count))
      mark.append(contentsOf: repeatElement(0, count: needed - mark.count))
    }
    if rank[a] < 0 { assignNew(a) }
    if rank[b] < 0 { assignNew(b) }
    if rank[a] < rank[b] { return }
    reorder(from: a, to: b, in: graph)
  }

  private mutating func assignNew(_ c: Int) {
    rank[c] = nextRank
    nextRank += 1
  }

  /// Pearce-Kelly: the classes reachable from `b` ranked up to `a`'s rank
  /// (forward) and those reaching `a` ranked from `b`'s rank (backward)
  /// swap places, each side keeping its own relative order.
  private mutating func reorder(from a: Int, to b: Int, in graph: DependencyGraph) {
    let lower = rank[b]
    let upper = rank[a]
    guard let forward = collect(from: b, forward: true, in: graph, within: lower...upper, stopAt: a)
    else {
      isValid = false  // b reaches a: the new edge closes a cycle
      return
    }
    let backward =
      collect(from: a, forward: false, in: graph, within: lower...upper, stopAt: nil) ?? []
    // Each side in rank order, as (rank, class) packed in one integer:
    // sorted without a comparison closure or a lookup per comparison.
    let moved = byRank(backward) + byRank(forward)
    var slots = moved.map { Int32(truncatingIfNeeded: $0 >> 32) }
    slots.sort()
    for (packed, r) in zip(moved, slots) { rank[Int(truncatingIfNeeded: packed & 0xFFFF_FFFF)] = r }
  }

  /// `classes` in rank order, each as its rank (high half) and index.
  private func byRank(_ classes: [Int]) -> [UInt64] {
    var packed = classes.map { UInt64(UInt32(rank[$0])) << 32 | UInt64(UInt32($0)) }
    packed.sort()
    return packed
  }

  /// The classes reachable from `start` (itself included) through classes
  /// ranked within `range`, following edges out (`forward`) or in; nil
  /// when `stopAt` is among them.
  private mutating func collect(
    from start: Int, forward: Bool, in graph: DependencyGraph, within range: ClosedRange<Int32>,
    stopAt: Int?
  ) -> [Int]? {
    generation &+= 1
    if generation == 0 {
      for i in mark.indices { mark[i] = 0 }
      generation = 1
    }
    var found: [Int] = []
    var stack = [start]
    mark[start] = generation
    while let c = stack.popLast() {
      if c == stopAt { return nil }
      found.append(c)
      var e = forward ? graph.firstOut[c] : graph.firstIn[c]
      while e >= 0 {
        let edge = graph.edges[Int(e)]
        let n = (forward ? edge.to : edge.from).index
        if mark[n] != generation && range.contains(rank[n]) {
          mark[n] = generation
          stack.append(n)
        }
        e = forward ? graph.nextOut[Int(e)] : graph.nextIn[Int(e)]
      }
    }
    return found
  }
}
