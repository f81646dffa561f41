import Basics
import Testing
import WaitContext

@testable import LockGraph

/// A cycle search (a forward search for a class) leaves out the classes
/// ranked above its target in the topological order. That must change
/// nothing lockdep's breadth-first search finds: on random graphs of every
/// dependency kind (so that the strong-path rule cuts some paths), the
/// class found and the path to it are those of the same search on the same
/// graph without a topological order (`DependencyGraph(unordered:)`),
/// which leaves nothing out.
@Suite struct GraphSearchTests {
  static let kinds: [DependencyKinds] = [
    .exclusiveToNonRecursive, .exclusiveToRecursive, .sharedToNonRecursive, .sharedToRecursive,
    [.sharedToRecursive, .exclusiveToNonRecursive],
  ]

  @Test(arguments: 1...60)
  func leavingOutHigherRanksFindsTheSamePath(seed: Int) throws {
    var rng = SplitMix(seed: UInt64(seed))
    let count = 30
    let registry = ClassRegistry()
    for c in 0...count {
      _ = registry.declare(
        key: "c\(c)", name: nil, kind: .spinlock, waits: try ClassWaitTypes(kind: .spinlock))
    }
    let tables = registry.tables
    var ordered = DependencyGraph()
    // The same graph without an order: every search runs in full.
    var unordered = DependencyGraph(unordered: ())
    var searches = 0
    var found = 0
    for _ in 0..<200 {
      let a = ClassID(Int32(rng.next() % UInt64(count)))
      let b = ClassID(Int32(rng.next() % UInt64(count)))
      // In no global order.
      // Up to seed 40 the graph stays acyclic; past it, cycles are let in
      // (each a component of the order, which a search must not cut).
      if a == b || (seed <= 40 && TopologicalOrderTests.reaches(ordered, from: b, to: a)) {
        continue
      }
      let kinds = Self.kinds[Int(rng.next() % UInt64(Self.kinds.count))]
      ordered.add(from: a, to: b, kinds: kinds, origin: .unknown, thread: ThreadID(0))
      unordered.add(from: a, to: b, kinds: kinds, origin: .unknown, thread: ThreadID(0))
      // The question a new dependency prev -> next asks where the order
      // cannot rule a path out: does next lead back to prev?
      let prev = ClassID(Int32(rng.next() % UInt64(count)))
      let next = ClassID(Int32(rng.next() % UInt64(count)))
      guard prev != next, ordered.mayReach(from: next, to: prev) else { continue }
      let onlyRecursive = rng.next() % 3 == 0
      let read: ReadMode = rng.next() % 2 == 0 ? .exclusive : .shared
      var results: [[String]?] = []
      for graph in [ordered, unordered] {
        var search = GraphSearch()
        let result = search.run(
          graph: graph, classes: tables, from: next, direction: .forward,
          rootOnlyRecursive: onlyRecursive, skipIrqUsageExempt: false,
          goal: .conflict(target: prev, targetRead: read))
        results.append(
          result.map { r in
            ["found \(r.found.raw)"]
              + r.path.map { "\(graph.edges[Int($0)].from.raw)->\(graph.edges[Int($0)].to.raw)" }
          })
      }
      searches += 1
      if results[0] != nil { found += 1 }
      #expect(results[0] == results[1], "seed \(seed): \(next.raw) to \(prev.raw)")
    }
    // Both outcomes are exercised: a path found, and none.
    #expect(searches > 20 && found > 5, "seed \(seed): \(searches) searches, \(found) found")
  }

