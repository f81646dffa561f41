/// The lock-class dependency graph (lockdep's `locks_after`/`locks_before`
/// lists). One edge per ordered class pair, with every dependency kind seen
/// and where the edge was first created.
///
/// Invariant: `after[a]` and `before[b]` both list edge e exactly when
/// `edges[e]` is a -> b; the graph holds no cycle made only of strong paths
/// (a dependency that would close one is reported, not added).
public struct DependencyGraph: Sendable {
  /// One dependency from -> to.
  public struct Edge: Sendable {
    /// The class that was held.
    public var from: ClassID
    /// The class acquired while `from` was held.
    public var to: ClassID
    /// Every kind of this dependency seen so far.
    public var kinds: DependencyKinds
    /// Where `to` was first acquired while `from` was held.
    public var origin: Origin
    /// The thread that first created the edge; `ThreadID(-1)` for an
    /// edge seeded from an earlier run (`ValidatorCore.seedDependency`).
    public var thread: ThreadID
    /// `thread`, or nil for a seeded edge.
    public var creator: ThreadID? { thread.raw < 0 ? nil : thread }
  }

  /// Every edge, in the order they were added (an edge's index is its id).
  public private(set) var edges: [Edge] = []
  private(set) var after: [[Int32]] = []
  private(set) var before: [[Int32]] = []
  private var index: [UInt64: Int32] = [:]

  /// An empty graph.
  public init() {}

  @inlinable static func pairKey(_ a: ClassID, _ b: ClassID) -> UInt64 {
    UInt64(UInt32(bitPattern: a.raw)) << 32 | UInt64(UInt32(bitPattern: b.raw))
  }

  /// The edge a -> b, if any.
  public func edge(from a: ClassID, to b: ClassID) -> Int32? {
    index[Self.pairKey(a, b)]
  }

  /// Adds a -> b with `kinds`, or adds the kinds to the existing edge.
  mutating func add(
    from a: ClassID, to b: ClassID, kinds: DependencyKinds, origin: Origin, thread: ThreadID
  ) {
    if let e = index[Self.pairKey(a, b)] {
      edges[Int(e)].kinds.formUnion(kinds)
      return
    }
    let needed = max(a.index, b.index) + 1
    if after.count < needed {
      after.append(contentsOf: repeatElement([], count: needed - after.count))
      before.append(contentsOf: repeatElement([], count: needed - before.count))
    }
    let e = Int32(edges.count)
    edges.append(Edge(from: a, to: b, kinds: kinds, origin: origin, thread: thread))
    index[Self.pairKey(a, b)] = e
    after[a.index].append(e)
    before[b.index].append(e)
  }

  func outgoing(_ c: ClassID) -> [Int32] { c.index < after.count ? after[c.index] : [] }
  func incoming(_ c: ClassID) -> [Int32] { c.index < before.count ? before[c.index] : [] }
}
