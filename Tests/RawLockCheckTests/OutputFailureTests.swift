import Foundation
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// Where outputs go and what a failed write does: every command that
/// cannot write its output says so once and exits 2; an output file named
/// through a symbolic link keeps the link, and a FIFO or device is written,
/// not replaced.
@Suite struct OutputFailureTests {
  static let clean = "clean/nested-ok.rlt"
  static let findings = "findings/circular-abba.rlt"

  /// Runs the tool with its standard output on `/dev/full`.
  static func toFull(_ arguments: [String], input: String? = nil) throws -> ToolRun {
    let full = try #require(FileHandle(forWritingAtPath: "/dev/full"))
    var standardInput: FileHandle? = nil
    var file: URL? = nil
    if let input {
      let url = FileManager.default.temporaryDirectory
        .appendingPathComponent("full-\(UUID().uuidString)")
      try Data(input.utf8).write(to: url)
      file = url
      standardInput = try FileHandle(forReadingFrom: url)
    }
    defer { if let file { try? FileManager.default.removeItem(at: file) } }
    return try ToolRun(arguments, standardInput: standardInput, standardOutput: full)
  }

  static let standardOutputFull =
    "rawlockcheck: standard output: write failed: No space left on device\n"

  @Test(arguments: [
    ["report", findings], ["report", "--format", "json", clean],
    ["report", "--format", "sarif", clean], ["report", "--merge", findings],
    ["stats", clean], ["graph", clean], ["graph", "--format", "json", clean],
    ["generate", "--events", "10"], ["convert", "--to", "text", clean, "-"],
    ["symbolize", "--exe", FixturePaths.tool.path, "0x10"],
    // Help and the version are output too.
    ["--help"], ["help", "report"], ["report", "--help"], ["--version"],
  ])
  func failedWriteToStandardOutputIsAnError(arguments: [String]) throws {
    let run = try Self.toFull(arguments)
    #expect(run.status == 2)
    #expect(run.stderr == Self.standardOutputFull)
  }

