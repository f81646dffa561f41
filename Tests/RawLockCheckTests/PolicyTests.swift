import Foundation
import Testing

/// `RAWLOCKCHECK=off|print|abort|collect` chooses what a live program does
/// with a finding (LockdepProbe causes one).
@Suite struct PolicyTests {
  struct Run {
    var status: Int32
    var reason: Process.TerminationReason
    var stdout: String
    var stderr: String
  }

  /// Runs LockdepProbe's `scenario`; with `combined`, standard output and
  /// standard error go to one pipe (`2>&1`), read as `stdout`.
  static func probe(
    _ scenario: String, policy: String, trace: URL? = nil, exitCode: String? = nil,
    environment extra: [String: String] = [:], combined: Bool = false
  ) throws -> Run {
    let process = Process()
    process.executableURL = RecorderTests.probe
    process.arguments = [scenario]
    var environment = ProcessInfo.processInfo.environment
    environment["RAWLOCKCHECK"] = policy
    environment["RAWLOCKCHECK_TRACE"] = trace?.path
    environment["RAWLOCKCHECK_EXITCODE"] = exitCode
    // No Swift backtracer on the deliberate abort: it inherits the
    // probe's pipes, and under ThreadSanitizer it did not exit, so the
    // reads below never saw their end (the whole test run hung).
    environment["SWIFT_BACKTRACE"] = "enable=no"
    environment.merge(extra) { $1 }
    process.environment = environment
    let out = Pipe()
    let err = combined ? out : Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    let o = out.fileHandleForReading.readDataToEndOfFile()
    let e = combined ? Data() : err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return Run(
      status: process.terminationStatus, reason: process.terminationReason,
      stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self))
  }

  /// A dispatch worker that exits holding a lock, the process's first
  /// finding, is reported as lockdep's `debug_check_no_locks_held()`
  /// reports a task exiting with locks held, and the process goes on: the
  /// report's first symbolization, in the worker's exit, crashed it (heap
  /// corruption in libdispatch, whose state for the thread is gone by
  /// then; an independent trial's). Takes about 5 s: libdispatch ends an
  /// idle worker after that.
  @Test func aDispatchWorkerExitingWithALockHeldIsReportedAndTheProcessGoesOn() throws {
    let run = try Self.probe("dispatch-worker-exit", policy: "print")
    #expect(run.status == 0 && run.reason == .exit, "\(run.stderr)")
    #expect(run.stderr.contains("WARNING: lock held when thread exits!"), "\(run.stderr)")
    #expect(run.stderr.contains("&worker->leaked"))
    #expect(run.stdout.contains("finding locks-held-at-exit 1"), "\(run.stdout)")
  }

  /// A signal handler installed with plain `signal()`, not known to the
  /// validator as one, taking a checked mutex of its own a thousand times
  /// a second while the thread it interrupts takes locks: its events are
  /// queued while the interrupted thread is inside the validator (its fast
  /// path too), as an installed handler's are. Before 2026-12-07 they
  /// were validated there and then: the run hung (the validator waiting
  /// for a lock it held) five times in six, or found a bad unlock balance
  /// (an independent trial's). Without a trace: with one, the handler's
  /// events are written as they come, which allocates, and a handler
  /// that interrupted `malloc` must not (the README says to install
  /// handlers with `installSignalHandler`).
  /// A program whose executable was deleted (or replaced, by a rebuild)
  /// while it ran prints its finding with its own code named, read
  /// through `/proc/self/exe`, not as `unlinked-copy-... (deleted)+0x...`.
  @Test func aFindingAfterTheExecutableWasDeletedNamesItsCode() throws {
    let copy = FileManager.default.temporaryDirectory
      .appendingPathComponent("unlinked-copy-\(UUID().uuidString)")
    try FileManager.default.copyItem(at: RecorderTests.probe, to: copy)
    defer { try? FileManager.default.removeItem(at: copy) }
    let process = Process()
    process.executableURL = copy
    process.arguments = ["unlinked-executable"]
    var environment = ProcessInfo.processInfo.environment
    environment["RAWLOCKCHECK"] = "print"
    process.environment = environment
    let err = Pipe()
    process.standardError = err
    process.standardOutput = FileHandle.nullDevice
    try process.run()
    let text = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    #expect(!FileManager.default.fileExists(atPath: copy.path))
    #expect(text.contains("[ BUG: Invalid wait context ]"), "\(text)")
    #expect(!text.contains("(deleted)"), "\(text)")
    #expect(text.contains("LockdepProbe/main.swift:"), "\(text)")
  }

  @Test func aPlainSignalHandlersLocksAreNoFindingAndNoHang() throws {
    let run = try RecorderTests.launch(
      ["plain-signal-handler"],
      environment: ["RAWLOCKCHECK": "collect", "RAWLOCKCHECK_TRACE": nil],
      capture: .standardOutput)
    #expect(run.status == 0 && run.reason == .exit, "\(run.text)")
    #expect(run.text.contains("plain-signal-handler ran"), "\(run.text)")
    #expect(!run.text.contains("finding "), "\(run.text)")
  }

  @Test func printReportsOnStandardErrorAndGoesOn() throws {
    let run = try Self.probe("invalid-wait-context", policy: "print")
    #expect(run.status == 0)
    #expect(run.stderr.contains("[ BUG: Invalid wait context ]"))
    #expect(run.stderr.contains("&zone->lock"))
    #expect(run.stdout.contains("finding invalid-wait-context 1"), "and keeps it")
  }

  /// A finding a test's scope shows (its issue or failure carries the
  /// report) is not printed to standard error as well; one of a plain
  /// scope, which only collects, is.
  @Test func printLeavesATestsFindingToTheTest() throws {
    let run = try Self.probe("scoped-findings", policy: "print")
    #expect(run.status == 0)
    #expect(!run.stderr.contains("&shown->zone"), "\(run.stderr)")
    #expect(run.stderr.contains("&kept->zone"))
    #expect(
      run.stdout.split(separator: "\n").filter { $0 == "finding invalid-wait-context 1" }.count
        == 2, "both kept")
  }

  @Test func abortReportsThenAborts() throws {
    let run = try Self.probe("invalid-wait-context", policy: "abort")
    #expect(run.reason == .uncaughtSignal)
    #expect(run.status == SIGABRT)
    #expect(run.stderr.contains("[ BUG: Invalid wait context ]"))
    #expect(!run.stdout.contains("finding "), "nothing after the first finding ran")
  }

  /// A finding of a signal handler's events, validated where signals are
  /// blocked (their replay, after the handler returned), aborts with
  /// SIGABRT, the Swift runtime's crash handler on (as by default): with
  /// SIGABRT blocked, that handler could not run and the process ended by
  /// SIGSEGV. At the process's exit too.
  ///
  /// The probe writes to a file, not a pipe, and is waited for at most a
  /// minute: the crash handler's helper process (`swift-backtrace`),
  /// which outlived the probe it could not examine, held the pipes open.
  @Test(arguments: ["signal-handler", "signal-then-exit"])
  func aFindingOfAReplayedHandlerAbortsWithSIGABRT(_ scenario: String) throws {
    let output = FileManager.default.temporaryDirectory
      .appendingPathComponent("abort-\(scenario)-\(UUID().uuidString).txt")
    _ = FileManager.default.createFile(atPath: output.path, contents: nil)
    defer { try? FileManager.default.removeItem(at: output) }
    let process = Process()
    process.executableURL = RecorderTests.probe
    process.arguments = [scenario]
    var environment = ProcessInfo.processInfo.environment
    environment["RAWLOCKCHECK"] = "abort"
    environment["SWIFT_BACKTRACE"] = "enable=yes,interactive=no,symbolicate=off"
    process.environment = environment
    let file = try FileHandle(forWritingTo: output)
    process.standardOutput = FileHandle.nullDevice
    process.standardError = file
    try process.run()
    try file.close()
    let started = ContinuousClock.now
    while process.isRunning && ContinuousClock.now - started < .seconds(60) { usleep(10_000) }
    if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    process.waitUntilExit()
    let stderr = try String(contentsOf: output, encoding: .utf8)
    #expect(process.terminationReason == .uncaughtSignal)
    #expect(process.terminationStatus == SIGABRT, "\(stderr.suffix(2000))")
    #expect(stderr.contains("rawlockcheck: aborting (RAWLOCKCHECK=abort)"))
  }

  /// A run that a finding aborts leaves a trace that replays that
  /// finding: the event that caused it is recorded before the process
  /// ends (the finding is reported in the middle of it).
  @Test(arguments: [
    "invalid-wait-context", "circular-dependency", "recursive-locking", "sleep-in-atomic",
    "bad-unlock-balance",
  ])
  func anAbortedRunsTraceReplaysItsFinding(_ scenario: String) throws {
    let trace = FileManager.default.temporaryDirectory
      .appendingPathComponent("aborted-\(scenario)-\(UUID().uuidString).rltb")
    defer { try? FileManager.default.removeItem(at: trace) }
    let run = try Self.probe(scenario, policy: "abort", trace: trace)
    #expect(run.status == SIGABRT)
    let report = try ToolRun(["report", "--format", "json", trace.path])
    #expect(report.status == 1, "the trace replays a finding: \(report.stdout) \(report.stderr)")
    let json = try JSONSerialization.jsonObject(with: Data(report.stdout.utf8)) as? [String: Any]
    let kinds = (json?["findings"] as? [[String: Any]] ?? []).compactMap { $0["kind"] as? String }
    #expect(kinds.first == scenario)
  }

  @Test func offValidatesNothing() throws {
    let run = try Self.probe("invalid-wait-context", policy: "off")
    #expect(run.status == 0)
    #expect(!run.stderr.contains("BUG"))
    #expect(!run.stdout.contains("finding "))
    // Nor records a trace, which would read as a clean run: it says so.
    let trace = FileManager.default.temporaryDirectory
      .appendingPathComponent("off-\(UUID().uuidString).rltb")
    let recorded = try Self.probe("invalid-wait-context", policy: "off", trace: trace)
    #expect(recorded.status == 0)
    #expect(!FileManager.default.fileExists(atPath: trace.path))
    #expect(recorded.stderr.contains("records nothing with RAWLOCKCHECK=off"), "\(recorded.stderr)")
  }

  @Test func theEnvironmentOverridesTheProgramsChoice() throws {
    // The program sets `LockValidation.policy = .collect`.
    let aborted = try Self.probe("program-collects", policy: "abort")
    #expect(aborted.reason == .uncaughtSignal)
    #expect(aborted.status == SIGABRT)
    let printed = try Self.probe("program-collects", policy: "print")
    #expect(printed.status == 0)
    #expect(printed.stderr.contains("[ BUG: Invalid wait context ]"))
    let bogus = try Self.probe("program-collects", policy: "bogus")
    #expect(bogus.status == 0)
    #expect(bogus.stderr.contains("RAWLOCKCHECK=bogus is not off, print, abort or collect"))
    #expect(!bogus.stderr.contains("BUG"), "the program's choice stands")
  }

  @Test func collectKeepsSilently() throws {
    let run = try Self.probe("invalid-wait-context", policy: "collect")
    #expect(run.status == 0)
    #expect(!run.stderr.contains("BUG"))
    #expect(run.stdout.contains("finding invalid-wait-context 1"))
  }

  /// `RAWLOCKCHECK_EXITCODE=N`: a run with a finding outside any scope
  /// ends with status N (as ThreadSanitizer's `exitcode=`), after printing
  /// and recording it in full, and says so; a clean run keeps its own
  /// status, and so does one whose findings a scope took (a test's, or a
  /// program's that collects them to judge itself); a value that is no
  /// status is said and ignored.
  @Test func exitCodeIsTheStatusOfARunWithAFinding() throws {
    func events(_ trace: URL) throws -> Int? {
      let run = try ToolRun(["report", "--format", "json", trace.path])
      let json = try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any]
      return json?["events"] as? Int
    }
    let trace = FileManager.default.temporaryDirectory
      .appendingPathComponent("exitcode-\(UUID().uuidString).rltb")
    let plain = FileManager.default.temporaryDirectory
      .appendingPathComponent("exitcode-plain-\(UUID().uuidString).rltb")
    defer {
      try? FileManager.default.removeItem(at: trace)
      try? FileManager.default.removeItem(at: plain)
    }
    let found = try Self.probe(
      "invalid-wait-context", policy: "print", trace: trace, exitCode: "66")
    #expect(found.reason == .exit)
    #expect(found.status == 66)
    #expect(found.stderr.contains("[ BUG: Invalid wait context ]"))
    #expect(found.stderr.contains("1 distinct finding; exit status 66 (RAWLOCKCHECK_EXITCODE)"))
    #expect(found.stdout.contains("finding invalid-wait-context 1"), "standard output is flushed")
    // Recorded to its end (the threads' exits, after the finding): as much
    // as a run that keeps its status records.
    _ = try Self.probe("invalid-wait-context", policy: "print", trace: plain)
    let recorded = try events(trace)
    let whole = try events(plain)
    #expect(recorded != nil && recorded == whole)

    let collected = try Self.probe("invalid-wait-context", policy: "collect", exitCode: "3")
    #expect(collected.status == 3)
    #expect(!collected.stderr.contains("BUG"))
    #expect(collected.stderr.contains("exit status 3 (RAWLOCKCHECK_EXITCODE)"))

    let clean = try Self.probe("order-forward", policy: "print", exitCode: "66")
    #expect(clean.status == 0, "\(clean.stderr)")

    let scoped = try Self.probe("scoped-findings", policy: "print", exitCode: "66")
    #expect(scoped.stderr.contains("&kept->zone"), "printed, but its scope's")
    #expect(scoped.status == 0, "\(scoped.stderr)")

    for bogus in ["0", "256", "x", "-1"] {
      let run = try Self.probe("invalid-wait-context", policy: "print", exitCode: bogus)
      #expect(run.status == 0, "\(bogus)")
      #expect(
        run.stderr.contains("RAWLOCKCHECK_EXITCODE=\(bogus) is not a status from 1 to 255"),
        "\(bogus)")
    }
    // A value with a newline and an escape in it is said in one line,
    // escaped (it split the line, and the escape reached the terminal).
    let controls = try Self.probe("invalid-wait-context", policy: "print", exitCode: "1\n2\u{1B}")
    let said = controls.stderr.split(separator: "\n").filter {
      $0.contains("RAWLOCKCHECK_EXITCODE=")
    }
    #expect(said.count == 1, "\(controls.stderr)")
    #expect(said.first?.hasSuffix("is not a status from 1 to 255; ignored") == true, "\(said)")
    #expect(!controls.stderr.contains("\u{1B}"))
    // Set to nothing, it is unset; spaces around a number are no matter.
    let empty = try Self.probe("invalid-wait-context", policy: "print", exitCode: "")
    #expect(empty.status == 0 && !empty.stderr.contains("RAWLOCKCHECK_EXITCODE"))
    let spaced = try Self.probe("invalid-wait-context", policy: "print", exitCode: " 7 ")
    #expect(spaced.status == 7, "\(spaced.stderr)")
  }

  /// Unlocks of a lock not held, in a loop on a thread whose first event
  /// the first of them is: one finding of 10 occurrences, live and in the
  /// recorded trace. The first unlock captured its stack on another path
  /// inside the validator (the thread's state made) than the others; a
  /// release's stack starts at its call site, as an acquisition's does.
  @Test func strayUnlocksInALoopAreOneFindingLiveAndOffline() throws {
    let trace = FileManager.default.temporaryDirectory
      .appendingPathComponent("stray-\(UUID().uuidString).rltb")
    defer { try? FileManager.default.removeItem(at: trace) }
    let run = try Self.probe("stray-unlocks", policy: "collect", trace: trace)
    #expect(run.status == 0, "\(run.stderr)")
    #expect(
      run.stdout.split(separator: "\n").filter { $0.hasPrefix("finding ") }
        == ["finding bad-unlock-balance 10", "finding bad-unlock-balance 10"])
    let report = try ToolRun(["report", "--format", "json", trace.path])
    let json = try JSONSerialization.jsonObject(with: Data(report.stdout.utf8)) as? [String: Any]
    let findings = json?["findings"] as? [[String: Any]] ?? []
    #expect(findings.map { $0["kind"] as? String } == ["bad-unlock-balance", "bad-unlock-balance"])
    #expect(findings.map { $0["count"] as? Int } == [10, 10])
    // A release's call site cut its stack; it is not written alone (it
    // would grow every trace by a number a release).
    let text = FileManager.default.temporaryDirectory
      .appendingPathComponent("stray-\(UUID().uuidString).rlt")
    defer { try? FileManager.default.removeItem(at: text) }
    _ = try ToolRun(["convert", trace.path, text.path])
    let releases = try String(contentsOf: text, encoding: .utf8).split(separator: "\n")
      .filter { $0.contains(" release ") }
    #expect(releases.count == 20)
    #expect(!releases.contains { $0.contains("ip=") }, "\(releases)")
  }

  /// Two handlers installed through `installSignalHandler`, sent to the
  /// same threads one right after the other, never nest (each blocks the
  /// other's signal, as a hard interrupt runs with interrupts off): no
  /// finding of them, live or in the recorded trace, which reads to its
  /// end. (The
  /// storm of 40,000 signals queues more handler runs than a thread's
  /// queue holds while its first lock events take the slow path: those
  /// are `limit-exceeded` findings, `MAX_HANDLER_EVENTS`, and no others.)
  @Test func handlersOfTwoSignalsDoNotNest() throws {
    let trace = FileManager.default.temporaryDirectory
      .appendingPathComponent("nested-\(UUID().uuidString).rltb")
    defer { try? FileManager.default.removeItem(at: trace) }
    let run = try Self.probe("nested-signals", policy: "collect", trace: trace)
    #expect(run.reason == .exit && run.status == 0, "\(run.stderr)")
    let findings = run.stdout.split(separator: "\n").filter { $0.hasPrefix("finding ") }
    #expect(
      findings.allSatisfy { $0.hasPrefix("finding limit-exceeded ") }, "\(run.stdout)")

    let report = try ToolRun(["report", trace.path])
    #expect(report.status == 0, "\(report.stderr)")
    #expect(report.stdout.contains("no findings"), "\(report.stdout)")
  }

  /// A handler's bugs on a thread that never took a lock nor captured a
  /// stack (its events queued as orphans) and the same bugs from the same
  /// call site once the thread has state are one finding each, counted
  /// twice, live and offline: both stacks start at the lock's call site
  /// (a lock held at the handler's exit: the trampoline's) and end at the
  /// signal frame, `__restore_rt` (the orphan's was its one frame, and
  /// the other's kept the validator's frames above the call site; until
  /// 2026-12-06 both went on into the interrupted code, which differs
  /// with every signal).
  @Test func aHandlersBugBeforeAndAfterTheThreadsFirstLockIsOneFinding() throws {
    let trace = FileManager.default.temporaryDirectory
      .appendingPathComponent("orphan-\(UUID().uuidString).rltb")
    defer { try? FileManager.default.removeItem(at: trace) }
    let run = try Self.probe("orphan-signal-twice", policy: "collect", trace: trace)
    #expect(run.reason == .exit && run.status == 0, "\(run.stderr)")
    #expect(
      run.stdout.split(separator: "\n").filter { $0.hasPrefix("finding ") }
        == [
          "finding sleep-in-atomic 2", "finding invalid-wait-context 2",
          "finding locks-held-at-exit 2",
        ], "\(run.stdout)")
    let report = try ToolRun(["report", "--format", "json", trace.path])
    let json = try JSONSerialization.jsonObject(with: Data(report.stdout.utf8)) as? [String: Any]
    let findings = json?["findings"] as? [[String: Any]] ?? []
    #expect(findings.map { $0["count"] as? Int } == [2, 2, 2], "\(report.stdout)")
    // The orphan's stack goes beyond the handler's own frames, through
    // the trampoline, to the signal frame, and no further.
    let text = FileManager.default.temporaryDirectory
      .appendingPathComponent("orphan-\(UUID().uuidString).rlt")
    defer { try? FileManager.default.removeItem(at: text) }
    _ = try ToolRun(["convert", trace.path, text.path])
    let lines = try String(contentsOf: text, encoding: .utf8).split(separator: "\n")
    let sites = lines.filter { $0.contains(" acquire &orphan->sleeping ") }
      .compactMap { $0.split(separator: " ").first { $0.hasPrefix("at=") }?.dropFirst(3) }
    #expect(sites.count == 2 && Set(sites).count == 1, "\(lines)")
    let shown = try ToolRun(["report", trace.path]).stdout
    let backtrace = shown.components(separatedBy: "stack backtrace:\n").dropFirst().first ?? ""
    let frames = backtrace.split(separator: "\n").prefix { $0.hasPrefix(" #") }
    #expect(frames.count >= 3, "\(shown)")
    #expect(frames.last?.hasSuffix(" __restore_rt") == true, "\(shown)")
    #expect(frames.dropLast().contains { $0.contains("SignalHandlers") }, "\(shown)")
  }

  /// The `RAWLOCKCHECK_EXITCODE` line ends the output where standard
  /// output and standard error go to one pipe (`2>&1 | tail`): what the
  /// program wrote, buffered by stdio until it exits, comes before it.
  @Test func exitCodeLineComesAfterTheProgramsOutput() throws {
    let run = try Self.probe(
      "invalid-wait-context", policy: "collect", exitCode: "66", combined: true)
    let lines = run.stdout.split(separator: "\n")
    #expect(run.status == 66)
    #expect(lines.contains("finding invalid-wait-context 1"))
    #expect(
      lines.last == "rawlockcheck: 1 distinct finding; exit status 66 (RAWLOCKCHECK_EXITCODE)",
      "\(lines)")
  }

  /// `RAWLOCKCHECK_PREEMPT_RT` and `RAWLOCKCHECK_NO_RAW_NESTING` are
  /// yes-or-no: `0` (or false, no, off, nothing) leaves the default
  /// configuration, `1` (or true, yes, on) changes it, and any other
  /// value is said and ignored. On PREEMPT_RT, a spinlock_t under a raw
  /// spin lock sleeps (a sleep in atomic context besides the invalid wait
  /// context); without raw-lock nesting, it is no finding at all.
  @Test func configurationVariablesAreYesOrNo() throws {
    func kinds(_ variable: String, _ value: String) throws -> (kinds: [String], stderr: String) {
      let run = try Self.probe(
        "invalid-wait-context", policy: "collect", environment: [variable: value])
      let kinds = run.stdout.split(separator: "\n").filter { $0.hasPrefix("finding ") }
        .map { String($0.split(separator: " ")[1]) }
      return (kinds.sorted(), run.stderr)
    }
    let plain = ["invalid-wait-context"]
    for off in ["0", "false", "No", "OFF", ""] {
      #expect(try kinds("RAWLOCKCHECK_PREEMPT_RT", off).kinds == plain, "\(off)")
      #expect(try kinds("RAWLOCKCHECK_NO_RAW_NESTING", off).kinds == plain, "\(off)")
    }
    for on in ["1", "true", "YES", "on"] {
      #expect(
        try kinds("RAWLOCKCHECK_PREEMPT_RT", on).kinds == [
          "invalid-wait-context", "sleep-in-atomic",
        ],
        "\(on)")
      #expect(try kinds("RAWLOCKCHECK_NO_RAW_NESTING", on).kinds == [], "\(on)")
    }
    let bogus = try kinds("RAWLOCKCHECK_PREEMPT_RT", "2")
    #expect(bogus.kinds == plain)
    #expect(bogus.stderr.contains("rawlockcheck: RAWLOCKCHECK_PREEMPT_RT=2 is not 1 or 0"))
  }

  /// `RAWLOCKCHECK_RCU_NO_MEMBARRIER`, read when the RCU layer starts, takes
  /// the values the other yes-or-no variables take, and a value it cannot
  /// take is said as theirs is (it was taken silently as no before
  /// 2026-12-07: an audit of the README's claims).
  @Test func theRCUMembarrierVariableSaysAValueItCannotTake() throws {
    func membarrier(_ value: String) throws -> Run {
      try Self.probe(
        "rcu-membarrier", policy: "collect", environment: ["RAWLOCKCHECK_RCU_NO_MEMBARRIER": value])
    }
    // Whether this kernel offers membarrier() at all: the default's answer.
    let offered = try membarrier("").stdout.contains("membarrier yes")
    for value in ["maybe", "2"] {
      let run = try membarrier(value)
      #expect(run.status == 0)
      #expect(run.stdout.contains(offered ? "membarrier yes" : "membarrier no"), "as unset")
      #expect(
        run.stderr.contains(
          "rawlockcheck: RAWLOCKCHECK_RCU_NO_MEMBARRIER=\(value) is not 1 or 0 (or true/false, "
            + "yes/no, on/off); ignored"), "\(run.stderr)")
    }
    for value in ["1", "on", "0", "No", ""] {
      let run = try membarrier(value)
      #expect(run.status == 0)
      #expect(!run.stderr.contains("RAWLOCKCHECK_RCU_NO_MEMBARRIER"), "\(value): \(run.stderr)")
      let refused = ["1", "on"].contains(value)
      #expect(
        run.stdout.contains(refused || !offered ? "membarrier no" : "membarrier yes"),
        "\(value): \(run.stdout)")
    }
  }

  /// Live on PREEMPT_RT, a `spinlock_t` taken under a raw spin lock is
  /// checked after lockdep took it and before its own `rcu_read_lock()`:
  /// its report counts no RCU nesting for it (the live push keeps a
  /// captured stack, and was taken for another lock: depth 1, expected 1).
  @Test func aLiveRTLockCountsNoRCUNestingForItself() throws {
    let run = try Self.probe(
      "invalid-wait-context", policy: "print", environment: ["RAWLOCKCHECK_PREEMPT_RT": "1"])
    #expect(run.stderr.contains("BUG: sleeping function called from invalid context"))
    #expect(run.stderr.contains("RCU nest depth: 0, expected: 0"), "\(run.stderr)")
  }
}
