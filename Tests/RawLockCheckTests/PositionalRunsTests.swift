import ArgumentParser
import Foundation
import Testing

@testable import rawlockcheck

/// Long lists of traces are folded before swift-argument-parser sees them
/// (its array arguments cost N² in the number of values) and unfolded in
/// the command: what the command gets, or the error the user reads, must
/// be what the parser makes of the arguments unfolded.
@Suite struct PositionalRunsTests {
  /// Argument lists around every way an option takes its value: `--name
  /// value`, `--name=value`, a short option and clusters of them (each
  /// letter may take the next argument), `--` (everything after it
  /// positional), `-` (standard input), an empty argument, an option
  /// whose value starts with `-` (`.unconditional`), and mistakes.
  static let cases: [[String]] = [
    [
      "report", "a", "b", "c", "--format", "json", "d", "e", "f", "-", "g", "--merge", "h", "", "i",
    ],
    ["report", "--format=json", "a", "b", "c"],
    ["report", "a", "b", "--", "-c", "d", "e", "-f"],
    ["report", "--hide-frames", "x", "a", "b", "--binary", "y", "c", "d"],
    ["report", "a", "b", "c", "--format"],
    ["report", "a", "b", "c", "--format", "yaml", "d", "e"],
    ["report", "a", "b", "c", "--bogus", "d", "e"],
    ["stats", "--format", "json", "a", "b", "c", "d"],
    ["graph", "-o", "g.dot", "a", "b", "c"],
    ["graph", "-oo", "x.dot", "a", "b", "c"],
    ["graph", "-ox.dot", "a", "b", "c", "d"],
    ["graph", "--max-edges", "-1", "a", "b", "c"],
    ["graph", "--max-edges", "--", "a", "b", "c"],
    ["graph", "a", "b", "-h", "c", "d"],
    ["stats", "a", "b", "c", "help", "d"],
    ["symbolize", "--exe", "p", "0x1", "0x2", "0x3", "--jobs", "2", "4", "5"],
    ["symbolize", "0x1", "0x2", "0x3", "--binary=p", "--format", "json", "6", "7"],
    ["symbolize", "0x1", "0x2", "0x3"],
  ]

  /// What the parser made of `arguments`: the command, as its fields
  /// print, or the message of the error it threw.
  static func parsed(_ arguments: [String]) -> String {
    do {
      return String(reflecting: try RawLockCheck.parseAsRoot(arguments))
    } catch {
      return "error: " + RawLockCheck.fullMessage(for: error)
    }
  }

  @Test(arguments: cases)
  func foldingChangesNothingTheParserMakesOfTheArguments(_ arguments: [String]) {
    let folded = PositionalRuns.collapse(arguments)
    #expect(Self.parsed(folded) == Self.parsed(arguments))
    #expect(!Self.parsed(folded).contains("\0"))
  }

  @Test func runsAreFolded() {
    let arguments = ["report", "--format", "json"] + (0..<100).map { "t\($0).rlt" }
    #expect(PositionalRuns.collapse(arguments).count == 4)
    #expect(
      PositionalRuns.expand(Array(PositionalRuns.collapse(arguments).dropFirst(3)))
        == Array(arguments.dropFirst(3)))
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
