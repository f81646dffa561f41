import Foundation
import Testing
import Trace

/// `convert` and `report` on input the text encoding cannot hold or the
/// text reader cannot take: refused with one line and exit status 2.
@Suite struct TraceInputCommandTests {
  /// A binary trace whose class `A` is named `a<newline>b`, with one
  /// acquisition of it.
  static let newlineInName: [UInt8] =
    BinaryTraceFormat.header
    + [0x01, 0x00, 0x04, 0x01, 0x01, 0x41, 0x03, 0x61, 0x0A, 0x62]
    + [0x40, 0x00, 0x00]

  static func temporary(_ name: String) -> URL {
    FileManager.default.temporaryDirectory.appendingPathComponent("\(UUID().uuidString)-\(name)")
  }

  /// A trace file's name with a line break and an escape sequence: each
  /// error naming it is one line, with neither reaching the terminal
  /// (written `\u{A}`, `\u{1B}`), whichever command and error.
  @Test func errorsNameAFileWithControlCharactersOnOneLine() throws {
    let bad = Self.temporary("bad\nname\u{1B}[31m.rlt")
    try Data("rawlockcheck-trace 1\n1 acquire X\n".utf8).write(to: bad)
    defer { try? FileManager.default.removeItem(at: bad) }
    let missing = bad.path + "-missing"
    for arguments in [
      ["report", bad.path], ["report", missing], ["stats", bad.path], ["graph", bad.path],
      ["convert", bad.path, Self.temporary("out.rltb").path],
      ["report", "--merge", bad.path, bad.path],
    ] {
      let run = try ToolRun(arguments)
      #expect(run.status == 2, "\(arguments)")
      // One line per error (`--merge` reads, and refuses, each trace).
      let lines = run.stderr.split(separator: "\n", omittingEmptySubsequences: false)
      #expect(lines.last == "" && lines.dropLast().allSatisfy { $0.hasPrefix("rawlockcheck: ") })
      #expect(lines.dropLast().allSatisfy { $0.contains("bad\\u{A}name\\u{1B}[31m.rlt") })
      #expect(!run.stderr.contains("\u{1B}") && !run.stdout.contains("\u{1B}"), "\(arguments)")
      #expect(!run.stdout.contains("bad\n"), "\(arguments)")
    }
  }

