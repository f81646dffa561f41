import WaitContext

/// Breadth-first search of the dependency graph with lockdep's strong-path
/// rule (`__bfs()`), reusing its buffers between searches.
///
/// Invariant, as in lockdep: a class is visited once per search, by its
/// first entry in the queue, whether or not that path is strong; the first
/// match found is on a shortest strong path. (lockdep marks a class when
/// that entry is dequeued; this search marks it when it is queued, which
/// visits the same classes in the same order, and lets a cycle search stop
/// as soon as the target's first entry is known.)
struct GraphSearch: Sendable {
  enum Direction { case forward, backward }

  /// What a search looks for.
  enum Goal: Hashable {
    /// The held lock `target` (class and read mode): lockdep's
    /// `hlock_conflict()`, for cycles.
    case conflict(target: ClassID, targetRead: ReadMode)
    /// A class with any of these usage bits (`usage_match()`).
    case usage(UsageMask)
    /// Visit everything and OR the usage bits (`usage_accumulate()`).
    case accumulate
  }

  struct Result {
    /// The matching class.
    var found: ClassID
    /// The edges from the root to `found`, root first.
    var path: [Int32]
  }

  private var visited: [UInt32] = []
  private var onlyRecursive: [Bool] = []
  private var parentEdge: [Int32] = []
  private var parentNode: [Int] = []
  /// The classes queued, each once (its parent edge is `parentEdge`'s).
  private var queue: [Int32] = []
  private var generation: UInt32 = 0
  /// A forward conflict search's marks of the target's predecessors:
  /// `targetEdge[c]` is the edge c -> target when `predecessorOf[c]` is
  /// this search's `generation` (else stale), so that the search asks an
  /// array rather than the pair index whether a class it queues has an
  /// edge to the target (a cache miss each in a large graph).
  private var predecessorOf: [UInt32] = []
  private var targetEdge: [AdjacentEdge] = []
  /// The usage accumulated by the last `.accumulate` search.
  private(set) var accumulated = UsageMask()

  /// What a search was asked (`run`'s parameters but the graph).
  private struct Question: Hashable {
    var root: ClassID
    var direction: Direction
    var rootOnlyRecursive: Bool
    var skipIrqUsageExempt: Bool
    var goal: Goal
  }

  /// What a search found, and the usage it accumulated.
  private struct Answer {
    var result: Result?
    var accumulated: UsageMask
  }

  /// The answers of searches run since the graph last changed
  /// (`DependencyGraph.version`, which counts every edge, every kind added
  /// to one, and every usage bit set: all a search reads that changes). An
  /// acquisition that produced a finding is not cached, so a program that
  /// repeats it (an inversion in a loop) asks the same question of the
  /// same graph each time: on a graph of 2,000 classes, 610 k instructions
  /// a search.
  private var answers: [Question: Answer] = [:]
  private var answersVersion = -1
  /// The most answers kept at once: when full, they are all dropped and
  /// the cache starts again (an irq check asks three questions per root,
  /// so a graph of a few thousand classes that stopped growing, every new
  /// dependency refused, asks more than a thousand in turn: kept once
  /// full, the cache answered none of them).
  static let answerCapacity = 16_384

  /// Runs one search, or gives the answer of the same search run since the
  /// graph last changed.
  /// - Parameters:
  ///   - rootOnlyRecursive: lockdep's `only_xr` for the root: forward from a
  ///     held lock taken as a recursive read, or backward from a shared one.
  ///   - skipIrqUsageExempt: skip per-cpu and override classes (and any
  ///     path through them), as lockdep's `usage_skip()` does for irq
  ///     searches (`ClassTables.skipsIrqUsage`).
  mutating func run(
    graph: DependencyGraph, classes: ClassTables, from root: ClassID, direction: Direction,
    rootOnlyRecursive: Bool, skipIrqUsageExempt: Bool, goal: Goal
  ) -> Result? {
    let question = Question(
      root: root, direction: direction, rootOnlyRecursive: rootOnlyRecursive,
      skipIrqUsageExempt: skipIrqUsageExempt, goal: goal)
    if answersVersion != graph.version {
      if !answers.isEmpty { answers = [:] }
      answersVersion = graph.version
    } else if let answer = answers[question] {
      accumulated = answer.accumulated
      return answer.result
    }
    let result = search(
      graph: graph, classes: classes, from: root, direction: direction,
      rootOnlyRecursive: rootOnlyRecursive, skipIrqUsageExempt: skipIrqUsageExempt, goal: goal)
    if answers.count == Self.answerCapacity { answers.removeAll(keepingCapacity: true) }
    answers[question] = Answer(result: result, accumulated: accumulated)
    return result
  }

