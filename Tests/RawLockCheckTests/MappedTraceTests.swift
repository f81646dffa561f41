import Foundation
import Testing

/// A binary trace in a regular file is mapped, not read (`MappedTraceFile`):
/// from where standard input stands, and with a file that shrinks while it
/// is read ending the run with a one-line error, not a crash.
@Suite struct MappedTraceTests {
  /// `findings/recursive-locking.rlt` in the binary encoding, in a new
  /// temporary directory (removed by the caller).
  static func binaryTrace(
    _ fixture: String = "findings/recursive-locking.rlt"
  ) throws -> (directory: URL, trace: URL) {
    let dir = FileManager.default.temporaryDirectory
      .appendingPathComponent("mapped-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    let trace = dir.appendingPathComponent("t.rltb")
    let run = try ToolRun(
      ["convert", FixturePaths.traces.appendingPathComponent(fixture).path, trace.path])
    #expect(run.status == 0, "\(run.stderr)")
    return (dir, trace)
  }

  /// `{ head -c 17 >/dev/null; rawlockcheck report -; } < file`: the binary
  /// trace starts at standard input's offset, which is no page boundary, so
  /// the mapping starts before it.
  @Test func standardInputFromAFileIsMappedFromItsOffset() throws {
    let (dir, trace) = try Self.binaryTrace()
    defer { try? FileManager.default.removeItem(at: dir) }
    let skipped = Data("not a trace line\n".utf8)
    let file = dir.appendingPathComponent("offset.rltb")
    try (skipped + Data(contentsOf: trace)).write(to: file)
    let input = try FileHandle(forReadingFrom: file)
    try input.seek(toOffset: UInt64(skipped.count))
    let run = try ToolRun(["report", "-"], standardInput: input)
    #expect(run.status == 1, "\(run.stderr)")
    #expect(run.stdout.contains("WARNING: possible recursive locking detected"))
    #expect(run.stderr.isEmpty)
  }

  /// A trace cut to a few bytes while `report` reads it: the mapped bytes
  /// past the new end fault (`SIGBUS`), and the run ends with status 2
  /// and one line naming the file, instead of dying of the signal. (A
  /// file read with `read()` would have read as a shorter file.) A
  /// `SIGBUS` sent instead still ends the process as it would have.
  @Test(arguments: [false, true])
  func aTraceThatShrinksWhileReadEndsWithAnError(signalSentInstead: Bool) throws {
    let dir = FileManager.default.temporaryDirectory
      .appendingPathComponent("mapped-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    let text = dir.appendingPathComponent("big.rlt").path
    // As /proc/PID/maps names it (the temporary directory may be a link).
    let trace = dir.resolvingSymlinksInPath().appendingPathComponent("big.rltb").path
    #expect(FileManager.default.createFile(atPath: text, contents: nil))
    let generated = try ToolRun(
      ["generate", "--events", "1000000", "--shape", "low-reuse"], standardInput: nil,
      standardOutput: FileHandle(forWritingTo: URL(fileURLWithPath: text)))
    #expect(generated.status == 0, "\(generated.stderr)")
    #expect(try ToolRun(["convert", text, trace]).status == 0)

    let process = Process()
    process.executableURL = FixturePaths.tool
    process.arguments = ["report", "--reader-thread", "off", trace]
    // A signal passed on gets the default action, not the runtime's report.
    process.environment = ["SWIFT_BACKTRACE": "enable=no"]
    let err = Pipe()
    process.standardError = err
    process.standardOutput = FileHandle.nullDevice
    try process.run()
    // Cut the file once it is mapped (it shows in the process's maps),
    // with the process stopped meanwhile: a busy machine could otherwise
    // let it read to the end first.
    let maps = "/proc/\(process.processIdentifier)/maps"
    var cut = false
    let deadline = Date().addingTimeInterval(120)
    while process.isRunning && Date() < deadline {
      if let text = try? String(contentsOfFile: maps, encoding: .utf8), text.contains(trace) {
        if signalSentInstead {
          kill(process.processIdentifier, SIGBUS)
        } else {
          kill(process.processIdentifier, SIGSTOP)
          // Stopped (state T) before the cut: the stop is asynchronous.
          let stat = "/proc/\(process.processIdentifier)/stat"
          func stopped() -> Bool {
            guard let text = try? String(contentsOfFile: stat, encoding: .utf8),
              let close = text.lastIndex(of: ")")
            else { return true }
            return text[close...].dropFirst(2).first == "T"
          }
          let stopDeadline = Date().addingTimeInterval(30)
          while !stopped() && Date() < stopDeadline { usleep(1000) }
          #expect(truncate(trace, 4096) == 0)
          kill(process.processIdentifier, SIGCONT)
        }
        cut = true
        break
      }
      usleep(500)
    }
    let message = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    #expect(cut, "the trace was never mapped")
    if signalSentInstead {
      // A `SIGBUS` sent (`kill`) is no fault of the mapping: it is passed
      // on to the action before, and the process dies of it.
      #expect(process.terminationReason == .uncaughtSignal)
      #expect(process.terminationStatus == SIGBUS, "\(message)")
      return
    }
    #expect(process.terminationReason == .exit)
    #expect(process.terminationStatus == 2, "\(message)")
    #expect(
      message
        == "rawlockcheck: \(trace): the file shrank, or could not be read, while it was read\n")
  }
}
