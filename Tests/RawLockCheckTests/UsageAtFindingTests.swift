import Foundation
import Testing

/// A finding prints each class's usage bits as they were when it was made,
/// as lockdep's splat prints them (`print_lock_name()` at the time): a
/// report printed at the trace's end printed the chain's and the irq
/// paths' classes with bits that later events set (`{+.?.}` for a class
/// used in a softirq only after the cycle was found). The property: the
/// first finding's block of a trace reads the same as that of the trace
/// cut right after the event that found it.
@Suite struct UsageAtFindingTests {
  static let header = "rawlockcheck-trace 1\nclass A raw_spinlock\nclass B raw_spinlock\n"

  /// Thread `thread` takes A, then B, in a softirq with interrupts on:
  /// both get softirq bits, and A, used in a hardirq before, `?` there.
  static func softirqUse(by thread: Int) -> String {
    ["softirq-enter", "acquire A", "release A", "acquire B", "release B", "softirq-exit"]
      .map { "\(thread) \($0)\n" }.joined()
  }

  /// Each trace: the events up to and including the first finding, then
  /// events that give its classes new usage bits.
  static let cases: [(name: String, found: String, later: String)] = [
    (
      "circular dependency",
      """
      1 acquire A
      1 acquire B
      1 release B
      1 release A
      2 acquire B
      2 acquire A

      """,
      "2 release A\n2 release B\n" + softirqUse(by: 3)
    ),
    (
      "irq-unsafe dependency",
      """
      1 hardirq-enter
      1 acquire A
      1 release A
      1 hardirq-exit
      2 acquire B
      2 release B
      3 irq-disable
      3 acquire A
      3 acquire B

      """,
      "3 release B\n3 release A\n3 irq-enable\n" + softirqUse(by: 4)
    ),
    (
      "irq lock inversion",
      """
      1 acquire B
      1 release B
      2 irq-disable
      2 acquire A
      2 acquire B
      2 release B
      2 release A
      2 irq-enable
      3 hardirq-enter
      3 acquire A

      """,
      "3 release A\n3 hardirq-exit\n" + softirqUse(by: 4)
    ),
  ]

  /// The first block of a text report, up to its `found at` line.
  static func firstBlock(_ report: String) -> String {
    report.split(separator: "\n").prefix { !$0.hasPrefix("found at ") }.joined(separator: "\n")
  }

  /// Per case: a line of its finding's title, the usage its classes had
  /// then (lockdep's `mark_usage()`: `+` enabled, `-` used in, `?` both,
  /// hardirq write, read, softirq write, read), and what the later events
  /// made of them, which the finding must not print (a softirq on a
  /// thread with interrupts on: `?` hardirq, enabled there and used in a
  /// hardirq before, and `-` or `?` softirq).
  static let expected: [String: (title: String, then: [String], later: [String])] = [
    "circular dependency": (
      "WARNING: possible circular locking dependency detected", ["-> #0 (A){+.+.}"],
      ["(A){+.?.}", "(B){+.?.}"]
    ),
    // A used in a hardirq only (taken with interrupts off elsewhere), B
    // taken with everything on.
    "irq-unsafe dependency": (
      "WARNING: HARDIRQ-safe -> HARDIRQ-unsafe lock order detected", ["(A){-...}", "(B){+.+.}"],
      ["(A){?.-.}", "(B){+.?.}"]
    ),
    "irq lock inversion": (
      "WARNING: possible irq lock inversion dependency detected", ["(A){-...}", "(B){+.+.}"],
      ["(A){?.-.}", "(B){+.?.}"]
    ),
  ]

  @Test(arguments: cases.map(\.name))
  func laterUsageIsNotPrinted(name: String) throws {
    let (_, found, later) = try #require(Self.cases.first { $0.name == name })
    let (title, then, laterUsage) = try #require(Self.expected[name])
    let cut = try ToolRun(["report", "-"], input: Self.header + found)
    let whole = try ToolRun(["report", "-"], input: Self.header + found + later)
    #expect(cut.status == 1 && whole.status == 1, "\(cut.stderr)\(whole.stderr)")
    let block = Self.firstBlock(whole.stdout)
    #expect(block.contains(title), "\(block)")
    for usage in then { #expect(block.contains(usage), "\(usage) in \(block)") }
    for usage in laterUsage {
      #expect(!block.contains(usage), "\(usage) in \(block)")
      // The later events did give the classes those bits.
      #expect(whole.stdout.contains(usage), "\(usage)")
    }
    #expect(block == Self.firstBlock(cut.stdout))
  }
}
