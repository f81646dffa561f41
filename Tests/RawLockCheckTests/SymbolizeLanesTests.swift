import ArgumentParser
import Foundation
import Testing

@testable import rawlockcheck

/// `symbolize` prints the same bytes on any number of lanes (`--jobs`), and
/// its quick argument parser agrees with ArgumentParser.
@Suite struct SymbolizeLanesTests {
  /// 3,000 addresses inside the tool's own functions (enough chunks for the
  /// lanes to open and split them), from nm.
  static func addresses() throws -> String {
    let listing = try SymbolizedReportTests.shell(
      "nm -S --defined-only '\(FixturePaths.tool.path)' | awk '$3 ~ /^[tT]$/ { print $1, $2 }'")
    var functions: [(UInt64, UInt64)] = []
    for line in listing.split(separator: "\n") {
      let fields = line.split(separator: " ")
      if fields.count == 2, let start = UInt64(fields[0], radix: 16),
        let size = UInt64(fields[1], radix: 16), size > 0
      {
        functions.append((start, size))
      }
    }
    try #require(functions.count > 100, "nm found \(functions.count) functions")
    var generator = SystemRandomNumberGenerator()
    return (0..<3000).map { _ in
      let (start, size) = functions.randomElement(using: &generator)!
      return "0x" + String(start + UInt64.random(in: 0..<size, using: &generator), radix: 16)
    }.joined(separator: "\n") + "\n"
  }

  @Test(arguments: ["text", "json"])
  func anyNumberOfLanesPrintsTheSameAnswers(format: String) throws {
    let input = try Self.addresses()
    func run(_ jobs: Int) throws -> String {
      let run = try ToolRun(
        ["symbolize", "--exe", FixturePaths.tool.path, "--format", format, "--jobs", "\(jobs)"],
        input: input)
      #expect(run.status == 0, "\(run.stderr)")
      return run.stdout
    }
    let one = try run(1)
    #expect(one.split(separator: "\n").count >= 3000)
    #expect(try run(2) == one)
    #expect(try run(3) == one)
  }

  @Test func jobsOutOfRangeIsAUsageError() throws {
    for jobs in ["0", "65", "-1"] {
      let run = try ToolRun(["symbolize", "--exe", FixturePaths.tool.path, "--jobs", jobs, "0x0"])
      #expect(run.status == 2, "--jobs \(jobs)")
      #expect(run.stdout.isEmpty)
      #expect(run.stderr.contains("jobs"), "\(run.stderr)")
    }
  }

  /// The fields of a parsed command, to compare.
  static func fields(_ command: SymbolizeCommand) -> String {
    "\(command.exe)|\(command.format)|\(command.debugDir)|\(String(describing: command.jobs))|\(command.addresses)"
  }

  @Test(arguments: [
    ["--exe", "/bin/ls"],
    ["--exe=/bin/ls", "0x10", "20"],
    ["0x10", "--exe", "/bin/ls", "--format", "json", "0x20"],
    ["--exe", "/bin/ls", "--format=text", "--debug-dir", "/a", "--debug-dir=/b", "--jobs", "3"],
    ["--jobs=1", "--exe", "a b"],
  ])
  func quickParseAgreesWithArgumentParser(arguments: [String]) throws {
    let quick = try #require(SymbolizeCommand.quickParse(arguments))
    let parsed = try SymbolizeCommand.parse(arguments)
    #expect(Self.fields(quick) == Self.fields(parsed))
  }

  @Test(arguments: [
    [], ["0x10"], ["--help"], ["-h"], ["--exe"], ["--exe", "/bin/ls", "--exe", "/bin/cat"],
    ["--exe", "/bin/ls", "--format", "xml"], ["--exe", "/bin/ls", "--jobs", "0"],
    ["--exe", "/bin/ls", "--jobs", "many"], ["--exe", "/bin/ls", "--unknown", "1"],
    ["--exe", "/bin/ls", "--", "0x10"], ["--exe", "/bin/ls", "-0x10"], ["--exe="],
  ])
  func quickParseLeavesEverythingElseToArgumentParser(arguments: [String]) {
    #expect(SymbolizeCommand.quickParse(arguments) == nil)
  }
}
