import Foundation
import Testing

@testable import rawlockcheck

#if canImport(Glibc)
  import Glibc
#endif

/// `rawlockcheck convert`'s input and output: never the same file, a FIFO
/// read once, `-` for standard input and output.
@Suite struct ConvertCommandTests {
  static let trace = FixturePaths.traces.appendingPathComponent("seed-scenario.rlt")

  /// A temporary directory holding a copy of the seed trace as `a.rlt`.
  static func directory() throws -> URL {
    try MergeCommandTests.directory([
      "a.rlt": try String(contentsOf: trace, encoding: .utf8)
    ])
  }

  @Test(arguments: ["a.rlt", "./a.rlt", "h.rlt", "s.rlt"])
  func outputThatIsTheInputIsRefused(output: String) throws {
    let dir = try Self.directory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let a = dir.appendingPathComponent("a.rlt")
    let before = try Data(contentsOf: a)
    try FileManager.default.linkItem(at: a, to: dir.appendingPathComponent("h.rlt"))
    try FileManager.default.createSymbolicLink(
      atPath: dir.appendingPathComponent("s.rlt").path, withDestinationPath: "a.rlt")
    let run = try ToolRun(["convert", "a.rlt", output], in: dir)
    #expect(run.status == 2)
    #expect(
      run.stderr == "rawlockcheck: \(output): is the input file (a.rlt); write to another file\n")
    #expect(try Data(contentsOf: a) == before)
  }

  /// Standard output redirected to the input, appending (`>> a.rlt`) or
  /// in place (`1<> a.rlt`): refused before anything is written, as
  /// `cat` refuses it, by each command that writes to standard output
  /// (the input was written over with status 0, or appended to before an
  /// error).
  @Test(arguments: [
    "convert a.rlt - 1<> a.rlt", "convert a.rlt - >> a.rlt", "convert - - < a.rlt >> a.rlt",
    "report a.rlt >> a.rlt", "report - < a.rlt >> a.rlt", "stats a.rlt >> a.rlt",
    "graph a.rlt >> a.rlt", "report --graph-out - a.rlt >> a.rlt",
  ])
  func standardOutputThatIsTheInputIsRefused(command: String) throws {
    let dir = try Self.directory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let a = dir.appendingPathComponent("a.rlt")
    let before = try Data(contentsOf: a)
    let run = try ToolRun.command(
      "/bin/sh", ["-c", "cd '\(dir.path)' && '\(FixturePaths.tool.path)' \(command)"])
    #expect(run.status == 2)
    #expect(run.stderr.hasPrefix("rawlockcheck: standard output: is the input file ("))
    #expect(run.stderr.hasSuffix("); write to another file\n"), "\(run.stderr)")
    #expect(try Data(contentsOf: a) == before)
  }

  /// A file-size limit (`ulimit -f`) that the output passes: one line
  /// (`File too large`), status 2, the old output kept and no temporary
  /// file left beside it (SIGXFSZ ended the process silently, leaving
  /// `.b.rlt.rawlockcheck-XXXXXX`).
  @Test func aFileSizeLimitIsAnErrorThatLeavesNothingBehind() throws {
    let dir = try Self.directory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let old = Data("old output\n".utf8)
    try old.write(to: dir.appendingPathComponent("b.rlt"))
    // 2 blocks of 512 bytes: a thousand events' text is more.
    let tool = "'\(FixturePaths.tool.path)'"
    let run = try ToolRun.command(
      "/bin/sh",
      [
        "-c",
        "cd '\(dir.path)' && \(tool) generate --events 1000 > big.rlt && ulimit -f 2 "
          + "&& \(tool) convert --to text big.rlt b.rlt",
      ])
    #expect(run.status == 2, "\(run.stderr)")
    #expect(
      run.stderr.hasPrefix("rawlockcheck: b.rlt: write failed: File too large"), "\(run.stderr)")
    #expect(try Data(contentsOf: dir.appendingPathComponent("b.rlt")) == old)
    let left = try FileManager.default.contentsOfDirectory(atPath: dir.path)
    #expect(left.sorted() == ["a.rlt", "b.rlt", "big.rlt"])
  }

  /// An endless stream on standard input (lines a trace may hold: `yes` of
  /// an acquisition) is copied until the copy's disk would have
  /// less than 5 % left, then refused in one line, status 2: it filled the
  /// disk before. On a 130 MiB tmpfs of its own (skipped where one cannot
  /// be mounted), where 6.5 MiB are kept free: it stops after 120-odd MiB.
  @Test func anEndlessStreamStopsBeforeItsCopyFillsTheDisk() throws {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
      "convert-room-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    let mounted = try ToolRun.command(
      "/bin/mount", ["-t", "tmpfs", "-o", "size=130M", "tmpfs", directory.path])
    // Where no tmpfs can be mounted (not root, a container), nothing to check.
    guard mounted.status == 0 else { return }
    defer { _ = try? ToolRun.command("/bin/umount", [directory.path]) }
    let script =
      // The producer's stderr dropped: with SIGPIPE ignored (inherited),
      // `yes` would say "Broken pipe" there.
      "(echo rawlockcheck-trace 1; echo class A mutex; yes '1 acquire A') 2>/dev/null "
      + "| TMPDIR=\(directory.path) \(FixturePaths.tool.path) convert - /dev/null"
    let run = try ToolRun.command("/bin/sh", ["-c", script])
    #expect(run.status == 2, "\(run.stderr)")
    // Where the reading stood when the copy stopped.
    #expect(run.stderr.hasPrefix("rawlockcheck: -:"), "\(run.stderr)")
    #expect(run.stderr.contains(": cannot make a temporary copy: after 12"), "\(run.stderr)")
    #expect(run.stderr.contains("is down to the 6 MiB the copy leaves free"), "\(run.stderr)")
    #expect(run.stderr.contains("an endless stream would fill the disk"), "\(run.stderr)")
    #expect(run.stderr.split(separator: "\n").count == 1, "\(run.stderr)")
  }

  @Test func failedConvertLeavesTheOutputAlone() throws {
    let dir = try MergeCommandTests.directory([
      "bad.rlt": "rawlockcheck-trace 1\nbogus line\n", "out.rltb": "old",
    ])
    defer { try? FileManager.default.removeItem(at: dir) }
    let run = try ToolRun(["convert", "bad.rlt", "out.rltb"], in: dir)
    #expect(run.status == 2)
    #expect(run.stderr.hasPrefix("rawlockcheck: bad.rlt:2: "))
    #expect(
      try String(contentsOf: dir.appendingPathComponent("out.rltb"), encoding: .utf8) == "old")
  }

  /// A file on standard input that a shell read part of first is
  /// converted from where its offset stands, as `report -` reads it: it
  /// was converted from its first byte (`header repeated`, or another
  /// trace converted without a word).
  @Test func standardInputLeftPartReadIsConvertedFromThere() throws {
    let trace = try String(contentsOf: Self.trace, encoding: .utf8)
    let dir = try MergeCommandTests.directory([
      "two.rlt": "rawlockcheck-trace 1\n" + trace, "a.rlt": trace,
    ])
    defer { try? FileManager.default.removeItem(at: dir) }
    let tool = "'\(FixturePaths.tool.path)'"
    let run = try ToolRun.command(
      "/bin/sh",
      ["-c", "cd '\(dir.path)' && { read -r first; \(tool) convert - out.rltb; } < two.rlt"])
    #expect(run.status == 0, "\(run.stderr)")
    #expect(try ToolRun(["convert", "a.rlt", "expected.rltb"], in: dir).status == 0)
    #expect(
      try Data(contentsOf: dir.appendingPathComponent("out.rltb"))
        == Data(contentsOf: dir.appendingPathComponent("expected.rltb")))
  }

  @Test func aFIFOIsOpenedOnceAndConvertedWhole() throws {
    let dir = try Self.directory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let fifo = dir.appendingPathComponent("in.fifo").path
    #expect(mkfifo(fifo, 0o600) == 0)
    let bytes = [UInt8](try Data(contentsOf: Self.trace))
    let done = OutputFailureTests.Flag()
    let hung = OutputFailureTests.Flag()
    let writer = Thread {
      // Feeds the trace to the first opening. A second opening would wait
      // forever for a writer: after 120 s (a busy machine may take many
      // seconds to convert) the tool is taken to hang there, and released
      // with end of file.
      let fd = open(fifo, O_WRONLY)
      guard fd >= 0 else { return }
      _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress!, $0.count) }
      close(fd)
      for _ in 0..<12_000 where !done.isSet { usleep(10_000) }
      while !done.isSet {
        hung.set()
        let again = open(fifo, O_WRONLY | O_NONBLOCK)
        if again >= 0 { close(again) }
        usleep(10_000)
      }
    }
    writer.start()
    let run = try ToolRun(["convert", "in.fifo", "out.rltb"], in: dir)
    done.set()
    #expect(!hung.isSet, "convert waited for a second writer of the FIFO")
    #expect(run.status == 0, "\(run.stderr)")
    let expected = try ToolRun(["convert", "a.rlt", "expected.rltb"], in: dir)
    #expect(expected.status == 0)
    #expect(
      try Data(contentsOf: dir.appendingPathComponent("out.rltb"))
        == Data(contentsOf: dir.appendingPathComponent("expected.rltb")))
  }

  @Test func dashIsStandardInputAndOutput() throws {
    let dir = try Self.directory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let file = try ToolRun(["convert", "a.rlt", "file.rltb"], in: dir)
    #expect(file.status == 0)
    let binary = try Data(contentsOf: dir.appendingPathComponent("file.rltb"))
    // Standard input in either encoding, here binary.
    let fromStandardInput = try ToolRun(
      ["convert", "--to", "text", "-", "-"], in: dir,
      standardInput: FileHandle(forReadingFrom: dir.appendingPathComponent("file.rltb")))
    #expect(fromStandardInput.status == 0, "\(fromStandardInput.stderr)")
    let text = try ToolRun(["convert", "--to", "text", "file.rltb", "-"], in: dir)
    #expect(text.status == 0)
    #expect(text.stdout.hasPrefix("rawlockcheck-trace 1\n"))
    #expect(fromStandardInput.stdout == text.stdout)
    let toBinary = try ToolRun(
      ["convert", "-", "back.rltb"], in: dir, input: text.stdout)
    #expect(toBinary.status == 0, "\(toBinary.stderr)")
    #expect(try Data(contentsOf: dir.appendingPathComponent("back.rltb")) == binary)
    #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("-").path))
  }

  /// A `convert` killed while it writes (SIGKILL, which no handler sees)
  /// leaves nothing beside its output: the file it writes has no name
  /// until it is whole (it was `.o.rltb.rawlockcheck-XXXXXX`, left behind).
  @Test func aKilledConvertLeavesNoTemporaryFile() throws {
    let dir = try MergeCommandTests.directory([:])
    defer { try? FileManager.default.removeItem(at: dir) }
    let input = dir.appendingPathComponent("a.rlt")
    _ = FileManager.default.createFile(atPath: input.path, contents: nil)
    let generated = try ToolRun(
      ["generate", "--events", "300000"], in: dir,
      standardInput: nil, standardOutput: FileHandle(forWritingTo: input))
    #expect(generated.status == 0)
    let process = Process()
    process.executableURL = FixturePaths.tool
    process.arguments = ["convert", "a.rlt", "o.rltb"]
    process.currentDirectoryURL = dir
    try process.run()
    // Killed once it has a file open in the directory other than its input.
    var caught: String?
    while process.isRunning && caught == nil {
      let fds = "/proc/\(process.processIdentifier)/fd"
      for entry in (try? FileManager.default.contentsOfDirectory(atPath: fds)) ?? [] {
        guard
          let target = try? FileManager.default.destinationOfSymbolicLink(
            atPath: fds + "/" + entry),
          target.hasPrefix(dir.path + "/"), target != input.path
        else { continue }
        kill(process.processIdentifier, SIGKILL)
        caught = target
        break
      }
      usleep(1000)
    }
    process.waitUntilExit()
    try #require(caught != nil, "convert ended before it was caught writing")
    #expect(process.terminationReason == .uncaughtSignal)
    #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["a.rlt"])
  }
}

