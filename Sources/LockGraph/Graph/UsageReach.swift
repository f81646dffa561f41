/// For each class, the irq "used in" usage bits (`UsageMask.usedInAll`) of
/// every class that can reach it through the graph, itself included: a
/// superset of what lockdep's backward `usage_accumulate()` search from it
/// can find (that search also follows lockdep's strong-path rule and skips
/// irq-exempt classes, which only ever find less). Where it holds none,
/// `check_irq_usage()` would find nothing, and its searches are skipped.
///
/// Kept up to date as edges are added and usage bits set: new bits flow
/// forward along the edges, and only where they are new, so each class's
/// four bits change at most four times in a run (work bounded by four
/// times the edges).
///
/// Invariant: for every edge a -> b, `bits[b]` contains `bits[a]`; for every
/// class c, `bits[c]` contains the usedIn bits of c's own usage.
struct UsageReach: Sendable {
  private var bits: [UInt8] = []
  private var stack: [Int] = []

  /// The usedIn bits that may reach class `c` (itself included).
  func reaching(_ c: Int) -> UsageMask {
    UsageMask(rawValue: c < bits.count ? UInt16(bits[c]) : 0)
  }

  /// Class `c` gained usage `mask`.
  mutating func addUsage(_ mask: UsageMask, to c: Int, in graph: DependencyGraph) {
    flow(UInt8(truncatingIfNeeded: mask.intersection(.usedInAll).rawValue), from: c, in: graph)
  }

  /// The edge a -> b was added to `graph`.
  mutating func addEdge(from a: Int, to b: Int, in graph: DependencyGraph) {
    let reaching = a < bits.count ? bits[a] : 0
    flow(reaching, from: b, in: graph)
  }

  /// Adds `new` to class `start` and to every class after it, stopping
  /// where nothing is new.
  private mutating func flow(_ new: UInt8, from start: Int, in graph: DependencyGraph) {
    guard new != 0 else { return }
    stack.removeAll(keepingCapacity: true)
    stack.append(start)
    while let c = stack.popLast() {
      if c >= bits.count { bits.append(contentsOf: repeatElement(0, count: c + 1 - bits.count)) }
      if bits[c] & new == new { continue }
      bits[c] |= new
      var e = c < graph.firstOut.count ? graph.firstOut[c] : -1
      while e >= 0 {
        stack.append(graph.edges[Int(e)].to.index)
        e = graph.nextOut[Int(e)]
      }
    }
  }
}
