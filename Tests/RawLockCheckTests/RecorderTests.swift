import Foundation
import Testing

/// The recorder: a live program's trace (`RAWLOCKCHECK_TRACE`), read back by
/// `rawlockcheck report`, gives the findings the live run reported, for
/// every finding kind (`LockdepProbe` causes each through the real locks).
@Suite struct RecorderTests {
  static let scenarios = [
    "invalid-wait-context", "circular-dependency", "recursive-locking",
    "inconsistent-lock-state", "irq-lock-inversion", "bad-unlock-balance", "held-lock-freed",
    "sleep-in-atomic", "locks-held-at-exit", "nested-lock-not-taken", "limit-exceeded",
  ]

  static var probe: URL {
    FixturePaths.tool.deletingLastPathComponent().appendingPathComponent("LockdepProbe")
  }

  /// Runs the probe on `scenario`, recording to a temporary trace (in the
  /// recorder's default encoding, binary, unless `format` names one);
  /// returns the live findings (`kind count` lines) and the trace's path.
  /// `policy`: the probe's `RAWLOCKCHECK` (the probe then chooses none,
  /// and its validator starts at its first lock or context event).
  static func record(_ scenario: String, format: String? = nil, policy: String? = nil) throws
    -> (live: [String], trace: URL)
  {
    let (output, trace) = try run(scenario, format: format, policy: policy)
    let live = output.filter { $0.hasPrefix("finding ") }.map {
      String($0.dropFirst("finding ".count))
    }
    return (live, trace)
  }

  /// `record(_:format:policy:)`, returning every line the probe printed.
  static func run(_ scenario: String, format: String? = nil, policy: String? = nil) throws
    -> (output: [String], trace: URL)
  {
    let trace = FileManager.default.temporaryDirectory
      .appendingPathComponent("recorder-\(scenario)-\(UUID().uuidString).rlt")
    // The probe collects by itself; RAWLOCKCHECK would override the
    // policy its scenarios choose.
    let run = try launch(
      [scenario],
      environment: [
        "RAWLOCKCHECK_TRACE": trace.path, "RAWLOCKCHECK": policy,
        "RAWLOCKCHECK_TRACE_FORMAT": format,
      ],
      capture: .standardOutput)
    #expect(run.status == 0, "\(scenario) exited \(run.reason)")
    return (run.text.split(separator: "\n").map(String.init), trace)
  }

  /// Which of the probe's output streams `launch` reads (the other is
  /// discarded).
  enum ProbeStream { case standardOutput, standardError }

  /// Runs the probe with `arguments` and its environment changed by
  /// `changes` (nil removes a variable), until it ends; what it wrote to
  /// `capture`, its status, how it ended and its pid. A probe that hangs
  /// (a deadlock in the validator) is ended after 120 s: it fails its
  /// test rather than the whole run.
  static func launch(
    _ arguments: [String], environment changes: [String: String?], capture: ProbeStream
  ) throws -> (status: Int32, reason: Process.TerminationReason, pid: Int32, text: String) {
    let process = Process()
    process.executableURL = probe
    process.arguments = arguments
    var environment = ProcessInfo.processInfo.environment
    for (name, value) in changes { environment[name] = value }
    process.environment = environment
    let pipe = Pipe()
    process.standardOutput = capture == .standardOutput ? pipe : FileHandle.nullDevice
    process.standardError = capture == .standardError ? pipe : FileHandle.nullDevice
    try process.run()
    // SIGKILL: the child may have SIGTERM blocked (the test runner's mask).
    let watchdog = DispatchWorkItem {
      if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }
    DispatchQueue.global().asyncAfter(deadline: .now() + 300, execute: watchdog)
    defer { watchdog.cancel() }
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (
      process.terminationStatus, process.terminationReason, process.processIdentifier,
      String(decoding: data, as: UTF8.self)
    )
  }

