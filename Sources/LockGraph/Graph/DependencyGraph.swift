/// The lock-class dependency graph (lockdep's `locks_after`/`locks_before`
/// lists). One edge per ordered class pair, with every dependency kind seen
/// and where the edge was first created.
///
/// Invariant: `outgoing[a]` and `incoming[b]` both list edge e exactly when
/// `edges[e]` is a -> b, with its kinds; the graph holds no cycle made only of strong paths
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
  private var index = EdgeIndex()

  /// Each class's edges out (lockdep's `locks_after`) and in
  /// (`locks_before`), in the order they were added (`Adjacency`).
  private var outgoing = Adjacency()
  private var incoming = Adjacency()

  /// The positions of class `c`'s edges out (`forward`) or in, in the
  /// order they were added; read each with `adjacent(at:forward:)`.
  @inline(__always)
  func edgePositions(of c: Int, forward: Bool) -> Range<Int> {
    forward ? outgoing.positions(of: c) : incoming.positions(of: c)
  }

  /// The edge at `position` of `edgePositions(of:forward:)`.
  @inline(__always)
  func adjacent(at position: Int, forward: Bool) -> AdjacentEdge {
    forward ? outgoing[position: position] : incoming[position: position]
  }

  /// A topological order of the components of the classes with edges
  /// (`TopologicalOrder`): a cycle that is not a strong path, which the
  /// graph may hold, is one component.
  private var order = TopologicalOrder()
  /// The irq "used in" bits that may reach each class (`UsageReach`).
  private var usedInReach = UsageReach(.reaching)
  /// The irq "enabled" bits each class may reach (`UsageReach`).
  private var enabledReach = UsageReach(.reachable)

  /// Counts the changes a search can see: every edge added, every kind
  /// added to an edge, every usage bit set (`GraphSearch` keeps its
  /// answers while it stays the same).
  private(set) var version = 0

  /// An empty graph.
  public init() {}

  /// An empty graph without a topological order, whose every search runs
  /// in full (for tests: what the order must not change).
  init(unordered: Void) { order = .givenUp() }

  @inlinable static func pairKey(_ a: ClassID, _ b: ClassID) -> UInt64 {
    UInt64(UInt32(bitPattern: a.raw)) << 32 | UInt64(UInt32(bitPattern: b.raw))
  }

  /// The edge a -> b, if any.
  public func edge(from a: ClassID, to b: ClassID) -> Int32? {
    index.find(Self.pairKey(a, b))
  }

  /// Whether an edge a -> b has every kind of `kinds` already: one lookup
  /// in the pair index, which keeps each edge's kinds.
  @inline(__always)
  func covers(from a: ClassID, to b: ClassID, kinds: DependencyKinds) -> Bool {
    index.covers(Self.pairKey(a, b), kinds: kinds)
  }

  /// False when no path of edges leads from `a` to `b` (known from the
  /// topological order, without a search); true when one may.
  func mayReach(from a: ClassID, to b: ClassID) -> Bool {
    a == b || order.mayReach(from: a.index, to: b.index)
  }

  /// The irq "used in" bits of the classes that may reach `c` through the
  /// graph, its own included (a superset of lockdep's backward
  /// `usage_accumulate()` from `c`).
  func usedInReaching(_ c: ClassID) -> UsageMask { usedInReach.bits(of: c.index) }

  /// The irq "enabled" bits of the classes `c` may reach through the
  /// graph, its own included (a superset of what lockdep's forward usage
  /// searches from `c` can find).
  func enabledReachable(from c: ClassID) -> UsageMask { enabledReach.bits(of: c.index) }

  /// The rank above which no class can reach `c`, from the topological
  /// order (a search for `c` need not go past it); nil when the order was
  /// given up or `c` has no edge.
  func rankCeiling(reaching c: ClassID) -> Int32? { order.ceiling(reaching: c.index) }

  /// Class `c`'s rank in the topological order (`rankCeiling(reaching:)`),
  /// or `TopologicalOrder.none` (below every rank) without one.
  func rank(of c: Int) -> Int32 { order.rank(of: c) }

  /// Ranks `classes` in the topological order ahead of their edges
  /// (`TopologicalOrder.preset(_:)`).
  mutating func presetOrder(_ classes: [ClassID]) { order.preset(classes.map(\.index)) }

  /// Counts a change in `version`. The edges' checks (`markChecked`) keep
  /// its low 16 bits: when they wrap round, every check is forgotten, so
  /// that none is taken for one made 65,536 changes before.
  private mutating func changed() {
    version &+= 1
    if version & 0xFFFF == 0 { index.forgetChecks() }
  }

  /// Whether an edge a -> b has every kind of `kinds`, each checked by
  /// `markChecked` since the graph last changed (`version`): lockdep's
  /// `check_prev_add()` searches for each dependency of a new chain before
  /// it looks for it in the graph, and a search of a graph that did not
  /// change finds what it found before. One lookup.
  @inline(__always)
  func isChecked(from a: ClassID, to b: ClassID, kinds: DependencyKinds) -> Bool {
    index.isChecked(
      Self.pairKey(a, b), kinds: kinds, version: UInt16(truncatingIfNeeded: version))
  }

  /// Records that the searches for a dependency a -> b of `kinds` (an edge
  /// the graph has) found nothing now.
  mutating func markChecked(from a: ClassID, to b: ClassID, kinds: DependencyKinds) {
    index.markChecked(
      Self.pairKey(a, b), kinds: kinds, version: UInt16(truncatingIfNeeded: version))
  }

  /// Whether `check_irq_usage()` may find anything for a dependency
  /// prev -> next: some class that may reach prev was used in an interrupt
  /// in a way that conflicts with how some class next may reach was
  /// enabled (`usedInReaching`, `enabledReachable`); when not, its searches
  /// would find nothing.
  func irqConflictPossible(prev: ClassID, next: ClassID) -> Bool {
    !usedInReaching(prev).intersection(.usedInAll).exclusive.isDisjoint(
      with: enabledReachable(from: next))
  }

  /// Class `c` gained the usage bits `mask`. `skipsIrqUsage` tells the
  /// classes the irq searches skip (`ClassTables.skipsIrqUsage`), whose
  /// bits `UsageReach` leaves out; by default none.
  mutating func addUsage(
    _ mask: UsageMask, to c: ClassID, skipsIrqUsage: (ClassID) -> Bool = { _ in false }
  ) {
    changed()
    updateReach { $0.addUsage(mask, to: c.index, in: $1, skipping: skipsIrqUsage) }
  }

  /// Runs `change` on both `UsageReach`es, each moved out of the graph
  /// meanwhile, so that the graph it reads is not copied.
  private mutating func updateReach(_ change: (inout UsageReach, DependencyGraph) -> Void) {
    var reaching = usedInReach
    var reachable = enabledReach
    usedInReach = UsageReach(.reaching)
    enabledReach = UsageReach(.reachable)
    change(&reaching, self)
    change(&reachable, self)
    usedInReach = reaching
    enabledReach = reachable
  }

  /// Adds a -> b with `kinds`, or adds the kinds to the existing edge.
  /// `skipsIrqUsage` as for `addUsage`.
  mutating func add(
    from a: ClassID, to b: ClassID, kinds: DependencyKinds, origin: Origin, thread: ThreadID,
    skipsIrqUsage: (ClassID) -> Bool = { _ in false }
  ) {
    changed()
    if let e = index.addKinds(kinds, to: Self.pairKey(a, b)) {
      edges[Int(e)].kinds.formUnion(kinds)
      outgoing.setKinds(edges[Int(e)].kinds, ofEdge: e, at: a.index)
      incoming.setKinds(edges[Int(e)].kinds, ofEdge: e, at: b.index)
      return
    }
    let e = Int32(edges.count)
    edges.append(Edge(from: a, to: b, kinds: kinds, origin: origin, thread: thread))
    index.insert(Self.pairKey(a, b), e, kinds: kinds)
    outgoing.append(AdjacentEdge(other: b.index, kinds: kinds, edge: e), to: a.index)
    incoming.append(AdjacentEdge(other: a.index, kinds: kinds, edge: e), to: b.index)
    // The helpers read the graph while they change: moved out meanwhile,
    // so that the graph is not copied (it is read, not written).
    var topological = order
    order = TopologicalOrder()
    topological.addEdge(from: a.index, to: b.index, in: self)
    order = topological
    updateReach { $0.addEdge(from: a.index, to: b.index, in: $1, skipping: skipsIrqUsage) }
  }
}
