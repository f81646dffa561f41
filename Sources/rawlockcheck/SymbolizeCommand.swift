import ArgumentParser
import Basics
import Symbolizer

#if canImport(Glibc)
  import Glibc
#endif

/// `rawlockcheck symbolize`: link-time addresses of an ELF file to frames,
/// as `addr2line -e` takes them, printed like `llvm-symbolizer --pretty-print`
/// or as one JSON object per line.
struct SymbolizeCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "symbolize",
    abstract: "Symbolize addresses of an ELF file from its DWARF, with inlined frames.",
    discussion: "Addresses are read from standard input, one or more per line, when none are given."
  )

  @Option(
    name: [.customLong("exe"), .customLong("binary")],
    help: "The ELF file (executable or shared object); --binary is another name.")
  var exe: String

  @Option(help: "Output format.")
  var format: TextOrJSONFormat = .text

  @Option(help: "A directory to search for separate debug files (repeatable).")
  var debugDir: [String] = []

  @Option(
    parsing: .unconditional,
    help: ArgumentHelp(
      "Threads that symbolize, 1 to 64 (default: one per processor, at most 4).",
      discussion:
        "Each reads its own compilation units; the output is the same for any number. More than one thread starts only for a file with at least 1 MiB of DWARF units, below which splitting costs more than it saves."
    ))
  var jobs: Int?

  @Argument(help: "Addresses, decimal or 0x-hexadecimal.")
  var addresses: [String] = []

  mutating func validate() throws {
    addresses = PositionalRuns.expand(addresses)
    if let jobs, !(1...64).contains(jobs) {
      throw ValidationError("--jobs must be between 1 and 64, not \(jobs)")
    }
  }

  /// The default number of lanes: one per processor, at most 4.
  static var defaultJobs: Int {
    min(4, max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))))
  }

  func run() throws {
    // Before any file is opened: a closed standard input would be the
    // first descriptor free, and the ELF file read as the address list.
    if addresses.isEmpty && fcntl(0, F_GETFD) < 0 {
      writeStandardError("rawlockcheck: <stdin>: cannot read: standard input is closed\n")
      throw ExitCode(2)
    }
    if let problem = Symbolizer.elfFileProblem(exe) {
      writeStandardError("rawlockcheck: \(QuotedText.fileName(exe)): \(problem)\n")
      throw ExitCode(2)
    }
    // As `report`'s (`SymbolFileOptions`): a mistyped directory is said.
    for path in debugDir where !isDirectory(path) {
      writeStandardError(
        "rawlockcheck: --debug-dir \(QuotedText.fileName(path)): not a directory\n")
      throw ExitCode(2)
    }
    // Its lanes and writer run on libdispatch's threads, which waits for
    // one forever when the system will not start it (`ulimit -u`).
    do {
      try SpawnedThread.probe()
    } catch {
      writeStandardError("rawlockcheck: symbolize: \(error)\n")
      throw ExitCode(2)
    }
    let symbolizer = Symbolizer(
      executable: exe, debugDirectories: debugDir, cachesAddresses: false)
    if symbolizer.modules.first?.status == .missing {
      writeStandardError(
        "rawlockcheck: \(QuotedText.fileName(exe)): cannot open or not an ELF file\n")
      throw ExitCode(2)
    }
    // This thread parses; the lanes symbolize and `writer` formats and
    // writes, each on a thread of its own, a chunk at a time.
    let laneCount = jobs ?? Self.defaultJobs
    let writer = AnswerWriter(descriptor: 1, format: format, laneCount: laneCount)
    let lanes = SymbolizingLanes(symbolizer: symbolizer, laneCount: laneCount, writer: writer)
    var chunk: [UInt64] = []
    chunk.reserveCapacity(SymbolizingLanes.chunkSize)
    // A failed write of the output stops the run (seen a chunk or so
    // after it happened: the writer is a thread of its own).
    func checkOutput() throws(OutputError) {
      if let code = writer.failure {
        throw OutputError.writeFailed(OutputError.standardOutput, code)
      }
    }
    func submit() throws(OutputError) {
      lanes.submit(chunk)
      chunk.removeAll(keepingCapacity: true)
      try checkOutput()
    }
    func fail(_ message: String) -> any Error {
      lanes.submit(chunk)
      chunk.removeAll(keepingCapacity: true)
      writer.finish()
      if let code = writer.failure {
        return OutputError.writeFailed(OutputError.standardOutput, code)
      }
      writeStandardError("rawlockcheck: \(message)\n")
      return ExitCode(2)
    }
    func emit(_ token: some Collection<UInt8>, source: @autoclosure () -> String) throws {
      guard let address = NumberText.parse(token) else {
        throw fail(
          "\(source()): expected an address, got \"\(String(decoding: token.prefix(64), as: UTF8.self))\""
        )
      }
      chunk.append(address)
      if chunk.count == SymbolizingLanes.chunkSize { try submit() }
    }
    if addresses.isEmpty {
      do {
        // `drained` runs before each read that may block: an interactive
        // client gets every answer to what it wrote so far.
        try TokenReader(descriptor: 0).forEachToken(
          { token, line in try emit(token, source: "<stdin>:\(line)") }, drained: submit)
      } catch let error as TokenReader.ReadError {
        throw fail("<stdin>: cannot read: \(error.message)")
      } catch let error as TokenReader.LineTooLong {
        throw fail(
          "<stdin>:\(error.line): line longer than \(TokenReader.maxLineLength) bytes")
      }
    } else {
      for (i, a) in addresses.enumerated() { try emit(a.utf8, source: "argument \(i + 1)") }
    }
    try submit()
    writer.finish()
    try checkOutput()
    // A stripped file whose debug file was not found answers without a
    // line: say why, once, after the answers.
    for path in symbolizer.modulesWithoutDWARF {
      writeStandardError(
        "rawlockcheck: \(QuotedText.printable(path)): no DWARF found (none in the file, and no "
          + "debug file through its .gnu_debuglink or build-id under /usr/lib/debug"
          + (debugDir.isEmpty ? "" : " or --debug-dir") + "): functions are named from the "
          + "symbol table where it has them, without file:line\n")
    }
    for (module, dwoFiles) in symbolizer.modulesWithMissingSplitUnits {
      writeStandardError(
        "rawlockcheck: \(SymbolFileOptions.missingSplitUnitsWarning(module, dwoFiles))\n")
    }
    for (module, debugFile) in symbolizer.modulesWithUnreadableDWARF {
      let whose =
        debugFile.map { "the DWARF of its debug file \(QuotedText.printable($0))" } ?? "its DWARF"
      writeStandardError(
        "rawlockcheck: \(QuotedText.printable(module)): \(whose) (.debug_info) could not be read "
          + "(damaged, or compressed in a form libelf cannot inflate): functions are named "
          + "from the symbol table where it has them, without file:line\n")
    }
    // Everything is written (with write(2), nothing is buffered): skip
    // tearing down the DWARF indexes (a few milliseconds of freeing for a
    // large library) and the exit handlers.
    Glibc._exit(0)
  }
}
