import Foundation
import Testing

/// Inputs built to break the tool rather than to describe a program: a
/// corrupt ELF file, counts too large to allocate, and a small trace whose
/// report is hundreds of megabytes. Each must end in an answer or a
/// one-line error, never in a crash.
@Suite struct AdversarialInputTests {
  static func temporaryDirectory() throws -> URL {
    let dir = FileManager.default.temporaryDirectory
      .appendingPathComponent("adversarial-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    return dir
  }

  static func shell(_ script: String) throws -> (status: Int32, reason: Process.TerminationReason) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/bin/sh")
    process.arguments = ["-c", script]
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    try process.run()
    process.waitUntilExit()
    return (process.terminationStatus, process.terminationReason)
  }

  /// A section header whose `sh_size` is larger than `Int.max` (one byte
  /// of a header flipped) made `CodeRanges` trap computing `Range.count`.
  @Test func symbolizeSurvivesASectionSizeBeyondIntMax() throws {
    let dir = try Self.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let source = dir.appendingPathComponent("tiny.c")
    try Data("int main(void) { return 0; }\n".utf8).write(to: source)
    let binary = dir.appendingPathComponent("tiny")
    let built = try Self.shell("gcc -g -O0 '\(source.path)' -o '\(binary.path)'")
    try #require(built.status == 0, "gcc is needed")
    var bytes = [UInt8](try Data(contentsOf: binary))
    func read<T: FixedWidthInteger>(_ offset: Int, as: T.Type) -> T {
      var value: T = 0
      for i in (0..<MemoryLayout<T>.size).reversed() { value = value << 8 | T(bytes[offset + i]) }
      return value
    }
    let headers = Int(read(0x28, as: UInt64.self))
    let size = Int(read(0x3A, as: UInt16.self))
    let count = Int(read(0x3C, as: UInt16.self))
    var patched = 0
    for index in 0..<count {
      let header = headers + index * size
      // SHF_ALLOC | SHF_EXECINSTR: `.init`, `.plt`, `.text`, `.fini`.
      guard read(header + 8, as: UInt64.self) & 0x6 == 0x6 else { continue }
      bytes[header + 32 + 7] = 0xff  // sh_size's top byte
      patched += 1
    }
    try #require(patched > 0)
    try Data(bytes).write(to: binary)
    let run = try ToolRun(["symbolize", "--exe", binary.path, "0x1000", "0x1130"])
    #expect(run.status == 0, "\(run.stderr)")
    #expect(run.stdout.hasPrefix("0x1000: "))
  }

  /// An `--exe` that is no ELF file to read says which way it is not (it
  /// said "cannot open or not an ELF file" for all of them).
  @Test(arguments: [
    ("/nonexistent/p", "cannot open: No such file or directory"),
    ("/tmp", "cannot open: Is a directory"),
    ("/dev/zero", "not a regular file (a FIFO, socket or device), so no ELF file"),
  ])
  func anExecutableThatCannotBeReadSaysWhy(path: String, reason: String) throws {
    let run = try ToolRun(["symbolize", "--exe", path, "0x1000"])
    #expect(run.status == 2)
    #expect(run.stderr == "rawlockcheck: \(path): \(reason)\n")
  }

  @Test func aTextFileIsNotAnELFFile() throws {
    let path = FixturePaths.traces.appendingPathComponent("seed-scenario.rlt").path
    let run = try ToolRun(["symbolize", "--exe", path, "0x1000"])
    #expect(run.status == 2)
    #expect(run.stderr == "rawlockcheck: \(path): not an ELF file\n")
  }

  /// A file name that is not UTF-8 reaches Swift with U+FFFD in place of
  /// its bad bytes: the tool would read another file, or write one under
  /// another name. It is refused, its bytes shown, before anything is done.
  @Test func anArgumentThatIsNotUTF8IsRefused() throws {
    let dir = try MergeCommandTests.directory(["a.rlt": "rawlockcheck-trace 1\n"])
    defer { try? FileManager.default.removeItem(at: dir) }
    let run = try ToolRun.command(
      "/bin/sh",
      [
        "-c", "cd \"$1\" && exec \"$0\" convert a.rlt \"out$(printf '\\377\\001').rltb\"",
        FixturePaths.tool.path, dir.path,
      ])
    #expect(run.status == 2)
    #expect(
      run.stderr
        == "rawlockcheck: argument 3 (out\\xFF\\x01.rltb) is not valid UTF-8: name files in UTF-8\n"
    )
    #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["a.rlt"])
  }

  /// `generate --classes` (and `--threads`) sized a table before writing a
  /// line: 10^11 classes was a failed allocation (SIGABRT), now a usage
  /// error; so is a count of stacks past the same bound.
  @Test(arguments: [
    ["--shape", "low-reuse", "--classes", "100000000000"],
    ["--shape", "random-order", "--classes", "100000000000"],
    ["--shape", "churn", "--threads", "100000000000"],
    ["--shape", "frees", "--threads", "100000000000"],
    // Each stack is a line written before the first event: an endless file.
    ["--stacks", "99999999999"],
  ])
  func generateRefusesCountsItCannotAllocate(options: [String]) throws {
    let run = try ToolRun(["generate", "--events", "10"] + options)
    #expect(run.status == 2)
    #expect(run.stderr.contains("must be at most"), "\(run.stderr)")
    #expect(run.stderr.split(separator: "\n").count == 1)
  }

  /// A 270 KB trace of 59 cycles along a chain of 60 classes, each link
  /// with a 4,096-frame stack, reports about 120 MB of text: the report
  /// was built whole in memory (twice over) before a byte was written, so
  /// a larger chain of the same shape ran the machine out of memory. It is
  /// written a finding at a time, in well under 300 MB of address space.
  /// JSON and SARIF documents are written a piece at a time, each finding
  /// made as it is written: shorter chains and stacks there (whose
  /// documents, about 100 MB, took 370 MB and more before), as the debug
  /// build writes them slowly.
  @Test(arguments: [("text", 60, 4096), ("json", 30, 1024), ("sarif", 22, 1024)])
  func aReportIsWrittenAFindingAtATime(format: String, classes: Int, frames: Int) throws {
    let dir = try Self.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    var text = "rawlockcheck-trace 1\n"
    for i in 0..<classes { text += "class c\(i) mutex\n" }
    text +=
      "stack s "
      + (0..<frames).map { "0x" + String(0x40_0000 + $0, radix: 16) }
      .joined(separator: " ") + "\n"
    for i in 0..<(classes - 1) {
      text += "1 acquire c\(i)\n1 acquire c\(i + 1) at=s\n1 release c\(i + 1)\n1 release c\(i)\n"
    }
    let last = classes - 1
    for k in 0..<last {
      text += "2 acquire c\(last)\n2 acquire c\(k) at=s\n2 release c\(k)\n2 release c\(last)\n"
    }
    let trace = dir.appendingPathComponent("chain.rlt")
    try Data(text.utf8).write(to: trace)
    let run = try Self.shell(
      "ulimit -v 300000 && exec '\(FixturePaths.tool.path)' report --format \(format) "
        + "'\(trace.path)' > /dev/null")
    #expect(run.reason == .exit)
    #expect(run.status == 1)
  }
}
