import Basics
import Testing

@testable import LockGraph

/// The irq usage that may reach a class, kept as edges are added and usage
/// bits set in any order, is never less than what a plain search finds:
/// the union of the "used in irq" bits of every class that reaches it.
/// (Where it holds none, the irq-usage check skips its searches.)
@Suite struct UsageReachTests {
  @Test(arguments: 1...30)
  func neverLessThanASearchFinds(seed: Int) {
    var rng = SplitMix(seed: UInt64(seed))
    var graph = DependencyGraph()
    var usage = [UsageMask](repeating: [], count: 20)
    let bits: [UsageBit] = [.usedInHardirq, .usedInHardirqRead, .usedInSoftirq, .usedInSoftirqRead]
    for step in 0..<120 {
      let a = Int(rng.next() % 20)
      let b = Int(rng.next() % 20)
      if rng.next() % 4 == 0 {
        let mask = bits[Int(rng.next() % 4)].mask
        usage[a].formUnion(mask)
        graph.addUsage(mask, to: ClassID(Int32(a)))
      } else if a != b {
        graph.add(
          from: ClassID(Int32(a)), to: ClassID(Int32(b)), kinds: .exclusiveToNonRecursive,
          origin: .unknown, thread: ThreadID(0))
      }
      guard step % 10 == 9 else { continue }
      for c in 0..<20 {
        var expected = UsageMask()
        for x in 0..<20
        where x == c
          || TopologicalOrderTests.reaches(
            graph, from: ClassID(Int32(x)), to: ClassID(Int32(c)))
        {
          expected.formUnion(usage[x].intersection(.usedInAll))
        }
        #expect(
          graph.usedInReaching(ClassID(Int32(c))).isSuperset(of: expected),
          "seed \(seed): class \(c) misses usage that reaches it")
      }
    }
  }
}
