import ArgumentParser
import Basics
import Trace

#if canImport(Glibc)
  import Glibc
#endif

// Binary traces in regular files are mapped, not copied (a trace that
// shrinks meanwhile ends the run with status 2 and one line).
TraceReading.mapsFiles = true
// Blocks of 128 KiB and more always come from their own mapping, given
// back when freed: glibc otherwise raises that threshold after the first
// such block is freed, and serves the next from the heap, where the small
// records a run keeps between traces (each unreadable trace's message)
// pinned every trace's freed blocks: `report` of 3,000 traces that fail
// at their second line grew to 780 MB (260 KB a trace), a run of readable
// ones stayed at 13 MB. Setting the threshold turns that adjustment off.
// (`mallopt` is in `<malloc.h>`, which Glibc's module leaves out: found by
// name; `M_MMAP_THRESHOLD` is -3 there.)
if let mallopt = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "mallopt") {
  typealias Mallopt = @convention(c) (Int32, Int32) -> Int32
  _ = unsafeBitCast(mallopt, to: Mallopt.self)(-3, 128 * 1024)
}
// Address space the validator cannot reserve (a small `ulimit -v`): one
// line and status 2, not a crash.
ReservationFailure.handler = { message in
  writeStandardError("rawlockcheck: \(message)\n")
  exit(2)
}
// A file-size limit (`ulimit -f`) fails the write that passes it (EFBIG),
// said in one line with status 2 and the temporary output removed, rather
// than ending the process silently where it stood (SIGXFSZ's default),
// leaving the temporary file beside the output.
signal(SIGXFSZ, SIG_IGN)
// Exit statuses of spec/reports.md: 0 clean, 1 findings, 2 bad usage or an
// unreadable trace (and `report`'s 128 plus a signal's number when one cut
// its reading short: `ReadingInterruption`). swift-argument-parser would
// use 64 for usage errors.
do {
  // `symbolize`'s plain forms skip ArgumentParser's reflection (see
  // `SymbolizeCommand.quickParse`); everything else goes through it.
  let arguments = AttachedValues.separate(Array(CommandLine.arguments.dropFirst()))
  if arguments.isEmpty {
    // Bad usage (spec/reports.md), as grep and diff without arguments;
    // ArgumentParser would print the help to standard output and exit 0.
    let names = RawLockCheck.configuration.subcommands.map { $0._commandName }
    writeStandardError(
      "rawlockcheck: missing subcommand (one of \(names.joined(separator: ", ")); "
        + "see 'rawlockcheck --help')\n")
    exit(2)
  }
  if let (index, shown) = RawLockCheck.firstArgumentNotUTF8() {
    // Swift's arguments replace such bytes (U+FFFD): a file would be read
    // or written under another name.
    writeStandardError(
      "rawlockcheck: argument \(index) (\(shown)) is not valid UTF-8: name files in UTF-8\n")
    exit(2)
  }
  if let (topic, known) = RawLockCheck.unknownHelpTopic(arguments) {
    let choices =
      known.isEmpty ? "it has no subcommands" : "one of " + known.joined(separator: ", ")
    writeStandardError("rawlockcheck: help: no command named '\(topic)' (\(choices))\n")
    exit(2)
  }
  if let (option, times, reason) = OnceOptions.repeated(in: arguments) {
    writeStandardError(
      "rawlockcheck: \(option) was given \(times) times: \(reason) "
        + "(see 'rawlockcheck \(arguments[0]) --help')\n")
    exit(2)
  }
  var command: any ParsableCommand =
    try (arguments.first == "symbolize" ? SymbolizeCommand.quickParse(arguments.dropFirst()) : nil)
    ?? RawLockCheck.parse(PositionalRuns.collapse(arguments))
  try command.run()
} catch let code as ExitCode {
  exit(code.rawValue)
} catch let error as OutputError {
  writeStandardError("rawlockcheck: \(error)\n")
  exit(2)
} catch {
  let status = RawLockCheck.exitCode(for: error)
  if status == .success {
    // Help or the version, written as every command writes its output:
    // a failed write is an error (ArgumentParser's own print ignores it).
    do {
      try writeStandardOutput(RawLockCheck.fullMessage(for: error) + "\n")
    } catch {
      writeStandardError("rawlockcheck: \(error)\n")
      exit(2)
    }
    exit(0)
  }
  // One line (spec/reports.md): the reason, then where the usage is
  // (swift-argument-parser's own form adds the whole usage line).
  let full = RawLockCheck.fullMessage(for: error)
  // A list under a line that ends in a colon (`Please provide one of the
  // following:` and `  - reuse` lines) is that line's, comma-separated.
  var pieces: [String] = []
  for piece in RawLockCheck.message(for: error).split(whereSeparator: \.isNewline)
    .map({ $0.drop { $0 == " " } }).filter({ !$0.isEmpty })
  {
    if piece.hasPrefix("- "), let last = pieces.last, last.hasSuffix(":") || last.hasSuffix(",") {
      pieces[pieces.count - 1] = last + " " + piece.dropFirst(2) + ","
    } else {
      pieces.append(String(piece))
    }
  }
  let reason = pieces.map { $0.hasSuffix(",") ? String($0.dropLast()) : $0 }
    .joined(separator: "; ")
  let help = full.split(whereSeparator: \.isNewline).last { $0.contains("See '") }
    .flatMap { line in line.split(separator: "'").dropFirst().first }
  var line = "rawlockcheck: " + (reason.isEmpty ? "bad usage" : reason)
  if let help { line += " (see '\(help)')" }
  writeStandardError(line + "\n")
  exit(2)
}
