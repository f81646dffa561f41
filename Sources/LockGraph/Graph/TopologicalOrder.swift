/// A topological order of a growing dependency graph's strongly connected
/// components (Pearce and Kelly's dynamic algorithm, "A dynamic
/// topological sort algorithm for directed acyclic graphs", 2006, with
/// the components merged as cycles close), so that most new dependencies
/// need no cycle search: when the new edge's `from` ranks below its `to`,
/// no path can lead back, and lockdep's `check_noncircular()` would find
/// nothing.
///
/// The graph may hold cycles that are not strong paths (a read-recursive
/// one is allowed). The classes of such a cycle are one component, ranked
/// as one: a path can lead anywhere inside it.
///
/// Invariants: every class with an edge (or ranked ahead, `preset(_:)`)
/// has a component, `component[c]`, its representative; distinct
/// components have distinct ranks (`rank[representative]`); every edge
/// a -> b has `rank(of: a) <= rank(of: b)`, equal exactly when a and b
/// are one component (ranks never fall along a path, and rise between
/// components); `members[r]` lists the classes of representative `r`'s
/// component when it has more than one. A class without an edge has no
/// component (`none`).
///
/// A class met for the first time gets a rank beside the others rather
/// than among them: below them all when it is the new edge's `from`, above
/// them all when it is its `to`. Then no new class's first edge reorders,
/// and a chain taken from its end (each new lock the outer one of the
/// last: c9 -> c10, then c8 -> c9, ...) costs nothing per edge, where
/// ranking every new class above the others made each of its edges
/// reorder the whole chain (quadratic).
///
/// Before components were merged, an edge that closed a cycle was kept out
/// of the order as a back edge, and past 64 of them the order was given
/// up: 65 allowed cycles (a read-recursive rwlock taken in both orders
/// with 65 spin locks) made every later dependency search the whole graph
/// (an 8,000-class trace of 2 M events: 61.6 s, not 0.37).
struct TopologicalOrder: Sendable {
  /// The rank of a class without an edge.
  static let none = Int32.min
  /// The component of a class without one.
  private static let noComponent: Int32 = -1
  /// Each component's rank, at its representative's index.
  private var rank: [Int32] = []
  /// Each class's component: its representative.
  private var component: [Int32] = []
  /// The classes of each component of more than one, by representative.
  private var members: [Int32: [Int32]] = [:]
  /// The next rank above every rank given.
  private var nextRank: Int32 = 0
  /// The next rank below every rank given.
  private var nextLowRank: Int32 = -1
  /// Edges that made components change places (for tests).
  private(set) var reorders = 0
  /// False only for an order made to answer every question "may reach"
  /// (`givenUp()`: a reference for tests of what the order prunes).
  private(set) var isValid = true
  /// Visit marks of the reordering searches, by representative.
  private var mark: [UInt32] = []
  private var generation: UInt32 = 0

  /// An order that answers every question "may reach" and ranks nothing:
  /// what a search does without one.
  static func givenUp() -> TopologicalOrder {
    var order = TopologicalOrder()
    order.isValid = false
    return order
  }

  /// Class `c`'s component, or `noComponent`.
  @inline(__always)
  private func componentOf(_ c: Int) -> Int32 {
    c < component.count ? component[c] : Self.noComponent
  }

  /// Whether a path from class `a` to class `b` (`a != b`) may exist.
  func mayReach(from a: Int, to b: Int) -> Bool {
    guard isValid else { return true }
    let ra = componentOf(a)
    let rb = componentOf(b)
    // A class without an edge reaches nothing, and nothing reaches it.
    guard ra != Self.noComponent, rb != Self.noComponent else { return false }
    // One component: a path leads from each of its classes to every other.
    return ra == rb || rank[Int(ra)] < rank[Int(rb)]
  }

  /// The rank of class `c`'s component: `none` (below every rank) when it
  /// has no edge, or the order was given up.
  func rank(of c: Int) -> Int32 {
    guard isValid else { return Self.none }
    let r = componentOf(c)
    return r == Self.noComponent ? Self.none : rank[Int(r)]
  }

  /// The highest rank of a class that may reach class `c`: its own (ranks
  /// never fall along a path); nil when the order was given up or `c` has
  /// no edge.
  func ceiling(reaching c: Int) -> Int32? {
    let r = rank(of: c)
    return r == Self.none ? nil : r
  }

  /// Ranks `classes` (those without a rank yet), in order, above every
  /// rank given: an order known ahead (a graph file's, `GraphFile
  /// .topologicalClasses()`), so that its edges, added in any order,
  /// neither reorder nor search. A class ranked so without an edge only
  /// makes `mayReach` answer "may" for it, as for any ranked class.
  mutating func preset(_ classes: [Int]) {
    guard isValid, let highest = classes.max() else { return }
    grow(to: highest + 1)
    for c in classes where component[c] == Self.noComponent { assignAbove(c) }
  }

  /// Records the edge a -> b, just added to `graph`.
  mutating func addEdge(from a: Int, to b: Int, in graph: DependencyGraph) {
    guard isValid else { return }
    // A self-loop leads nowhere new: the order need not know it.
    if a == b { return }
    grow(to: max(a, b) + 1)
    if component[a] == Self.noComponent {
      if component[b] == Self.noComponent {
        assignAbove(a)
      } else {
        assignBelow(a)
      }
    }
    if component[b] == Self.noComponent { assignAbove(b) }
    let ra = Int(component[a])
    let rb = Int(component[b])
    if ra == rb || rank[ra] < rank[rb] { return }
    reorder(from: ra, to: rb, in: graph)
  }

