/// The options that name one file or directory, which a command takes once.
///
/// swift-argument-parser keeps the last value of an option given twice,
/// and the first is dropped unsaid: for these options a graph file not read
/// (a cycle not found), an output not written, a source root not used, or
/// addresses symbolized in another ELF file. Such a command is refused
/// before it is parsed, as `sort -o a -o b` is. Other options keep their
/// last value (a format, a count), as GNU tools' do.
enum OnceOptions {
  /// An option's spellings, and why one is enough.
  struct Option {
    /// Its names: long ones with `--`, a short one with `-`.
    let names: [String]
    /// What is said after "was given N times: ".
    let reason: String
  }

  /// Per command, the options it takes once.
  static let table: [String: [Option]] = [
    "report": [
      Option(names: ["--graph-in"], reason: graphFiles),
      Option(names: ["--graph-out"], reason: graphFiles),
      Option(
        names: ["--source-root"],
        reason: "SARIF locations are given relative to one directory"),
    ],
    "graph": [
      Option(
        names: ["--graph-in"],
        reason: "a graph reads one graph file"),
      Option(names: ["-o", "--output"], reason: "a graph is written to one file"),
    ],
    "symbolize": [
      Option(
        names: ["--exe", "--binary"],
        reason: "addresses are symbolized in one ELF file (run symbolize once per file)")
    ],
  ]

  private static let graphFiles =
    "a run reads one graph file and writes one (validate several runs' traces together with --merge)"

  /// The first option of the command `arguments` names (the subcommand
  /// first) given more than once before `--`, its spelling (`-o/--output`
  /// for several names), how many times, and why once; nil when none is,
  /// or when help is asked for (which the parser gives whatever else the
  /// arguments say).
  static func repeated(
    in arguments: some Collection<String>
  ) -> (option: String, times: Int, reason: String)? {
    guard let command = arguments.first, let options = table[command] else { return nil }
    let given = arguments.dropFirst().prefix { $0 != "--" }
    if given.contains(where: { $0 == "--help" || $0 == "-h" }) { return nil }
    for option in options {
      let times = given.count { argument in option.names.contains { spells(argument, $0) } }
      if times > 1 {
        return (option.names.joined(separator: "/"), times, option.reason)
      }
    }
    return nil
  }

  /// Whether `argument` gives option `name`: a long one as `--name` alone
  /// or with `=value`; a short one as `-o` alone (its value attached,
  /// `-ox.dot`, is `--output=x.dot` by then: `AttachedValues`).
  private static func spells(_ argument: String, _ name: String) -> Bool {
    if name.hasPrefix("--") { return argument == name || argument.hasPrefix(name + "=") }
    return argument == name
  }
}
