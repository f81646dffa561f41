import LockGraph

extension GraphFile {
  /// The indices of the edges, in the file's order, that close a strong
  /// cycle with the edges before them that are kept (each such edge is
  /// left out, and the next ones are checked without it).
  ///
  /// A cycle is strong, a deadlock, when no two edges that follow each
  /// other on it, the last and the first included, are `-(*R)->` then
  /// `-(S*)->` (lockdep's rule for read locks: a recursive reader after a
  /// shared holder is no wait). Lockdep's search (`__bfs()`) marks a class
  /// visited by its first path, strong or not, and so can miss a strong
  /// cycle that a weak path to the same class hides; a validator that
  /// searches so can hold one (it reports it later, when a new chain takes
  /// a known dependency again). This check is complete: a strong cycle is
  /// a cycle of the graph of states (class, whether the edge that reached
  /// it may be `*N` or is only `*R`), where a state `R` goes on only by an
  /// `E*` edge (`StateGraph`).
  ///
  /// Linear in the graph when it has no strong cycle (one test of the
  /// whole); else each edge left out is found by halving the prefix that
  /// holds the first cycle, a test of the graph each step.
  public func strongCycleEdges() -> [Int] {
    let graph = StateGraph(self)
    var dropped: [Int] = []
    var excluded = [Bool](repeating: false, count: edges.count)
    var start = 0
    while start < edges.count && graph.hasCycle(through: edges.count, excluding: excluded) {
      // The shortest prefix with a cycle: its last edge closes it.
      var low = start
      var high = edges.count - 1
      while low < high {
        let middle = (low + high) / 2
        if graph.hasCycle(through: middle + 1, excluding: excluded) {
          high = middle
        } else {
          low = middle + 1
        }
      }
      dropped.append(low)
      excluded[low] = true
      start = low + 1
    }
    return dropped
  }
}

/// A graph file's edges over numbered classes (key and subclass), and the
/// test for a strong cycle among a prefix of them.
private struct StateGraph {
  let nodes: Int
  let heads: [Int]
  let tails: [Int]
  let kinds: [DependencyKinds]

  static let toNonRecursive: DependencyKinds = [.exclusiveToNonRecursive, .sharedToNonRecursive]
  static let toRecursive: DependencyKinds = [.exclusiveToRecursive, .sharedToRecursive]
  static let fromExclusive: DependencyKinds = [.exclusiveToNonRecursive, .exclusiveToRecursive]

  init(_ file: GraphFile) {
    let numbered = file.numberedClasses()
    heads = numbered.heads
    tails = numbered.tails
    kinds = file.edges.map(\.kinds)
    nodes = numbered.nodes.count
  }

  /// Whether the first `count` edges, but the `excluded` ones, hold a
  /// strong cycle: whether the graph of states has a cycle (Kahn's
  /// algorithm: some state is never freed of its incoming edges). State
  /// `2 * c` is class `c` reached by an edge that may be `*N`, `2 * c + 1`
  /// by one that is only `*R`.
  func hasCycle(through count: Int, excluding excluded: [Bool]) -> Bool {
    var outgoing = [[Int]](repeating: [], count: 2 * nodes)
    var indegree = [Int](repeating: 0, count: 2 * nodes)
    for e in 0..<count where !excluded[e] {
      for recursiveOnly in 0..<2 {
        let usable = recursiveOnly == 1 ? kinds[e].intersection(Self.fromExclusive) : kinds[e]
        let from = 2 * heads[e] + recursiveOnly
        if !usable.isDisjoint(with: Self.toNonRecursive) {
          outgoing[from].append(2 * tails[e])
          indegree[2 * tails[e]] += 1
        }
        if !usable.isDisjoint(with: Self.toRecursive) {
          outgoing[from].append(2 * tails[e] + 1)
          indegree[2 * tails[e] + 1] += 1
        }
      }
    }
    var ready = indegree.indices.filter { indegree[$0] == 0 }
    var freed = 0
    while let state = ready.popLast() {
      freed += 1
      for next in outgoing[state] {
        indegree[next] -= 1
        if indegree[next] == 0 { ready.append(next) }
      }
    }
    return freed < 2 * nodes
  }
}
