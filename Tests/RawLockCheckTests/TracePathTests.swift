import Foundation
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// `RAWLOCKCHECK_TRACE` names the file of each process: `%p` is its process
/// id, and a process never truncates a trace another process is writing
/// (a server starting a copy of itself, `swift test`'s two test processes
/// run at once): it writes `name.<pid>.ext` beside it and says so.
@Suite struct TracePathTests {
  /// Runs `LockdepProbe scenario` recording to `template`; returns its
  /// process id and standard error.
  static func record(
    to template: String, scenario: String = "circular-dependency", also more: [String] = [],
    policy: String? = nil
  ) throws -> (pid: Int32, stderr: String) {
    let run = try RecorderTests.launch(
      [scenario] + more,
      environment: [
        "RAWLOCKCHECK_TRACE": template, "RAWLOCKCHECK": policy,
        "RAWLOCKCHECK_TRACE_FORMAT": nil,
      ],
      capture: .standardError)
    #expect(run.status == 0)
    return (run.pid, run.text)
  }

  static func directory() throws -> URL {
    let directory = FileManager.default.temporaryDirectory
      .appendingPathComponent("trace-path-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    return directory
  }

  /// A FIFO in `directory`, open at both ends (neither open waits).
  static func fifo(in directory: URL) throws -> (path: String, reader: Int32, writer: Int32) {
    let fifo = directory.path + "/fifo"
    #expect(mkfifo(fifo, 0o600) == 0)
    let reader = open(fifo, O_RDONLY | O_NONBLOCK)
    let writer = open(fifo, O_WRONLY | O_NONBLOCK)
    try #require(reader >= 0 && writer >= 0)
    return (fifo, reader, writer)
  }

  static func findings(_ path: String) throws -> [String] {
    let run = try ToolRun(["report", "--format", "json", path])
    #expect(run.status == 1, "\(run.stderr)")
    let json = try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any]
    return (json?["findings"] as? [[String: Any]] ?? []).compactMap { $0["kind"] as? String }
  }

  @Test func percentPIsTheProcessID() throws {
    let directory = try Self.directory()
    defer { try? FileManager.default.removeItem(at: directory) }
    let (pid, stderr) = try Self.record(to: directory.path + "/t-%p-100%%.rltb")
    #expect(!stderr.contains("another process"), "\(stderr)")
    let files = try FileManager.default.contentsOfDirectory(atPath: directory.path)
    #expect(files == ["t-\(pid)-100%.rltb"])
    #expect(try Self.findings(directory.path + "/t-\(pid)-100%.rltb") == ["circular-dependency"])
  }