  /// Standard output closed (`>&-`): `convert FILE -` fails its write,
  /// as every command does. The input took descriptor 1, and was taken
  /// for the output (`standard output: is the input file`).
  /// From a pipe too, whose temporary copy took descriptor 1: the output
  /// went into the copy, and the run said nothing, status 0.
  @Test(arguments: [false, true])
  func convertToAClosedStandardOutputFailsItsWrite(piped: Bool) throws {
    let tool = "'\(FixturePaths.tool.path)'"
    let command =
      piped
      ? "cat '\(Self.clean)' | \(tool) convert --to text - - >&-"
      : "\(tool) convert --to text '\(Self.clean)' - >&-"
    let run = try ToolRun.command("/bin/sh", ["-c", command])
    #expect(run.status == 2)
    #expect(
      run.stderr == "rawlockcheck: standard output: write failed: Bad file descriptor\n",
      "\(run.stderr)")
  }

  @Test func symbolizeFromStandardInputSeesTheFailedWrite() throws {
    let input = String(repeating: "0x10\n", count: 2000)
    let run = try Self.toFull(["symbolize", "--exe", FixturePaths.tool.path], input: input)
    #expect(run.status == 2)
    #expect(run.stderr == Self.standardOutputFull)
  }

  @Test(arguments: [
    ["graph", "-o", "/dev/full", clean], ["report", "--graph-out", "/dev/full", clean],
    ["convert", clean, "/dev/full"],
  ])
  func failedWriteToADeviceIsAnErrorAndTheDeviceStays(arguments: [String]) throws {
    let run = try ToolRun(arguments)
    #expect(run.status == 2)
    #expect(run.stderr == "rawlockcheck: /dev/full: write failed: No space left on device\n")
    let type = try FileManager.default.attributesOfItem(atPath: "/dev/full")[.type]
    #expect(type as? FileAttributeType == .typeCharacterSpecial)
  }

  /// A file that exists where no file can be made beside it (`/proc`) is
  /// not written, and the error says why: the temporary file it would be
  /// replaced with, not the file itself ("No such file or directory" of a
  /// file that is there).
  @Test(arguments: [
    ["graph", "-o", "/proc/version", clean], ["convert", clean, "/proc/version"],
  ])
  func anOutputWithNoRoomBesideItSaysWhy(arguments: [String]) throws {
    let run = try ToolRun(arguments)
    #expect(run.status == 2)
    #expect(
      run.stderr
        == "rawlockcheck: /proc/version: cannot write: cannot create a temporary file beside it to replace it with: No such file or directory\n"
    )
  }

  /// An output named as one of the process's own descriptors is written
  /// through it: to the pipe standard output is (no file to replace is
  /// found behind `/proc/self/fd/1`), whatever the spelling.
  @Test(arguments: [
    ["graph", "-o", "/dev/stdout", clean], ["graph", "-o", "/dev/fd/1", clean],
    ["graph", "-o", "/proc/self/fd/1", clean],
  ])
  func anOutputNamedAsStandardOutputIsWrittenToItsPipe(arguments: [String]) throws {
    let run = try ToolRun(arguments)
    #expect(run.status == 0, "\(run.stderr)")
    #expect(run.stderr.isEmpty)
    #expect(run.stdout.hasPrefix("digraph "))
  }

  /// Standard output redirected `>> log`: `/dev/stdout` is appended to,
  /// where a reopened or replaced file would lose what the log held.
  @Test(arguments: [
    ["graph", "-o", "/dev/stdout", clean], ["convert", "--to", "text", clean, "/dev/stdout"],
  ])
  func anOutputNamedAsStandardOutputAppendsToALog(arguments: [String]) throws {
    let dir = try MergeCommandTests.directory(["log": "old line\n"])
    defer { try? FileManager.default.removeItem(at: dir) }
    let log = dir.appendingPathComponent("log").path
    let fd = open(log, O_WRONLY | O_APPEND | O_CLOEXEC)
    try #require(fd >= 0)
    let handle = FileHandle(fileDescriptor: fd, closeOnDealloc: true)
    let run = try ToolRun(arguments, standardInput: nil, standardOutput: handle)
    #expect(run.status == 0, "\(run.stderr)")
    let text = try String(contentsOfFile: log, encoding: .utf8)
    #expect(text.hasPrefix("old line\n"))
    #expect(text.count > "old line\n".count + 20)
  }

  /// `report --graph-out g > g` (or `>> g`): the graph file named by the
  /// path of the file standard output goes to is written there after the
  /// text report. It was renamed over the file, and the report, written to
  /// the file replaced, was lost without a word.
  @Test(arguments: [O_APPEND, O_TRUNC])
  func aGraphFileNamedAsTheFileStandardOutputGoesToFollowsTheReport(flag: Int32) throws {
    let trace = try String(
      contentsOf: FixturePaths.traces.appendingPathComponent("findings/circular-abba.rlt"),
      encoding: .utf8)
    let dir = try MergeCommandTests.directory(["t.rlt": trace])
    defer { try? FileManager.default.removeItem(at: dir) }
    let log = dir.appendingPathComponent("g.log").path
    let fd = open(log, O_WRONLY | O_CREAT | flag | O_CLOEXEC, 0o644)
    try #require(fd >= 0)
    let handle = FileHandle(fileDescriptor: fd, closeOnDealloc: true)
    let run = try ToolRun(
      ["report", "--graph-out", log, "t.rlt"], in: dir, standardInput: nil,
      standardOutput: handle)
    #expect(run.status == 1, "\(run.stderr)")
    let text = try String(contentsOfFile: log, encoding: .utf8)
    let report = try #require(text.range(of: "possible circular locking dependency"), "\(text)")
    let graph = try #require(text.range(of: "rawlockcheck-graph 1\n"), "\(text)")
    #expect(report.upperBound < graph.lowerBound)
  }

  @Test(arguments: [
    ["report", "--graph-out", "link", "t.rlt"], ["graph", "-o", "link", "t.rlt"],
    ["convert", "t.rlt", "link"],
  ])
  func outputThroughASymbolicLinkKeepsTheLink(arguments: [String]) throws {
    let trace = try String(
      contentsOf: FixturePaths.traces.appendingPathComponent(Self.clean), encoding: .utf8)
    // An old graph file (`--graph-out` writes over nothing else).
    let dir = try MergeCommandTests.directory(["t.rlt": trace, "target": "rawlockcheck-graph 1\n"])
    defer { try? FileManager.default.removeItem(at: dir) }
    let link = dir.appendingPathComponent("link").path
    try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: "target")
    let run = try ToolRun(arguments, in: dir)
    #expect(run.status == 0, "\(run.stderr)")
    #expect(try FileManager.default.destinationOfSymbolicLink(atPath: link) == "target")
    let written = try Data(contentsOf: dir.appendingPathComponent("target"))
    #expect(written.count > 10)
  }

  /// Whether a flag was set, across threads.
  final class Flag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    func set() { lock.withLock { value = true } }
    var isSet: Bool { lock.withLock { value } }
  }

  /// An output FIFO is opened only once there is something to write: one
  /// reader that writes the input FIFO first and reads the output after
  /// (a shell pipeline of named pipes) is served. Opening the output
  /// first, which waits for its reader, waited for ever: the reader was
  /// still writing the input.
  @Test(arguments: [
    ["report", "in.fifo", "--graph-out", "out.fifo"], ["graph", "in.fifo", "-o", "out.fifo"],
    ["convert", "in.fifo", "out.fifo"],
  ])
  func anOutputFIFOIsOpenedAfterTheInputIsRead(arguments: [String]) throws {
    let trace = try Data(contentsOf: FixturePaths.traces.appendingPathComponent(Self.clean))
    let dir = try MergeCommandTests.directory([:])
    defer { try? FileManager.default.removeItem(at: dir) }
    let input = dir.appendingPathComponent("in.fifo").path
    let output = dir.appendingPathComponent("out.fifo").path
    #expect(mkfifo(input, 0o600) == 0 && mkfifo(output, 0o600) == 0)
    let inputWritten = Flag()
    let outputRead = Flag()
    let reader = Thread {
      /// The FIFO `path` opened with `flags`, tried without waiting for 20 s.
      func open(_ path: String, _ flags: Int32) -> Int32 {
        for _ in 0..<2000 {
          let fd = Glibc.open(path, flags | O_NONBLOCK)
          if fd >= 0 { return fd }
          usleep(10_000)
        }
        return -1
      }
      // The input first, whole; then the output. When the tool never
      // opens the input (it waits for the output's reader), the output is
      // opened after all and the input ended, so the tool ends.
      let fd = open(input, O_WRONLY)
      if fd >= 0 {
        _ = fcntl(fd, F_SETFL, 0)
        _ = trace.withUnsafeBytes { write(fd, $0.baseAddress!, $0.count) }
        close(fd)
        inputWritten.set()
      }
      let out = Glibc.open(output, O_RDONLY | O_NONBLOCK)
      if fd < 0 {
        let late = open(input, O_WRONLY)
        if late >= 0 { close(late) }
      }
      var buffer = [UInt8](repeating: 0, count: 1 << 16)
      var total = 0
      for _ in 0..<2000 {
        let n = buffer.withUnsafeMutableBytes { read(out, $0.baseAddress!, $0.count) }
        if n > 0 { total += n } else if n == 0 && total > 0 { break } else { usleep(10_000) }
      }
      close(out)
      if total > 0 { outputRead.set() }
    }
    reader.start()
    let run = try ToolRun(arguments, in: dir)
    for _ in 0..<3000 where !outputRead.isSet { usleep(10_000) }
    #expect(run.status == 0, "\(arguments): \(run.stderr)")
    #expect(inputWritten.isSet, "\(arguments): the tool never opened its input")
    #expect(outputRead.isSet, "\(arguments)")
  }

  @Test func graphFileToAFIFOIsWrittenIntoIt() throws {
    let trace = try String(
      contentsOf: FixturePaths.traces.appendingPathComponent(Self.clean), encoding: .utf8)
    let dir = try MergeCommandTests.directory(["t.rlt": trace])
    defer { try? FileManager.default.removeItem(at: dir) }
    let fifo = dir.appendingPathComponent("g.fifo").path
    #expect(mkfifo(fifo, 0o600) == 0)
    let received = Flag()
    let opened = Flag()
    let toolEnded = Flag()
    let reader = Thread {
      // Reads what the tool writes; the open fails at once (no hang) when
      // the FIFO was replaced by a file. It keeps the FIFO open until the
      // tool has ended (a slow tool would otherwise block for ever in its
      // open for writing), or 300 s.
      let fd = open(fifo, O_RDONLY | O_NONBLOCK)
      opened.set()
      guard fd >= 0 else { return }
      defer { close(fd) }
      var buffer = [UInt8](repeating: 0, count: 1 << 16)
      var text: [UInt8] = []
      let deadline = Date().addingTimeInterval(300)
      while !toolEnded.isSet && Date() < deadline {
        let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress!, $0.count) }
        if n > 0 { text += buffer[..<n] }
        if n == 0 && !text.isEmpty { break }
        usleep(10_000)
      }
      if String(decoding: text, as: UTF8.self).hasPrefix("rawlockcheck-graph 1\n") {
        received.set()
      }
    }
    reader.start()
    // The reader has the FIFO open before the tool writes.
    for _ in 0..<3000 where !opened.isSet { usleep(10_000) }
    let run = try ToolRun(["report", "--graph-out", "g.fifo", "t.rlt"], in: dir)
    #expect(run.status == 0, "\(run.stderr)")
    for _ in 0..<3000 where !received.isSet { usleep(10_000) }
    toolEnded.set()
    #expect(received.isSet)
    let type = try FileManager.default.attributesOfItem(atPath: fifo)[.type]
    #expect(type as? FileAttributeType != .typeRegular)
  }
}

