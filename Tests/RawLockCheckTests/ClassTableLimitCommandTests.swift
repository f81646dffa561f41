import Foundation
import Testing

/// A trace that declares a class past the class table (lockdep's
/// MAX_LOCKDEP_KEYS, 1,048,576 classes here) and takes it: every command
/// that validates it reports or counts the acquisition as the one
/// `limit-exceeded` finding it is and goes on (spec/reports.md: "validation
/// goes on where it can"), as `report` does. `stats` crashed on it, and
/// `report --merge`, `--graph-out` and `graph` refused the whole trace.
@Suite(.serialized) struct ClassTableLimitCommandTests {
  /// 1,048,577 mutex classes, the last one past the table; thread 1 takes
  /// it and then `A` under `first`, which must still be validated.
  static let trace: String = {
    var text = "rawlockcheck-trace 1\n"
    text.reserveCapacity(22_000_000)
    for i in 0..<1_048_577 { text += "class c\(i) mutex\n" }
    text += "1 acquire c1048576\n1 release c1048576\n"
    text += "1 acquire c0\n1 acquire c1\n1 release c1\n1 release c0\n"
    return text
  }()

  static func directory() throws -> URL {
    try MergeCommandTests.directory([
      "over.rlt": trace,
      "other.rlt": "rawlockcheck-trace 1\nclass c0 mutex\n2 acquire c0\n2 release c0\n",
    ])
  }

  @Test func statsCountsTheFindingAndTheOtherClasses() throws {
    let dir = try Self.directory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let run = try ToolRun(["stats", "--format", "json", "over.rlt"], in: dir)
    #expect(run.status == 0, "\(run.stderr)")
    let object = try #require(
      try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
    let findings = try #require(object["findings"] as? [String: [String: Int]])
    #expect(findings == ["limit-exceeded": ["distinct": 1, "occurrences": 1]])
    // c0 -> c1 was validated after the class past the table.
    #expect(object["dependencies"] as? Int == 1)
    #expect(object["acquisitions"] as? Int == 2)
  }

  @Test func mergeAndGraphOutReportTheFindingAndGoOn() throws {
    let dir = try Self.directory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let run = try ToolRun(
      ["report", "--merge", "--graph-out", "seen.rlg", "over.rlt", "other.rlt"], in: dir)
    #expect(run.status == 1, "\(run.stderr)")
    #expect(run.stdout.contains("BUG: MAX_LOCKDEP_KEYS too low!"))
    let graph = try String(contentsOf: dir.appendingPathComponent("seen.rlg"), encoding: .utf8)
    // The one dependency, c0 -> c1, is in the graph file.
    #expect(graph.split(separator: "\n").filter { $0.hasPrefix("edge ") }.count == 1)
  }

  /// `graph` draws the rest and says what it could not draw (it drew
  /// nothing of it, silently, and exited 0).
  @Test func graphSaysWhatItCouldNotDraw() throws {
    let dir = try Self.directory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let run = try ToolRun(["graph", "--format", "json", "-o", "g.json", "over.rlt"], in: dir)
    #expect(run.status == 0, "\(run.stderr)")
    #expect(
      run.stderr
        == "rawlockcheck: graph: over.rlt: 1 acquisition(s) of classes past the class table "
        + "(MAX_LOCKDEP_KEYS, 1048576) not drawn\n")
  }

  /// Address space too small for the class table (`ulimit -v` of 60 MiB,
  /// where the table reserves more): one line and status 2, as for an
  /// input it cannot take; it was a `fatalError` (SIGILL, status 132).
  @Test func tooLittleAddressSpaceIsOneLineAndStatusTwo() throws {
    let trace = FixturePaths.traces.appendingPathComponent("findings/circular-abba.rlt").path
    let run = try ToolRun.command(
      "/bin/sh", ["-c", "ulimit -v 61440 && '\(FixturePaths.tool.path)' report '\(trace)'"])
    #expect(run.status == 2, "\(run.stderr)")
    #expect(run.stderr.hasPrefix("rawlockcheck: cannot reserve "), "\(run.stderr)")
    #expect(run.stderr.contains("of address space for lock classes"))
    #expect(run.stderr.filter { $0 == "\n" }.count == 1, "\(run.stderr)")
  }
}