  @Test func aTraceAnotherProcessWritesIsLeftAlone() throws {
    let directory = try Self.directory()
    defer { try? FileManager.default.removeItem(at: directory) }
    let path = directory.path + "/t.rltb"
    // This process writes `t.rltb`, as a parent recording its own trace.
    let fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0o644)
    #expect(fd >= 0)
    defer { close(fd) }
    #expect(flock(fd, LOCK_EX | LOCK_NB) == 0)
    #expect(write(fd, "kept", 4) == 4)
    let (pid, stderr) = try Self.record(to: path)
    let own = directory.path + "/t.\(pid).rltb"
    #expect(
      stderr.contains(
        "trace \(path) is being written by another process; this process's trace goes to \(own)\n"),
      "\(stderr)")
    #expect(try String(contentsOfFile: path, encoding: .utf8) == "kept")
    #expect(try Self.findings(own) == ["circular-dependency"])

    // Once it is not held, the file is the process's own again (emptied).
    flock(fd, LOCK_UN)
    let (_, again) = try Self.record(to: path)
    #expect(!again.contains("another process"), "\(again)")
    #expect(try Self.findings(path) == ["circular-dependency"])
  }

  /// A FIFO or a device is written as it is (it cannot be truncated, and
  /// no name beside it would be read): the trace comes through a FIFO
  /// whole, and `/dev/null` takes one without a word.
  @Test func aFIFOOrADeviceIsWrittenAsItIs() throws {
    let directory = try Self.directory()
    defer { try? FileManager.default.removeItem(at: directory) }
    // A writer of our own until the probe is done: without one, a read
    // before the probe opens the FIFO is its end.
    let (fifo, reader, keeper) = try Self.fifo(in: directory)
    let drained = directory.path + "/through.rltb"
    let copy = Thread {
      _ = fcntl(reader, F_SETFL, fcntl(reader, F_GETFL) & ~O_NONBLOCK)
      var bytes: [UInt8] = []
      var chunk = [UInt8](repeating: 0, count: 65536)
      while case let n = read(reader, &chunk, chunk.count), n > 0 { bytes += chunk[0..<n] }
      close(reader)
      _ = FileManager.default.createFile(atPath: drained, contents: Data(bytes))
    }
    copy.start()
    let (_, stderr) = try Self.record(to: fifo)
    close(keeper)
    #expect(stderr.isEmpty, "\(stderr)")
    for _ in 0..<3000 where !FileManager.default.fileExists(atPath: drained) { usleep(10_000) }
    #expect(try Self.findings(drained) == ["circular-dependency"])
    let (_, null) = try Self.record(to: "/dev/null")
    #expect(null.isEmpty, "\(null)")
  }

  /// Two processes in one FIFO would interleave their records: while
  /// another process writes it (holds its lock), a process records nothing
  /// and says so.
  @Test func aFIFOAnotherProcessWritesIsLeftToIt() throws {
    let directory = try Self.directory()
    defer { try? FileManager.default.removeItem(at: directory) }
    let (fifo, reader, writer) = try Self.fifo(in: directory)
    defer {
      close(reader)
      close(writer)
    }
    #expect(flock(writer, LOCK_EX | LOCK_NB) == 0)
    let (_, stderr) = try Self.record(to: fifo)
    #expect(
      stderr.contains(
        "trace \(fifo) is a FIFO another process is writing; this process records nothing\n"),
      "\(stderr)")
    var byte: UInt8 = 0
    #expect(read(reader, &byte, 1) <= 0, "nothing written to the FIFO")
  }

  /// A child made by `fork()` without `exec` shares its parent's file and
  /// unwritten buffers: it validates and records nothing, and the trace
  /// is the parent's alone: its 100 rounds of a -> b, no cycle with the
  /// child's b -> a, no event twice (not the parent's buffered events
  /// written again at the child's exit).
  @Test func aForkedChildRecordsNothing() throws {
    let directory = try Self.directory()
    defer { try? FileManager.default.removeItem(at: directory) }
    let path = directory.path + "/t.rltb"
    let (_, stderr) = try Self.record(to: path, scenario: "fork")
    #expect(stderr.isEmpty, "\(stderr)")
    let run = try ToolRun(["stats", "--format", "json", path])
    #expect(run.status == 0, "\(run.stderr)")
    let json = try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any]
    let kinds = json?["eventsPerKind"] as? [String: Int]
    #expect(kinds?["acquire"] == 200)
    #expect(kinds?["release"] == 200)
    #expect((json?["findings"] as? [String: Any])?.isEmpty == true)
    #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path) == ["t.rltb"])
  }

  /// Children forked while another thread makes and takes lock classes
  /// inherit the validator's locks as that thread held them: each takes
  /// two new locks and exits, and none waits forever (the probe's run has
  /// a watchdog: `RecorderTests.record`).
  @Test func aChildForkedWhileTheValidatorIsBusyDoesNotHang() throws {
    let (live, trace) = try RecorderTests.record("fork-while-busy")
    defer { try? FileManager.default.removeItem(at: trace) }
    #expect(live.isEmpty)
  }

  /// A finding at the exit of a thread nobody joins, while `main`
  /// returns, is printed whole: the process's exit waits for reports
  /// being printed (the first is symbolized, which takes a while), as it
  /// cut it short before, and nothing at all was printed.
  @Test func aFindingPrintedAsMainReturnsIsPrintedWhole() throws {
    let directory = try Self.directory()
    defer { try? FileManager.default.removeItem(at: directory) }
    let (_, stderr) = try Self.record(
      to: directory.path + "/t.rltb", scenario: "leak-at-thread-exit-while-main-returns",
      policy: "print")
    #expect(stderr.contains("WARNING: lock held when thread exits!\n"), "\(stderr)")
    #expect(stderr.contains("&leaker->lock"), "\(stderr)")
    #expect(stderr.contains("stack backtrace:\n"), "\(stderr)")
  }

  /// Children forked while another thread is still making the validator
  /// (held half made for 0.3 s: its trace is a FIFO that nobody reads
  /// yet) each take a lock and exit: none waits forever for the
  /// validator's lazy initialization (the probe exits 1 when a child had
  /// not exited after 10 s).
  @Test func aChildForkedWhileTheValidatorIsMadeDoesNotHang() throws {
    let directory = try Self.directory()
    defer { try? FileManager.default.removeItem(at: directory) }
    let fifo = directory.path + "/fifo"
    #expect(mkfifo(fifo, 0o600) == 0)
    let reader = Thread {
      usleep(300_000)
      let fd = open(fifo, O_RDONLY)
      guard fd >= 0 else { return }
      var buffer = [UInt8](repeating: 0, count: 1 << 16)
      while read(fd, &buffer, buffer.count) > 0 {}
      close(fd)
    }
    reader.start()
    let (_, stderr) = try Self.record(to: fifo, scenario: "fork-while-creating")
    #expect(stderr.isEmpty, "\(stderr)")
  }
}
