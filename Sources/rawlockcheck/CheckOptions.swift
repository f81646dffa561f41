import ArgumentParser
import WaitContext

/// The options every checking command accepts (`spec/reports.md`).
struct CheckOptions: ParsableArguments {
  @Flag(help: "Check as lockdep does without PROVE_RAW_LOCK_NESTING (config counts as spin).")
  var noRawNesting = false

  @Flag(help: "Check as for a PREEMPT_RT kernel (spinlock_t sleeps).")
  var preemptRt = false

  var configuration: CheckConfiguration {
    CheckConfiguration(proveRawLockNesting: !noRawNesting, preemptRT: preemptRt)
  }
}

/// How `report` prints findings: lockdep's text, JSON, or SARIF 2.1.0 for CI.
enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
  case text, json, sarif
}

/// How a command without SARIF output prints: `demo` (its findings are
/// collected live, without a trace to point SARIF locations at) and
/// `symbolize` (addresses, not findings).
enum TextOrJSONFormat: String, ExpressibleByArgument, CaseIterable {
  case text, json
}

/// Inputs a command reads, as given (traces, a graph file): `-` is
/// standard input, which can be read once.
enum StandardInputUse {
  /// - Throws: a usage error when `inputs` name standard input (`-`)
  ///   more than once.
  static func checkOnce(_ inputs: [String]) throws {
    if inputs.filter({ $0 == "-" }).count > 1 {
      throw ValidationError("Standard input (-) can be read only once")
    }
  }
}