  @Test func convertRefusesANameTextCannotHold() throws {
    let input = Self.temporary("in.rltb")
    let output = Self.temporary("out.rlt")
    try Data(Self.newlineInName).write(to: input)
    defer {
      try? FileManager.default.removeItem(at: input)
      try? FileManager.default.removeItem(at: output)
    }
    let run = try ToolRun(["convert", input.path, output.path])
    #expect(run.status == 2)
    #expect(
      run.stderr
        == "rawlockcheck: \(input.path): byte 5: cannot write class \"A\" as text: its name holds the control character \\u{A}, which a text trace cannot hold\n"
    )
    #expect(!FileManager.default.fileExists(atPath: output.path))
    // To binary, nothing is lost: the name is written as it is.
    let binary = try ToolRun(["convert", "--to", "binary", input.path, output.path])
    #expect(binary.status == 0)
    let written = [UInt8](try Data(contentsOf: output))
    #expect(written.count > 4 && [UInt8](written[..<4]) == BinaryTraceFormat.magic)
    let name: [UInt8] = [0x03, 0x61, 0x0A, 0x62]
    #expect(written.indices.contains { Array(written[$0...].prefix(4)) == name })
  }

  @Test func reportsShowControlCharactersInNamesEscaped() throws {
    // The class named "a<newline>b", acquired twice: recursive locking,
    // whose report names it; a terminal must get the escape, not the byte.
    let input = Self.temporary("recursive.rltb")
    defer { try? FileManager.default.removeItem(at: input) }
    try Data(Self.newlineInName + [0x40, 0x00, 0x00]).write(to: input)
    let run = try ToolRun(["report", input.path])
    #expect(run.status == 1)
    #expect(run.stdout.contains("(a\\u{A}b)"))
    #expect(!run.stdout.contains("a\nb"))
  }

  /// A graph file spells a control character of a display name out
  /// (`\u{A}`): read back beside the trace it came from, the name is the
  /// same name, not another one to warn about.
  @Test func aGraphFileOfANameWithALineBreakReadsBackWithoutAWarning() throws {
    let input = Self.temporary("named.rltb")
    let graph = Self.temporary("named.rlg")
    defer {
      try? FileManager.default.removeItem(at: input)
      try? FileManager.default.removeItem(at: graph)
    }
    try Data(Self.newlineInName + [0x41, 0x00, 0x00]).write(to: input)
    let first = try ToolRun(["report", "--graph-out", graph.path, input.path])
    #expect(first.status == 0, "\(first.stderr)")
    #expect(try String(contentsOf: graph, encoding: .utf8).contains("name=a\\u{A}b"))
    let again = try ToolRun(["report", "--graph-in", graph.path, input.path])
    #expect(again.status == 0)
    #expect(again.stderr == "", "\(again.stderr)")
  }

  @Test func binaryErrorsQuoteNamesOnOneLine() throws {
    // Thread token "t<newline>1" declared twice.
    let bytes =
      BinaryTraceFormat.header + [0x02, 0x00, 0x03, 0x74, 0x0A, 0x31]
      + [0x02, 0x01, 0x03, 0x74, 0x0A, 0x31]
    let input = Self.temporary("in.rltb")
    try Data(bytes).write(to: input)
    defer { try? FileManager.default.removeItem(at: input) }
    let run = try ToolRun(["report", input.path])
    #expect(run.status == 2)
    #expect(
      run.stderr == "rawlockcheck: \(input.path): byte 11: thread \"t\\u{A}1\" declared twice\n")
  }

  @Test func aClassKeyAGraphFileCannotHoldIsRefusedNotChanged() throws {
    // Class key "A<newline>B": written as "A B", it would never match the
    // class again in a later run. The graph file is not written; exit 2.
    let bytes =
      BinaryTraceFormat.header + [0x01, 0x00, 0x04, 0x00, 0x03, 0x41, 0x0A, 0x42]
      + [0x40, 0x00, 0x00]
    let input = Self.temporary("key.rltb")
    let graph = Self.temporary("out.rlg")
    try Data(bytes).write(to: input)
    defer {
      try? FileManager.default.removeItem(at: input)
      try? FileManager.default.removeItem(at: graph)
    }
    let run = try ToolRun(["report", "--graph-out", graph.path, input.path])
    #expect(run.status == 2)
    #expect(
      run.stderr
        == "rawlockcheck: \(graph.path): cannot write class \"A\\u{A}B\" to a graph file: its key holds the control character \\u{A}, which a graph file cannot hold\n"
    )
    #expect(!FileManager.default.fileExists(atPath: graph.path))
  }

  /// Runs `arguments` with `bytes` written to its standard input through a pipe.
  func piped(_ bytes: [UInt8], _ arguments: [String]) throws -> ToolRun {
    let pipe = Pipe()
    let writer = Thread {
      pipe.fileHandleForWriting.write(Data(bytes))
      try? pipe.fileHandleForWriting.close()
    }
    writer.start()
    return try ToolRun(arguments, standardInput: pipe.fileHandleForReading)
  }

  @Test(arguments: ["on", "off"])
  func aBinaryTraceThroughAPipeIsReadAsFromAFile(readerThread: String) throws {
    // Its first bytes tell the encoding, then the same descriptor is read
    // on: the report is the file's, with "-" for its name.
    let bytes = Self.newlineInName + [0x40, 0x00, 0x00]
    let input = Self.temporary("recursive.rltb")
    defer { try? FileManager.default.removeItem(at: input) }
    try Data(bytes).write(to: input)
    let fromFile = try ToolRun(["report", "--reader-thread", readerThread, input.path])
    let fromPipe = try piped(bytes, ["report", "--reader-thread", readerThread, "-"])
    #expect(fromFile.status == 1)
    #expect(fromPipe.status == 1)
    #expect(fromPipe.stdout == fromFile.stdout.replacingOccurrences(of: input.path, with: "-"))
    #expect(fromPipe.stdout.contains("recursive locking"))
    let stats = try piped(bytes, ["stats", "--format", "json", "-"])
    #expect(stats.status == 0)
    #expect(
      stats.stdout
        == (try ToolRun(["stats", "--format", "json", input.path])).stdout
        .replacingOccurrences(of: input.path, with: "-"))
  }

  @Test func aBrokenBinaryTraceThroughAPipeIsReportedAtItsByte() throws {
    // Thread token "t<newline>1" declared twice, on standard input.
    let bytes =
      BinaryTraceFormat.header + [0x02, 0x00, 0x03, 0x74, 0x0A, 0x31]
      + [0x02, 0x01, 0x03, 0x74, 0x0A, 0x31]
    let run = try piped(bytes, ["report", "-"])
    #expect(run.status == 2)
    #expect(run.stderr == "rawlockcheck: -: byte 11: thread \"t\\u{A}1\" declared twice\n")
  }
  @Test func standardInputFromAFileIsReadFromItsOffset() throws {
    // `{ read first-line; rawlockcheck report -; } < file`: the shell's
    // offset is past the first line, which is not part of the trace.
    let trace = try String(
      contentsOf: FixturePaths.traces.appendingPathComponent("findings/recursive-locking.rlt"),
      encoding: .utf8)
    let file = Self.temporary("offset.rlt")
    defer { try? FileManager.default.removeItem(at: file) }
    let skipped = "not a trace line\n"
    try Data((skipped + trace).utf8).write(to: file)
    let input = try FileHandle(forReadingFrom: file)
    try input.seek(toOffset: UInt64(skipped.utf8.count))
    let run = try ToolRun(["report", "-"], standardInput: input)
    #expect(run.status == 1, "\(run.stderr)")
    #expect(run.stdout.contains("WARNING: possible recursive locking detected"))
    #expect(run.stderr.isEmpty)
  }

  /// A place of a binary trace names the trace, as a text trace's
  /// `t.rlt:LINE` does (alone, or among several traces alike).
  @Test func aBinaryTracesPlacesNameTheTrace() throws {
    let dir = try MergeCommandTests.directory([:])
    defer { try? FileManager.default.removeItem(at: dir) }
    let binary = dir.appendingPathComponent("abba.rltb").path
    let converted = try ToolRun(["convert", "findings/circular-abba.rlt", binary])
    #expect(converted.status == 0, "\(converted.stderr)")
    let run = try ToolRun(["report", binary])
    #expect(run.status == 1)
    #expect(run.stdout.contains("found at \(binary): event "), "\(run.stdout)")
    #expect(run.stdout.contains(", at: \(binary): event "))
    #expect(!run.stdout.contains(", at: event "))
  }

  /// Runs the tool through a shell with its standard input closed.
  static func withStandardInputClosed(_ arguments: String) throws -> (Int32, String) {
    let shell = Process()
    shell.executableURL = URL(fileURLWithPath: "/bin/sh")
    shell.arguments = ["-c", "exec \"$0\" \(arguments) <&-", FixturePaths.tool.path]
    let err = Pipe()
    shell.standardError = err
    try shell.run()
    let message = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    shell.waitUntilExit()
    return (shell.terminationStatus, message)
  }

  @Test(arguments: ["report -", "stats -", "graph -", "convert - out.rltb"])
  func aClosedStandardInputIsSaidSo(command: String) throws {
    let (status, message) = try Self.withStandardInputClosed(command)
    #expect(status == 2)
    #expect(message == "rawlockcheck: -: cannot open: standard input is closed\n")
  }

  /// `symbolize` reading addresses from a closed standard input: said so,
  /// not the ELF file (opened on descriptor 0) read as the address list.
  @Test func symbolizeSaysStandardInputIsClosed() throws {
    let (status, message) = try Self.withStandardInputClosed("symbolize --exe \"$0\"")
    #expect(status == 2)
    #expect(message == "rawlockcheck: <stdin>: cannot read: standard input is closed\n")
  }

  /// `--binary` names the ELF file of `symbolize` as it does of `report`.
  @Test func symbolizeTakesBinaryForExe() throws {
    let exe = try ToolRun(["symbolize", "--exe", FixturePaths.tool.path, "0x10"])
    let binary = try ToolRun(["symbolize", "--binary", FixturePaths.tool.path, "0x10"])
    #expect(exe.status == 0 && binary.status == 0, "\(binary.stderr)")
    #expect(binary.stdout == exe.stdout)
  }

  /// A trace another process still holds locked (the recorder `flock`s
  /// the trace it writes) is read as far as it goes, with a warning naming
  /// that process: it read as clean and whole.
  @Test func aTraceStillBeingWrittenIsSaidSo() throws {
    let file = Self.temporary("writing.rlt")
    defer { try? FileManager.default.removeItem(at: file) }
    try Data("rawlockcheck-trace 1\nclass A spinlock\n1 acquire A\n".utf8).write(to: file)
    let fd = open(file.path, O_RDONLY)
    #expect(fd >= 0 && flock(fd, LOCK_EX) == 0)
    let held = try ToolRun(["report", file.path])
    close(fd)
    #expect(held.status == 0)
    #expect(
      held.stderr
        == "rawlockcheck: \(file.path): process \(getpid()) is still writing this trace: read as far as it has got\n"
    )
    #expect(try ToolRun(["report", file.path]).stderr.isEmpty)
  }

  /// A shared `flock` (a reader's, a backup tool's) is not the recorder's
  /// exclusive one: the trace is not said to be still written.
  @Test func aSharedLockIsNoWriters() throws {
    let file = Self.temporary("shared.rlt")
    defer { try? FileManager.default.removeItem(at: file) }
    try Data("rawlockcheck-trace 1\nclass A spinlock\n1 acquire A\n1 release A\n".utf8).write(
      to: file)
    let fd = open(file.path, O_RDONLY)
    #expect(fd >= 0 && flock(fd, LOCK_SH) == 0)
    let held = try ToolRun(["report", file.path])
    close(fd)
    #expect(held.status == 0)
    #expect(held.stderr.isEmpty)
  }
}
