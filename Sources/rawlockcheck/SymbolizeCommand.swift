import ArgumentParser
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
    var out = ""
    out.reserveCapacity(1 << 16)
    func flush() {
      out.withUTF8 { bytes in
        var offset = 0
        while offset < bytes.count {
          let written = write(1, bytes.baseAddress! + offset, bytes.count - offset)
          if written <= 0 { return }
          offset += written
        }
      }
      out.removeAll(keepingCapacity: true)
    }
    func emit(_ token: some Collection<UInt8>, source: @autoclosure () -> String) throws {
      guard let address = Self.parseAddress(token) else {
        flush()
        writeStandardError(
          "rawlockcheck: \(source()): expected an address, got \"\(String(decoding: token.prefix(64), as: UTF8.self))\"\n"
        )
        throw ExitCode(2)
      }
      let result = symbolizer.symbolize(address)
      switch format {
      case .text: FrameFormatting.appendText(result, printAddress: true, to: &out)
      case .json: FrameFormatting.appendJSON(result, to: &out)
      }
      out += "\n"
      if out.utf8.count >= 1 << 20 { flush() }
    }
    if addresses.isEmpty {
      do {
        try TokenReader(descriptor: 0).forEachToken(
          { token, line in try emit(token, source: "<stdin>:\(line)") }, drained: flush)
      } catch let error as TokenReader.ReadError {
        flush()
        writeStandardError("rawlockcheck: <stdin>: cannot read: \(error.message)\n")
        throw ExitCode(2)
      }
    } else {
      for (i, a) in addresses.enumerated() { try emit(a.utf8, source: "argument \(i + 1)") }
    }
    flush()
    // Everything is written: skip tearing down the DWARF indexes (a few
    // milliseconds of freeing for a large library).
    Glibc.exit(0)
  }

  /// A decimal or `0x`-hexadecimal address; nil for anything else,
  /// including a value that does not fit in 64 bits.
  static func parseAddress(_ token: some Collection<UInt8>) -> UInt64? {
    var digits = token[...]
    var radix: UInt64 = 10
    if digits.count > 2, digits.first == UInt8(ascii: "0"),
      digits.dropFirst().first == UInt8(ascii: "x") || digits.dropFirst().first == UInt8(ascii: "X")
    {
      radix = 16
      digits = digits.dropFirst(2)
    }
    guard !digits.isEmpty else { return nil }
    var value: UInt64 = 0
    for byte in digits {
      let digit: UInt64
      switch byte {
      case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt64(byte - UInt8(ascii: "0"))
      case UInt8(ascii: "a")...UInt8(ascii: "f") where radix == 16:
        digit = UInt64(byte - UInt8(ascii: "a") + 10)
      case UInt8(ascii: "A")...UInt8(ascii: "F") where radix == 16:
        digit = UInt64(byte - UInt8(ascii: "A") + 10)
      default: return nil
      }
      let (shifted, overflow) = value.multipliedReportingOverflow(by: radix)
      let (sum, carry) = shifted.addingReportingOverflow(digit)
      guard !overflow, !carry else { return nil }
      value = sum
    }
    return value
  }
}
