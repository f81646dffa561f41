import Synchronization

#if canImport(Glibc)
  import Glibc
#endif

/// How long the demo's threads stayed inside `&some_lock` per object: the
/// time `kfree_rcu(p)` keeps its caller in raw atomic context, which is
/// what PREEMPT_RT's latency depends on (a page allocated under the raw
/// lock lengthens it; a design that only takes cached pages does not).
/// In the baseline, the same section with nothing in it: the floor, the
/// cost of reading the clock twice.
///
/// Percentiles are nearest-rank: `p999` is the time that 99.9 % of the
/// calls took at most. The figure over several runs is each percentile's
/// median run, as the demo's times are.
struct DemoHoldTimes: Equatable {
  /// The median, in nanoseconds.
  var p50: Int
  /// The 99.9th percentile, in nanoseconds: the 33rd slowest of the
  /// default run's 32,768 calls, whatever it did (a page allocation, the
  /// post that wakes a worker, a preemption).
  var p999: Int
  /// The slowest call, in nanoseconds (on a shared machine this includes
  /// the thread being preempted inside the section).
  var max: Int

  /// The percentiles of `samples` (nanoseconds, in any order); all zero
  /// when there are none.
  init(samples: [Int]) {
    let sorted = samples.sorted()
    func rank(_ parts: Int, perThousand: Int) -> Int {
      guard !sorted.isEmpty else { return 0 }
      // Nearest rank: the smallest value with at least that share of the
      // samples at or below it, the rank rounded up (in integers: 99.9 %
      // of 2,000 is exactly the 1,998th).
      let r = (sorted.count * parts + perThousand - 1) / perThousand
      return sorted[Swift.max(r, 1) - 1]
    }
    p50 = rank(500, perThousand: 1000)
    p999 = rank(999, perThousand: 1000)
    max = sorted.last ?? 0
  }

  /// Each percentile's median over `runs` (an odd number of runs).
  init(median runs: [DemoHoldTimes]) {
    func median(_ field: KeyPath<DemoHoldTimes, Int>) -> Int {
      runs.map { $0[keyPath: field] }.sorted()[runs.count / 2]
    }
    p50 = median(\.p50)
    p999 = median(\.p999)
    max = median(\.max)
  }

  /// A figure from its three percentiles.
  init(p50: Int, p999: Int, max: Int) {
    self.p50 = p50
    self.p999 = p999
    self.max = max
  }

  /// The monotonic clock in nanoseconds.
  @inline(__always)
  static func now() -> Int {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return ts.tv_sec &* 1_000_000_000 &+ ts.tv_nsec
  }
}

/// Every thread's hold times of one run, handed in once per thread when it
/// is done (the threads record into arrays of their own meanwhile).
final class DemoHoldSamples: Sendable {
  private let samples = Mutex<[Int]>([])

  /// Adds one thread's samples.
  func add(_ thread: [Int]) { samples.withLock { $0.append(contentsOf: thread) } }

  /// The percentiles of every sample added.
  var times: DemoHoldTimes { DemoHoldTimes(samples: samples.withLock { $0 }) }
}
