import Foundation
import Testing

/// `generate --events N` writes exactly N events, in every shape, and the
/// trace stays clean (what it still owes is written, the rest filled).
@Suite struct GenerateCommandTests {
  @Test(arguments: ["reuse", "low-reuse", "churn"])
  func writesExactlyTheEventsAsked(shape: String) throws {
    for (events, extra) in [
      (1, [String]()), (2, []), (3, []), (17, []), (1000, []), (4_099, ["--threads", "3"]),
      (20_001, ["--stacks", "8"]),
    ] {
      let generated = try ToolRun(
        ["generate", "--shape", shape, "--events", "\(events)", "--seed", "\(events)"] + extra)
      #expect(generated.status == 0, "\(generated.stderr)")
      let lines = generated.stdout.split(separator: "\n").filter {
        !$0.hasPrefix("#") && !$0.hasPrefix("rawlockcheck-trace")
          && !$0.hasPrefix("class ") && !$0.hasPrefix("stack ") && !$0.hasPrefix("thread ")
      }
      #expect(lines.count == events, "\(shape) --events \(events)")
      let report = try ToolRun(["report", "-"], input: generated.stdout)
      #expect(report.status == 0, "\(shape) --events \(events): \(report.stdout)")
      #expect(report.stdout == "-: \(events) event\(events == 1 ? "" : "s"), no findings\n")
    }
  }
}
