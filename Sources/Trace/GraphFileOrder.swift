extension GraphFile {
  /// The classes the edges name (key and subclass), numbered from 0 in the
  /// order first named, and each edge's held (`heads`) and acquired
  /// (`tails`) class by that number.
  func numberedClasses() -> (nodes: [(key: String, sub: UInt8)], heads: [Int], tails: [Int]) {
    var ids: [String: Int] = [:]
    var nodes: [(key: String, sub: UInt8)] = []
    func node(_ key: String, _ sub: UInt8) -> Int {
      let name = sub == 0 ? key : key + "\u{0}" + String(sub)
      if let id = ids[name] { return id }
      ids[name] = nodes.count
      nodes.append((key, sub))
      return nodes.count - 1
    }
    var heads: [Int] = []
    var tails: [Int] = []
    for e in edges {
      heads.append(node(e.from, e.fromSub))
      tails.append(node(e.to, e.toSub))
    }
    return (nodes, heads, tails)
  }

  /// The file's classes (key and subclass) in a topological order of its
  /// edges (Kahn's algorithm, classes first named first among those
  /// ready); the classes on or after a cycle (one that is not a strong
  /// path is allowed in a file) are left out.
  ///
  /// A validator ranks them so ahead of seeding (`ValidatorCore
  /// .presetOrder`), and the edges are then added in the file's order,
  /// which the searches follow, without a reorder or a search each: in a
  /// validator's own ranking (classes ranked as first met), a chain written
  /// from its end made each edge reorder and search all the classes after
  /// it (40,000 edges took 12.5 s, 200,000 over a minute).
  public func topologicalClasses() -> [(key: String, sub: UInt8)] {
    let (nodes, heads, tails) = numberedClasses()
    var indegree = [Int](repeating: 0, count: nodes.count)
    var outgoing = [[Int]](repeating: [], count: nodes.count)
    // A class's edge to itself (a recursive read under a read) orders
    // nothing.
    for k in edges.indices where heads[k] != tails[k] {
      outgoing[heads[k]].append(tails[k])
      indegree[tails[k]] += 1
    }
    var ready = nodes.indices.filter { indegree[$0] == 0 }
    var i = 0
    while i < ready.count {
      let v = ready[i]
      i += 1
      for w in outgoing[v] {
        indegree[w] -= 1
        if indegree[w] == 0 { ready.append(w) }
      }
    }
    return ready.map { nodes[$0] }
  }
}
