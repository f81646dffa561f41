extension SymbolizeCommand {
  /// The command for `arguments` (what follows `symbolize`) in its plain
  /// forms, built without ArgumentParser, or nil.
  ///
  /// `symbolize` is often run once per stack by scripts, and parsing with
  /// ArgumentParser costs about a millisecond of reflection, as much as
  /// symbolizing a few hundred addresses. Accepted here: `--exe`,
  /// `--format`, `--debug-dir` (repeatable) and `--jobs`, each with its value
  /// as the next argument or after `=`, and addresses (arguments that do not
  /// start with `-`). Anything else (help, an unknown or repeated option, a
  /// missing or invalid value, `--`) gives nil, and ArgumentParser parses
  /// the arguments and reports what is wrong. For what this accepts, the
  /// command equals ArgumentParser's (the test
  /// `quickParseAgreesWithArgumentParser` in `SymbolizeLanesTests.swift`).
  static func quickParse(_ arguments: some Collection<String>) -> SymbolizeCommand? {
    var exe: String?
    var format: TextOrJSONFormat?
    var debugDirectories: [String] = []
    var jobs: Int?
    var addresses: [String] = []
    var rest = arguments[...]
    while let argument = rest.popFirst() {
      guard argument.hasPrefix("-") else {
        addresses.append(argument)
        continue
      }
      var name = Substring(argument)
      var value: String?
      if let equals = argument.firstIndex(of: "=") {
        name = argument[..<equals]
        value = String(argument[argument.index(after: equals)...])
      } else if let next = rest.first, !next.hasPrefix("-") {
        value = next
        rest = rest.dropFirst()
      }
      guard let value, !value.isEmpty else { return nil }
      switch name {
      case "--exe" where exe == nil:
        exe = value
      case "--format" where format == nil:
        guard let known = TextOrJSONFormat(rawValue: value) else { return nil }
        format = known
      case "--debug-dir":
        debugDirectories.append(value)
      case "--jobs" where jobs == nil:
        guard let count = Int(value) else { return nil }
        jobs = count
      default:
        return nil
      }
    }
    guard let exe else { return nil }
    var command = SymbolizeCommand()
    command.exe = exe
    command.format = format ?? .text
    command.debugDir = debugDirectories
    command.jobs = jobs
    command.addresses = addresses
    guard (try? command.validate()) != nil else { return nil }
    return command
  }
}
