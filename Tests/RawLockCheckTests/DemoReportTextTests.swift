import LockGraph
import RCU
import Testing

@testable import rawlockcheck

/// The demo's JSON frames, read from its report's `stack backtrace:` lines:
/// the function, and the location after it split into file and line.
@Suite struct DemoReportTextTests {
  @Test func aFrameSplitsItsLocation() throws {
    let full = try #require(
      DemoReportText.frame(
        " #0 specialized closure #1 in PageAllocator.withZoneLock<A>(_:) /src/PageAllocator.swift:276"
      ))
    #expect(full.function == "specialized closure #1 in PageAllocator.withZoneLock<A>(_:)")
    #expect(full.file == "/src/PageAllocator.swift" && full.line == 276 && !full.inlined)
    // A location without a line is the file alone, not part of the name.
    let generated = try #require(
      DemoReportText.frame(
        " #2 partial apply for closure #1 in f() <compiler-generated> [inlined]"))
    #expect(generated.function == "partial apply for closure #1 in f()")
    #expect(generated.file == "<compiler-generated>" && generated.line == nil && generated.inlined)
    let bare = try #require(DemoReportText.frame(" #3 merged static Checked.withSoftIRQ<A, B>(_:)"))
    #expect(bare.function == "merged static Checked.withSoftIRQ<A, B>(_:)" && bare.file == nil)
  }
}

/// The demo's verdict: the design that must find the bug passes only with
/// the invalid wait context of `&zone->lock` under the raw `&krcp->lock`,
/// and nothing else; a clean design only with no finding at all.
@Suite struct DemoVerdictTests {
  static func report(taking lock: String, holding held: [String]) -> String {
    var text = "[ BUG: Invalid wait context ]\n-----------------------------\n"
    text += "demo/1 is trying to lock:\n (\(lock)){....}-{3:3}, at: f() (/src/a.swift:1)\n"
    text += "other info that might help us debug this:\n"
    text += "\(held.count) lock\(held.count == 1 ? "" : "s") held by demo/1:\n"
    for (i, name) in held.enumerated() { text += " #\(i): (\(name)){....}-{2:2}, at: g()\n" }
    return text + "stack backtrace:\n #0 f() /src/a.swift:1\n"
  }

  static func result(_ design: DemoDesign, _ findings: [(FindingKind, String)]) -> DemoResult {
    DemoResult(
      design: design, findings: findings.map { DemoFinding(kind: $0.0, count: 1, text: $0.1) },
      statistics: KvfreeStatistics(), objects: 1, seconds: 1, hold: DemoHoldTimes(samples: []))
  }

  static let theBug = report(taking: "&zone->lock", holding: ["&some_lock", "&krcp->lock"])

  @Test func theBugAloneIsExpected() {
    #expect(Self.result(.inlineNowait, [(.invalidWaitContext, Self.theBug)]).asExpected)
    #expect(Self.result(.deferred, []).asExpected)
  }

  @Test func anotherFindingIsNotExpected() {
    // The bug found, and a cycle besides; another lock; another kind; nothing.
    let cycle = (FindingKind.circularDependency, Self.theBug)
    #expect(!Self.result(.inlineNowait, [(.invalidWaitContext, Self.theBug), cycle]).asExpected)
    let pcp = Self.report(taking: "&pcp->lock", holding: ["&krcp->lock"])
    #expect(!Self.result(.inlineNowait, [(.invalidWaitContext, pcp)]).asExpected)
    let notUnderKrcp = Self.report(taking: "&zone->lock", holding: ["&some_lock"])
    #expect(!Self.result(.inlineNowait, [(.invalidWaitContext, notUnderKrcp)]).asExpected)
    #expect(!Self.result(.inlineNowait, [(.sleepInAtomic, Self.theBug)]).asExpected)
    #expect(!Self.result(.inlineNowait, []).asExpected)
    #expect(!Self.result(.nolock, [(.invalidWaitContext, Self.theBug)]).asExpected)
  }

  /// The verdict covers every timed run: a finding that only a later
  /// run's timing produced counts (only the first run's did before), and
  /// the same finding in several runs, on other threads, is one finding
  /// counted over them.
  @Test func findingsOfEveryRunCount() {
    let clean = Self.result(.deferred, [])
    let unlucky = Self.result(.deferred, [(.invalidWaitContext, Self.theBug)])
    let merged = DemoResult(median: [clean, unlucky, clean])
    #expect(merged.findings.count == 1)
    #expect(!merged.asExpected)
    let onThread2 = Self.theBug.replacingOccurrences(of: "demo/1", with: "demo/2")
    let bug = Self.result(.inlineNowait, [(.invalidWaitContext, Self.theBug)])
    let bugElsewhere = Self.result(.inlineNowait, [(.invalidWaitContext, onThread2)])
    let both = DemoResult(median: [bug, bugElsewhere, bug])
    #expect(both.findings.map(\.count) == [3])
    #expect(both.asExpected)
  }

  @Test func theVerdictNamesWhatWasWrong() {
    let pcp = Self.report(taking: "&pcp->lock", holding: ["&krcp->lock"])
    let text = DemoText.verdict(
      [Self.result(.inlineNowait, [(.invalidWaitContext, pcp)])], expected: false)
    #expect(text.hasPrefix("NOT as expected: "))
    #expect(text.contains("inline-nowait did not find &zone->lock taken under &krcp->lock"))
    #expect(text.contains("1 other finding(s): invalid-wait-context"))
  }
}

/// The hold-time figures: nearest-rank percentiles of one run, and each
/// percentile's median over runs.
@Suite struct DemoHoldTimesTests {
  @Test func percentilesAreNearestRank() {
    let times = DemoHoldTimes(samples: Array((1...2000).reversed()))
    // 50 % of 2,000 samples is the 1,000th smallest; 99.9 % the 1,998th.
    #expect(times == DemoHoldTimes(p50: 1000, p999: 1998, max: 2000))
    #expect(DemoHoldTimes(samples: [7]) == DemoHoldTimes(p50: 7, p999: 7, max: 7))
    #expect(DemoHoldTimes(samples: []) == DemoHoldTimes(p50: 0, p999: 0, max: 0))
    // Three slow calls in 1,000: the 99.9th percentile is one of them.
    let slow = DemoHoldTimes(samples: Array(repeating: 100, count: 997) + [9000, 8000, 7000])
    #expect(slow == DemoHoldTimes(p50: 100, p999: 8000, max: 9000))
  }

  @Test func eachPercentileIsItsMedianRun() {
    let runs = [
      DemoHoldTimes(p50: 1, p999: 50, max: 900),
      DemoHoldTimes(p50: 3, p999: 10, max: 100),
      DemoHoldTimes(p50: 2, p999: 30, max: 500),
    ]
    #expect(DemoHoldTimes(median: runs) == DemoHoldTimes(p50: 2, p999: 30, max: 500))
  }
}
