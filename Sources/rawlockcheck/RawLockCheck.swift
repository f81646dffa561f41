import ArgumentParser

/// The `rawlockcheck` command.
struct RawLockCheck: ParsableCommand {
  static let version = "0.1.0"

  static let configuration = CommandConfiguration(
    commandName: "rawlockcheck",
    abstract: "Lockdep for programs outside the Linux kernel.",
    discussion: """
      Checks lock nesting as Linux lockdep does, with CONFIG_PROVE_RAW_LOCK_NESTING's \
      invalid-wait-context rule. Exit status: 0 clean, 1 findings, 2 bad usage or trace.
      """,
    version: version,
    subcommands: [
      ReportCommand.self, StatsCommand.self, GraphCommand.self, ConvertCommand.self,
      SymbolizeCommand.self, GenerateCommand.self, DemoCommand.self,
    ]
  )
}

extension RawLockCheck {
  /// For `rawlockcheck help TOPIC...`, the first topic that names no
  /// subcommand (ArgumentParser would print the general help and exit 0),
  /// with the names it could have been; nil when every topic is known, or
  /// `arguments` (what follows the tool's name) is not a help request.
  static func unknownHelpTopic(_ arguments: some Collection<String>) -> (String, [String])? {
    guard arguments.first == "help" else { return nil }
    var command: any ParsableCommand.Type = RawLockCheck.self
    for topic in arguments.dropFirst() where !topic.hasPrefix("-") {
      let subcommands = command.configuration.subcommands
      guard let next = subcommands.first(where: { $0._commandName == topic }) else {
        return (topic, subcommands.map { $0._commandName })
      }
      command = next
    }
    return nil
  }
}
