import ArgumentParser
import Foundation
import Testing

@testable import rawlockcheck

/// Options read as `getopt_long` reads them where swift-argument-parser
/// reads them otherwise: `--name=` is the empty value (the parser took the
/// next argument for it, and the runs of files after it leaked, joined by
/// NUL, into an error or a path), and an option naming a file is given once
/// (the parser kept the last, and the first was dropped unsaid).
@Suite struct OptionSpellingTests {
  static let clean = ["clean/interrupts-ok.rlt", "clean/nested-ok.rlt"]

  @Test func anEmptyValueAfterEqualsIsAnArgumentOfItsOwn() {
    #expect(
      AttachedValues.separate(["report", "--format=", "a", "b"])
        == ["report", "--format", "", "a", "b"])
    // `=` is the value of `--name==`; `--=` is no long option's; a flag
    // takes no value (the parser's to read); after `--` nothing is an
    // option; `-o` alone takes the next argument, and `report` has no
    // short option taking a value.
    for unchanged in [
      ["report", "--format==", "a"], ["report", "--=", "a"],
      ["report", "--merge=", "a"], ["report", "a", "--", "--format="],
      ["graph", "-o", "-", "a"], ["graph", "a", "--", "-ox"], ["report", "-ox", "a"],
    ] {
      #expect(AttachedValues.separate(unchanged) == unchanged)
    }
  }

  /// A short option's value attached to it is its value, as `getopt`
  /// reads `sort -oFILE`: the parser took `-ox.dot` for a cluster of
  /// flags, and `-o-` for an unknown option `--`. It is given the parser
  /// attached to the long name, where a value starting with `-` is a value.
  @Test func aValueAttachedToAShortOptionIsItsValue() {
    for (value, attached) in [
      ("x.dot", "-ox.dot"), ("-", "-o-"), ("=", "-o="), ("o", "-oo"), ("-x.dot", "-o-x.dot"),
      ("--", "-o--"),
    ] {
      #expect(
        AttachedValues.separate(["graph", attached, "a"]) == ["graph", "--output=" + value, "a"])
    }
  }

  @Test func graphWritesToTheFileAttachedToO() throws {
    let dir = FileManager.default.temporaryDirectory
      .appendingPathComponent("attached-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    let traces = Self.clean.map { FixturePaths.traces.appendingPathComponent($0).path }
    let named = try ToolRun(["graph", "-ox.dot"] + traces, in: dir)
    #expect(named.status == 0, "\(named.stderr)")
    let written = try String(contentsOf: dir.appendingPathComponent("x.dot"), encoding: .utf8)
    #expect(written.hasPrefix("digraph"))
    let standard = try ToolRun(["graph", "-o-"] + traces, in: dir)
    #expect(standard.status == 0, "\(standard.stderr)")
    #expect(standard.stdout == written)
    let dashed = try ToolRun(["graph", "-o-o"] + traces, in: dir)
    #expect(dashed.status == 0, "\(dashed.stderr)")
    #expect(try String(contentsOf: dir.appendingPathComponent("-o"), encoding: .utf8) == written)
  }

  /// The commands' options that take a value, as the parser knows them
  /// (so that a new option is not left out of `AttachedValues`), long
  /// and short.
  @Test func theValuedOptionsAreTheParsers() throws {
    let commands: [String: any ParsableCommand.Type] = [
      "report": ReportCommand.self, "stats": StatsCommand.self, "graph": GraphCommand.self,
      "convert": ConvertCommand.self, "generate": GenerateCommand.self,
      "symbolize": SymbolizeCommand.self, "demo": DemoCommand.self,
    ]
    #expect(Set(AttachedValues.valued.keys) == Set(commands.keys))
    for (name, command) in commands {
      let longNames = Set(
        try Self.options(of: command).flatMap { $0.names.filter { $0.hasPrefix("--") } })
      #expect(AttachedValues.valued[name] == longNames, "\(name)")
      // Each short name with the long name of its option.
      var letters: [Character: String] = [:]
      for option in try Self.options(of: command) {
        guard let short = option.names.first(where: { !$0.hasPrefix("--") }),
          let long = option.names.first(where: { $0.hasPrefix("--") }), let letter = short.last
        else { continue }
        letters[letter] = long
      }
      #expect(AttachedValues.shortValued[name, default: [:]] == letters, "\(name)")
    }
  }

  /// A command's options that take a value (not flags), each with its
  /// names (`--name`, `-n`) and whether the parser takes it repeated.
  static func options(of command: any ParsableCommand.Type) throws -> [(
    names: [String], repeating: Bool
  )] {
    let info = try #require(
      JSONSerialization.jsonObject(with: Data(command._dumpHelp().utf8)) as? [String: Any])
    let arguments = (info["command"] as? [String: Any])?["arguments"] as? [[String: Any]] ?? []
    return arguments.compactMap { argument in
      guard argument["kind"] as? String == "option" else { return nil }
      let names = (argument["names"] as? [[String: Any]] ?? []).map { name in
        (name["kind"] as? String == "long" ? "--" : "-") + (name["name"] as? String ?? "")
      }
      return (names, argument["isRepeating"] as? Bool ?? true)
    }
  }

  /// `--format=` before two traces: the format is empty (refused, quoted as
  /// `''`), not the traces joined.
  @Test func anEmptyFormatIsRefusedAsEmpty() throws {
    let run = try ToolRun(["report", "--format="] + Self.clean)
    #expect(run.status == 2)
    #expect(run.stderr.hasPrefix("rawlockcheck: The value '' is invalid for '--format <format>'"))
    #expect(!run.stderr.contains("\0") && !run.stderr.contains("\\u{0}"), "\(run.stderr)")
  }

  /// `--graph-in=` (empty) takes no trace for its value: both traces are
  /// read, and the empty graph file is the error.
  @Test func anEmptyGraphFileLeavesTheTracesTraces() throws {
    let run = try ToolRun(["report", "--graph-in="] + Self.clean)
    #expect(run.status == 2)
    #expect(!run.stderr.contains("\0") && !run.stderr.contains("\\u{0}"), "\(run.stderr)")
    #expect(!run.stderr.contains("Missing expected argument"), "\(run.stderr)")
  }

  /// Each option that names a file or directory, given twice in each of
  /// its spellings: refused before anything is read or written.
  @Test(arguments: [
    (["graph", "-o", "a.dot", "-o", "b.dot"], "-o/--output was given 2 times"),
    (["graph", "-o", "a.dot", "--output=b.dot"], "-o/--output was given 2 times"),
    (["graph", "-oa.dot", "-o", "b.dot"], "-o/--output was given 2 times"),
    (["graph", "--graph-in", "a.rlg", "--graph-in=b.rlg"], "--graph-in was given 2 times"),
    (
      ["report", "--format", "sarif", "--source-root", ".", "--source-root", "/"],
      "--source-root was given 2 times"
    ),
    (["report", "--graph-out", "a.rlg", "--graph-out", "b.rlg"], "--graph-out was given 2 times"),
  ])
  func aFileOptionGivenTwiceIsRefused(arguments: [String], message: String) throws {
    let dir = FileManager.default.temporaryDirectory
      .appendingPathComponent("once-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    let traces = Self.clean.map { FixturePaths.traces.appendingPathComponent($0).path }
    let run = try ToolRun(arguments + traces, in: dir)
    #expect(run.status == 2)
    #expect(run.stderr.hasPrefix("rawlockcheck: \(message): "), "\(run.stderr)")
    #expect(run.stdout.isEmpty)
    #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).isEmpty)
  }

  @Test func symbolizeTakesOneELFFile() throws {
    let tool = FixturePaths.tool.path
    let run = try ToolRun(["symbolize", "--exe", tool, "--binary", tool, "0x10"])
    #expect(run.status == 2)
    #expect(run.stderr.hasPrefix("rawlockcheck: --exe/--binary was given 2 times: "))
  }

  /// Help is help, whatever else the arguments say.
  @Test func helpIsGivenWithARepeatedOption() throws {
    let run = try ToolRun(["graph", "-o", "a.dot", "-o", "b.dot", "--help"])
    #expect(run.status == 0, "\(run.stderr)")
    #expect(run.stdout.contains("USAGE: rawlockcheck graph"))
  }

  /// Other options keep their last value, as GNU tools' do.
  @Test func anotherOptionKeepsItsLastValue() throws {
    let run = try ToolRun(["report", "--format", "text", "--format", "json"] + Self.clean)
    #expect(run.status == 0, "\(run.stderr)")
    #expect(run.stdout.hasPrefix("["))
  }

  /// Every option of the table is an option of its command that takes one
  /// value and is not repeatable to the parser (so that nothing else
  /// catches a second one), under each of the names the parser knows.
  @Test func theTableNamesSingleValuedOptions() throws {
    let commands: [String: any ParsableCommand.Type] = [
      "report": ReportCommand.self, "graph": GraphCommand.self, "symbolize": SymbolizeCommand.self,
    ]
    #expect(Set(OnceOptions.table.keys) == Set(commands.keys))
    for (name, options) in OnceOptions.table {
      let known = try Self.options(of: commands[name]!)
      for option in options {
        let match = known.first { Set($0.names) == Set(option.names) }
        #expect(match != nil, "\(name) \(option.names)")
        #expect(match?.repeating == false, "\(name) \(option.names)")
      }
    }
  }
}
