import LockGraph
import Testing

@testable import rawlockcheck

/// The demo's count of each finding is the number of times it happened:
/// the sum of its occurrences' counts, not the number of occurrences.
@Suite struct DemoTallyTests {
  private func finding(_ text: String) -> DemoFinding {
    DemoFinding(kind: .invalidWaitContext, count: 0, text: text)
  }

  @Test func countsEveryTimeAFindingHappened() {
    var tally = DemoTally()
    tally.add(identity: "a", count: 3) { finding("A") }
    tally.add(identity: "b", count: 1) { finding("B") }
    tally.add(identity: "a", count: 2) { finding("A again") }
    #expect(tally.findings.map(\.text) == ["A", "B"])
    #expect(tally.findings.map(\.count) == [5, 1])
  }

  @Test func oneOccurrenceThatHappenedOftenCountsEachTime() {
    var tally = DemoTally()
    tally.add(identity: "a", count: 17) { finding("A") }
    #expect(tally.findings.map(\.count) == [17])
  }
}