/// A file name with a line break in it (an output, a graph file, an ELF
/// file) is escaped in the one line that names it, as a trace's name is:
/// it was printed raw, splitting the error over two lines; an empty name
/// shows as `''`.
@Suite struct FileNamesInErrorsTests {
  @Test(arguments: [
    ["graph", "-o", "nodir\n/x", "findings/circular-abba.rlt"],
    ["report", "--graph-out", "nodir\n/x", "findings/circular-abba.rlt"],
    ["convert", "findings/circular-abba.rlt", "nodir\n/x"],
    ["report", "--graph-in", "no\nfile", "findings/circular-abba.rlt"],
    ["graph", "--graph-in", "no\nfile"],
    ["symbolize", "--exe", "no\nexe", "0x10"],
  ])
  func aLineBreakInAFileNameIsEscaped(arguments: [String]) throws {
    let run = try ToolRun(arguments)
    #expect(run.status == 2)
    #expect(run.stderr.filter { $0 == "\n" }.count == 1, "\(run.stderr)")
    #expect(run.stderr.contains("\\u{A}"), "\(run.stderr)")
  }

  @Test(arguments: [
    ["report", ""], ["stats", ""], ["graph", "--graph-in", ""], ["convert", "", "out.rlt"],
  ])
  func anEmptyFileNameIsQuoted(arguments: [String]) throws {
    let run = try ToolRun(arguments)
    #expect(run.status == 2)
    #expect(run.stderr.hasPrefix("rawlockcheck: '': "), "\(run.stderr)")
  }
}