  /// `kind count` of every finding `rawlockcheck report --format json` prints.
  static func offline(_ trace: URL) throws -> [String] {
    let run = try ToolRun(["report", "--format", "json", trace.path])
    #expect(run.status == 1, "a trace with findings exits 1: \(run.stderr)")
    let json = try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any]
    let findings = json?["findings"] as? [[String: Any]] ?? []
    return findings.map { "\($0["kind"] as? String ?? "?") \($0["count"] as? Int ?? -1)" }
  }

  /// What `rawlockcheck stats --format json` says of `trace` (which it
  /// must read without an error).
  static func stats(_ trace: URL) throws -> [String: Any]? {
    let run = try ToolRun(["stats", "--format", "json", trace.path])
    #expect(run.status == 0, "\(run.stderr)")
    return try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any]
  }

  @Test(arguments: scenarios)
  func traceGivesTheLiveFindings(_ scenario: String) throws {
    let (live, trace) = try Self.record(scenario)
    defer { try? FileManager.default.removeItem(at: trace) }
    #expect(live.contains { $0.hasPrefix(scenario + " ") }, "the live run found \(scenario)")
    #expect(try Self.offline(trace) == live)
  }

  /// A thread that exits holding a lock is reported with the stack of its
  /// exit down to `start_thread`, as lockdep's `do_exit()` report gives the
  /// exit path: the frame-pointer walk stopped in glibc's exit code (built
  /// without frame pointers), and the stack was `__nptl_deallocate_tsd`
  /// alone. Live, and in the trace.
  @Test func aThreadsExitIsReportedWithItsExitPath() throws {
    let live = try Self.launch(
      ["locks-held-at-exit"],
      environment: ["RAWLOCKCHECK": "print", "RAWLOCKCHECK_TRACE": nil],
      capture: .standardError)
    let stack = live.text.components(separatedBy: "stack backtrace:\n").last ?? ""
    #expect(stack.contains(" start_thread "), "\(live.text)")
    let (_, trace) = try Self.run("locks-held-at-exit")
    defer { try? FileManager.default.removeItem(at: trace) }
    let offline = try ToolRun(["report", trace.path])
    #expect(offline.stdout.contains(" start_thread "), "\(offline.stdout)")
  }

  /// A program that faults after a finding: the recorder flushes the
  /// trace, which gives the finding, then hands the fault to the action
  /// SIGSEGV had before it (the probe's own handler, which exits 0; in
  /// most programs the Swift runtime's crash report). Before, the recorder
  /// put back the default action: the process died of the signal, and a
  /// program's crash report was lost.
  @Test func aFaultFlushesTheTraceThenReachesTheProgramsHandler() throws {
    let (output, trace) = try Self.run("crash-after-finding")
    defer { try? FileManager.default.removeItem(at: trace) }
    #expect(output.isEmpty, "the probe ended in its handler: \(output)")
    #expect(try Self.offline(trace) == ["invalid-wait-context 1"])
  }

  /// A run stopped with SIGTERM (a CI job's time limit, `timeout`)
  /// flushes its buffered events before the signal ends it: the trace has
  /// every acquisition. Before, the events still in the thread's buffer
  /// were lost.
  @Test func aRunStoppedBySIGTERMKeepsItsEvents() throws {
    let trace = FileManager.default.temporaryDirectory
      .appendingPathComponent("recorder-stopped-\(UUID().uuidString).rltb")
    defer { try? FileManager.default.removeItem(at: trace) }
    let process = Process()
    process.executableURL = Self.probe
    process.arguments = ["stopped"]
    var environment = ProcessInfo.processInfo.environment
    environment["RAWLOCKCHECK_TRACE"] = trace.path
    environment.removeValue(forKey: "RAWLOCKCHECK")
    environment.removeValue(forKey: "RAWLOCKCHECK_TRACE_FORMAT")
    process.environment = environment
    try process.run()
    process.waitUntilExit()
    #expect(process.terminationReason == .uncaughtSignal)
    #expect(process.terminationStatus == SIGTERM)
    let perKind = try Self.stats(trace)?["eventsPerKind"] as? [String: Int]
    #expect(perKind?["acquire"] == 1000)
    #expect(perKind?["release"] == 1000)
  }

  /// A program that ends with `_exit()`, which runs no exit handler,
  /// keeps its events by calling `LockValidation.flushTrace()` first.
  @Test func aTraceFlushedBeforeExitKeepsItsEvents() throws {
    let (_, trace) = try Self.run("flushed-then-exit")
    defer { try? FileManager.default.removeItem(at: trace) }
    let perKind = try Self.stats(trace)?["eventsPerKind"] as? [String: Int]
    #expect(perKind?["acquire"] == 1000)
    #expect(perKind?["release"] == 1000)
  }

  @Test func eightThreadsLoseNoEventAndFindNothing() throws {
    let (live, trace) = try Self.record("record-stress")
    defer { try? FileManager.default.removeItem(at: trace) }
    #expect(live.isEmpty, "consistent orders: no finding")
    let stats = try Self.stats(trace)
    let perKind = stats?["eventsPerKind"] as? [String: Int]
    // 8 threads x 2,000 rounds x 2 locks.
    #expect(perKind?["acquire"] == 32_000)
    #expect(perKind?["release"] == 32_000)
    let threads = stats?["eventsPerThread"] as? [[String: Any]] ?? []
    let perThread = threads.compactMap { $0["events"] as? Int }.filter { $0 >= 8_000 }
    #expect(perThread.count == 8, "each worker's 8,000 lock events, and its exit")
  }

  /// 200,000 objects locked on one thread and freed on another after it
  /// unlocked them (handed over through a queue the validator does not
  /// see): nothing live, and nothing offline, where a free is checked
  /// against every thread's held locks. A free is written after every
  /// event that happened before it: threads' buffers interleaved at
  /// random put an unlock after the free that followed it, and the trace
  /// found a held lock freed that the program never freed.
  @Test func aLockFreedOnAnotherThreadAfterItsUnlockIsNoFinding() throws {
    let (live, trace) = try Self.record("handoff")
    defer { try? FileManager.default.removeItem(at: trace) }
    #expect(live.isEmpty)
    let run = try ToolRun(["report", trace.path])
    #expect(run.status == 0, "\(run.stdout)")
    #expect(run.stdout.hasSuffix("600002 events, no findings\n"), "\(run.stdout)")
  }

  /// A dependency made first by one thread (which then waits, its buffer
  /// unwritten) and taken again by another often enough to fill its
  /// buffer, before a cycle closes on it: offline, as live, the
  /// dependency's stack is the first thread's whole stack, not the one
  /// frame of the other thread's later acquisitions (an event with a stack
  /// is written after everything that happened before it).
  @Test func aDependencyKeepsTheStackOfTheThreadThatMadeIt() throws {
    let (live, trace) = try Self.record("stacks-across-threads")
    defer { try? FileManager.default.removeItem(at: trace) }
    #expect(live == ["circular-dependency 1"])
    let run = try ToolRun(["report", "--format", "json", trace.path])
    let json = try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any]
    let finding = (json?["findings"] as? [[String: Any]])?.first
    let chain = finding?["chain"] as? [[String: Any]] ?? []
    let made = chain.first { $0["name"] as? String == "&across->b" }
    #expect((made?["frames"] as? [Any])?.count ?? 0 > 1, "\(chain)")
    #expect(made?["thread"] as? String != finding?["thread"] as? String, "the worker made it")
  }

  /// Two runs, each half of an inversion, their locks made (and classes
  /// registered) in opposite orders: merged, or the second checked against
  /// the first's graph file, they are the cycle they make together. The
  /// trace keys a class by its name, not by the order it was registered in
  /// (the first run's `c0` was `&merge->a`, the second's `&merge->b`).
  @Test func twoRunsMakeTheirCycleTogether() throws {
    let (forwardLive, forward) = try Self.record("order-forward")
    let (backwardLive, backward) = try Self.record("order-backward")
    let graph = FileManager.default.temporaryDirectory
      .appendingPathComponent("recorder-\(UUID().uuidString).rlg")
    defer {
      for file in [forward, backward, graph] { try? FileManager.default.removeItem(at: file) }
    }
    #expect(forwardLive.isEmpty && backwardLive.isEmpty)
    let merged = try ToolRun(["report", "--merge", forward.path, backward.path])
    #expect(merged.status == 1)
    #expect(merged.stdout.contains("WARNING: possible circular locking dependency detected"))
    let first = try ToolRun(["report", "--graph-out", graph.path, forward.path])
    #expect(first.status == 0, "\(first.stderr)")
    let second = try ToolRun(["report", "--graph-in", graph.path, backward.path])
    #expect(second.status == 1)
    #expect(second.stdout.contains("WARNING: possible circular locking dependency detected"))
  }

  /// A class's key in a recorded trace is its name; a second class of one
  /// name is `name#2` (quoted in text, as a token holding `#` is).
  @Test func classKeysAreNames() throws {
    let (live, trace) = try Self.record("same-name", format: "text")
    defer { try? FileManager.default.removeItem(at: trace) }
    #expect(live.isEmpty)
    let classes = try String(contentsOf: trace, encoding: .utf8).split(separator: "\n")
      .filter { $0.hasPrefix("class ") }
    #expect(
      classes == [
        "class &twin->lock mutex name=&twin->lock",
        #"class "&twin->lock#2" mutex name=&twin->lock"#,
      ])
  }

  /// A lock taken with an invalid subclass in a signal handler, many times
  /// while the thread validates new chains: the probe ends (it deadlocked
  /// on the core's lock the interrupted code held), every live finding is
  /// the limit (no unlock of it is a bad unlock, also before the thread had
  /// state), and the trace, which leaves those locks out, finds nothing.
  /// A signal handler that runs before the thread (or the process) took
  /// any validated lock is validated as the hard interrupt it is, live and
  /// from the trace (its `hardirq-enter` went unqueued, and the replay
  /// refused its `hardirq-exit`, losing both findings).
  @Test func aSignalHandlerBeforeAnyLockEventIsAHardInterrupt() throws {
    let (live, trace) = try Self.record("signal-first-event", policy: "collect")
    defer { try? FileManager.default.removeItem(at: trace) }
    #expect(Set(live) == ["invalid-wait-context 1", "inconsistent-lock-state 1"], "\(live)")
    #expect(try Self.offline(trace).sorted() == live.sorted())
  }

  /// A signal handler's events on a thread that takes no lock after it,
  /// in a process that then ends: validated at exit (the thread ends the
  /// process, no key destructor runs), reported, and in the trace; they
  /// were queued and lost, and the run was clean live and offline.
  @Test func aSignalHandlersEventsBeforeTheProcessEndsAreValidated() throws {
    let trace = FileManager.default.temporaryDirectory
      .appendingPathComponent("recorder-signal-exit-\(UUID().uuidString).rlt")
    defer { try? FileManager.default.removeItem(at: trace) }
    let (_, printed) = try TracePathTests.record(
      to: trace.path, scenario: "signal-then-exit", policy: "print")
    #expect(printed.contains("BUG: sleeping function called from invalid context"), "\(printed)")
    #expect(printed.contains("&exit-signal->mutex"))
    let report = try ToolRun(["report", "--format", "json", trace.path])
    #expect(report.status == 1)
    #expect(report.stdout.contains("\"kind\": \"sleep-in-atomic\""), "\(report.stdout)")
  }

  /// A might-sleep in a handler on a thread without stack bounds yet
  /// (no frame can be walked there): the trace reads (it named a stack
  /// `s0` it never declared: `unknown stack`, status 2), and the finding's
  /// stack is the might-sleep's call site, in the probe (no stack before).
  @Test func aHandlersEventWithoutAStackLeavesATraceThatReads() throws {
    let (live, trace) = try Self.record("thread-signal-might-sleep", format: "text")
    defer { try? FileManager.default.removeItem(at: trace) }
    #expect(live == ["sleep-in-atomic 1"], "\(live)")
    let report = try ToolRun(["report", trace.path])
    #expect(report.status == 1, "\(report.stderr)")
    let lines = report.stdout.split(separator: "\n").map(String.init)
    let top = lines.firstIndex(of: "stack backtrace:").map { lines[$0 + 1] } ?? ""
    #expect(top.contains("LockdepProbe/main.swift:"), "\(report.stdout)")
    #expect(try Self.offline(trace) == live)
  }

  @Test func anInvalidSubclassInASignalHandlerIsReportedAfterIt() throws {
    let (live, trace) = try Self.record("signal-subclass")
    defer { try? FileManager.default.removeItem(at: trace) }
    #expect(!live.isEmpty)
    #expect(live.allSatisfy { $0.hasPrefix("limit-exceeded ") }, "\(Set(live))")
    let run = try ToolRun(["report", trace.path])
    #expect(run.status == 0, "\(run.stdout)")
  }

  /// Eight threads make the same new chains at the same moment: in the
  /// trace, each dependency's first event is the one that made it live,
  /// with its stack (the maker records before it publishes the chain;
  /// before, another thread's stackless event could come first, and the
  /// report printed that one frame for the dependency).
  @Test func aChainMadeByRacingThreadsIsFirstMetWithItsStack() throws {
    let (live, trace) = try Self.record("race-stacks", format: "text")
    defer { try? FileManager.default.removeItem(at: trace) }
    #expect(live.isEmpty)
    var seen: Set<Substring> = []
    var firstWithoutStack: [Substring] = []
    for line in try String(contentsOf: trace, encoding: .utf8).split(separator: "\n") {
      let fields = line.split(separator: " ")
      guard fields.count >= 3, fields[1] == "acquire", fields[2].hasPrefix("&race->b") else {
        continue
      }
      if seen.insert(fields[2]).inserted && !line.contains(" at=") {
        firstWithoutStack.append(fields[2])
      }
    }
    #expect(seen.count == 100)
    #expect(firstWithoutStack.isEmpty, "\(firstWithoutStack)")
  }

  /// Eight threads making the first locks of 300 classes at once (the
  /// user-package probe's parallel tests): the thread that registers a
  /// class declares it in the trace while the others take their locks of
  /// it, and none of their events may come before the declaration (the
  /// reader refused 5-18 % of such traces: `unknown class`).
  @Test(arguments: ["binary", "text"])
  func classesMadeByRacingThreadsAreDeclaredBeforeTheirEvents(_ format: String) throws {
    for _ in 0..<3 {
      let (live, trace) = try Self.record("race-classes", format: format)
      defer { try? FileManager.default.removeItem(at: trace) }
      #expect(live.isEmpty)
      let perKind = try Self.stats(trace)?["eventsPerKind"] as? [String: Int]
      #expect(perKind?["acquire"] == 8 * 300)
    }
  }

  /// Two places making locks of one name at once on two threads: the
  /// class registered second is `name#2` in the live report and in the
  /// trace's (the recorder declared classes in the order threads reached
  /// the file, so offline the numbers were swapped in 1 run of 10, binary,
  /// and 17 of 30, text: found by a recorder stress probe).
  @Test(arguments: ["binary", "text"])
  func twoClassesOfOneNameAreNumberedAliveAndOffline(_ format: String) throws {
    for _ in 0..<3 {
      let (output, trace) = try Self.run("race-same-names", format: format, policy: "collect")
      defer { try? FileManager.default.removeItem(at: trace) }
      let live = output.filter { $0.hasPrefix("named ") }.map {
        String($0.dropFirst("named ".count))
      }
      .sorted()
      #expect(live.count == 100)
      let report = try ToolRun(["report", trace.path])
      let lines = report.stdout.split(separator: "\n")
      let offline = lines.indices.filter { lines[$0].hasSuffix(" is trying to acquire lock:") }
        .map { String(lines[$0 + 1].split(separator: "{")[0]) }.sorted()
      #expect(offline == live)
    }
  }

  /// A child of `fork()` made before anything was validated validates and
  /// records on its own, in `name.<pid>.ext`, and the parent's trace keeps
  /// the name: the child took it and the parent's went beside it, or the
  /// parent emptied the child's (found by a recorder stress probe).
  @Test func aChildForkedBeforeValidationLeavesTheTraceToItsParent() throws {
    // With RAWLOCKCHECK set the probe chooses no policy: nothing makes the
    // validator before the fork.
    let (_, trace) = try Self.record("fork-first", policy: "collect")
    defer { try? FileManager.default.removeItem(at: trace) }
    let parent = try Self.stats(trace)?["eventsPerKind"] as? [String: Int]
    #expect(parent?["acquire"] == 1000)
    let directory = trace.deletingLastPathComponent()
    let stem = trace.deletingPathExtension().lastPathComponent
    let beside = try FileManager.default.contentsOfDirectory(atPath: directory.path)
      .filter { $0.hasPrefix(stem + ".") && $0 != trace.lastPathComponent }
    #expect(beside.count == 1, "\(beside)")
    for name in beside {
      let path = directory.appendingPathComponent(name)
      defer { try? FileManager.default.removeItem(at: path) }
      let child = try Self.stats(path)?["eventsPerKind"] as? [String: Int]
      #expect(child?["acquire"] == 10)
    }
  }

  /// A signal handler's first run in a process allocates nothing, on a
  /// thread the validator has not seen (its events wait with their
  /// stacks, each frame copied through the kernel) and on one it has,
  /// recorded or not: a handler that interrupts malloc and allocates
  /// waits forever for malloc's lock. The walk of an unseen thread's stack
  /// made a tuple's type metadata at its first use (three allocations),
  /// and `signals-at-exit` hung about once in a hundred runs.
  @Test(
    arguments: [
      ("first-handler-allocates-nothing", nil), ("first-handler-allocates-nothing", "binary"),
      ("first-handler-allocates-nothing", "text"),
      ("first-handler-on-a-known-thread-allocates-nothing", nil),
      ("first-handler-on-a-known-thread-allocates-nothing", "binary"),
    ] as [(String, String?)])
  func aHandlersFirstRunAllocatesNothing(_ scenario: String, _ format: String?) throws {
    let trace = FileManager.default.temporaryDirectory
      .appendingPathComponent("first-handler-\(UUID().uuidString).rlt")
    defer { try? FileManager.default.removeItem(at: trace) }
    let run = try Self.launch(
      [scenario],
      environment: [
        "RAWLOCKCHECK_TRACE": format == nil ? nil : trace.path, "RAWLOCKCHECK": "collect",
        "RAWLOCKCHECK_TRACE_FORMAT": format,
      ],
      capture: .standardOutput)
    #expect(run.status == 0, "\(run.reason)")
    let said = run.text.split(separator: "\n").first { $0.hasPrefix("allocat") } ?? ""
    #expect(said == "allocated 0" || said == "allocations not counted", "\(run.text)")
  }

  /// Signals sent to threads while they work and while they exit: every
  /// handler run that happened is in the trace (each took `&irq->lock`,
  /// as each round of the threads' work took `&work->lock`). Handler runs after the thread's validator ended
  /// were queued where nothing replayed them, and lost without a word
  /// (found by a recorder stress probe in 4 runs of 10).
  @Test(arguments: ["binary", "text"])
  func everyHandlerRunOfAnExitingThreadIsRecorded(_ format: String) throws {
    for _ in 0..<2 {
      let (output, trace) = try Self.run("signals-at-exit", format: format, policy: "collect")
      defer { try? FileManager.default.removeItem(at: trace) }
      // `handled H worked W`: handler runs and the threads' acquisitions.
      let counts =
        output.first { $0.hasPrefix("handled ") }?.split(separator: " ").compactMap { Int($0) }
        ?? []
      try #require(counts.count == 2)
      let perKind = try Self.stats(trace)?["eventsPerKind"] as? [String: Int]
      #expect(counts[0] > 0, "handlers ran while the threads worked")
      #expect(perKind?["acquire"] == counts[0] + counts[1], "handled \(counts[0])")
    }
  }

  /// A thread whose state is made again after its exit (a later key
  /// destructor takes a lock) is declared again under a token of its own:
  /// the binary trace reads (it said the thread was declared twice).
  @Test func aThreadMadeAgainIsDeclaredAgainApart() throws {
    let (live, trace) = try Self.record("late-destructor")
    defer { try? FileManager.default.removeItem(at: trace) }
    #expect(live.isEmpty)
    let perKind = try Self.stats(trace)?["eventsPerKind"] as? [String: Int]
    #expect(perKind?["acquire"] == 41)
  }

  /// Runs the probe on `scenario`, which never ends by itself, printing
  /// its findings (`RAWLOCKCHECK=print`) and recording a text trace, until
  /// what it printed satisfies `done` (or a minute passed); then kills it
  /// with SIGKILL. Returns what it printed, how it ended, and the trace
  /// (the caller removes it).
  static func runUntilKilled(_ scenario: String, until done: (String) -> Bool) throws -> (
    printed: String, reason: Process.TerminationReason, trace: URL
  ) {
    let directory = FileManager.default.temporaryDirectory
    let id = UUID().uuidString
    let trace = directory.appendingPathComponent("recorder-\(scenario)-\(id).rlt")
    let errors = directory.appendingPathComponent("recorder-\(scenario)-\(id).err")
    defer { try? FileManager.default.removeItem(at: errors) }
    _ = FileManager.default.createFile(atPath: errors.path, contents: nil)
    let process = Process()
    process.executableURL = probe
    process.arguments = [scenario]
    var environment = ProcessInfo.processInfo.environment
    environment["RAWLOCKCHECK"] = "print"
    environment["RAWLOCKCHECK_TRACE"] = trace.path
    environment["RAWLOCKCHECK_TRACE_FORMAT"] = "text"
    process.environment = environment
    process.standardOutput = FileHandle.nullDevice
    process.standardError = try FileHandle(forWritingTo: errors)
    try process.run()
    var printed = ""
    for _ in 0..<1200 where !done(printed) {
      usleep(50_000)
      printed = (try? String(contentsOf: errors, encoding: .utf8)) ?? ""
    }
    kill(process.processIdentifier, SIGKILL)
    process.waitUntilExit()
    return (printed, process.terminationReason, trace)
  }

  /// A handler that deadlocks on a lock its thread holds, having
  /// interrupted the validator itself (which, with a trace being
  /// recorded, is most of the time: every event takes the full path):
  /// the thread's state cannot be read there, and nothing is validated,
  /// but a line on standard error names the lock before the program hangs
  /// (it hung without a word; a review found it). When the handler
  /// interrupted the program between two events, its events are
  /// validated, and a line names the lock too.
  @Test func aHandlerDeadlockInsideTheValidatorIsSaid() throws {
    let line = "a signal handler has waited 50 ms for &busy->outer"
    let (printed, reason, trace) = try Self.runUntilKilled("handler-deadlock-in-validator") {
      $0.contains(line)
    }
    defer { try? FileManager.default.removeItem(at: trace) }
    #expect(reason == .uncaughtSignal)
    #expect(printed.contains(line), "\(printed)")
  }

  /// A hard-interrupt handler that takes a raw spin lock the code it
  /// interrupted holds (taken with interrupts on) spins for ever, as in
  /// the kernel, where lockdep reports the acquisition before the CPU
  /// spins (an inconsistent lock state: `{HARDIRQ-ON-W} -> {IN-HARDIRQ-W}`,
  /// and here the recursive acquisition too). The handler's events, queued
  /// to be validated once it returns, are validated once it has waited a
  /// while, and the recording written: the report is printed, and the
  /// trace of the run, killed with SIGKILL, holds them. Before 2026-12-06
  /// the program spun with no output, and the trace had the task's
  /// acquisition alone ("no findings"). `handler-waits-then-deadlocks`
  /// first has a handler wait for a lock its thread only waits for
  /// (reported early, and it goes on), then deadlock on another: both are
  /// reported (a first version reported once per thread, and the real
  /// deadlock after the early report hung without a word).
  @Test(arguments: [
    ("handler-deadlock", ["&deadlock->lock"]),
    ("handler-waits-then-deadlocks", ["&waits->first", "&waits->second"]),
  ])
  func aHandlerSpinningOnItsThreadsLockIsReportedBeforeItHangs(
    _ scenario: String, locks: [String]
  ) throws {
    // `possible recursive locking detected`, its rule, who, then the lock.
    func reported(_ lock: String, in printed: String) -> Bool {
      printed.components(separatedBy: "recursive locking detected").dropFirst().contains {
        $0.split(separator: "\n").prefix(3).contains { $0.contains("(\(lock))") }
      }
    }
    let (printed, reason, trace) = try Self.runUntilKilled(scenario) {
      reported(locks.last!, in: $0)
    }
    defer { try? FileManager.default.removeItem(at: trace) }
    #expect(reason == .uncaughtSignal)
    for lock in locks {
      #expect(printed.contains("a signal handler has waited 50 ms for \(lock)"), "\(printed)")
      #expect(reported(lock, in: printed), "\(printed)")
    }
    #expect(printed.contains("inconsistent {HARDIRQ-ON-W} -> {IN-HARDIRQ-W} usage."), "\(printed)")
    let run = try ToolRun(["report", "--format", "json", trace.path])
    let json = try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any]
    let kinds = Set(
      (json?["findings"] as? [[String: Any]] ?? []).compactMap { $0["kind"] as? String })
    #expect(
      kinds == ["inconsistent-lock-state", "recursive-locking"], "\(run.stdout)\(run.stderr)")
  }

  /// A thread that names itself before its first lock is declared once
  /// with that name (before 2026-12-06, a second `thread` line named it
  /// again); a name longer than the system keeps is given in full.
  @Test func aThreadNamedBeforeItsFirstLockIsDeclaredOnce() throws {
    let (live, trace) = try Self.record("thread-names", format: "text")
    defer { try? FileManager.default.removeItem(at: trace) }
    #expect(live.isEmpty)
    let text = try String(contentsOf: trace, encoding: .utf8)
    let declarations = text.split(separator: "\n").filter { $0.hasPrefix("thread ") }
    #expect(declarations.filter { $0.hasSuffix(" name=worker") }.count == 1, "\(declarations)")
    let threads = try Self.stats(trace)?["eventsPerThread"] as? [[String: Any]] ?? []
    let names = Set(threads.compactMap { $0["name"] as? String })
    #expect(names.isSuperset(of: ["worker", "a-long-worker-name"]), "\(names)")
  }

  /// A thread that read under RCU is one thread of the trace, with one
  /// exit: the RCU layer removes its reader record (under
  /// `rcu_registry_lock`) before the validator's exit check. Before
  /// 2026-12-06 the removal came after it, on a new state: each such
  /// thread was two (`tid` and `tid.2`), each with an exit.
  /// `kmalloc(.atomic)` and `kfree` under a raw spin lock, with the CPU's
  /// object cache warm: on PREEMPT_RT, where SLUB has no lockless fast
  /// path and both take `s->cpu_slab->lock` (a sleeping `local_lock_t`
  /// there) every time, an invalid wait context naming it, and the sleep
  /// in atomic context of `rt_spin_lock()`'s `rtlock_might_resched()`
  /// under the raw lock, live and in the trace; elsewhere nothing, as
  /// lockdep finds nothing on a kernel whose fast path takes no lock. (On
  /// PREEMPT_RT it was found only when the allocation took its slow path;
  /// before 2026-12-07 the warm path's acquisition was checked as
  /// `might_lock()`, with no sleep check: an independent trial's.)
  @Test(arguments: [true, false])
  func aWarmKmallocUnderARawLockIsFoundOnPreemptRT(_ preemptRT: Bool) throws {
    let trace = FileManager.default.temporaryDirectory
      .appendingPathComponent("kmalloc-warm-\(UUID().uuidString).rlt")
    defer { try? FileManager.default.removeItem(at: trace) }
    let run = try Self.launch(
      ["kmalloc-warm-under-raw-lock"],
      environment: [
        "RAWLOCKCHECK_TRACE": trace.path, "RAWLOCKCHECK": nil,
        "RAWLOCKCHECK_PREEMPT_RT": preemptRT ? "1" : nil,
      ],
      capture: .standardOutput)
    #expect(run.status == 0, "\(run.reason)")
    let live = run.text.split(separator: "\n").filter { $0.hasPrefix("finding ") }
    // Two of each: at the allocation and at the free (none at the
    // allocation with `.noLocks` after them, which takes trylocks only).
    let both = ["invalid-wait-context", "sleep-in-atomic"]
    #expect(
      live == (preemptRT ? (both + both).map { "finding \($0) 1" } : []), "\(run.text)")
    let report = try ToolRun(
      ["report", "--format", "json"] + (preemptRT ? ["--preempt-rt"] : []) + [trace.path])
    #expect(report.status == (preemptRT ? 1 : 0), "\(report.stderr)")
    let json = try JSONSerialization.jsonObject(with: Data(report.stdout.utf8)) as? [String: Any]
    let findings = json?["findings"] as? [[String: Any]] ?? []
    #expect(findings.map { $0["kind"] as? String } == (preemptRT ? both + both : []))
    for finding in findings {
      #expect((finding["lock"] as? [String: Any])?["name"] as? String == "&s->cpu_slab->lock")
      let held = finding["held"] as? [[String: Any]] ?? []
      // The sleep is checked once lockdep took the lock (`rt_spin_lock()`).
      let sleeps = finding["kind"] as? String == "sleep-in-atomic"
      #expect(
        held.map { $0["name"] as? String }
          == ["&warm->lock"] + (sleeps ? ["&s->cpu_slab->lock"] : []))
    }
  }

  /// The trace's writes fail for a while (the file-size limit lowered,
  /// as a full disk), then have room again: nothing is written after the
  /// first failure, so the trace reads as cut short there, with a warning
  /// and no finding. Before 2026-12-07 the recorder went on writing after
  /// the gap, whose lost events and declarations made the trace read a
  /// `bad-unlock-balance` the program never had (or fail to read: an
  /// independent trial's, with a full disk freed again).
  @Test(arguments: ["binary", "text"])
  func aTraceWhoseWritesFailedStopsAtTheFailure(_ encoding: String) throws {
    let trace = FileManager.default.temporaryDirectory
      .appendingPathComponent("write-gap-\(UUID().uuidString).rlt")
    defer { try? FileManager.default.removeItem(at: trace) }
    let run = try Self.launch(
      ["trace-write-gap"],
      environment: [
        "RAWLOCKCHECK_TRACE": trace.path, "RAWLOCKCHECK": "collect",
        "RAWLOCKCHECK_TRACE_FORMAT": encoding,
      ],
      capture: .standardError)
    #expect(run.status == 0, "\(run.text)")
    #expect(run.text.contains("the trace is incomplete"), "\(run.text)")
    let report = try ToolRun(["report", trace.path])
    #expect(report.status == 0, "\(report.stdout)\(report.stderr)")
    #expect(report.stdout.contains("no findings"), "\(report.stdout)")
    if encoding == "binary" {
      #expect(report.stderr.contains("truncated at byte"), "\(report.stderr)")
    } else {
      // Cut where the limit fell, perhaps inside a line (which then reads
      // as cut short) or where a number ends (`ip=0x56`, which reads):
      // nothing of the classes made after the gap is there either way.
      let text = try String(contentsOf: trace, encoding: .utf8)
      #expect(!text.hasSuffix("\n"))
      #expect(!text.contains("gap_after") && !text.contains("&gap->"))
      #expect(text.contains("gap_failing"))
    }
  }

  @Test func aThreadThatReadUnderRCUIsOneThread() throws {
    let (live, trace) = try Self.record("rcu-reader-exit")
    defer { try? FileManager.default.removeItem(at: trace) }
    #expect(live.isEmpty)
    let stats = try Self.stats(trace)
    let threads = stats?["eventsPerThread"] as? [[String: Any]] ?? []
    let ids = threads.compactMap { $0["id"] as? String }
    // The main thread and ten readers.
    #expect(ids.count == 11, "\(ids)")
    #expect(!ids.contains { $0.contains(".") }, "\(ids)")
    #expect((stats?["eventsPerKind"] as? [String: Int])?["exit"] == 11)
  }

  /// The thread that ends the process (here `main` returning) holding a
  /// lock: no key destructor runs for it, so the validator checks it at
  /// `atexit`, as lockdep's do_exit() does, and the trace gets its `exit`
  /// (the live and offline reports both say it; neither did).
  @Test func theMainThreadExitingWithALockHeldIsAFinding() throws {
    let trace = FileManager.default.temporaryDirectory
      .appendingPathComponent("recorder-main-exit-\(UUID().uuidString).rlt")
    defer { try? FileManager.default.removeItem(at: trace) }
    let (_, printed) = try TracePathTests.record(
      to: trace.path, scenario: "main-exits-holding", policy: "print")
    #expect(printed.contains("WARNING: lock held when thread exits!"), "\(printed)")
    #expect(printed.contains("&main-exit->lock"))
    let report = try ToolRun(["report", "--format", "json", trace.path])
    #expect(report.status == 1)
    #expect(report.stdout.contains("\"kind\": \"locks-held-at-exit\""), "\(report.stdout)")
  }

  /// JSON gives no file for Swift's compiler-generated code (a thunk's
  /// DWARF file is `<compiler-generated>` under `/`, which read as the
  /// path `/<compiler-generated>`); text still names the marker.
  @Test func compilerGeneratedFramesHaveNoFileInJSON() throws {
    let (_, trace) = try Self.record("invalid-wait-context")
    defer { try? FileManager.default.removeItem(at: trace) }
    let json = try ToolRun(["report", "--format", "json", trace.path])
    #expect(json.status == 1)
    #expect(json.stdout.contains("\"function\": \"partial apply for"), "a thunk's frame")
    #expect(!json.stdout.contains("compiler-generated"))
    let text = try ToolRun(["report", trace.path])
    #expect(text.stdout.contains(" <compiler-generated>\n"))
  }

  /// A trace that cannot be written (a full disk: `/dev/full`) is said
  /// once on standard error: it was silent, and the cut trace read clean.
  @Test func aTraceThatCannotBeWrittenIsSaidOnce() throws {
    let (_, printed) = try TracePathTests.record(
      to: "/dev/full", scenario: "invalid-wait-context", also: ["record-stress"])
    #expect(
      printed
        == "rawlockcheck: cannot write trace /dev/full: No space left on device; the trace is incomplete\n"
    )
  }

  /// A thread per task, 3,000 of them: every thread's events are in the
  /// trace (each recording is written and forgotten at its thread's exit).
  @Test func aThreadPerTaskIsRecordedWhole() throws {
    let (live, trace) = try Self.record("thread-per-task")
    defer { try? FileManager.default.removeItem(at: trace) }
    #expect(live.isEmpty)
    let perKind = try Self.stats(trace)?["eventsPerKind"] as? [String: Int]
    #expect(perKind?["acquire"] == 3000)
    #expect(perKind?["release"] == 3000)
    // And the main thread's, at the process's exit.
    #expect(perKind?["exit"] == 3001)
  }

  @Test func policyOffValidatesNothingOnAnyThread() throws {
    let (live, trace) = try Self.record("policy-off")
    defer { try? FileManager.default.removeItem(at: trace) }
    #expect(
      live == ["invalid-wait-context 1", "invalid-wait-context 1"],
      "only the two acquisitions made while on (two sites: two distinct findings)")
  }

  /// A lock a scope's end reported and forgot, released later on another
  /// thread, is no bad unlock balance live, and the trace (which released
  /// it when it was forgotten) leaves the real release out.
  @Test func aForgottenLockReleasedElsewhereIsNoBadUnlock() throws {
    let (live, trace) = try Self.record("forgotten-released-elsewhere")
    defer { try? FileManager.default.removeItem(at: trace) }
    #expect(live == ["locks-held-at-exit 1"], "the scope's finding, and nothing else")
    let run = try ToolRun(["report", trace.path])
    #expect(run.status == 0, "\(run.stdout)")
  }

  @Test func defaultTraceIsBinaryAndTextIsAsked() throws {
    let (_, binary) = try Self.record("invalid-wait-context")
    defer { try? FileManager.default.removeItem(at: binary) }
    #expect(try Data(contentsOf: binary).prefix(5) == Data([0x52, 0x4C, 0x43, 0x54, 1]))
    let (live, text) = try Self.record("invalid-wait-context", format: "text")
    defer { try? FileManager.default.removeItem(at: text) }
    #expect(try Data(contentsOf: text).prefix(19) == Data("rawlockcheck-trace ".utf8))
    #expect(try Self.offline(text) == live)
    #expect(try Self.offline(binary) == live)
    // In any case; a value that names neither format writes binary.
    let (_, upper) = try Self.record("invalid-wait-context", format: "TEXT")
    defer { try? FileManager.default.removeItem(at: upper) }
    #expect(try Data(contentsOf: upper).prefix(19) == Data("rawlockcheck-trace ".utf8))
    let (_, other) = try Self.record("invalid-wait-context", format: "txt")
    defer { try? FileManager.default.removeItem(at: other) }
    #expect(try Data(contentsOf: other).prefix(4) == Data("RLCT".utf8))
  }

  @Test func traceNamesClassesThreadsModulesAndStacks() throws {
    let (_, trace) = try Self.record("invalid-wait-context", format: "text")
    defer { try? FileManager.default.removeItem(at: trace) }
    let text = try String(contentsOf: trace, encoding: .utf8)
    #expect(text.hasPrefix("rawlockcheck-trace 1\n"))
    #expect(text.contains("raw_spinlock name=&krcp->lock"))
    #expect(text.contains("spinlock name=&zone->lock"))
    #expect(text.contains("name=LockdepProbe"))
    #expect(
      text.contains("LockdepProbe build-id="), "the executable's module line has its build-id")
    #expect(text.contains("\nstack s0 0x"))
    // Every module whose file has a GNU build-id has it on its line (libc's
    // too, which the linker names by another path than the maps' on a
    // merged-/usr system), as `readelf -n` reads it from the file.
    let modules = text.split(separator: "\n").filter { $0.hasPrefix("module ") }
    #expect(modules.contains { $0.contains("/libc.so.6") }, "\(modules)")
    var compared: [String] = []
    for line in modules {
      let fields = line.split(separator: " ")
      guard fields.count >= 4, fields[3].hasPrefix("/"),
        let fromFile = Self.buildID(ofFile: String(fields[3]))
      else { continue }
      compared.append(String(fields[3]))
      #expect(line.hasSuffix(" build-id=\(fromFile)"), "\(line)")
    }
    #expect(compared.contains { $0.hasSuffix("/libc.so.6") }, "readelf read libc: \(compared)")
    // The report symbolizes the recorded stacks: the probe's own source line.
    let run = try ToolRun(["report", trace.path])
    #expect(run.stdout.contains("Sources/LockdepProbe/main.swift:"))
  }

  /// The GNU build-id of the ELF file at `path`, as `readelf -n` prints it,
  /// or nil.
  static func buildID(ofFile path: String) -> String? {
    let run = Process()
    run.executableURL = URL(fileURLWithPath: "/usr/bin/readelf")
    run.arguments = ["-n", path]
    let pipe = Pipe()
    run.standardOutput = pipe
    run.standardError = FileHandle.nullDevice
    guard (try? run.run()) != nil else { return nil }
    let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    run.waitUntilExit()
    guard let line = output.split(separator: "\n").first(where: { $0.contains("Build ID: ") })
    else { return nil }
    return line.components(separatedBy: "Build ID: ").last?.trimmingCharacters(in: .whitespaces)
  }
}