  /// lockdep's `__bfs()` as the kernel writes it, for comparison: every
  /// edge's far class queued, a class visited (marked, its strength from
  /// the edge it came by) the first time it is dequeued, and matched then.
  /// Edges in the order they were added (`locks_after`/`locks_before`).
  static func lockdepBFS(
    _ graph: DependencyGraph, _ classes: ClassTables, from root: ClassID, forward: Bool,
    rootOnlyRecursive: Bool, skipIrqUsageExempt: Bool, goal: GraphSearch.Goal
  ) -> [String]? {
    var visited = Set<Int32>()
    var onlyRecursive: [Int32: Bool] = [:]
    var pathTo: [Int32: [Int]] = [:]
    var queue: [(node: Int32, parent: Int32, edge: Int)] = [(root.raw, -1, -1)]
    var head = 0
    while head < queue.count {
      let (node, parent, e) = queue[head]
      head += 1
      if !visited.insert(node).inserted { continue }
      if e >= 0 {
        let edge = graph.edges[e]
        var kinds = forward ? edge.kinds : edge.kinds.reversed
        if onlyRecursive[parent]! { kinds.subtract([.sharedToRecursive, .sharedToNonRecursive]) }
        if kinds.isEmpty { continue }
        onlyRecursive[node] = kinds.isDisjoint(with: [
          .sharedToNonRecursive, .exclusiveToNonRecursive,
        ])
        pathTo[node] = pathTo[parent]! + [e]
      } else {
        onlyRecursive[node] = rootOnlyRecursive
        pathTo[node] = []
      }
      let cls = ClassID(node)
      if skipIrqUsageExempt && classes.waits(cls).lockType != .normal { continue }
      var usage = classes.usage(cls)
      if onlyRecursive[node]! { usage.formIntersection(UsageMask(rawValue: 0x55)) }
      let matched: Bool
      switch goal {
      case .conflict(let target, let read):
        matched = cls == target && (read == .exclusive || !onlyRecursive[node]!)
      case .usage(let mask): matched = !usage.isDisjoint(with: mask)
      case .accumulate: matched = false
      }
      if matched {
        return ["found \(node)"]
          + pathTo[node]!.map { "\(graph.edges[$0].from.raw)->\(graph.edges[$0].to.raw)" }
      }
      for (index, edge) in graph.edges.enumerated() where (forward ? edge.from : edge.to) == cls {
        queue.append(((forward ? edge.to : edge.from).raw, node, index))
      }
    }
    return nil
  }

  /// The search leaves out what the topological order rules out, marks a
  /// class when it is queued, and ends a cycle search when it queues a
  /// class with an edge to the target: it must find what lockdep's
  /// breadth-first search finds, the same class by the same path, for
  /// every goal and direction, on random graphs with every dependency kind
  /// (so the strong-path rule cuts paths, and a target first reached by a
  /// path that is not strong is skipped for good), acyclic or not, and
  /// random usage bits.
  @Test(arguments: 1...40)
  func findsWhatLockdepsSearchFinds(seed: Int) throws {
    var rng = SplitMix(seed: UInt64(seed) &* 7919)
    let count = 24
    let registry = ClassRegistry()
    for c in 0..<count {
      // A few per-cpu classes, which irq searches skip.
      let kind: LockKind = c % 7 == 6 ? .localLock : .spinlock
      _ = registry.declare(
        key: "c\(c)", name: nil, kind: kind, waits: try ClassWaitTypes(kind: kind))
    }
    let tables = registry.tables
    var graph = DependencyGraph()
    var search = GraphSearch()
    var outcomes = (found: 0, notFound: 0)
    for step in 0..<300 {
      let a = ClassID(Int32(rng.next() % UInt64(count)))
      let b = ClassID(Int32(rng.next() % UInt64(count)))
      // Odd seeds keep the graph acyclic, even ones let cycles in (each
      // one component of the order).
      if a != b && (seed % 2 == 0 || !TopologicalOrderTests.reaches(graph, from: b, to: a)) {
        let kinds = Self.kinds[Int(rng.next() % UInt64(Self.kinds.count))]
        graph.add(from: a, to: b, kinds: kinds, origin: .unknown, thread: ThreadID(0))
      }
      if rng.next() % 4 == 0 {
        let bit = UsageBit(rawValue: UInt8(rng.next() % 8))!
        let c = ClassID(Int32(rng.next() % UInt64(count)))
        tables.addUsage(c, bit.mask)
        graph.addUsage(bit.mask, to: c)
      }
      let root = ClassID(Int32(rng.next() % UInt64(count)))
      let forward = rng.next() % 2 == 0
      let onlyRecursive = rng.next() % 3 == 0
      let skip = rng.next() % 3 == 0
      let goal: GraphSearch.Goal
      if rng.next() % 2 == 0 {
        let read: ReadMode = rng.next() % 2 == 0 ? .exclusive : .shared
        // Sometimes the root itself (recursion).
        let target = rng.next() % 5 == 0 ? root : ClassID(Int32(rng.next() % UInt64(count)))
        goal = .conflict(target: target, targetRead: read)
      } else {
        goal = .usage(UsageMask(rawValue: UInt16(1 << (rng.next() % 8))))
      }
      let result = search.run(
        graph: graph, classes: tables, from: root, direction: forward ? .forward : .backward,
        rootOnlyRecursive: onlyRecursive, skipIrqUsageExempt: skip, goal: goal)
      let got = result.map { r in
        ["found \(r.found.raw)"]
          + r.path.map { "\(graph.edges[Int($0)].from.raw)->\(graph.edges[Int($0)].to.raw)" }
      }
      let expected = Self.lockdepBFS(
        graph, tables, from: root, forward: forward, rootOnlyRecursive: onlyRecursive,
        skipIrqUsageExempt: skip, goal: goal)
      if expected == nil { outcomes.notFound += 1 } else { outcomes.found += 1 }
      #expect(got == expected, "seed \(seed) step \(step): \(goal) from \(root.raw)")
    }
    #expect(outcomes.found > 30 && outcomes.notFound > 30, "seed \(seed): \(outcomes)")
  }