/// An output may have any legal name: one of NAME_MAX (255) bytes, whose
/// temporary file beside it would be longer, is written all the same.
@Suite struct LongOutputNameTests {
  @Test func aNameOfTheLongestLengthIsWritten() throws {
    let dir = try ConvertCommandTests.directory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let name = String(repeating: "é", count: 126) + "abc"  // 255 bytes
    #expect(name.utf8.count == 255)
    let run = try ToolRun(["convert", "a.rlt", name], in: dir)
    #expect(run.status == 0, "\(run.stderr)")
    #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent(name).path))
    #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).count == 2)
  }
}

/// `convert` reads a stream (standard input, a FIFO, a device) twice: the
/// first reading copies what it reads, so that a stream that stops
/// reading as a trace is copied no further than where its reader stops,
/// and an endless stream of something else (`/dev/zero`, `yes`) fills no
/// disk.
@Suite struct StreamCopyTests {
  /// Runs `convert - /dev/null` on the pieces `producer` (Python source
  /// defining a generator `pieces()`) makes, up to 1 GiB: the tool's
  /// status and stderr, and how much was written before the pipe broke.
  static func convert(_ producer: String) throws -> (status: Int32, stderr: String, written: Int) {
    let driver = """
      import subprocess, sys
      p = subprocess.Popen([sys.argv[1], "convert", "-", "/dev/null"], stdin=subprocess.PIPE,
                           stderr=subprocess.PIPE)
      exec(sys.argv[2])
      written = 0
      try:
          for piece in pieces():
              p.stdin.write(piece)
              written += len(piece)
              if written >= 1 << 30:
                  break
          p.stdin.close()
      except BrokenPipeError:
          pass
      err = p.stderr.read().decode()
      print(p.wait(), written)
      sys.stdout.write(err)
      """
    let run = try ToolRun.command(
      "/usr/bin/python3", ["-c", driver, FixturePaths.tool.path, producer])
    let lines = run.stdout.split(separator: "\n", maxSplits: 1).map(String.init)
    let fields = (lines.first ?? "").split(separator: " ")
    return (
      Int32(fields.first.flatMap { Int($0) } ?? -99), lines.count > 1 ? lines[1] : "",
      Int(fields.last ?? "") ?? -1
    )
  }

