import LockGraph
import Report
import Testing
import WaitContext

/// A report prints at most `FrameBudget.frames` frames in full (a million
/// by default), then each stack's innermost frame only: a long chain
/// closed again and again printed every link's whole stack each time, a
/// 1.4 MB trace making a 14 GB JSON report.
@Suite struct ReportFrameBudgetTests {
  /// An ABBA whose every place has a stack of 100 frames (three stacks
  /// printed whole, and three lock lines naming a first frame), reported
  /// with a budget of 150 frames: one whole stack, half of the second, the
  /// third its innermost frame alone, each cut stack saying why.
  @Test func pastTheBudgetEachStackPrintsItsInnermostFrame() throws {
    var validator = LockValidator()
    let waits = try ClassWaitTypes(kind: .mutex)
    let a = validator.declareClass(key: "a", kind: .mutex, waits: waits)
    let b = validator.declareClass(key: "b", kind: .mutex, waits: waits)
    let thread = validator.declareThread(token: "1")
    var origin = Origin()
    origin.stack = StackID(0)
    for (first, second) in [(a, b), (b, a)] {
      for (verb, cls) in [
        (LockEvent.Verb.acquire, first), (.acquire, second), (.release, second), (.release, first),
      ] {
        try validator.process(LockEvent(verb, thread: thread, lockClass: cls, origin: origin))
      }
    }
    #expect(validator.findings.count == 1)
    let stack = (0..<100).map { 0x1000 + UInt64($0) * 16 }
    let resolver = AddressFrameResolver(stacks: [stack])
    var report = TextReport(validator: validator, source: "t", resolver: resolver)
    report.frameBudget = FrameBudget(frames: 150)
    let text = report.render()
    let frameLines = text.split(separator: "\n").filter { $0.contains("0x") }
    let stacks = text.components(separatedBy: "0x1000").count - 1
    #expect(stacks >= 4, "\(text)")
    // 150 in full, then one a stack.
    #expect(frameLines.count <= 150 + stacks, "\(frameLines.count) frame lines")
    #expect(frameLines.count > 150)
    #expect(
      text.contains("... 50 more frames (the report printed 150 frames: one a stack from here)"))
    // The last stack printed its innermost frame and nothing more.
    #expect(
      text.contains("#0 0x1000\n ... 99 more frames (the report printed 150 frames"), "\(text)")
    // The default budget prints every stack of this report whole.
    let whole = TextReport(validator: validator, source: "t", resolver: resolver).render()
    #expect(!whole.contains("more frames"))
    // Three stacks of 100 frames, and three lock lines naming the first.
    #expect(whole.split(separator: "\n").filter { $0.contains("0x") }.count == 303)
  }
}