  /// Past its capacity the answer cache starts again, and answers stay
  /// right: on a graph that no longer changes, more distinct questions
  /// than it holds, asked twice over, each get what a search of its own
  /// finds.
  @Test func answersStayRightPastTheCachesCapacity() throws {
    let registry = ClassRegistry()
    let count = 200
    for c in 0..<count {
      _ = registry.declare(
        key: "c\(c)", name: nil, kind: .spinlock, waits: try ClassWaitTypes(kind: .spinlock))
    }
    let tables = registry.tables
    var graph = DependencyGraph()
    var rng = SplitMix(seed: 5)
    for _ in 0..<600 {
      let a = Int32(rng.next() % UInt64(count))
      let b = Int32(rng.next() % UInt64(count))
      guard a < b else { continue }
      graph.add(
        from: ClassID(a), to: ClassID(b), kinds: .exclusiveToNonRecursive, origin: .unknown,
        thread: ThreadID(0))
    }
    var cached = GraphSearch()
    var questions: [(ClassID, ClassID)] = []
    for root in 0..<count {
      for target in stride(from: root % 3, to: count, by: 2) {
        questions.append((ClassID(Int32(root)), ClassID(Int32(target))))
      }
    }
    #expect(questions.count > GraphSearch.answerCapacity)
    var expected: [[Int32]?] = []
    for round in 0..<2 {
      for (i, (root, target)) in questions.enumerated() {
        let goal = GraphSearch.Goal.conflict(target: target, targetRead: .exclusive)
        let answer = cached.run(
          graph: graph, classes: tables, from: root, direction: .backward,
          rootOnlyRecursive: false, skipIrqUsageExempt: false, goal: goal)
        if round == 0 {
          var fresh = GraphSearch()
          expected.append(
            fresh.run(
              graph: graph, classes: tables, from: root, direction: .backward,
              rootOnlyRecursive: false, skipIrqUsageExempt: false, goal: goal)?.path)
        }
        #expect(answer?.path == expected[i])
      }
    }
    #expect(expected.count { $0 != nil } > 100)
  }

  /// A search's answer is remembered only while the graph is unchanged:
  /// a new edge, a new kind on an edge (which can make a path strong) or a
  /// new usage bit each makes the same question find what it now finds.
  @Test func aRememberedAnswerLastsUntilTheGraphChanges() throws {
    let registry = ClassRegistry()
    for c in 0..<8 {
      _ = registry.declare(
        key: "c\(c)", name: nil, kind: .spinlock, waits: try ClassWaitTypes(kind: .spinlock))
    }
    let tables = registry.tables
    var graph = DependencyGraph()
    var search = GraphSearch()
    func c(_ i: Int32) -> ClassID { ClassID(i) }
    func cycle(from root: Int32, to target: Int32) -> ClassID? {
      search.run(
        graph: graph, classes: tables, from: c(root), direction: .forward,
        rootOnlyRecursive: false, skipIrqUsageExempt: false,
        goal: .conflict(target: c(target), targetRead: .exclusive)
      )?.found
    }
    func add(_ a: Int32, _ b: Int32, _ kinds: DependencyKinds) {
      graph.add(from: c(a), to: c(b), kinds: kinds, origin: .unknown, thread: ThreadID(0))
    }
    // A new edge.
    add(1, 2, .exclusiveToNonRecursive)
    #expect(cycle(from: 2, to: 0) == nil)
    #expect(cycle(from: 2, to: 0) == nil)
    add(2, 0, .exclusiveToNonRecursive)
    #expect(cycle(from: 2, to: 0) == c(0))
    // A new kind: -(*R)-> then -(S*)-> is no strong path, until 4 -> 5
    // gains an exclusive kind.
    add(3, 4, .exclusiveToRecursive)
    add(4, 5, .sharedToNonRecursive)
    #expect(cycle(from: 3, to: 5) == nil)
    add(4, 5, .exclusiveToNonRecursive)
    #expect(cycle(from: 3, to: 5) == c(5))
    // A new usage bit.
    add(6, 7, .exclusiveToNonRecursive)
    func unsafe() -> ClassID? {
      search.run(
        graph: graph, classes: tables, from: c(6), direction: .forward,
        rootOnlyRecursive: false, skipIrqUsageExempt: true,
        goal: .usage(UsageBit.enabledHardirq.mask))?.found
    }
    #expect(unsafe() == nil)
    tables.addUsage(c(7), UsageBit.enabledHardirq.mask)
    graph.addUsage(UsageBit.enabledHardirq.mask, to: c(7))
    #expect(unsafe() == c(7))
  }
}
