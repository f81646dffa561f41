/// Options given an empty value as `--name=`.
///
/// swift-argument-parser reads `--name=` as `--name` without its value,
/// and takes the next argument for the value: a trace file read as the
/// format, or the files after it, which `PositionalRuns` folds into one,
/// leaked as one name. `getopt_long` (grep, sort) reads it as the empty
/// value, and so does the parser once the empty value is an argument of its
/// own: `--name ""`, which is what `separate` makes of it.
enum EmptyOptionValues {
  /// Per command, its options that take a value (a flag's `--flag=` is
  /// left to the parser: a flag takes no value).
  static let valued: [String: Set<String>] = [
    "report": [
      "--format", "--binary", "--debug-dir", "--source-root", "--hide-frames", "--reader-thread",
      "--graph-in", "--graph-out",
    ],
    "stats": ["--format", "--binary", "--debug-dir"],
    "graph": ["--format", "--output", "--max-edges", "--binary", "--debug-dir", "--graph-in"],
    "convert": ["--to"],
    "generate": ["--events", "--shape", "--classes", "--threads", "--seed", "--stacks"],
    "symbolize": ["--exe", "--binary", "--format", "--debug-dir", "--jobs"],
    "demo": ["--design", "--format", "--threads", "--rounds"],
  ]

  /// `arguments` (the subcommand first) with each `--name=` of an option
  /// that takes a value, before `--`, made `--name` and an empty argument.
  static func separate(_ arguments: [String]) -> [String] {
    guard let command = arguments.first, let options = valued[command],
      arguments.contains(where: { isEmptyValued($0, of: options) })
    else { return arguments }
    var result = [command]
    result.reserveCapacity(arguments.count + 1)
    var rest = arguments.dropFirst()
    while let argument = rest.popFirst() {
      if argument == "--" {
        result.append(argument)
        result += rest
        break
      }
      if isEmptyValued(argument, of: options) {
        result += [String(argument.dropLast()), ""]
      } else {
        result.append(argument)
      }
    }
    return result
  }

  /// Whether `argument` is `--name=` with nothing after the one `=`
  /// (`--name==` gives the value `=`), of an option of `options`.
  private static func isEmptyValued(_ argument: String, of options: Set<String>) -> Bool {
    argument.hasSuffix("=") && options.contains(String(argument.dropLast()))
  }
}
