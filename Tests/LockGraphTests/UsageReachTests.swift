import Basics
import Testing

@testable import LockGraph

/// The irq usage kept for each side of a class, as edges are added and
/// usage bits set in any order, is exactly what a plain search of the
/// edges finds: the union of the "used in irq" bits of every class that
/// reaches it, and of the "irq enabled" bits of every class it reaches
/// (itself included), not counting classes the irq searches skip, nor
/// paths through them (lockdep's `usage_skip()`: a `local_lock`). Never
/// less, or the irq-usage checks would skip a search that finds an
/// inversion; never more, or they would skip none.
@Suite struct UsageReachTests {
  @Test(arguments: 1...30)
  func bothSidesAreWhatASearchFinds(seed: Int) {
    var rng = SplitMix(seed: UInt64(seed))
    var graph = DependencyGraph()
    let classes = 20
    var usage = [UsageMask](repeating: [], count: classes)
    // Every seventh class is skipped by the irq searches from seed 16 on
    // (the first seeds as before, with none).
    let skipped = Set(seed > 15 ? stride(from: 3, to: classes, by: 7).map { $0 } : [])
    let skips = { (c: ClassID) in skipped.contains(c.index) }
    let bits: [UsageBit] = [
      .usedInHardirq, .usedInHardirqRead, .usedInSoftirq, .usedInSoftirqRead,
      .enabledHardirq, .enabledHardirqRead, .enabledSoftirq, .enabledSoftirqRead, .used,
    ]
    for step in 0..<160 {
      let a = Int(rng.next() % UInt64(classes))
      let b = Int(rng.next() % UInt64(classes))
      if rng.next() % 4 == 0 {
        let mask = bits[Int(rng.next() % UInt64(bits.count))].mask
        usage[a].formUnion(mask)
        graph.addUsage(mask, to: ClassID(Int32(a)), skipsIrqUsage: skips)
      } else if a != b {
        graph.add(
          from: ClassID(Int32(a)), to: ClassID(Int32(b)), kinds: .exclusiveToNonRecursive,
          origin: .unknown, thread: ThreadID(0), skipsIrqUsage: skips)
      }
      guard step % 10 == 9 else { continue }
      for c in 0..<classes {
        let id = ClassID(Int32(c))
        var reaching = UsageMask()
        var reachable = UsageMask()
        for x in 0..<classes where !skipped.contains(c) && !skipped.contains(x) {
          let other = ClassID(Int32(x))
          if x == c || TopologicalOrderTests.reaches(graph, from: other, to: id, avoiding: skipped)
          {
            reaching.formUnion(usage[x].intersection(.usedInAll))
          }
          if x == c || TopologicalOrderTests.reaches(graph, from: id, to: other, avoiding: skipped)
          {
            reachable.formUnion(usage[x].intersection(.enabledAll))
          }
        }
        #expect(
          graph.usedInReaching(id) == reaching,
          "seed \(seed): class \(c)'s used-in bits that reach it")
        #expect(
          graph.enabledReachable(from: id) == reachable,
          "seed \(seed): class \(c)'s enabled bits it reaches")
      }
    }
  }
}
