/// Option values attached to their option, read as `getopt_long` reads
/// them: `--name=` is the empty value, and `-oVALUE` is `-o` with `VALUE`.
///
/// swift-argument-parser reads `--name=` as `--name` without its value,
/// and takes the next argument for the value: a trace file read as the
/// format, or the files after it, which `PositionalRuns` folds into one,
/// leaked as one name. It reads `-ox.dot` as a cluster of flags `-o -x
/// -. ...` and refuses it, and `-o-` as an unknown option `--`. `getopt`
/// (grep, sort, gcc) reads both as a value, and so does the parser once the
/// value is an argument of its own, `--name ""`, or attached to the long
/// name, `--output=x.dot` (where a value that starts with `-`, `-o-x.dot`,
/// is still the value: the parser takes no option for one after `=`):
/// what `separate` makes of them.
enum AttachedValues {
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

  /// Per command, the letters of its short options that take a value,
  /// each with its long name.
  static let shortValued: [String: [Character: String]] = ["graph": ["o": "--output"]]

  /// `arguments` (the subcommand first) with, before `--`, each `--name=`
  /// of an option that takes a value made `--name` and an empty argument,
  /// and each `-oVALUE` of a short option that takes one made
  /// `--output=VALUE` (`-oo` is the file `o`, as `getopt` reads it).
  static func separate(_ arguments: [String]) -> [String] {
    guard let command = arguments.first else { return arguments }
    let options = valued[command] ?? []
    let letters = shortValued[command] ?? [:]
    guard
      arguments.contains(where: {
        isEmptyValued($0, of: options) || longName(attachedIn: $0, of: letters) != nil
      })
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
      } else if let long = longName(attachedIn: argument, of: letters) {
        result.append(long + "=" + String(argument.dropFirst(2)))
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

  /// The long name of the option `argument` gives when it is `-` and a
  /// letter of `letters` with a value after it (`-ox.dot`, `-o-`, `-o=`).
  private static func longName(
    attachedIn argument: String, of letters: [Character: String]
  ) -> String? {
    guard argument.count > 2, argument.first == "-" else { return nil }
    return letters[argument[argument.index(after: argument.startIndex)]]
  }
}
