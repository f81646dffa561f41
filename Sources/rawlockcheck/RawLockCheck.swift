import ArgumentParser

#if canImport(Glibc)
  import Glibc
#endif

/// The `rawlockcheck` command.
struct RawLockCheck: ParsableCommand {
  static let version = "0.1.0"

  static let configuration = CommandConfiguration(
    commandName: "rawlockcheck",
    abstract: "Lockdep for programs outside the Linux kernel.",
    discussion: """
      Checks lock nesting as Linux lockdep does, with CONFIG_PROVE_RAW_LOCK_NESTING's \
      invalid-wait-context rule. Exit status: 0 clean, 1 findings (report), 2 bad usage or \
      trace (stats and graph: 0 whatever they find; demo: 0 when it finds what it should, 1 \
      when not; report cut short by SIGINT, SIGTERM or SIGHUP: 128 plus the signal's number, \
      after the report of what was read).
      """,
    version: version,
    subcommands: [
      ReportCommand.self, StatsCommand.self, GraphCommand.self, ConvertCommand.self,
      SymbolizeCommand.self, GenerateCommand.self, DemoCommand.self,
    ]
  )
}

extension RawLockCheck {
  /// The first argument whose bytes are not valid UTF-8: its index in
  /// `CommandLine.arguments`, and its bytes with every one outside ASCII
  /// (and every control character) written `\xNN`; nil when there is none.
  static func firstArgumentNotUTF8() -> (index: Int, shown: String)? {
    for index in 1..<Int(CommandLine.argc) {
      guard let raw = CommandLine.unsafeArgv[index] else { continue }
      let bytes = UnsafeRawBufferPointer(start: raw, count: strlen(raw))
      if String(validating: bytes, as: UTF8.self) != nil { continue }
      let shown = bytes.map { byte in
        byte >= 0x20 && byte < 0x7F
          ? String(UnicodeScalar(byte))
          : "\\x" + (byte < 0x10 ? "0" : "") + String(byte, radix: 16, uppercase: true)
      }
      return (index, shown.joined())
    }
    return nil
  }

  /// `parseAsRoot(arguments)`, except that an operand missing where an
  /// unknown option stands (`report -v`, `convert -x.rlt out.rltb`) is
  /// reported as that unknown option, as it is when the operands are
  /// there: swift-argument-parser says what is missing first, and the
  /// mistake was the option.
  static func parse(_ arguments: [String]) throws -> any ParsableCommand {
    do {
      return try parseAsRoot(arguments)
    } catch {
      guard message(for: error).hasPrefix("Missing expected argument"),
        arguments.contains(where: { $0.utf8.count > 1 && $0.hasPrefix("-") })
      else { throw error }
      // With stand-ins for the operands, what is left to say is the option.
      let standIn = "rawlockcheck-operand"
      do {
        _ = try parseAsRoot(arguments + [standIn, standIn])
      } catch let retried {
        if message(for: retried).hasPrefix("Unknown option") { throw retried }
      }
      throw error
    }
  }

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
