/// Long lists of trace files, passed through swift-argument-parser as one
/// argument per run.
///
/// The parser stores an array argument's values in an existential and
/// merges each value's origin into a copy of the origins before it, so
/// the N values of `<traces> ...` cost N² (16,000 trace files took 13.8 s
/// to parse, before any was read; a shell glob reaches that before
/// `ARG_MAX`). The commands that take traces get their arguments with
/// each run of arguments that must be positional folded into one
/// argument after the run's first (`collapse`), and unfold their traces
/// before using them (`expand`).
///
/// Which arguments must be positional: every option of these commands
/// takes at most one value, so of a run of arguments that do not start
/// with `-` (or are `-` alone, standard input) only the first may be an
/// option's value; the others are positional whatever the options are.
/// The folded ones are joined with NUL, which no argument can hold, after
/// a leading NUL: nothing a user types reads as a folded run, and
/// `expand` is the identity on what `collapse` did not fold.
enum PositionalRuns {
  /// The commands whose positional arguments are trace files, folded.
  static let commands: Set<String> = ["report", "stats", "graph"]

  /// `arguments` (the subcommand first) with each run of arguments that
  /// must be positional folded, after its first, into one argument;
  /// unchanged when the subcommand is not one of `commands`.
  static func collapse(_ arguments: [String]) -> [String] {
    guard let command = arguments.first, commands.contains(command) else { return arguments }
    var result: [String] = []
    result.reserveCapacity(arguments.count)
    var index = arguments.startIndex
    while index < arguments.endIndex {
      var end = index
      while end < arguments.endIndex, !isOption(arguments[end]) { end += 1 }
      if end - index > 2 {
        result.append(arguments[index])
        result.append("\0" + arguments[(index + 1)..<end].joined(separator: "\0"))
      } else {
        result.append(contentsOf: arguments[index..<end])
      }
      if end < arguments.endIndex { result.append(arguments[end]) }
      index = end + 1
    }
    return result
  }

  /// `values` with each folded run unfolded in its place, in order.
  static func expand(_ values: [String]) -> [String] {
    guard values.contains(where: { $0.utf8.first == 0 }) else { return values }
    return values.flatMap { value -> [String] in
      guard value.utf8.first == 0 else { return [value] }
      return value.utf8.dropFirst().split(separator: 0, omittingEmptySubsequences: false)
        .map { String(decoding: $0, as: UTF8.self) }
    }
  }

  /// Whether `argument` is an option, a flag or `--` to the parser (and
  /// so may be followed by an option's value): it starts with `-` and is
  /// not `-` alone.
  private static func isOption(_ argument: String) -> Bool {
    argument.utf8.first == UInt8(ascii: "-") && argument != "-"
  }
}