  /// Binary: the magic and version, then zeros (an unknown record type
  /// at byte 5). It was copied until the copy's disk was nearly full.
  @Test func aBinaryStreamOfZerosStopsAtItsFirstRecord() throws {
    let run = try Self.convert(
      "def pieces():\n yield b\"RLCT\\x01\"\n while True: yield bytes(65536)")
    #expect(run.status == 2, "\(run.stderr)")
    #expect(run.stderr == "rawlockcheck: -: byte 5: unknown record type 0x00\n")
    // What a pipe and the reader's buffer hold, not a disk's worth.
    #expect(run.written < 16 << 20, "\(run.written)")
  }

  /// Text: the header, then lines that are no trace's (`yes garbage`).
  @Test func aTextStreamOfGarbageStopsAtItsFirstBadLine() throws {
    let run = try Self.convert(
      "def pieces():\n yield b\"rawlockcheck-trace 1\\n\"\n while True: yield b\"garbage\\n\" * 8192"
    )
    #expect(run.status == 2, "\(run.stderr)")
    #expect(
      run.stderr
        == "rawlockcheck: -:2: expected a declaration or \"<tid> <verb> ...\", got \"garbage\"\n")
    #expect(run.written < 16 << 20, "\(run.written)")
  }

  /// The command on a device that never ends: the reader's error, at once.
  @Test func convertOfDevZeroStops() throws {
    let dir = try ConvertCommandTests.directory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let run = try ToolRun(["convert", "/dev/zero", "out.rltb"], in: dir)
    #expect(run.status == 2)
    #expect(run.stderr == "rawlockcheck: /dev/zero:1: line longer than 1048576 bytes\n")
    #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("out.rltb").path))
  }
}
