import Foundation
import RCU
import Testing

@testable import rawlockcheck

/// A design's figure over its timed runs: the time and the counts are the
/// same run's, the median by time (so that the table's row describes one
/// real run), and every run's counts are in the JSON beside its times.
/// Before, the counts were the first run's whatever its time.
@Suite struct DemoMedianRunTests {
  static func run(seconds: Double, fallbacks: Int, pages: Int) -> DemoResult {
    var statistics = KvfreeStatistics()
    statistics.arrayPagesAllocated = pages
    statistics.arrayPagesUsed = pages - 1
    statistics.listFallbacks = fallbacks
    statistics.nolockFailures = fallbacks / 2
    return DemoResult(
      design: .noLocks, findings: [], statistics: statistics, objects: 1000, seconds: seconds,
      hold: DemoHoldTimes(samples: [1]))
  }

  static let runs = [
    run(seconds: 0.005, fallbacks: 14_513, pages: 30),
    run(seconds: 0.001, fallbacks: 605, pages: 20),
    run(seconds: 0.003, fallbacks: 8_244, pages: 25),
    run(seconds: 0.004, fallbacks: 8_525, pages: 26),
    run(seconds: 0.002, fallbacks: 12_185, pages: 28),
  ]

  @Test func theCountsAreTheMedianTimeRuns() {
    let median = DemoResult(median: Self.runs)
    #expect(median.seconds == 0.003)
    #expect(median.statistics == Self.runs[2].statistics)
    #expect(median.runStatistics == Self.runs.map(\.statistics))
  }

  @Test func jsonListsEveryRunsCounts() throws {
    let median = DemoResult(median: Self.runs)
    let baseline = DemoBaseline(objects: 1000, seconds: 0.001, hold: DemoHoldTimes(samples: [1]))
    let text = DemoJSON.design(median, baseline: baseline).render()
    let object = try #require(
      try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
    #expect(object["listFallbacks"] as? Int == 8_244)
    #expect(object["listFallbacksRuns"] as? [Int] == [14_513, 605, 8_244, 8_525, 12_185])
    #expect(object["nolockFailuresRuns"] as? [Int] == Self.runs.map(\.statistics.nolockFailures))
    #expect(object["arrayPagesAllocatedRuns"] as? [Int] == [30, 20, 25, 26, 28])
    #expect(object["arrayPagesUsedRuns"] as? [Int] == [29, 19, 24, 25, 27])
    #expect(object["nsPerObjectRuns"] as? [Int] == [5_000, 1_000, 3_000, 4_000, 2_000])
  }
}
