/// Long lists of trace files (or addresses), passed through
/// swift-argument-parser as one argument per run.
///
/// The parser stores an array argument's values in an existential and
/// merges each value's origin into a copy of the origins before it, so
/// the N values of `<traces> ...` cost N² (16,000 trace files took 13.8 s
/// to parse, before any was read; a shell glob reaches that before
/// `ARG_MAX`). The commands that take traces get their arguments with
/// each run of arguments that must be positional folded into one
/// argument (`collapse`), and unfold their traces before using them
/// (`expand`).
///
/// Which arguments must be positional: every option of these commands
/// takes at most one value, the next argument, so only the arguments
/// right after an option may be its values: one after `--name`, none after
/// `--name=value`, and after a cluster of short options one per letter at
/// most (`-ox.dot`, a value attached, is `-o x.dot` by then:
/// `AttachedValues`). Every other argument that is not an option is
/// positional. The folded ones are joined with NUL, which no argument can
/// hold, after a leading NUL: nothing a user types reads as a folded run,
/// and `expand` is the identity on what `collapse` did not fold.
enum PositionalRuns {
  /// The commands whose positional arguments are folded: trace files, and
  /// `symbolize`'s addresses (which reach the parser only when its quick
  /// parse declines them: help, or a mistake to report).
  static let commands: Set<String> = ["report", "stats", "graph", "symbolize"]

  /// `arguments` (the subcommand first) with each run of two or more
  /// arguments that must be positional folded into one argument;
  /// unchanged when the subcommand is not one of `commands`.
  static func collapse(_ arguments: [String]) -> [String] {
    guard let command = arguments.first, commands.contains(command) else { return arguments }
    var result = [command]
    result.reserveCapacity(arguments.count)
    var run: [String] = []
    func fold() {
      if run.count > 1 {
        result.append("\0" + run.joined(separator: "\0"))
      } else {
        result += run
      }
      run.removeAll()
    }
    // Arguments after the last option that may be its values.
    var mayBeValues = 0
    for argument in arguments.dropFirst() {
      if isOption(argument) {
        fold()
        result.append(argument)
        mayBeValues = valuesMayFollow(argument)
      } else if mayBeValues > 0 {
        result.append(argument)
        mayBeValues -= 1
      } else {
        run.append(argument)
      }
    }
    fold()
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

  /// Whether `argument` is an option, a flag or `--` to the parser: it
  /// starts with `-` and is not `-` alone.
  private static func isOption(_ argument: String) -> Bool {
    argument.utf8.first == UInt8(ascii: "-") && argument != "-"
  }

  /// How many of the arguments after option `argument` may be its values.
  private static func valuesMayFollow(_ argument: String) -> Int {
    let bytes = argument.utf8
    if argument == "--" { return 0 }
    if bytes.dropFirst().first == UInt8(ascii: "-") {
      return bytes.contains(UInt8(ascii: "=")) ? 0 : 1
    }
    // `-o`, or a cluster of short options: a value per letter at most.
    return bytes.count - 1
  }
}
