import Foundation
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// Ctrl-C (SIGINT) or SIGTERM while `report` reads: the reading ends where
/// it stands, the report of what was read is printed whole (valid JSON, a
/// SARIF log that says the run did not succeed), the traces not begun are
/// named, and the status is 128 plus the signal's number, as for a process
/// the signal ended; a second signal ends the process at once.
///
/// The trace comes through a pipe, in two parts: the first holds an AB-BA
/// cycle, then filler; the signal is sent once the tool has read all of it
/// and waits for more. The rest is filler, written a line at a time
/// until the tool ends: a tool that does not stop reads on, and ends only
/// at the end of the rest (status 1, no interruption said).
@Suite(.serialized, .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/python3")))
struct InterruptedReportTests {
  /// Runs the tool in `directory` with `arguments`, the trace's two parts
  /// on its standard input, and sends `signal` `times` times, each once
  /// the one before was delivered and `gap` seconds more have passed; the
  /// tool's status (negative: ended by that signal), standard output and
  /// error, and whether it ended in the `quiet` seconds after the signals
  /// in which nothing more is written to it.
  static func run(
    _ arguments: [String], signal: String, times: Int = 1, gap: Double = 0, quiet: Double = 0.3,
    first: Data, rest: Data, in directory: URL
  ) throws -> (status: Int, stdout: String, stderr: String, endedWhileQuiet: Bool)? {
    let python = "/usr/bin/python3"
    guard FileManager.default.isExecutableFile(atPath: python) else { return nil }
    try first.write(to: directory.appendingPathComponent("first"))
    try rest.write(to: directory.appendingPathComponent("rest"))
    let driver = """
      import os, signal, subprocess, sys, time
      tool, name, times, gap, quiet = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])
      number = getattr(signal, name)
      # The test runner starts its children with these blocked.
      signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGINT, signal.SIGTERM])
      def child():
          signal.signal(signal.SIGINT, signal.SIG_DFL)
          signal.signal(signal.SIGTERM, signal.SIG_DFL)
      first = open("first", "rb").read()
      rest = open("rest", "rb").read().splitlines(keepends=True)
      p = subprocess.Popen([tool] + sys.argv[6:], stdin=subprocess.PIPE,
                           stdout=open("out", "wb"), stderr=open("err", "wb"), preexec_fn=child)
      def status(field):
          try:
              for line in open(f"/proc/{p.pid}/{field[0]}"):
                  if line.startswith(field[1]):
                      return line.split()[1]
          except OSError:
              pass
          return "0"
      def waiting_on_stdin():
          # A thread of the tool blocked reading its standard input.
          try:
              for task in os.listdir(f"/proc/{p.pid}/task"):
                  # Blocked reading, or waiting in poll for the pipe's next bytes.
                  wchan = open(f"/proc/{p.pid}/task/{task}/wchan").read()
                  if "pipe_read" in wchan or "poll" in wchan:
                      return True
          except OSError:
              pass
          return False
      def wait(condition):
          deadline = time.time() + 120
          while time.time() < deadline and p.poll() is None and not condition():
              time.sleep(0.01)
      # The handler in place, and the tool waiting for its trace.
      wait(lambda: int(status(("status", "SigCgt:")), 16) & (1 << (number - 1))
           and waiting_on_stdin())
      # All of the first part read (what it read before is the baseline),
      # and the tool waiting for more.
      before = int(status(("io", "rchar:")))
      p.stdin.write(first)
      p.stdin.flush()
      wait(lambda: int(status(("io", "rchar:"))) >= before + len(first) and waiting_on_stdin())
      time.sleep(0.2)
      def pending():
          # The signal sent and not yet delivered (a process-directed one).
          return int(status(("status", "ShdPnd:")), 16) & (1 << (number - 1))
      for i in range(times):
          if i > 0:
              time.sleep(gap)
          os.kill(p.pid, number)
          # Delivered (its handler ran) before the next.
          wait(lambda: not pending())
      deadline = time.time() + quiet
      while time.time() < deadline and p.poll() is None:
          time.sleep(0.01)
      quietly = p.poll() is not None
      try:
          for line in rest:
              if p.poll() is not None:
                  break
              p.stdin.write(line)
              p.stdin.flush()
              time.sleep(0.002)
          p.stdin.close()
      except BrokenPipeError:
          pass
      print(p.wait(), int(quietly))
      """
    let process = Process()
    process.executableURL = URL(fileURLWithPath: python)
    process.arguments =
      ["-c", driver, FixturePaths.tool.path, signal, "\(times)", "\(gap)", "\(quiet)"] + arguments
    process.currentDirectoryURL = directory
    let out = Pipe()
    process.standardOutput = out
    try process.run()
    let printed = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    let fields = printed.split(separator: " ").map {
      $0.trimmingCharacters(in: .whitespacesAndNewlines)
    }
    let status = try #require(fields.first.flatMap { Int($0) }, "\(printed)")
    return (
      status,
      try String(contentsOf: directory.appendingPathComponent("out"), encoding: .utf8),
      try String(contentsOf: directory.appendingPathComponent("err"), encoding: .utf8),
      fields.last == "1"
    )
  }

  /// The first part: threads 1 and 2 take locks a and b in opposite
  /// orders (a cycle), then `filler` pairs of a lock of its own.
  static func first(filler: Int = 2_000) -> Data { Data(firstText(filler: filler).utf8) }

  static func firstText(filler: Int = 2_000) -> String {
    var lines = [
      "rawlockcheck-trace 1", "class a spinlock name=&a", "class b spinlock name=&b",
      "class f spinlock name=&f", "thread 1", "thread 2",
      "1 acquire a", "1 acquire b", "1 release b", "1 release a",
      "2 acquire b", "2 acquire a", "2 release a", "2 release b",
    ]
    for _ in 0..<filler { lines += ["1 acquire f", "1 release f"] }
    return lines.joined(separator: "\n") + "\n"
  }

  /// The rest: `pairs` pairs of filler, a line at a time.
  static func rest(pairs: Int = 20_000) -> Data {
    Data(String(repeating: "2 acquire f\n2 release f\n", count: pairs).utf8)
  }

  @Test func sigintEndsTheReadingAndPrintsTheJSONReportOfWhatWasRead() throws {
    let dir = try MergeCommandTests.directory(["later.rlt": Self.firstText(filler: 0)])
    defer { try? FileManager.default.removeItem(at: dir) }
    guard
      let run = try Self.run(
        ["report", "--format", "json", "--reader-thread", "off", "-", "later.rlt"],
        signal: "SIGINT", first: Self.first(), rest: Self.rest(), in: dir)
    else { return }
    #expect(run.status == 130, "\(run.stderr)")
    // The first trace's report, whole: the later trace was not read.
    let json = try JSONSerialization.jsonObject(with: Data(run.stdout.utf8))
    let reports = try #require(json as? [[String: Any]], "\(run.stdout.prefix(300))")
    #expect(reports.count == 1)
    let findings = reports.first?["findings"] as? [[String: Any]] ?? []
    #expect(findings.map { $0["kind"] as? String } == ["circular-dependency"])
    let events = try #require(reports.first?["events"] as? Int)
    // At least the first part's, not all of the rest's.
    #expect(events >= 8 + 2 * 2_000 && events < 8 + 2 * 2_000 + 2 * 20_000, "\(events)")
    let lines = run.stderr.split(separator: "\n").map(String.init)
    #expect(
      lines.contains {
        $0.hasPrefix("rawlockcheck: -:")
          && $0.hasSuffix(": interrupted by SIGINT: read up to this line")
      },
      "\(run.stderr)")
    #expect(
      lines.contains("rawlockcheck: interrupted by SIGINT: not read: later.rlt"), "\(run.stderr)")
  }

  /// SARIF: the findings read, and an invocation that did not succeed.
  @Test func sigtermEndsABinaryTraceWithASARIFLogThatSaysSo() throws {
    let dir = try MergeCommandTests.directory([
      "whole.rlt": Self.firstText() + String(decoding: Self.rest(), as: UTF8.self),
      "first.rlt": Self.firstText(),
    ])
    defer { try? FileManager.default.removeItem(at: dir) }
    let converted = try ToolRun(["convert", "whole.rlt", "whole.rltb"], in: dir)
    #expect(converted.status == 0, "\(converted.stderr)")
    // The binary trace split where the first part's records end (they
    // are a prefix of the whole trace's: the first part's own binary
    // trace is as long). The rest goes in pieces: the driver splits it
    // at its newline bytes.
    #expect(try ToolRun(["convert", "first.rlt", "first.rltb"], in: dir).status == 0)
    let whole = try Data(contentsOf: dir.appendingPathComponent("whole.rltb"))
    let firstLength = try Data(contentsOf: dir.appendingPathComponent("first.rltb")).count
    #expect(
      whole.prefix(firstLength) == (try Data(contentsOf: dir.appendingPathComponent("first.rltb"))))
    let first = whole.prefix(firstLength)
    let rest = whole.dropFirst(firstLength)
    guard
      let run = try Self.run(
        ["report", "--format", "sarif", "-"], signal: "SIGTERM", first: first, rest: rest, in: dir)
    else { return }
    #expect(run.status == 143, "\(run.stderr)")
    let log = try #require(
      try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
    let runs = log["runs"] as? [[String: Any]] ?? []
    let results = runs.first?["results"] as? [[String: Any]] ?? []
    #expect(results.map { $0["ruleId"] as? String } == ["circular-dependency"])
    let invocation = (runs.first?["invocations"] as? [[String: Any]])?.first
    #expect(invocation?["executionSuccessful"] as? Bool == false)
    #expect(run.stderr.contains("interrupted by SIGTERM at byte "), "\(run.stderr)")
  }

  /// After an interrupt, `--graph-out` is not written: the old file
  /// stays as it was (a graph of part of a run would replace the graph of
  /// every run before it).
  @Test func anInterruptedRunLeavesTheGraphFileAsItWas() throws {
    let dir = try MergeCommandTests.directory(["old.rlt": Self.firstText(filler: 0)])
    defer { try? FileManager.default.removeItem(at: dir) }
    let graph = dir.appendingPathComponent("g.graph")
    #expect(try ToolRun(["report", "--graph-out", "g.graph", "old.rlt"], in: dir).status == 1)
    let before = try Data(contentsOf: graph)
    guard
      let run = try Self.run(
        ["report", "--graph-in", "g.graph", "--graph-out", "g.graph", "-"], signal: "SIGINT",
        first: Self.first(), rest: Self.rest(), in: dir)
    else { return }
    #expect(run.status == 130, "\(run.stderr)")
    #expect(run.stderr.contains("rawlockcheck: interrupted by SIGINT: g.graph not written"))
    #expect(try Data(contentsOf: graph) == before)
  }

  /// A merge cut short is named after the traces it read (`-`), not
  /// after those it did not (`- + later.rlt`).
  @Test func anInterruptedMergeIsNamedAfterTheTracesRead() throws {
    let dir = try MergeCommandTests.directory(["later.rlt": Self.firstText(filler: 0)])
    defer { try? FileManager.default.removeItem(at: dir) }
    guard
      let run = try Self.run(
        ["report", "--merge", "--format", "json", "-", "later.rlt"], signal: "SIGINT",
        first: Self.first(), rest: Self.rest(), in: dir)
    else { return }
    #expect(run.status == 130, "\(run.stderr)")
    let json = try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any]
    #expect(json?["source"] as? String == "-", "\(run.stdout.prefix(300))")
    #expect(run.stderr.contains("rawlockcheck: interrupted by SIGINT: not read: later.rlt"))
  }

  /// Interrupted while the `--graph-in` file is read (from a pipe that
  /// waits for more): the report is the graph file's alone, whole, and the
  /// trace is named as not read. The output was empty, not a JSON
  /// document.
  @Test func anInterruptWhileTheGraphFileIsReadStillPrintsAReport() throws {
    let dir = try MergeCommandTests.directory(["t.rlt": Self.firstText(filler: 0)])
    defer { try? FileManager.default.removeItem(at: dir) }
    let graph = Data("rawlockcheck-graph 1\nclass g0 mutex\n".utf8)
    let more = Data((1...200).map { "class g\($0) mutex\n" }.joined().utf8)
    guard
      let run = try Self.run(
        ["report", "--format", "json", "--graph-in", "-", "t.rlt"], signal: "SIGINT",
        first: graph, rest: more, in: dir)
    else { return }
    #expect(run.status == 130, "\(run.stderr)")
    let json = try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any]
    #expect(json?["events"] as? Int == 0, "\(run.stdout)")
    #expect((json?["findings"] as? [Any])?.isEmpty == true, "\(run.stdout)")
    #expect(run.stderr.contains("rawlockcheck: interrupted by SIGINT: not read: t.rlt"))
  }

  /// The same signal again as soon as the first was delivered is one
  /// interrupt delivered twice, as GNU `timeout` delivers it (to the
  /// process, then to its process group): the report is printed (it was
  /// lost: the second ended the process).
  @Test func theSameSignalTwiceAtOnceIsOneInterrupt() throws {
    let dir = try MergeCommandTests.directory([:])
    defer { try? FileManager.default.removeItem(at: dir) }
    guard
      let run = try Self.run(
        ["report", "--format", "json", "-"], signal: "SIGINT", times: 2, gap: 0,
        first: Self.first(), rest: Self.rest(), in: dir)
    else { return }
    #expect(run.status == 130, "\(run.stderr)")
    let json = try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any]
    let findings = json?["findings"] as? [[String: Any]] ?? []
    #expect(findings.map { $0["kind"] as? String } == ["circular-dependency"], "\(run.stdout)")
  }

  /// A second signal, more than a second after the first
  /// (`InterruptCleanup.repeatWindow`), does not wait for the reading to
  /// stop: here the reading of a `--graph-in` file, which is read whole,
  /// from a pipe that waits for more.
  @Test func aSecondSignalEndsTheToolAtOnce() throws {
    let dir = try MergeCommandTests.directory(["t.rlt": Self.firstText(filler: 0)])
    defer { try? FileManager.default.removeItem(at: dir) }
    let graph = Data("rawlockcheck-graph 1\nclass g0 mutex\n".utf8)
    let more = Data((1...200).map { "class g\($0) mutex\n" }.joined().utf8)
    guard
      let run = try Self.run(
        ["report", "--graph-in", "-", "t.rlt"], signal: "SIGTERM", times: 2, gap: 1.5,
        first: graph, rest: more, in: dir)
    else { return }
    #expect(run.status == -Int(SIGTERM), "\(run.stderr)")
    #expect(run.stdout.isEmpty)
  }

  /// A signal while the trace's pipe is quiet (its writer hangs) ends the
  /// reading without waiting for the pipe's next bytes, in either
  /// encoding, whether the trace is read on a thread of its own or not:
  /// the report of the first part is printed, and the run ends while
  /// nothing more comes. (It waited for the next bytes, which may never
  /// come.)
  @Test(arguments: [false, true], ["on", "off"])
  func aSignalWhileThePipeIsQuietEndsTheReadingAtOnce(binary: Bool, readerThread: String) throws {
    let dir = try MergeCommandTests.directory(["first.rlt": Self.firstText()])
    defer { try? FileManager.default.removeItem(at: dir) }
    var first = Self.first()
    if binary {
      #expect(try ToolRun(["convert", "first.rlt", "first.rltb"], in: dir).status == 0)
      first = try Data(contentsOf: dir.appendingPathComponent("first.rltb"))
    }
    guard
      let run = try Self.run(
        ["report", "--format", "json", "--reader-thread", readerThread, "-"], signal: "SIGTERM",
        quiet: 10, first: first, rest: Self.rest(), in: dir)
    else { return }
    #expect(run.status == 143, "\(run.stderr)")
    #expect(run.endedWhileQuiet, "\(run.stderr)")
    let json = try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any]
    #expect(json?["events"] as? Int == 8 + 2 * 2_000, "\(run.stdout.prefix(300))")
    let findings = json?["findings"] as? [[String: Any]] ?? []
    #expect(findings.map { $0["kind"] as? String } == ["circular-dependency"], "\(run.stdout)")
    #expect(
      run.stderr.contains(
        binary ? "interrupted by SIGTERM at byte " : "interrupted by SIGTERM: read up to this line"),
      "\(run.stderr)")
  }
}
