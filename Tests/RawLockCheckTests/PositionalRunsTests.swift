import Foundation
import Testing

@testable import rawlockcheck

/// Long lists of traces are folded before swift-argument-parser sees them
/// (its array arguments cost N² in the number of values) and unfolded in
/// the command: what the command gets must be what the user typed, in
/// order, whatever options are among the traces.
@Suite struct PositionalRunsTests {
  @Test func foldingThenUnfoldingGivesTheTracesInOrder() {
    let arguments = [
      "report", "a", "b", "c", "--format", "json", "d", "e", "f", "-", "g", "--merge", "h",
      "", "i", "--", "-j", "k", "l", "m",
    ]
    let folded = PositionalRuns.collapse(arguments)
    #expect(folded.count < arguments.count)
    // Every option, and every argument after one, stays where it was.
    for kept in ["--format", "json", "--merge", "h", "--", "-j", "k"] {
      #expect(folded.contains(kept), "\(kept) is not in \(folded)")
    }
    // What the parser would give as positional values: the arguments
    // that are not options or their values, in order.
    let positional = folded.enumerated().filter { index, argument in
      index > 0 && argument.first != "-" || argument == "-"
    }.map(\.element).filter { $0 != "json" }
    #expect(
      PositionalRuns.expand(positional)
        == ["a", "b", "c", "d", "e", "f", "-", "g", "h", "", "i", "k", "l", "m"])
  }

  @Test func shortRunsAndOtherCommandsAreLeftAlone() {
    #expect(
      PositionalRuns.collapse(["report", "a", "--merge", "b"]) == ["report", "a", "--merge", "b"])
    let convert = ["convert", "a", "b", "c"]
    #expect(PositionalRuns.collapse(convert) == convert)
    #expect(PositionalRuns.expand(["a", "", "-"]) == ["a", "", "-"])
  }

  /// Through the tool: many traces with options among them report each
  /// trace in the order given (a fold that lost or reordered one would
  /// show here), and a trace that cannot be read is named as typed.
  @Test func manyTracesAreReportedInTheOrderGiven() throws {
    let names = ["clean/nested-ok.rlt", "findings/circular-abba.rlt", "clean/interrupts-ok.rlt"]
    var arguments = ["report", "--format", "json"]
    var expected: [String] = []
    for i in 0..<300 {
      let name = names[i % names.count]
      arguments.append(name)
      expected.append(name)
      if i == 150 { arguments += ["--no-raw-nesting", "--reader-thread", "off"] }
    }
    arguments.append("no-such-trace.rlt")
    let run = try ToolRun(arguments)
    #expect(run.status == 2)
    #expect(run.stderr.hasPrefix("rawlockcheck: no-such-trace.rlt: "), "\(run.stderr)")
    let objects = try #require(
      JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [[String: Any]])
    #expect(objects.compactMap { $0["source"] as? String } == expected)
  }
}
