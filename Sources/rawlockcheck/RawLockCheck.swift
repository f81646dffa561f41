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
