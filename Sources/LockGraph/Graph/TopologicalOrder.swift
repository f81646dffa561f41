/// A topological order of a growing dependency graph (Pearce and Kelly's
/// dynamic algorithm, "A dynamic topological sort algorithm for directed
/// acyclic graphs", 2006), so that most new dependencies need no cycle
/// search: when the new edge's `from` comes before its `to`, no path can
/// lead back, and lockdep's `check_noncircular()` would find nothing.
///
/// Invariants: while `isValid`, every class with an edge has a distinct
/// `rank`, and every edge a -> b but those in `backEdges` has
/// `rank[a] < rank[b]`; a class without one has rank `none`, unless it
/// was ranked ahead (`preset(_:)`). An edge that closes a cycle (one that
/// is not a strong path is allowed in the graph: a read-recursive one)
/// is kept out of the order, in `backEdges`: a path against the order
/// must go down through one of them, so the questions stay answerable
/// (`mayReach`, `ceiling`) from the back edges' ranks. Past
/// `maxBackEdges` of them (or a self-loop, which reaches nothing new and
/// is left out too, costs none), `isValid` is false for good and every
/// question is answered "may reach". Before back edges were kept, one
/// allowed cycle anywhere made every later dependency search the graph
/// (an 80,000-link chain after a read-recursive cycle: 29 s, not 0.4).
///
/// A class met for the first time gets a rank beside the others rather
/// than among them: below them all when it is the new edge's `from`, above
/// them all when it is its `to`. Then no new class's first edge reorders,
/// and a chain taken from its end (each new lock the outer one of the
/// last: c9 -> c10, then c8 -> c9, ...) costs nothing per edge, where
/// ranking every new class above the others made each of its edges
/// reorder the whole chain (quadratic).
struct TopologicalOrder: Sendable {
  /// The rank of a class without an edge.
  static let none = Int32.min
  private var rank: [Int32] = []
  /// The next rank above every rank given.
  private var nextRank: Int32 = 0
  /// The next rank below every rank given.
  private var nextLowRank: Int32 = -1
  /// Edges that made classes change places (for tests).
  private(set) var reorders = 0
  private(set) var isValid = true
  /// Visit marks of the reordering searches.
  private var mark: [UInt32] = []
  private var generation: UInt32 = 0
  /// The edges that closed a cycle, kept out of the order (`from`, `to`).
  private(set) var backEdges: [(from: Int, to: Int)] = []
  /// `backEdges` as `pairKey`s, for the reordering searches to step over.
  private var backEdgeKeys: Set<UInt64> = []
  /// How many back edges are kept before the order is given up: each
  /// question looks at every one.
  static let maxBackEdges = 64

  /// `backEdges`' key of the edge a -> b.
  private static func pairKey(_ a: Int, _ b: Int) -> UInt64 {
    UInt64(UInt32(truncatingIfNeeded: a)) << 32 | UInt64(UInt32(truncatingIfNeeded: b))
  }

  /// The highest rank a back edge leaves from, and the lowest it leads to:
  /// a path that goes down in rank starts at or below the first (it
  /// climbs to its first back edge) and ends at or above the second.
  private var backEdgeSpan: (highestFrom: Int32, lowestTo: Int32)? {
    guard !backEdges.isEmpty else { return nil }
    var highest = Int32.min
    var lowest = Int32.max
    for e in backEdges {
      highest = max(highest, rank[e.from])
      lowest = min(lowest, rank[e.to])
    }
    return (highest, lowest)
  }

  /// Whether a path from class `a` to class `b` (`a != b`) may exist.
  func mayReach(from a: Int, to b: Int) -> Bool {
    guard isValid else { return true }
    guard a < rank.count, b < rank.count, rank[a] != Self.none, rank[b] != Self.none else {
      // A class without an edge reaches nothing, and nothing reaches it.
      return false
    }
    if rank[a] < rank[b] { return true }
    // Against the order: only down through a back edge.
    guard let span = backEdgeSpan else { return false }
    return span.highestFrom >= rank[a] && span.lowestTo <= rank[b]
  }

  /// The rank of class `c`: `none` (below every rank) when it has no
  /// edge, or the order was given up.
  func rank(of c: Int) -> Int32 { isValid && c < rank.count ? rank[c] : Self.none }

  /// The highest rank of a class that may reach class `c`: `c`'s own
  /// (ranks rise along every path but a back edge), or, when a back edge
  /// leads to `c`'s rank or below, the highest rank one leaves from; nil
  /// when the order was given up or `c` has no edge.
  func ceiling(reaching c: Int) -> Int32? {
    guard isValid, c < rank.count, rank[c] != Self.none else { return nil }
    guard let span = backEdgeSpan, span.lowestTo <= rank[c] else { return rank[c] }
    return max(rank[c], span.highestFrom)
  }

