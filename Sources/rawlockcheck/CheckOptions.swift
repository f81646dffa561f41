import ArgumentParser
import Basics
import WaitContext

#if canImport(Glibc)
  import Glibc
#endif

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
  /// - Throws: a usage error when `inputs` name standard input more than
  ///   once: `-` twice, or, where it is a pipe, FIFO or socket (read
  ///   once), `-` or any path of it (`/dev/stdin`, `/proc/self/fd/0`, the
  ///   FIFO's own) twice. A file on standard input may be named again: it
  ///   is read again (`--merge` merges it once).
  static func checkOnce(_ inputs: [String]) throws {
    let named = inputs.filter { $0 == "-" || namesStandardInput($0) }
    guard named.count > 1 else { return }
    // `-` first, then the other names in the order given.
    var names: [String] = named.contains("-") ? ["-"] : []
    for name in named where !names.contains(name) { names.append(name) }
    let shown = names.map { QuotedText.fileName($0) }.joined(separator: " and ")
    throw ValidationError("Standard input (\(shown)) can be read only once")
  }

  /// Whether `path` names standard input where it is a pipe, a FIFO or
  /// a socket (the same device and inode).
  static func namesStandardInput(_ path: String) -> Bool {
    var input = stat()
    var named = stat()
    guard fstat(0, &input) == 0,
      input.st_mode & S_IFMT == S_IFIFO || input.st_mode & S_IFMT == S_IFSOCK,
      stat(path, &named) == 0
    else { return false }
    return input.st_dev == named.st_dev && input.st_ino == named.st_ino
  }
}
