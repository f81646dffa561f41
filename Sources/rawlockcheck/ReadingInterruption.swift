import ArgumentParser
import Basics
import Report
import Trace

#if canImport(Glibc)
  import Glibc
#endif

/// `report`'s answer to Ctrl-C (SIGINT), SIGTERM or SIGHUP while it reads
/// traces: the first one ends the reading where it stands, and the report
/// covers what was read (each trace's reader says up to where); the traces
/// not begun are not read, and no `--graph-out` file is written (the old
/// one stays, as after any failed run). The run then ends with status 128
/// plus the signal's number (130 for SIGINT), as a process the signal
/// ended would, so that a CI step that timed out fails. A second signal,
/// or one once the reading is over (`end()`: symbolizing, printing),
/// ends the process at once (`InterruptCleanup`), but for the first one
/// delivered again (`InterruptCleanup.repeatWindow`). A signal the process
/// ignores (`nohup`, a background job's SIGINT) stays ignored.
enum ReadingInterruption {
  /// From now on, the first interrupt ends the reading (`signal`).
  static func begin() {
    InterruptCleanup.install()
    InterruptCleanup.deferring[0].store(1, ordering: .releasing)
  }

  /// The reading is over: a signal from now on ends the process (after
  /// cleaning up), as before `begin()`.
  static func end() {
    InterruptCleanup.deferring[0].store(0, ordering: .releasing)
  }

  /// The signal that interrupted the reading, if one did.
  static var signal: Int32? {
    let number = InterruptCleanup.interrupted[0].load(ordering: .acquiring)
    return number == 0 ? nil : Int32(truncatingIfNeeded: Int(number))
  }

  /// What the trace readers ask between batches.
  static let trace = TraceInterruption { reason }

  /// `interrupted by SIGINT`, once a signal came.
  static var reason: String? { signal.map { "interrupted by \(name($0))" } }

  /// The run's exit status after an interrupt: 128 plus its number.
  static var exitCode: ExitCode? { signal.map { ExitCode(128 + $0) } }

  /// Adds the interrupt to a SARIF log's failures, so that the log says
  /// the run did not succeed.
  static func addFailure(to failures: inout [SARIFReport.Failure]) {
    guard let reason else { return }
    failures.append((nil, "\(reason): the report covers the events read before it"))
  }

  /// The traces of `paths` not read, said on standard error.
  static func sayNotRead(_ paths: some Collection<String>) {
    guard let reason, !paths.isEmpty else { return }
    let names = paths.map { QuotedText.fileName($0) }.joined(separator: " ")
    writeStandardError("rawlockcheck: \(reason): not read: \(names)\n")
  }

  /// The name of `signal` as messages spell it.
  static func name(_ signal: Int32) -> String {
    switch signal {
    case SIGINT: "SIGINT"
    case SIGTERM: "SIGTERM"
    case SIGHUP: "SIGHUP"
    default: "signal \(signal)"
    }
  }
}
