import Foundation
import Testing

/// Known engine bugs, through the `rawlockcheck report` binary. These tests
/// fail until the engine is fixed; they are not marked as known issues on
/// purpose.
@Suite struct RegressionCommandTests {
  /// Writes `body` after the header to a temporary trace and reports on it.
  static func report(_ body: String, format: String = "text") throws -> ToolRun {
    let dir = FileManager.default.temporaryDirectory
      .appendingPathComponent("regression-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    try Data(("rawlockcheck-trace 1\n" + body).utf8).write(
      to: dir.appendingPathComponent("t.rlt"))
    return try ToolRun(["report", "--format", format, "t.rlt"], in: dir)
  }

  /// A class declared after a subclass variant was created: a valid trace,
  /// which must not crash (it stopped with "Index out of range").
  @Test func classDeclaredAfterASubclassVariant() throws {
    let run = try Self.report(
      """
      class A mutex
      1 acquire A sub=1
      class B mutex
      1 release A

      """)
    #expect(run.status == 0)
    #expect(run.stdout == "t.rlt: 2 events, no findings\n")
    #expect(run.stderr.isEmpty)
  }

  /// The same AB-BA cycle four times: one finding, "4 times".
  @Test func repeatedCycleIsCountedFourTimes() throws {
    let round = """
      1 acquire A
      1 acquire B
      1 release B
      1 release A
      2 acquire B
      2 acquire A
      2 release A
      2 release B

      """
    let trace = "class A mutex\nclass B mutex\n" + String(repeating: round, count: 4)
    let text = try Self.report(trace)
    #expect(text.status == 1)
    #expect(text.stdout.contains("found at t.rlt:9 (event 6), 4 times\n"))
    #expect(text.stdout.hasSuffix("t.rlt: 32 events, 1 finding (circular-dependency 1)\n"))
    let json = try Self.report(trace, format: "json")
    let findings = try #require(
      (try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])?[
        "findings"] as? [[String: Any]])
    #expect(findings.count == 1)
    #expect(findings.first?["count"] as? Int == 4)
  }

  /// Four recursive acquisitions of one class, each released before the
  /// next: one finding, "4 times".
  @Test func repeatedRecursionIsCountedFourTimes() throws {
    let round = """
      1 acquire A inst=0x10
      1 acquire A inst=0x20
      1 release A inst=0x20
      1 release A inst=0x10

      """
    let text = try Self.report("class A mutex\n" + String(repeating: round, count: 4))
    #expect(text.status == 1)
    #expect(text.stdout.contains("found at t.rlt:4 (event 2), 4 times\n"))
    #expect(text.stdout.hasSuffix("t.rlt: 16 events, 1 finding (recursive-locking 1)\n"))
  }
}
