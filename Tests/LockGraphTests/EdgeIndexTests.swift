import Basics
import Testing

@testable import LockGraph

/// The graph's pair index finds every edge it was given, through its
/// growth, and nothing else (checked against a `Dictionary`).
@Suite struct EdgeIndexTests {
  @Test func findsEveryPairAndNoOther() {
    var rng = SplitMix(seed: 7)
    var index = EdgeIndex()
    var expected: [UInt64: Int32] = [:]
    for e in 0..<5000 {
      let a = ClassID(Int32(rng.next() % 300))
      let b = ClassID(Int32(rng.next() % 300))
      let key = DependencyGraph.pairKey(a, b)
      if expected[key] == nil {
        expected[key] = Int32(e)
        index.insert(key, Int32(e), kinds: DependencyKinds(rawValue: UInt8(e % 15 + 1)))
      }
    }
    for (key, edge) in expected {
      #expect(index.find(key) == edge)
      #expect(index.findWithKinds(key)?.kinds.rawValue == UInt8(edge % 15 + 1))
    }
    // Kinds added to an edge are found with it.
    let (someKey, someEdge) = expected.first!
    #expect(index.addKinds(DependencyKinds(rawValue: 0b1111), to: someKey) == someEdge)
    #expect(index.addKinds(DependencyKinds(rawValue: 1), to: UInt64(1) << 40) == nil)
    #expect(index.findWithKinds(someKey)?.edge == someEdge)
    #expect(index.findWithKinds(someKey)?.kinds.rawValue == 0b1111)
    for _ in 0..<5000 {
      let key = DependencyGraph.pairKey(
        ClassID(Int32(rng.next() % 600)), ClassID(Int32(rng.next() % 600)))
      #expect(index.find(key) == expected[key])
    }
  }
}