/// An output file is replaced only as `>` would write it: a read-only
/// file is refused (it was replaced, mode and all), a link loop is an
/// error (the first link was replaced by a file), and the replaced file
/// keeps its owner when root writes it (it became root's).
@Suite(.serialized) struct ReplacedOutputTests {
  static let trace = FixturePaths.traces.appendingPathComponent("findings/circular-abba.rlt").path

  /// A directory anyone may write in, for a run as another user.
  static func openDirectory() throws -> URL {
    let dir = try MergeCommandTests.directory([:])
    chmod(dir.path, 0o777)
    return dir
  }

  /// An output file that cannot be written (`report --graph-out`, `graph
  /// -o`, `convert`'s OUT) is said before any trace is read, as an
  /// unreadable `--graph-in` is: a long trace was validated, and its
  /// report printed, before the run failed for it. Here a trace is not
  /// one, and only the output is named.
  @Test func anOutputThatCannotBeWrittenIsSaidBeforeAnyTraceIsRead() throws {
    let dir = try MergeCommandTests.directory([
      "t1.rlt": MergeCommandTests.first, "bad.rlt": "rawlockcheck-trace 1\nnot an event\n",
    ])
    defer { try? FileManager.default.removeItem(at: dir) }
    for arguments in [
      ["report", "t1.rlt", "bad.rlt", "--graph-out", "missing/dir/g.rlg"],
      ["report", "--merge", "t1.rlt", "bad.rlt", "--graph-out", "missing/dir/g.rlg"],
      ["graph", "t1.rlt", "bad.rlt", "-o", "missing/dir/g.dot"],
      ["convert", "bad.rlt", "missing/dir/t.rltb"],
    ] {
      let run = try ToolRun(arguments, in: dir)
      #expect(run.status == 2, "\(arguments)")
      #expect(run.stdout.isEmpty, "\(arguments): \(run.stdout)")
      #expect(
        run.stderr == "rawlockcheck: \(arguments.last!): cannot write: No such file or directory\n",
        "\(arguments)")
    }
  }

  @Test func aReadOnlyFileIsNotReplaced() throws {
    let setpriv = "/usr/bin/setpriv"
    guard getuid() == 0, FileManager.default.isExecutableFile(atPath: setpriv) else { return }
    let nobody = ["--reuid=65534", "--regid=65534", "--clear-groups", FixturePaths.tool.path]
    // The tool and its trace reachable by nobody (not so under a home
    // directory of mode 0700): else there is nothing to test here.
    let reachable = try ToolRun.command(setpriv, nobody + ["stats", Self.trace])
    guard reachable.status == 0 else { return }
    let dir = try Self.openDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let kept = dir.appendingPathComponent("p.rlt")
    try Data("precious\n".utf8).write(to: kept)
    chown(kept.path, 65534, 65534)
    chmod(kept.path, 0o444)
    let run = try ToolRun.command(
      setpriv,
      nobody + ["convert", "--to", "text", Self.trace, kept.path])
    #expect(run.status == 2)
    #expect(run.stderr.hasSuffix(": cannot write: Permission denied\n"), "\(run.stderr)")
    #expect(try String(contentsOf: kept, encoding: .utf8) == "precious\n")
    #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["p.rlt"])
  }

  @Test func aLinkLoopIsAnError() throws {
    let dir = try MergeCommandTests.directory([:])
    defer { try? FileManager.default.removeItem(at: dir) }
    let one = dir.appendingPathComponent("lp1").path
    let two = dir.appendingPathComponent("lp2").path
    try FileManager.default.createSymbolicLink(atPath: one, withDestinationPath: "lp2")
    try FileManager.default.createSymbolicLink(atPath: two, withDestinationPath: "lp1")
    let run = try ToolRun(["convert", Self.trace, one])
    #expect(run.status == 2)
    #expect(run.stderr.hasSuffix(": cannot write: Too many levels of symbolic links\n"))
    #expect(try FileManager.default.destinationOfSymbolicLink(atPath: one) == "lp2")
  }

  @Test func aReplacedFileKeepsItsOwner() throws {
    guard getuid() == 0 else { return }
    let dir = try MergeCommandTests.directory([:])
    defer { try? FileManager.default.removeItem(at: dir) }
    let out = dir.appendingPathComponent("x.dot")
    try Data("old\n".utf8).write(to: out)
    chown(out.path, 65534, 65534)
    chmod(out.path, 0o640)
    let run = try ToolRun(["graph", "-o", out.path, Self.trace])
    #expect(run.status == 0, "\(run.stderr)")
    var info = stat()
    #expect(stat(out.path, &info) == 0)
    #expect(info.st_uid == 65534 && info.st_gid == 65534)
    #expect(info.st_mode & 0o777 == 0o640)
    #expect(try String(contentsOf: out, encoding: .utf8).hasPrefix("digraph"))
  }
}

