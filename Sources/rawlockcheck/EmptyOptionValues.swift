/// Options given an empty value as `--name=`.
///
/// swift-argument-parser reads `--name=` as `--name` without its value,
/// and takes the next argument for the value: a trace file read as the
/// format, or the files after it, which `PositionalRuns` folds into one,
/// leaked as one name. `getopt_long` (grep, sort) reads it as the empty
/// value, and so does the parser once the empty value is an argument of its
/// own: `--name ""`, which is what `separate` makes of it.
enum EmptyOptionValues {
  /// `arguments` with each `--name=` before `--` made `--name` and an
  /// empty argument.
  static func separate(_ arguments: [String]) -> [String] {
    guard arguments.contains(where: isEmptyValued) else { return arguments }
    var result: [String] = []
    result.reserveCapacity(arguments.count + 1)
    var rest = arguments[...]
    while let argument = rest.popFirst() {
      if argument == "--" {
        result.append(argument)
        result += rest
        break
      }
      if isEmptyValued(argument) {
        result += [String(argument.dropLast()), ""]
      } else {
        result.append(argument)
      }
    }
    return result
  }

  /// Whether `argument` is a long option with `=` and nothing after it
  /// (the one `=`: `--name==` gives the value `=`).
  private static func isEmptyValued(_ argument: String) -> Bool {
    guard argument.hasPrefix("--") else { return false }
    let body = argument.utf8.dropFirst(2)
    return body.count > 1 && body.firstIndex(of: UInt8(ascii: "=")) == body.indices.last
  }
}
