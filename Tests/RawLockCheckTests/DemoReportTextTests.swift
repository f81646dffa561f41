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
      statistics: KvfreeStatistics(), objects: 1, seconds: 1)
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

  @Test func theVerdictNamesWhatWasWrong() {
    let pcp = Self.report(taking: "&pcp->lock", holding: ["&krcp->lock"])
    let text = DemoText.verdict(
      [Self.result(.inlineNowait, [(.invalidWaitContext, pcp)])], expected: false)
    #expect(text.hasPrefix("NOT as expected: "))
    #expect(text.contains("inline-nowait did not find &zone->lock taken under &krcp->lock"))
    #expect(text.contains("1 other finding(s): invalid-wait-context"))
  }
}