/// Options naming what is not there are said, not ignored: a
/// `--debug-dir` that is no directory (a mistyped one searched nothing,
/// silently), and `--hide-frames ''` (which would hide every frame).
@Suite struct OptionValueTests {
  static let trace = "findings/circular-abba.rlt"

  @Test(arguments: [
    ["report", "--debug-dir", "/nonexistent", trace], ["graph", "--debug-dir", "", trace],
    ["stats", "--debug-dir", "findings/circular-abba.rlt", trace],
    ["symbolize", "--exe", "/bin/ls", "--debug-dir", "/nonexistent", "0x10"],
  ])
  func aDebugDirThatIsNoDirectoryIsRefused(arguments: [String]) throws {
    let run = try ToolRun(arguments)
    #expect(run.status == 2)
    #expect(run.stderr.hasPrefix("rawlockcheck: --debug-dir "), "\(run.stderr)")
    #expect(run.stderr.contains(": not a directory"))
    #expect(run.stdout.isEmpty)
  }

  @Test func anEmptyFramePrefixIsRefused() throws {
    let run = try ToolRun(["report", "--hide-frames", "", Self.trace])
    #expect(run.status == 2)
    #expect(run.stderr.hasPrefix("rawlockcheck: --hide-frames needs a prefix"), "\(run.stderr)")
  }
}
