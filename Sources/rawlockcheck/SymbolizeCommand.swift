import ArgumentParser
import Symbolizer

/// `rawlockcheck symbolize`: link-time addresses of an ELF file to frames,
/// as `addr2line -e` takes them, printed like `llvm-symbolizer --pretty-print`
/// or as one JSON object per line.
struct SymbolizeCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "symbolize",
    abstract: "Symbolize addresses of an ELF file from its DWARF, with inlined frames.",
    discussion: "Addresses are read from standard input, one or more per line, when none are given."
  )

  @Option(help: "The ELF file (executable or shared object).")
  var exe: String

  @Option(help: "Output format.")
  var format: OutputFormat = .text

  @Option(help: "A directory to search for separate debug files (repeatable).")
  var debugDir: [String] = []

  @Argument(help: "Addresses, decimal or 0x-hexadecimal.")
  var addresses: [String] = []

  func run() throws {
    let symbolizer = Symbolizer(executable: exe, debugDirectories: debugDir)
    if symbolizer.modules.first?.status == .missing {
      writeStandardError("rawlockcheck: \(exe): cannot open or not an ELF file\n")
      throw ExitCode(2)
    }
    var out = BufferedOutput()
    func emit(_ token: Substring, source: String) throws {
      guard let address = Self.parseAddress(token) else {
        writeStandardError(
          "rawlockcheck: \(source): expected an address, got \"\(token.prefix(64))\"\n")
        out.flush()
        throw ExitCode(2)
      }
      let result = symbolizer.symbolize(address)
      switch format {
      case .text: out.write(FrameFormatting.text(result, printAddress: true) + "\n")
      case .json: out.write(FrameFormatting.json(result) + "\n")
      }
    }
    if addresses.isEmpty {
      var lineNumber = 0
      while let line = readLine(strippingNewline: true) {
        lineNumber += 1
        for token in line.split(whereSeparator: { $0 == " " || $0 == "\t" }) {
          try emit(token, source: "<stdin>:\(lineNumber)")
        }
      }
    } else {
      for (i, a) in addresses.enumerated() { try emit(a[...], source: "argument \(i + 1)") }
    }
    out.flush()
  }

  static func parseAddress(_ s: Substring) -> UInt64? {
    if s.hasPrefix("0x") || s.hasPrefix("0X") { return UInt64(s.dropFirst(2), radix: 16) }
    return UInt64(s, radix: 10)
  }
}
