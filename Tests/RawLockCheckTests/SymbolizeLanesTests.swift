import ArgumentParser
import Basics
import Foundation
import Symbolizer
import Testing

@testable import rawlockcheck

/// `symbolize` prints the same bytes on any number of lanes (`--jobs`), and
/// its quick argument parser agrees with ArgumentParser.
@Suite struct SymbolizeLanesTests {
  /// 3,000 addresses inside the tool's own functions (12 chunks), from nm.
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

  /// The command prints the same bytes for any `--jobs` (whether lanes open
  /// is `lanesOpenOnlyForDwarfWorthSplitting`'s subject).
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

  /// Feeds `input` to `SymbolizingLanes` in chunks, as `symbolize` does,
  /// and returns what the writer wrote and how many lanes symbolized.
  static func symbolizeInProcess(
    _ input: String, format: TextOrJSONFormat, laneCount: Int, minimumUnitBytes: Int
  ) throws -> (output: String, lanes: Int) {
    let path = FileManager.default.temporaryDirectory
      .appendingPathComponent("lanes-\(UUID().uuidString)").path
    let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    try #require(descriptor >= 0)
    defer { unlink(path) }
    let symbolizer = Symbolizer(executable: FixturePaths.tool.path, cachesAddresses: false)
    let writer = AnswerWriter(descriptor: descriptor, format: format, laneCount: laneCount)
    let lanes = SymbolizingLanes(
      symbolizer: symbolizer, laneCount: laneCount, writer: writer,
      minimumUnitBytes: minimumUnitBytes)
    let addresses = input.split(separator: "\n").map {
      NumberText.parse($0.utf8)!
    }
    for start in stride(from: 0, to: addresses.count, by: SymbolizingLanes.chunkSize) {
      lanes.submit(
        Array(addresses[start..<min(start + SymbolizingLanes.chunkSize, addresses.count)]))
    }
    writer.finish()
    close(descriptor)
    let output = try String(contentsOfFile: path, encoding: .utf8)
    return (output, lanes.openLaneCount)
  }

  /// Lanes open at the first full chunk only when the DWARF holds at least
  /// `minimumUnitBytes` of unit data, and print the same bytes either way.
  @Test(arguments: [TextOrJSONFormat.text, .json])
  func lanesOpenOnlyForDwarfWorthSplitting(format: TextOrJSONFormat) throws {
    let input = try Self.addresses()
    let one = try Self.symbolizeInProcess(
      input, format: format, laneCount: 1, minimumUnitBytes: 0)
    #expect(one.lanes == 1)
    #expect(one.output.split(separator: "\n").count >= 3000)
    let split = try Self.symbolizeInProcess(
      input, format: format, laneCount: 3, minimumUnitBytes: 0)
    #expect(split.lanes == 3)
    #expect(split.output == one.output)
    let kept = try Self.symbolizeInProcess(
      input, format: format, laneCount: 3, minimumUnitBytes: Int.max)
    #expect(kept.lanes == 1)
    #expect(kept.output == one.output)
  }

  /// The threshold is measured in unit bytes: libc's (from libc6-dbg, 8 MB)
  /// is over it, so `symbolize --exe libc.so.6` opens lanes; the tool's own
  /// DWARF is counted too (whether it is under the threshold depends on the
  /// tool's size, so that side is `lanesOpenOnlyForDwarfWorthSplitting`'s).
  @Test func libcDwarfIsWorthSplitting() throws {
    let tool = Symbolizer(executable: FixturePaths.tool.path, cachesAddresses: false)
    #expect(tool.lookupLocality().unitBytes > 100_000)
    let libc = Symbolizer(executable: "/lib/x86_64-linux-gnu/libc.so.6", cachesAddresses: false)
    #expect(libc.lookupLocality().unitBytes >= SymbolizingLanes.splitsUnitBytes)
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