  /// Room for classes up to `count - 1`.
  private mutating func grow(to count: Int) {
    guard component.count < count else { return }
    let more = count - component.count
    component.append(contentsOf: repeatElement(Self.noComponent, count: more))
    rank.append(contentsOf: repeatElement(Self.none, count: more))
    mark.append(contentsOf: repeatElement(0, count: more))
  }

  private mutating func assignAbove(_ c: Int) {
    component[c] = Int32(c)
    rank[c] = nextRank
    nextRank += 1
  }

  private mutating func assignBelow(_ c: Int) {
    component[c] = Int32(c)
    rank[c] = nextLowRank
    nextLowRank -= 1
  }

  /// Pearce-Kelly for the new edge between the components of
  /// representatives `ra` (its `from`) and `rb`, ranked above `ra`'s: the
  /// components reachable from `rb` ranked up to `ra`'s rank (forward, F)
  /// and those reaching `ra` ranked from `rb`'s rank (backward, B) swap
  /// places, each side keeping its own relative order. When F holds `ra`,
  /// the edge closed a cycle: the components in both (C, every one on a
  /// path from `rb` to `ra`) become one, ranked between B's others and F's
  /// others. (No edge leads from F's others into C or B, nor from C into
  /// B's others: each would put its target's tail in C.)
  private mutating func reorder(from ra: Int, to rb: Int, in graph: DependencyGraph) {
    reorders += 1
    let range = rank[rb]...rank[ra]
    let forward = collect(from: rb, forward: true, in: graph, within: range)
    let closesCycle = forward.contains(ra)
    // `backward`'s marks are the current generation: a component of
    // `forward` marked so is in both.
    let backward = collect(from: ra, forward: false, in: graph, within: range)
    var cycle: [Int] = []
    var ahead: [UInt64]
    var back: [UInt64]
    if closesCycle {
      cycle = forward.filter { mark[$0] == generation }
      let onCycle = Set(cycle)
      back = byRank(backward.filter { !onCycle.contains($0) })
      ahead = byRank(forward.filter { !onCycle.contains($0) })
    } else {
      back = byRank(backward)
      ahead = byRank(forward)
    }
    // The ranks they hold, in order: every rank of either side (the
    // cycle's once). B's others take the lowest, in their order, so each
    // only moves down, F's others the highest, so each only moves up (an
    // edge from a component outside both into F, or from B out to one,
    // stays right, as in Pearce and Kelly's proof); the merged cycle takes
    // the one after B's, and the rest of the cycle's ranks go unused (no
    // edge enters C from within the range but from B, or leaves it to
    // within the range but to F).
    var slots = (back + ahead + byRank(cycle)).map(Self.rank(unpacking:))
    slots.sort()
    for (packed, slot) in zip(back, slots) {
      rank[Self.index(unpacking: packed)] = slot
    }
    for (packed, slot) in zip(ahead, slots.suffix(ahead.count)) {
      rank[Self.index(unpacking: packed)] = slot
    }
    if closesCycle {
      let merged = merge(cycle)
      rank[merged] = slots[back.count]
    }
  }

  /// Merges the components of representatives `representatives` into one;
  /// returns its representative (the largest's: the fewest classes
  /// change component).
  private mutating func merge(_ representatives: [Int]) -> Int {
    func size(_ r: Int) -> Int { members[Int32(r)]?.count ?? 1 }
    let keep = representatives.max { size($0) < size($1) }!
    var all = members.removeValue(forKey: Int32(keep)) ?? [Int32(keep)]
    for r in representatives where r != keep {
      let classes = members.removeValue(forKey: Int32(r)) ?? [Int32(r)]
      for c in classes { component[Int(c)] = Int32(keep) }
      all += classes
      rank[r] = Self.none
    }
    members[Int32(keep)] = all
    return keep
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

  /// The index packed by `byRank`.
  private static func index(unpacking packed: UInt64) -> Int {
    Int(truncatingIfNeeded: packed & 0xFFFF_FFFF)
  }

  /// The components (representatives) reachable from representative
  /// `start` (itself included) through components ranked within `range`,
  /// following the edges of their classes out (`forward`) or in; each
  /// marked with a new generation.
  private mutating func collect(
    from start: Int, forward: Bool, in graph: DependencyGraph, within range: ClosedRange<Int32>
  ) -> [Int] {
    generation &+= 1
    if generation == 0 {
      for i in mark.indices { mark[i] = 0 }
      generation = 1
    }
    var found: [Int] = []
    var stack = [start]
    mark[start] = generation
    while let r = stack.popLast() {
      found.append(r)
      // A component of one class (most) is its representative alone.
      let group = members.isEmpty ? nil : members[Int32(r)]
      for i in 0..<(group?.count ?? 1) {
        let c = group?[i] ?? Int32(r)
        for k in graph.edgePositions(of: Int(c), forward: forward) {
          let n = Int(component[graph.adjacent(at: k, forward: forward).other])
          if n != r && mark[n] != generation && range.contains(rank[n]) {
            mark[n] = generation
            stack.append(n)
          }
        }
      }
    }
    return found
  }
}
