import Report

/// `report --format json`'s output: one object for one report, or, for
/// `several`, an array of one object per report, each written as soon as
/// its report is made, so that a run over many traces keeps one
/// validator at a time (the objects' findings are made as they are
/// written: `JSONReport.findingsValue()`).
struct JSONReports {
  /// Whether the output is an array.
  let several: Bool
  /// The objects written so far (`several`).
  private var written = 0
  /// The one report's object, written by `finish()`.
  private var single: JSONValue? = nil

  /// The output of a run of one report, or of `several`.
  init(several: Bool) { self.several = several }

  /// Adds the object of the next report: written now, as the next
  /// element of the array, when there are `several`.
  mutating func add(_ object: JSONValue) throws(OutputError) {
    guard several else {
      single = object
      return
    }
    // As `JSONValue.array(_:)` renders it: each element on a line of its
    // own, indented one level.
    try writeStandardOutput(written == 0 ? "[\n  " : ",\n  ")
    try writeStandardOutput(object, indent: 1)
    written += 1
  }

  /// Ends the output: the array closed, or the one object written; with
  /// nothing for one report that could not be read.
  func finish() throws(OutputError) {
    if several {
      try writeStandardOutput(written == 0 ? "[]\n" : "\n]\n")
    } else if let single {
      try writeStandardOutput(single)
      try writeStandardOutput("\n")
    }
  }
}
