import ArgumentParser
import Basics
import Lockdep
import Report

#if canImport(Glibc)
  import Glibc
#endif

/// `rawlockcheck demo`: the seed scenario run in-process, with validation
/// on, in each `kvfree_rcu()` design; the report of what the validator found
/// and a table of what each design cost.
struct DemoCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "demo",
    abstract: "Run raw_spin_lock(&some_lock); kfree_rcu(p) in-process in each kvfree_rcu() design.",
    discussion: """
      Runs a well-known case CONFIG_PROVE_RAW_LOCK_NESTING caught on several threads, \
      with the per-CPU page lists and the krcp page caches drained, under the live validator: \
      prints the lockdep report of each finding (symbolized from this process) and a table \
      of the designs (findings, array pages allocated and used, list fallbacks, \
      lockless-allocation failures, objects freed, time per object, and that time as a \
      ratio to a baseline measured in the same run: the same allocations, each object freed \
      at once with kfree after the lock is dropped, no RCU, no barrier, no kvfree_rcu() \
      workers), and of how long each kfree_rcu() kept its thread inside the raw \
      lock (median, 99.9th percentile and slowest call, in ns, over the baseline's empty \
      section). Every design and the baseline first run one unmeasured warm-up round, then \
      five timed runs, in turn: each time is the median run's, and so are the counts of pages, \
      fallbacks and failures; the findings are every timed run's. Only inline-nowait (GFP_NOWAIT under the raw lock) should find an invalid wait \
      context. Exit status: 0 when the result is the expected \
      one (inline-nowait found, the others clean), 1 when it is not, 2 for bad usage.
      """
  )

  @Option(
    help: ArgumentHelp(
      "Run one design only: \(DemoDesign.allCases.map(\.rawValue).joined(separator: ", ")).",
      valueName: "name"))
  var design: DemoDesign?

  @Option(help: "Output format.")
  var format: TextOrJSONFormat = .text

  // Unconditional: `--threads -1` is a value out of range, not a
  // missing one.
  @Option(
    parsing: .unconditional,
    help:
      "Threads calling kfree_rcu() under the one &some_lock (so in turn, as the kernel's callers of one lock), 1 to \(DemoScenario.maxThreads)."
  )
  var threads = 4

  @Option(
    parsing: .unconditional,
    help:
      "Rounds per thread, each after a drain, 1 to \(DemoScenario.maxRounds); threads x rounds x \(DemoScenario().objectsPerRound) objects a round at most \(DemoScenario.maxCalls) (2^26) calls per design."
  )
  var rounds = 8

  func validate() throws {
    for (option, value) in [("--threads", threads), ("--rounds", rounds)] where value < 1 {
      throw ValidationError("\(option) must be at least 1, got \(value)")
    }
    if threads > DemoScenario.maxThreads {
      throw ValidationError(
        "--threads must be at most \(DemoScenario.maxThreads), got \(threads)")
    }
    if rounds > DemoScenario.maxRounds {
      throw ValidationError("--rounds must be at most \(DemoScenario.maxRounds), got \(rounds)")
    }
    let scenario = DemoScenario(threads: threads, rounds: rounds)
    if scenario.objects > DemoScenario.maxCalls {
      let perRound = scenario.objectsPerRound
      throw ValidationError(
        "--threads times --rounds times \(perRound) objects a round must be at most "
          + "\(DemoScenario.maxCalls) calls per design, got \(threads) x \(rounds) x \(perRound) = "
          + "\(scenario.objects)")
    }
  }

  func run() throws {
    // Collected, not printed: the demo prints each finding once, itself.
    // `RAWLOCKCHECK` (which a program's own setting does not override)
    // would turn the validator off, abort at the first finding, or print
    // each twice: the demo is a run of the validator, and says so.
    // Read as the validator reads it: empty is unset, the case is no matter.
    if let setting = getenv("RAWLOCKCHECK").map({ String(cString: $0) }), !setting.isEmpty,
      setting.lowercased() != "collect"
    {
      writeStandardError(
        "rawlockcheck: demo: RAWLOCKCHECK=\(QuotedText.shown(setting)) ignored: the demo "
          + "validates and collects its findings itself\n")
      unsetenv("RAWLOCKCHECK")
    }
    LockValidation.policy = .collect
    DemoThread.checkThreadsStart()
    let scenario = DemoScenario(threads: threads, rounds: rounds)
    let designs = design.map { [$0] } ?? DemoDesign.allCases
    // One unmeasured round of everything first, so that no design pays
    // for the process's first use of the allocator, RCU and validator.
    let warmUp = DemoScenario(threads: threads, rounds: DemoScenario.warmUpRounds)
    _ = warmUp.runBaseline()
    for design in designs { _ = warmUp.run(design) }
    // Each timed `measuredRuns` times, the baseline and the designs in
    // turn: a figure is the median run, and its runs are in the JSON.
    var baselines: [DemoBaseline] = []
    var runs: [[DemoResult]] = designs.map { _ in [] }
    for _ in 0..<DemoScenario.measuredRuns {
      baselines.append(scenario.runBaseline())
      for (i, design) in designs.enumerated() { runs[i].append(scenario.run(design)) }
    }
    let baseline = DemoBaseline(median: baselines)
    let results = runs.map(DemoResult.init(median:))
    let expected = results.allSatisfy(\.asExpected)
    switch format {
    case .text:
      try writeStandardOutput(
        DemoText.render(results, baseline: baseline, scenario: scenario, expected: expected)
          + "\n")
    case .json:
      try writeStandardOutput(
        DemoJSON.value(results, baseline: baseline, scenario: scenario, expected: expected)
          .render() + "\n")
    }
    if !expected { throw ExitCode(1) }
  }
}

extension DemoDesign: ExpressibleByArgument {}
