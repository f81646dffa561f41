/// For each class, irq usage bits of the classes on one side of it in the
/// graph, its own included, reached without passing through a class the
/// irq searches skip (lockdep's `usage_skip()`: per-cpu and override
/// classes, which a search neither matches nor goes past): a superset of
/// what lockdep's irq searches from it can find (those also follow
/// lockdep's strong-path rule, which only ever finds less). Where a
/// search's goal is disjoint from it, the search would find nothing, and
/// is skipped. (Bits that flowed through a skipped class, a `local_lock`
/// between an irq-safe lock and a long chain, made every new dependency of
/// the chain search it in vain: quadratic.)
///
/// Two are kept (`DependencyGraph`):
/// - `.reaching`: the "used in irq" bits (`UsageMask.usedInAll`) of every
///   class that can reach the class, for the backward searches from a
///   dependency's prev and from a class that becomes irq-unsafe;
/// - `.reachable`: the "irq enabled" bits (`UsageMask.enabledAll`) of every
///   class the class can reach, for the forward searches from a
///   dependency's next and from a class that becomes irq-safe.
///
/// Kept up to date as edges are added and usage bits set: new bits flow
/// along the edges (forward for `.reaching`, backward for `.reachable`),
/// and only where they are new, so each class's four bits change at most
/// four times in a run (work bounded by four times the edges).
///
/// Invariant: a skipped class has no bits; for every edge a -> b between
/// classes not skipped, `bits[b]` contains `bits[a]` (`.reaching`), or
/// `bits[a]` contains `bits[b]` (`.reachable`); for every class c not
/// skipped, `bits[c]` contains the carried bits of c's own usage.
struct UsageReach: Sendable {
  /// Which side of a class its bits come from.
  enum Side: Sendable {
    /// The classes that can reach it: "used in" bits, flowing forward.
    case reaching
    /// The classes it can reach: "enabled" bits, flowing backward.
    case reachable
  }

  let side: Side
  /// The usage bits kept, each class's in 8 bits (both masks fit).
  private let carried: UsageMask
  private var bits: [UInt8] = []
  private var stack: [Int] = []

  /// An empty graph's.
  init(_ side: Side) {
    self.side = side
    carried = side == .reaching ? .usedInAll : .enabledAll
  }

  /// The kept bits of class `c`'s side, its own included.
  func bits(of c: Int) -> UsageMask {
    UsageMask(rawValue: c < bits.count ? UInt16(bits[c]) : 0)
  }

  /// Class `c` gained usage `mask`; `skips` tells the classes the irq
  /// searches skip.
  mutating func addUsage(
    _ mask: UsageMask, to c: Int, in graph: DependencyGraph, skipping skips: (ClassID) -> Bool
  ) {
    flow(
      UInt8(truncatingIfNeeded: mask.intersection(carried).rawValue), from: c, in: graph,
      skipping: skips)
  }

  /// The edge a -> b was added to `graph`.
  mutating func addEdge(
    from a: Int, to b: Int, in graph: DependencyGraph, skipping skips: (ClassID) -> Bool
  ) {
    switch side {
    case .reaching: flow(a < bits.count ? bits[a] : 0, from: b, in: graph, skipping: skips)
    case .reachable: flow(b < bits.count ? bits[b] : 0, from: a, in: graph, skipping: skips)
    }
  }

  /// Adds `new` to class `start` and to every class on the far side of
  /// it, stopping where nothing is new and at classes `skips` tells.
  private mutating func flow(
    _ new: UInt8, from start: Int, in graph: DependencyGraph, skipping skips: (ClassID) -> Bool
  ) {
    guard new != 0 else { return }
    let forward = side == .reaching
    stack.removeAll(keepingCapacity: true)
    stack.append(start)
    while let c = stack.popLast() {
      if skips(ClassID(Int32(c))) { continue }
      if c >= bits.count { bits.append(contentsOf: repeatElement(0, count: c + 1 - bits.count)) }
      if bits[c] & new == new { continue }
      bits[c] |= new
      for k in graph.edgePositions(of: c, forward: forward) {
        stack.append(graph.adjacent(at: k, forward: forward).other)
      }
    }
  }
}
