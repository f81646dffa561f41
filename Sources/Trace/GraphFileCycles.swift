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
  /// a known dependency again). This search is complete: it keeps, per
  /// class, whether it was reached by a path whose last edge may be
  /// `-(*N)->` (any edge may follow) or only `-(*R)->` (only `-(E*)->`
  /// may), the first reach dominating the second.
  ///
  /// Only edges inside a strongly connected component of the whole graph
  /// (or from a class to itself) can be on a cycle, and only those are
  /// searched from: linear in the graph when it has none.
  public func strongCycleEdges() -> [Int] {
    var ids: [String: Int] = [:]
    func node(_ key: String, _ sub: UInt8) -> Int {
      let name = sub == 0 ? key : key + "\u{0}" + String(sub)
      if let id = ids[name] { return id }
      let id = ids.count
      ids[name] = id
      return id
    }
    let heads = edges.map { node($0.from, $0.fromSub) }
    let tails = edges.map { node($0.to, $0.toSub) }
    let component = Self.components(nodes: ids.count, heads: heads, tails: tails)
    var adjacency = [[(to: Int, kinds: DependencyKinds)]](repeating: [], count: ids.count)
    var search = StrongSearch(nodes: ids.count)
    var closing: [Int] = []
    for (i, e) in edges.enumerated() {
      let (u, v) = (heads[i], tails[i])
      guard u == v || component[u] == component[v] else { continue }
      if search.closesCycle(from: u, to: v, kinds: e.kinds, adjacency: adjacency) {
        closing.append(i)
      } else {
        adjacency[u].append((v, e.kinds))
      }
    }
    return closing
  }

  /// Each node's strongly connected component (Tarjan's algorithm, without
  /// recursion: a chain of 200,000 classes is 200,000 deep).
  static func components(nodes: Int, heads: [Int], tails: [Int]) -> [Int] {
    var outgoing = [[Int]](repeating: [], count: nodes)
    for (i, h) in heads.enumerated() { outgoing[h].append(tails[i]) }
    var index = [Int](repeating: -1, count: nodes)
    var low = [Int](repeating: 0, count: nodes)
    var onStack = [Bool](repeating: false, count: nodes)
    var component = [Int](repeating: -1, count: nodes)
    var stack: [Int] = []
    var counter = 0
    var components = 0
    // The depth-first path: each node with the next of its edges to follow.
    var path: [(node: Int, next: Int)] = []
    for root in 0..<nodes where index[root] < 0 {
      path.append((root, 0))
      index[root] = counter
      low[root] = counter
      counter += 1
      stack.append(root)
      onStack[root] = true
      while let (n, next) = path.last {
        if next < outgoing[n].count {
          path[path.count - 1].next += 1
          let m = outgoing[n][next]
          if index[m] < 0 {
            index[m] = counter
            low[m] = counter
            counter += 1
            stack.append(m)
            onStack[m] = true
            path.append((m, 0))
          } else if onStack[m] {
            low[n] = min(low[n], index[m])
          }
          continue
        }
        path.removeLast()
        if let parent = path.last { low[parent.node] = min(low[parent.node], low[n]) }
        if low[n] == index[n] {
          while let m = stack.popLast() {
            onStack[m] = false
            component[m] = components
            if m == n { break }
          }
          components += 1
        }
      }
    }
    return component
  }
}

/// The search of `GraphFile.strongCycleEdges()`, its marks kept between
/// searches (a generation per search).
private struct StrongSearch {
  /// Per node: the generation in which it was reached by a path whose
  /// last edge may be `*N` (`viaN`), or only `*R` (`viaR`).
  var viaN: [Int]
  var viaR: [Int]
  var generation = 0
  var queue: [(node: Int, recursiveOnly: Bool)] = []

  init(nodes: Int) {
    viaN = [Int](repeating: -1, count: nodes)
    viaR = [Int](repeating: -1, count: nodes)
  }

  static let toNonRecursive: DependencyKinds = [.exclusiveToNonRecursive, .sharedToNonRecursive]
  static let fromExclusive: DependencyKinds = [.exclusiveToNonRecursive, .exclusiveToRecursive]
  static let all: [DependencyKinds] = [
    .exclusiveToNonRecursive, .sharedToNonRecursive, .exclusiveToRecursive, .sharedToRecursive,
  ]

  /// Whether a new edge `from -> to` of `kinds` closes a strong cycle
  /// through the edges of `adjacency`.
  mutating func closesCycle(
    from: Int, to: Int, kinds: DependencyKinds,
    adjacency: [[(to: Int, kinds: DependencyKinds)]]
  ) -> Bool {
    for kind in Self.all where kinds.contains(kind) {
      // Back at `from` by a path ending `*R`, the new edge must start `E*`.
      let closesAfterR = !kind.isDisjoint(with: Self.fromExclusive)
      generation += 1
      queue.removeAll(keepingCapacity: true)
      let start = kind.isDisjoint(with: Self.toNonRecursive)
      if visit(to, recursiveOnly: start) { queue.append((to, start)) }
      var head = 0
      while head < queue.count {
        let (n, recursiveOnly) = queue[head]
        head += 1
        if n == from && (!recursiveOnly || closesAfterR) { return true }
        for (m, kinds) in adjacency[n] {
          var usable = kinds
          if recursiveOnly { usable.formIntersection(Self.fromExclusive) }
          if usable.isEmpty { continue }
          let next = usable.isDisjoint(with: Self.toNonRecursive)
          if visit(m, recursiveOnly: next) { queue.append((m, next)) }
        }
      }
    }
    return false
  }

  /// Marks `node` reached so; false when it was reached as well before.
  private mutating func visit(_ node: Int, recursiveOnly: Bool) -> Bool {
    if viaN[node] == generation { return false }
    if recursiveOnly {
      if viaR[node] == generation { return false }
      viaR[node] = generation
    } else {
      viaN[node] = generation
    }
    return true
  }
}
