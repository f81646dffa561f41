import Basics
import LockGraph
import Testing

@testable import Trace

/// `GraphFile.strongCycleEdges()`: the edges that close a strong cycle (no
/// `-(*R)->` followed by `-(S*)->` on it, around), whichever order a
/// search would meet them in.
@Suite struct GraphFileCycleTests {
  static let en = DependencyKinds.exclusiveToNonRecursive
  static let sn = DependencyKinds.sharedToNonRecursive
  static let er = DependencyKinds.exclusiveToRecursive
  static let sr = DependencyKinds.sharedToRecursive

  static func graph(_ edges: [(String, String, DependencyKinds)]) -> GraphFile {
    var graph = GraphFile()
    for (from, to, kinds) in edges {
      graph.edges.append(
        GraphFile.Edge(from: from, to: to, kinds: kinds, location: GraphFile.Location()))
    }
    return graph
  }

  @Test func anABBAPairIsACycle() {
    #expect(Self.graph([("A", "B", Self.en), ("B", "A", Self.en)]).strongCycleEdges() == [1])
  }

  /// A recursive reader after a shared holder is no wait: A -(ER)-> B
  /// -(SN)-> A is no deadlock, and stays in a file.
  @Test func aCycleThroughARecursiveReadAfterASharedHoldIsNone() {
    #expect(Self.graph([("A", "B", Self.er), ("B", "A", Self.sn)]).strongCycleEdges() == [])
    // Around too: the last edge `*R`, the first `S*`.
    #expect(Self.graph([("A", "B", Self.sn), ("B", "A", Self.er)]).strongCycleEdges() == [])
    #expect(Self.graph([("A", "B", Self.en), ("B", "A", Self.er)]).strongCycleEdges() == [1])
  }

  /// The trace `cycle-found-by-a-known-dependency.rlt`: lockdep's search
  /// from B reaches A first through B -(ER)-> Q -(SN)-> A, which is not
  /// strong, and marks A visited, so it never tries B -> P -> A: the
  /// validator adds A -> B, closing A -> B -> P -> A, all `EN`.
  @Test func aStrongCycleAWeakPathHidesIsFound() {
    let graph = Self.graph([
      ("B", "Q", Self.er), ("B", "P", Self.en), ("Q", "A", Self.sn), ("Q", "P", Self.sn),
      ("P", "A", Self.en), ("A", "B", Self.en), ("Q", "X", Self.sn), ("X", "P", Self.en),
    ])
    #expect(graph.strongCycleEdges() == [5])
  }

  @Test func aClassToItselfIsACycleUnlessSharedToRecursive() {
    #expect(Self.graph([("A", "A", Self.sr)]).strongCycleEdges() == [])
    #expect(Self.graph([("A", "A", Self.er)]).strongCycleEdges() == [0])
    #expect(Self.graph([("A", "A", Self.sn)]).strongCycleEdges() == [0])
  }

  /// Subclasses are classes of their own.
  @Test func subclassesAreNodesOfTheirOwn() {
    var graph = Self.graph([("A", "A", Self.en)])
    graph.edges[0].toSub = 1
    #expect(graph.strongCycleEdges() == [])
    graph.edges.append(
      GraphFile.Edge(
        from: "A", fromSub: 1, to: "A", kinds: Self.en, location: GraphFile.Location()))
    #expect(graph.strongCycleEdges() == [1])
  }

  /// Against an oracle written another way: for each edge in turn, the
  /// closure of "reachable in state N or R" over the kept edges, iterated
  /// to a fixpoint over every edge (no queue, no marks), on random graphs
  /// of 5 classes with every subset of kinds.
  @Test func randomGraphsAgreeWithAFixpoint() {
    var generator = SplitMix(seed: 42)
    let all: [DependencyKinds] = [Self.en, Self.sn, Self.er, Self.sr]
    for _ in 0..<3000 {
      let count = Int.random(in: 1...9, using: &generator)
      var edges: [(Int, Int, DependencyKinds)] = []
      for _ in 0..<count {
        var kinds = DependencyKinds()
        while kinds.isEmpty {
          for k in all where Bool.random(using: &generator) { kinds.insert(k) }
        }
        edges.append(
          (
            Int.random(in: 0..<5, using: &generator), Int.random(in: 0..<5, using: &generator),
            kinds
          ))
      }
      let graph = Self.graph(edges.map { ("c\($0.0)", "c\($0.1)", $0.2) })
      #expect(graph.strongCycleEdges() == Self.oracle(edges), "\(edges)")
    }
  }

  static func oracle(_ edges: [(Int, Int, DependencyKinds)]) -> [Int] {
    let toN: DependencyKinds = [en, sn]
    let fromE: DependencyKinds = [en, er]
    var kept: [(Int, Int, DependencyKinds)] = []
    var closing: [Int] = []
    for (i, (u, v, kinds)) in edges.enumerated() {
      var closes = false
      for kind in [en, sn, er, sr] where kinds.contains(kind) {
        // reach[node][0]: reached with a last edge that may be `*N`;
        // [1]: with one that is only `*R`.
        var reach = [[Bool]](repeating: [false, false], count: 5)
        reach[v][kind.isDisjoint(with: toN) ? 1 : 0] = true
        var changed = true
        while changed {
          changed = false
          for (a, b, k) in kept {
            for state in 0..<2 where reach[a][state] {
              let usable = state == 1 ? k.intersection(fromE) : k
              if usable.isEmpty { continue }
              let next = usable.isDisjoint(with: toN) ? 1 : 0
              if !reach[b][next] {
                reach[b][next] = true
                changed = true
              }
            }
          }
        }
        if reach[u][0] || (reach[u][1] && !kind.isDisjoint(with: fromE)) { closes = true }
      }
      if closes { closing.append(i) } else { kept.append((u, v, kinds)) }
    }
    return closing
  }
}
