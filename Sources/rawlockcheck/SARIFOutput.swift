import Report

/// `report --format sarif`'s log, written a trace at a time: each trace's
/// results as soon as it is validated, so that no trace's report is kept
/// to the end (a run over 50,000 traces kept every trace's validator, 26
/// KB a trace: 1.3 GB), then what only the end of the run knows, its
/// artifacts and its invocation (`SARIFReport.value(results:)` puts the
/// results before them).
///
/// The text around the results is the log's own, rendered with a marker
/// where they go: the log reads as `SARIFReport.value()` writes it whole.
struct SARIFOutput {
  private var log: SARIFReport
  /// Results written so far.
  private var written = 0
  /// Results not written: past `maxResults`.
  private var leftOut = 0

  /// The most results a run holds: GitHub code scanning rejects an upload
  /// whose run has more ("SARIF results exceeding 25,000"). A finding is
  /// at most `MAX_FINDINGS` per trace, but traces reported together
  /// without `--merge` add up.
  static let maxResults = 25_000
  /// The log's text before its results, and the indentation and nesting
  /// level of each, once the first one is written (worked out once: the
  /// log's text grows with the traces' names).
  private var opening: (before: String, indent: String, level: Int)?

  /// Stands for the results in the log's text: no field of a log holds it
  /// (a string of the log's own making, quoted).
  private static let marker = "rawlockcheck-sarif-results-here-7f3a91c0"

  /// The output of `log`, whose `reports` are written first (a merged
  /// run's one report is added with `add(_:)` as a trace's is).
  init(log: SARIFReport) { self.log = log }

  /// The log's text around its results: before them (ending with a
  /// newline), the indentation of each, its nesting level, and after them.
  private static func around(_ log: SARIFReport) -> (
    before: String, indent: String, level: Int, after: String
  ) {
    let text = log.value(results: .array([.string(marker)])).bytes()
    let needle = Array("\"\(marker)\"".utf8)
    guard
      let start = text.indices.first(where: {
        text[$0] == needle[0] && text[$0...].starts(with: needle)
      })
    else { preconditionFailure("the results' marker is in the log's text") }
    let lineStart = text[..<start].lastIndex(of: UInt8(ascii: "\n")).map { $0 + 1 } ?? 0
    func string(_ bytes: ArraySlice<UInt8>) -> String { String(decoding: bytes, as: UTF8.self) }
    let indent = string(text[lineStart..<start])
    return (
      string(text[..<lineStart]), indent, indent.utf8.count / 2,
      string(text[(start + needle.count)...])
    )
  }

  /// Writes the results of `report` (a trace's), and keeps its name for
  /// the artifacts.
  mutating func add(_ report: TextReport) throws(OutputError) {
    log.writtenSources += SARIFReport.sourceNames(of: report)
    let (count, result) = log.results(of: report)
    guard count > 0 else { return }
    let shape: (before: String, indent: String, level: Int)
    if let opening {
      shape = opening
    } else {
      let around = Self.around(log)
      shape = (around.before, around.indent, around.level)
      opening = shape
      try writeStandardOutput(shape.before)
    }
    let room = max(Self.maxResults - written, 0)
    leftOut += max(count - room, 0)
    for i in 0..<min(count, room) {
      try writeStandardOutput((written == 0 ? "" : ",\n") + shape.indent)
      try writeStandardOutput(result(i), indent: shape.level)
      written += 1
    }
  }

  /// Ends the log: with `failures` (traces that could not be read) and
  /// `warnings` in its invocation.
  mutating func finish(
    failures: [SARIFReport.Failure], warnings: [SARIFReport.Failure]
  ) throws(OutputError) {
    log.failures = failures
    log.warnings = warnings
    if leftOut > 0 {
      log.warnings.append(
        (
          nil,
          "\(leftOut) results left out, past the \(Self.maxResults) of a run that GitHub code "
            + "scanning accepts: merge the traces (--merge), or report them in several runs"
        ))
    }
    guard let opening else {
      try writeStandardOutput(log.value(results: .array([])))
      try writeStandardOutput("\n")
      return
    }
    let shape = Self.around(log)
    precondition(
      shape.before == opening.before, "what the log holds before its results stays the same")
    try writeStandardOutput(shape.after + "\n")
  }
}
