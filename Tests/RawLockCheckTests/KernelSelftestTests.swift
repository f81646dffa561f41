import Foundation
import LockGraph
import Testing
import Trace
import WaitContext

/// Replays the Linux kernel's own lockdep selftests (`lib/locking-selftest.c`,
/// translated to traces under Fixtures/traces/selftest) with the kernel's
/// expected outcomes: SUCCESS means no finding at all; FAILURE means the
/// first lockdep finding (by event order; `sleep-in-atomic` is not lockdep's)
/// is the kind lockdep would print first.
@Suite struct KernelSelftestTests {
  static let cases = FixturePaths.traces(
    under: FixturePaths.traces.appendingPathComponent("selftest"))

  @Test func thereAreSelftests() {
    #expect(Self.cases.count > 300)
  }

  @Test(arguments: cases)
  func selftest(_ url: URL) throws {
    let header = FixturePaths.header(of: url)
    let expectation = try #require(header["kernel"], "no '# kernel:' line")
    let options = header["options"] ?? ""
    var validator = LockValidator(
      configuration: CheckConfiguration(
        proveRawLockNesting: !options.contains("--no-raw-nesting"),
        preemptRT: options.contains("--preempt-rt")))
    _ = try TextTraceReader(path: url.path).read(into: &validator)
    let findings = validator.findings.findings
    let name = url.pathComponents.suffix(2).joined(separator: "/")
    switch expectation {
    case "SUCCESS":
      #expect(
        findings.isEmpty, "\(name): expected no finding, got \(findings.map(\.kind.rawValue))")
    case "FAILURE":
      let expected = try #require(header["expect"], "no '# expect:' line")
      let first = findings.filter(\.kind.isLockdepSplat).min { $0.origin.event < $1.origin.event }
      #expect(
        first?.kind.rawValue == expected,
        "\(name): expected \(expected) first, got \(findings.map { "\($0.kind.rawValue)@\($0.origin.line)" })"
      )
    default:
      Issue.record("\(name): unknown kernel expectation \(expectation)")
    }
  }
}