  /// Ranks `classes` (those without a rank yet), in order, above every
  /// rank given: an order known ahead (a graph file's, `GraphFile
  /// .topologicalClasses()`), so that its edges, added in any order,
  /// neither reorder nor search. A class ranked so without an edge only
  /// makes `mayReach` answer "may" for it, as for any ranked class.
  mutating func preset(_ classes: [Int]) {
    guard isValid, let highest = classes.max() else { return }
    if rank.count <= highest {
      rank.append(contentsOf: repeatElement(Self.none, count: highest + 1 - rank.count))
      mark.append(contentsOf: repeatElement(0, count: highest + 1 - mark.count))
    }
    for c in classes where rank[c] == Self.none { assignAbove(c) }
  }

  /// Records the edge a -> b, just added to `graph`.
  mutating func addEdge(from a: Int, to b: Int, in graph: DependencyGraph) {
    guard isValid else { return }
    // A self-loop leads nowhere new: the order need not know it.
    if a == b { return }
    let needed = max(a, b) + 1
    if rank.count < needed {
      rank.append(contentsOf: repeatElement(Self.none, count: needed - rank.count))
      mark.append(contentsOf: repeatElement(0, count: needed - mark.count))
    }
    if rank[a] == Self.none {
      if rank[b] == Self.none {
        assignAbove(a)
      } else {
        assignBelow(a)
      }
    }
    if rank[b] == Self.none { assignAbove(b) }
    if rank[a] < rank[b] { return }
    reorder(from: a, to: b, in: graph)
  }

  private mutating func assignAbove(_ c: Int) {
    rank[c] = nextRank
    nextRank += 1
  }

  private mutating func assignBelow(_ c: Int) {
    rank[c] = nextLowRank
    nextLowRank -= 1
  }

  /// Pearce-Kelly: the classes reachable from `b` ranked up to `a`'s rank
  /// (forward) and those reaching `a` ranked from `b`'s rank (backward)
  /// swap places, each side keeping its own relative order.
  private mutating func reorder(from a: Int, to b: Int, in graph: DependencyGraph) {
    reorders += 1
    let lower = rank[b]
    let upper = rank[a]
    guard let forward = collect(from: b, forward: true, in: graph, within: lower...upper, stopAt: a)
    else {
      // b reaches a: the new edge closes a cycle. Kept out of the order,
      // which stays right for every other edge.
      guard backEdges.count < Self.maxBackEdges else {
        isValid = false
        return
      }
      backEdges.append((a, b))
      backEdgeKeys.insert(Self.pairKey(a, b))
      return
    }
    let backward =
      collect(from: a, forward: false, in: graph, within: lower...upper, stopAt: nil) ?? []
    // Each side in rank order, as (rank, class) packed in one integer:
    // sorted without a comparison closure or a lookup per comparison.
    let back = byRank(backward)
    let ahead = byRank(forward)
    // The ranks they hold, in order: the two sorted sides merged.
    var slots: [Int32] = []
    slots.reserveCapacity(back.count + ahead.count)
    var i = 0
    var j = 0
    while i < back.count || j < ahead.count {
      if j == ahead.count || (i < back.count && back[i] < ahead[j]) {
        slots.append(Self.rank(unpacking: back[i]))
        i += 1
      } else {
        slots.append(Self.rank(unpacking: ahead[j]))
        j += 1
      }
    }
    for (packed, r) in zip(back + ahead, slots) {
      rank[Int(truncatingIfNeeded: packed & 0xFFFF_FFFF)] = r
    }
  }

  /// `classes` in rank order, each as its rank (high half, its sign bit
  /// flipped so that unsigned order is rank order) and index.
  private func byRank(_ classes: [Int]) -> [UInt64] {
    var packed = classes.map {
      UInt64(UInt32(bitPattern: rank[$0]) ^ 0x8000_0000) << 32 | UInt64(UInt32($0))
    }
    packed.sort()
    return packed
  }

  /// The rank packed by `byRank`.
  private static func rank(unpacking packed: UInt64) -> Int32 {
    Int32(bitPattern: UInt32(truncatingIfNeeded: packed >> 32) ^ 0x8000_0000)
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
      for k in graph.edgePositions(of: c, forward: forward) {
        let entry = graph.adjacent(at: k, forward: forward)
        let n = entry.other
        if !backEdgeKeys.isEmpty
          && backEdgeKeys.contains(forward ? Self.pairKey(c, n) : Self.pairKey(n, c))
        {
          continue
        }
        if mark[n] != generation && range.contains(rank[n]) {
          mark[n] = generation
          stack.append(n)
        }
      }
    }
    return found
  }
}
