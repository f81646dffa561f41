import Foundation
import Testing

/// The dependency paths of a backwards search in the JSON and SARIF
/// reports: each class with the stack where it was taken. A backwards
/// search's `lock_list` entry holds the class reached and the stack of
/// the dependency that led there, which is where the lock after it was
/// taken (lockdep's `print_shortest_lock_dependencies_backwards()` prints
/// each stack under the class after it); the reports paired the class
/// with it, so `&m` was "taken" where `&u` was.
@Suite struct BackwardsPathReportTests {
  /// `S` used in a hard interrupt (irq-safe), then taken with interrupts
  /// off: six lines, the trace going on after them.
  static let sSafeThenHeldWithInterruptsOff = """
    1 hardirq-enter
    1 acquire S
    1 release S
    1 hardirq-exit
    1 irq-disable
    1 acquire S
    """

  /// `S` irq-safe; `S -> M` at line 11, `M -> U` at line 15; `U` then
  /// taken with interrupts on: a backwards inversion from `U` to `S`.
  static let inversion = """
    rawlockcheck-trace 1
    class S raw_spinlock name=&s
    class M raw_spinlock name=&m
    class U raw_spinlock name=&u
    \(sSafeThenHeldWithInterruptsOff)
    1 acquire M
    1 release M
    1 release S
    1 acquire M
    1 acquire U
    1 release U
    1 release M
    1 irq-enable
    1 acquire U

    """

  /// `S` irq-safe, `S -> X` at line 13, `X -> P` at line 14; `N -> U`
  /// at line 19, `U` irq-unsafe; `P -> N` with interrupts off: a
  /// hardirq-safe to hardirq-unsafe dependency, `P` held.
  static let unsafeDependency = """
    rawlockcheck-trace 1
    class S raw_spinlock name=&s
    class X raw_spinlock name=&x
    class P raw_spinlock name=&p
    class N raw_spinlock name=&n
    class U raw_spinlock name=&u
    \(sSafeThenHeldWithInterruptsOff)
    1 acquire X
    1 acquire P
    1 release P
    1 release X
    1 release S
    1 acquire N
    1 acquire U
    1 release U
    1 release N
    1 irq-enable
    1 acquire U
    1 release U
    1 irq-disable
    1 acquire P
    1 acquire N

    """

  /// The JSON object of the report's first finding.
  static func finding(_ trace: String) throws -> [String: Any] {
    let run = try ToolRun(["report", "--format", "json", "-"], input: trace)
    #expect(run.status == 1)
    let object = try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any]
    return try #require((object?["findings"] as? [[String: Any]])?.first)
  }

  /// Each link's class and line.
  static func links(_ value: Any?) -> [String] {
    ((value as? [[String: Any]]) ?? []).map {
      "\($0["class"] as? String ?? "?")@\($0["line"] as? Int ?? 0)"
    }
  }

  @Test func aBackwardsInversionsChainPairsEachClassWithItsAcquisition() throws {
    let f = try Self.finding(Self.inversion)
    #expect(f["direction"] as? String == "backwards")
    #expect(Self.links(f["chain"]) == ["U@15", "M@11"], "\(f)")
  }

  @Test func anUnsafeDependencysSafeSidePairsEachClassWithItsAcquisition() throws {
    let f = try Self.finding(Self.unsafeDependency)
    #expect(Self.links(f["safeToHolding"]) == ["X@13", "P@14"], "\(f)")
    #expect(Self.links(f["lockToUnsafe"]) == ["U@19"], "\(f)")
    // The text's `[HC..]` and usage characters: interrupts off (`HE0`);
    // `X` only ever taken with interrupts off (`....`), `U` taken with
    // interrupts and bottom halves on (`+.+.`: HARDIRQ-ON-W, SOFTIRQ-ON-W).
    #expect(f["irqState"] as? String == "HC0[0]:SC0[0]:HE0:SE1", "\(f)")
    let safeSide = (f["safeToHolding"] as? [[String: Any]]) ?? []
    #expect(safeSide.first?["usage"] as? String == "....", "\(f)")
    let unsafeSide = (f["lockToUnsafe"] as? [[String: Any]]) ?? []
    #expect(unsafeSide.first?["usage"] as? String == "+.+.", "\(f)")
  }

  /// The root's link (the lock being marked, or the held lock) has the
  /// usage the text prints with it.
  @Test func theRootLinkHasTheUsageTheTextPrints() throws {
    let inversion = try Self.finding(Self.inversion)
    let chain = (inversion["chain"] as? [[String: Any]]) ?? []
    #expect(chain.first?["usage"] as? String == "+...", "\(inversion)")
    let unsafe = try Self.finding(Self.unsafeDependency)
    let safeSide = (unsafe["safeToHolding"] as? [[String: Any]]) ?? []
    #expect(safeSide.last?["usage"] as? String == "....", "\(unsafe)")
  }

  /// SARIF's steps say which lock each stack took.
  @Test func sarifSaysWhichLockEachStackTook() throws {
    let run = try ToolRun(["report", "--format", "sarif", "-"], input: Self.inversion)
    let messages = try SARIFReportTests.threadFlowMessages(run)
    #expect(messages.contains("dependency into &u"), "\(messages)")
    #expect(messages.contains("dependency into &m"), "\(messages)")
    #expect(!messages.contains("dependency into &s"), "\(messages)")
  }
}
