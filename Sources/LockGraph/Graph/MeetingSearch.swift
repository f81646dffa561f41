/// A cycle search (`GraphSearch`'s forward search for a held lock) from
/// both ends at once, for graphs where every path is strong: it finds the
/// path lockdep's breadth-first search finds, after visiting far fewer
/// classes when the graph is large and dense (a breadth-first search from
/// next explores every class within the target's distance; this one two
/// balls of about half that radius).
///
/// It applies only when no edge of the graph has a recursive-read kind
/// (`DependencyGraph.hasRecursiveReadEdges`) and the root is not a
/// recursive read: then no path is weak, every class is entered by its
/// first entry, and lockdep's search is a plain breadth-first search that
/// stops at the first class queued with an edge to the target. Its answer
/// is then the first class, in breadth-first queue order, among the
/// target's predecessors at distance D - 1 from the root (D the target's
/// distance), and the tree path to it. That order is decided by the
/// classes on shortest root -> target paths alone: a class's parent in
/// the breadth-first tree is its first-queued predecessor one level up,
/// and every predecessor one level up of a class on a shortest path is on
/// one too. So the search:
///
/// 1. grows a forward ball from the root and a backward ball from the
///    target, a whole level at a time, the smaller frontier first, until
///    a level meets the other ball (then D = the two depths + 1, and
///    every meeting class is at exactly its two distances), or a
///    frontier empties (no path: nil);
/// 2. marks the classes on shortest paths: the meeting classes, their
///    ancestors down the forward ball's levels, their descendants down
///    the backward ball's;
/// 3. runs the breadth-first search entering marked classes only, which
///    queues them in the order the full search would, with the same
///    parents, and stops at the first one with an edge to the target.
///
/// With a topological order (`DependencyGraph.rankCeiling`), the forward
/// ball leaves out classes ranked above the target and the backward ball
/// those ranked below the root: neither can be on a path from the root to
/// the target.
struct MeetingSearch: Sendable {
  /// Per class, when it was reached forward (`forwardMark` equal to
  /// `generation`), at that distance from the root; likewise backward,
  /// its distance to the target; whether it is on a shortest path; and
  /// whether step 3 queued it, with its parent.
  private var forwardMark: [UInt32] = []
  private var forwardLevel: [Int32] = []
  private var backwardMark: [UInt32] = []
  private var backwardLevel: [Int32] = []
  private var onShortestPath: [UInt32] = []
  private var queued: [UInt32] = []
  private var parentNode: [Int32] = []
  private var parentEdge: [Int32] = []
  /// The target's predecessors: `targetEdge[c]` is the edge c -> target
  /// when `predecessorOf[c]` is `generation`.
  private var predecessorOf: [UInt32] = []
  private var targetEdge: [Int32] = []
  private var generation: UInt32 = 0
  /// Scratch lists: the two frontiers, the next level, the meeting
  /// classes, and the work list of step 2 (or queue of step 3).
  private var forwardFrontier: [Int32] = []
  private var backwardFrontier: [Int32] = []
  private var nextFrontier: [Int32] = []
  private var meeting: [Int32] = []
  private var work: [Int32] = []

  /// Whether `search` gives lockdep's answer for this question: a forward
  /// search for a class other than the root, from a root that is not a
  /// recursive read, in a graph without recursive-read edges.
  static func applies(
    graph: DependencyGraph, root: ClassID, target: ClassID, rootOnlyRecursive: Bool
  ) -> Bool {
    !rootOnlyRecursive && root != target && !graph.hasRecursiveReadEdges
  }

  /// The target (`target`) and the edges from `root` to it, root first,
  /// as `GraphSearch` finds them for a forward conflict search; nil when
  /// no path leads there. Only where `applies` says so.
  mutating func search(
    graph: DependencyGraph, classCount n: Int, from root: ClassID, to target: ClassID
  ) -> GraphSearch.Result? {
    prepare(classCount: n)
    let t = target.index
    let r = root.index
    for k in graph.edgePositions(of: t, forward: false) {
      let entry = graph.adjacent(at: k, forward: false)
      predecessorOf[entry.other] = generation
      targetEdge[entry.other] = entry.edge
    }
    // The root's own edge to the target decides at once (D = 1).
    if predecessorOf[r] == generation {
      return GraphSearch.Result(found: target, path: [targetEdge[r]])
    }
    guard meet(graph: graph, root: r, target: t) else { return nil }
    markShortestPaths(graph: graph)
    return firstPath(graph: graph, root: r, target: target)
  }

  /// Sizes the tables for `n` classes and starts a new generation.
  private mutating func prepare(classCount n: Int) {
    if forwardMark.count < n {
      let more = n - forwardMark.count
      forwardMark.append(contentsOf: repeatElement(0, count: more))
      forwardLevel.append(contentsOf: repeatElement(0, count: more))
      backwardMark.append(contentsOf: repeatElement(0, count: more))
      backwardLevel.append(contentsOf: repeatElement(0, count: more))
      onShortestPath.append(contentsOf: repeatElement(0, count: more))
      queued.append(contentsOf: repeatElement(0, count: more))
      parentNode.append(contentsOf: repeatElement(-1, count: more))
      parentEdge.append(contentsOf: repeatElement(-1, count: more))
      predecessorOf.append(contentsOf: repeatElement(0, count: more))
      targetEdge.append(contentsOf: repeatElement(-1, count: more))
    }
    generation &+= 1
    if generation == 0 {
      for i in forwardMark.indices {
        forwardMark[i] = 0
        backwardMark[i] = 0
        onShortestPath[i] = 0
        queued[i] = 0
        predecessorOf[i] = 0
      }
      generation = 1
    }
  }

