import Testing

/// `rawlockcheck help`: a known command's help, and an error for an
/// unknown one.
@Suite struct HelpCommandTests {
  @Test func helpForAKnownCommandSucceeds() throws {
    let run = try ToolRun(["help", "convert"])
    #expect(run.status == 0)
    #expect(run.stdout.contains("USAGE: rawlockcheck convert"))
  }

  @Test(arguments: [["help", "nope"], ["help", "report", "nope"]])
  func helpForAnUnknownCommandIsAnError(arguments: [String]) throws {
    let run = try ToolRun(arguments)
    #expect(run.status == 2)
    #expect(run.stdout.isEmpty)
    #expect(run.stderr.hasPrefix("rawlockcheck: help: no command named 'nope' ("))
    #expect(run.stderr.filter { $0 == "\n" }.count == 1)
  }

  /// No subcommand is bad usage (spec/reports.md: exit 2, one line on
  /// stderr), as for grep and diff; `--help` still prints the help.
  @Test func noSubcommandIsBadUsage() throws {
    let run = try ToolRun([])
    #expect(run.status == 2)
    #expect(run.stdout.isEmpty)
    #expect(run.stderr.hasPrefix("rawlockcheck: missing subcommand (one of report, "))
    #expect(run.stderr.filter { $0 == "\n" }.count == 1)
    let help = try ToolRun(["--help"])
    #expect(help.status == 0)
    #expect(help.stdout.contains("SUBCOMMANDS:"))
  }

  /// An unknown option where the operands are missing is said as the
  /// unknown option (it was "Missing expected argument '<traces> ...'"),
  /// as it is when they are there; nothing unknown, the missing operand.
  @Test(arguments: [
    (["report", "-v"], "Unknown option '-v'"),
    (["stats", "--frobnicate"], "Unknown option '--frobnicate'"),
    (["convert", "-x.rlt", "o.rltb"], "Unknown option '-x.rlt'"),
    (["graph", "-q"], "Unknown option '-q'"),
    (["report"], "Missing expected argument '<traces> ...'"),
    (["convert", "a.rlt"], "Missing expected argument '<output>'"),
  ])
  func anUnknownOptionIsSaidBeforeAMissingOperand(arguments: [String], said: String) throws {
    let run = try ToolRun(arguments)
    #expect(run.status == 2)
    #expect(run.stderr.hasPrefix("rawlockcheck: \(said) (see 'rawlockcheck "), "\(run.stderr)")
    #expect(run.stderr.filter { $0 == "\n" }.count == 1)
  }

  /// `graph`'s usage line is written out (the generated one offered
  /// `--graph-in` repeated, which is refused): it names every option its
  /// help lists, and `--graph-in` once.
  @Test func graphUsageNamesEveryOptionAndGraphInOnce() throws {
    let help = try ToolRun(["graph", "--help"]).stdout
    let lines = help.split(separator: "\n", omittingEmptySubsequences: false)
    let usage = try #require(lines.first { $0.hasPrefix("USAGE: rawlockcheck graph ") })
    #expect(usage.contains("[--graph-in <file>]"))
    #expect(!usage.contains("--graph-in <file> ..."))
    let options = try #require(lines.firstIndex(of: "OPTIONS:"))
    // An option's row starts with its names ("  -o, --output <output>").
    let named = lines[options...].compactMap { line -> Substring? in
      guard line.hasPrefix("  -") else { return nil }
      return line.split(separator: " ").first { $0.hasPrefix("--") }
    }
    #expect(named.count >= 8)
    for option in named where option != "--help" && option != "--version" {
      #expect(usage.contains("[\(option) ") || usage.contains("[\(option)]"), "\(option)")
    }
  }
}