  /// `run` without remembered answers.
  private mutating func search(
    graph: DependencyGraph, classes: ClassTables, from root: ClassID, direction: Direction,
    rootOnlyRecursive: Bool, skipIrqUsageExempt: Bool, goal: Goal
  ) -> Result? {
    let n = classes.count
    if visited.count < n {
      visited.append(contentsOf: repeatElement(0, count: n - visited.count))
      onlyRecursive.append(contentsOf: repeatElement(false, count: n - onlyRecursive.count))
      parentEdge.append(contentsOf: repeatElement(-1, count: n - parentEdge.count))
      parentNode.append(contentsOf: repeatElement(-1, count: n - parentNode.count))
      predecessorOf.append(contentsOf: repeatElement(0, count: n - predecessorOf.count))
      targetEdge.append(
        contentsOf: repeatElement(
          AdjacentEdge(other: 0, kinds: [], edge: -1), count: n - targetEdge.count))
    }
    generation &+= 1
    if generation == 0 {
      for i in visited.indices { visited[i] = 0 }
      for i in predecessorOf.indices { predecessorOf[i] = 0 }
      generation = 1
    }
    accumulated = []
    // A forward search for a class need not enter a class ranked above it
    // in the topological order: no path leads from there to it. Nothing
    // that can reach the target is left out, and nothing left out is ever
    // entered from a class that can (it would reach the target through
    // it), so the search visits the target's ancestors in the same order
    // and finds the same path.
    var ceiling = Int32.max
    if case .conflict(let target, _) = goal, direction == .forward,
      let rank = graph.rankCeiling(reaching: target)
    {
      ceiling = rank
    }
    // The class a conflict search looks for, and its read mode.
    var target: ClassID? = nil
    var targetRead = ReadMode.exclusive
    if case .conflict(let t, let read) = goal { (target, targetRead) = (t, read) }
    let forward = direction == .forward
    // A class is marked visited, and its parent and strength set, when its
    // first entry is queued: that entry is the one lockdep dequeues first,
    // and it alone decides whether the class is visited (continues a
    // strong path) or skipped for good, so the classes are visited in
    // lockdep's order.
    queue.removeAll(keepingCapacity: true)
    queue.append(root.raw)
    visited[root.index] = generation
    onlyRecursive[root.index] = rootOnlyRecursive
    parentEdge[root.index] = -1
    // A forward conflict search knows where it ends as soon as it queues a
    // class with an edge to the target: the target's first entry is queued
    // when that class is expanded, before any class queued after it is.
    let lookahead = forward && !skipIrqUsageExempt ? target : nil
    if let target = lookahead {
      for k in graph.edgePositions(of: target.index, forward: false) {
        let entry = graph.adjacent(at: k, forward: false)
        predecessorOf[entry.other] = generation
        targetEdge[entry.other] = entry
      }
    }
    if let target = lookahead, target != root,
      let decided = targetEntry(after: root.index, target, targetRead)
    {
      return decided.matched ? Result(found: target, path: [decided.edge]) : nil
    }
    var head = 0
    while head < queue.count {
      let i = Int(queue[head])
      head += 1
      let cls = ClassID(Int32(i))
      if skipIrqUsageExempt && classes.skipsIrqUsage(cls) { continue }
      switch goal {
      case .conflict:
        if cls == target && (targetRead == .exclusive || !onlyRecursive[i]) {
          return Result(found: cls, path: path(to: i))
        }
      case .usage(let mask):
        if !visibleUsage(classes.usage(cls), onlyRecursive: onlyRecursive[i]).isDisjoint(with: mask)
        {
          return Result(found: cls, path: path(to: i))
        }
      case .accumulate:
        accumulated.formUnion(visibleUsage(classes.usage(cls), onlyRecursive: onlyRecursive[i]))
      }
      // Each edge in the order it was added.
      for k in graph.edgePositions(of: i, forward: forward) {
        let entry = graph.adjacent(at: k, forward: forward)
        let other = entry.other
        if visited[other] != generation
          && (ceiling == .max || graph.rank(of: other) <= ceiling)
        {
          visited[other] = generation
          if let kinds = strongKinds(entry.kinds, from: i, forward: forward) {
            onlyRecursive[other] = kinds.isDisjoint(with: .toNonRecursive)
            parentNode[other] = i
            parentEdge[other] = entry.edge
            if let target = lookahead, other != target.index,
              let decided = targetEntry(after: other, target, targetRead)
            {
              return decided.matched
                ? Result(found: target, path: path(to: other) + [decided.edge]) : nil
            }
            queue.append(Int32(other))
          }
        }
      }
    }
    return nil
  }

  /// For a forward conflict search that just queued class `c` (visited,
  /// strength set), to be expanded: nil when `c` has no edge to the
  /// target, or the target was visited; otherwise the target's first entry
  /// is that edge, and whether it matches (else the target is skipped for
  /// good and the search finds nothing).
  private func targetEntry(after c: Int, _ target: ClassID, _ targetRead: ReadMode) -> (
    edge: Int32, matched: Bool
  )? {
    guard visited[target.index] != generation, predecessorOf[c] == generation else { return nil }
    let entry = targetEdge[c]
    guard let kinds = strongKinds(entry.kinds, from: c, forward: true) else {
      return (entry.edge, false)
    }
    return (entry.edge, targetRead == .exclusive || !kinds.isDisjoint(with: .toNonRecursive))
  }

  /// The kinds by which an edge of `edgeKinds`, followed from the visited
  /// class `parent`, continues a strong path; nil when it does not
  /// (-(*R)-> followed by -(S*)->).
  private func strongKinds(_ edgeKinds: DependencyKinds, from parent: Int, forward: Bool)
    -> DependencyKinds?
  {
    var kinds = forward ? edgeKinds : edgeKinds.reversed
    if onlyRecursive[parent] { kinds.subtract(.fromShared) }
    return kinds.isEmpty ? nil : kinds
  }

  /// The usage a search may match at a class (lockdep's `usage_match()` and
  /// `usage_accumulate()`): when only recursive-read edges lead there, its
  /// read usages cannot complete a deadlock, so only write usages count.
  private func visibleUsage(_ usage: UsageMask, onlyRecursive: Bool) -> UsageMask {
    onlyRecursive ? usage.intersection(.irqWrite) : usage
  }

  /// The edges from the root to `node`, root first.
  private func path(to node: Int) -> [Int32] {
    var edges: [Int32] = []
    var current = node
    while parentEdge[current] >= 0 {
      edges.append(parentEdge[current])
      current = parentNode[current]
    }
    return edges.reversed()
  }
}