  /// Step 1: grows the two balls until a level meets the other ball
  /// (true, the meeting classes in `meeting`) or a frontier empties
  /// (false). Invariant between levels: the forward ball holds every
  /// class within its depth of the root, the backward ball every class
  /// within its depth of the target, and no class is in both.
  private mutating func meet(graph: DependencyGraph, root r: Int, target t: Int) -> Bool {
    let ceiling = graph.rankCeiling(reaching: ClassID(Int32(t))) ?? .max
    let floor = ceiling == .max ? Int32.min : graph.rank(of: r)
    forwardMark[r] = generation
    forwardLevel[r] = 0
    backwardMark[t] = generation
    backwardLevel[t] = 0
    forwardFrontier.removeAll(keepingCapacity: true)
    backwardFrontier.removeAll(keepingCapacity: true)
    meeting.removeAll(keepingCapacity: true)
    forwardFrontier.append(Int32(r))
    backwardFrontier.append(Int32(t))
    var forwardDepth: Int32 = 0
    var backwardDepth: Int32 = 0
    while !forwardFrontier.isEmpty && !backwardFrontier.isEmpty {
      let forward = forwardFrontier.count <= backwardFrontier.count
      nextFrontier.removeAll(keepingCapacity: true)
      let level = (forward ? forwardDepth : backwardDepth) + 1
      for c in forward ? forwardFrontier : backwardFrontier {
        for k in graph.edgePositions(of: Int(c), forward: forward) {
          let other = graph.adjacent(at: k, forward: forward).other
          if forward {
            guard forwardMark[other] != generation,
              ceiling == .max || graph.rank(of: other) <= ceiling
            else { continue }
            forwardMark[other] = generation
            forwardLevel[other] = level
            if backwardMark[other] == generation { meeting.append(Int32(other)) }
          } else {
            guard backwardMark[other] != generation,
              floor == .min || graph.rank(of: other) >= floor
            else { continue }
            backwardMark[other] = generation
            backwardLevel[other] = level
            if forwardMark[other] == generation { meeting.append(Int32(other)) }
          }
          nextFrontier.append(Int32(other))
        }
      }
      if !meeting.isEmpty { return true }
      if forward {
        swap(&forwardFrontier, &nextFrontier)
        forwardDepth = level
      } else {
        swap(&backwardFrontier, &nextFrontier)
        backwardDepth = level
      }
    }
    return false
  }

  /// Step 2: marks the meeting classes, their ancestors one forward level
  /// down at a time, and their descendants one backward level down at a
  /// time: every class on a shortest path from the root to the target.
  private mutating func markShortestPaths(graph: DependencyGraph) {
    work.removeAll(keepingCapacity: true)
    for c in meeting where onShortestPath[Int(c)] != generation {
      onShortestPath[Int(c)] = generation
      work.append(c)
    }
    var head = 0
    while head < work.count {
      let c = Int(work[head])
      head += 1
      // Up the forward ball, towards the root.
      if forwardMark[c] == generation && forwardLevel[c] > 0 {
        for k in graph.edgePositions(of: c, forward: false) {
          let p = graph.adjacent(at: k, forward: false).other
          if forwardMark[p] == generation && forwardLevel[p] == forwardLevel[c] - 1
            && onShortestPath[p] != generation
          {
            onShortestPath[p] = generation
            work.append(Int32(p))
          }
        }
      }
      // Down the backward ball, towards the target.
      if backwardMark[c] == generation && backwardLevel[c] > 0 {
        for k in graph.edgePositions(of: c, forward: true) {
          let s = graph.adjacent(at: k, forward: true).other
          if backwardMark[s] == generation && backwardLevel[s] == backwardLevel[c] - 1
            && onShortestPath[s] != generation
          {
            onShortestPath[s] = generation
            work.append(Int32(s))
          }
        }
      }
    }
  }

  /// Step 3: the breadth-first search from the root through the marked
  /// classes, edges in the order they were added, to the first class
  /// queued with an edge to the target.
  private mutating func firstPath(graph: DependencyGraph, root r: Int, target: ClassID)
    -> GraphSearch.Result?
  {
    work.removeAll(keepingCapacity: true)
    work.append(Int32(r))
    queued[r] = generation
    parentNode[r] = -1
    var head = 0
    while head < work.count {
      let c = Int(work[head])
      head += 1
      for k in graph.edgePositions(of: c, forward: true) {
        let entry = graph.adjacent(at: k, forward: true)
        let s = entry.other
        guard onShortestPath[s] == generation, queued[s] != generation else { continue }
        queued[s] = generation
        parentNode[s] = Int32(c)
        parentEdge[s] = entry.edge
        if predecessorOf[s] == generation {
          return GraphSearch.Result(found: target, path: path(to: s) + [targetEdge[s]])
        }
        work.append(Int32(s))
      }
    }
    preconditionFailure("a shortest path's classes lead to the target")
  }

  /// The edges from the root to `node`, root first.
  private func path(to node: Int) -> [Int32] {
    var edges: [Int32] = []
    var current = node
    while parentNode[current] >= 0 {
      edges.append(parentEdge[current])
      current = Int(parentNode[current])
    }
    return edges.reversed()
  }
}
