import Basics
import XCTest

@testable import Symbolizer

/// Addresses with no code behind them get no function name (the spec:
/// "an address that cannot be symbolized is printed as `module+0xoffset`"):
/// offsets inside the ELF header, `.rodata`, `.eh_frame_hdr`, past the end
/// of `.text` and `.fini`, and the padding between two functions. A name
/// comes only from a function's DWARF range or an ELF function symbol's
/// extent inside an executable section; real code still symbolizes as
/// llvm-symbolizer does, the last byte of every function included.
final class OutsideCodeTests: XCTestCase {
  /// `Fixtures/symbolizer/outside.c` linked with `--gc-sections`: GNU ld
  /// leaves the DWARF of the discarded `discarded_helper` at address 0.
  static let outsideProgram: String? = {
    guard let gcc = FixtureSupport.which("gcc") else { return nil }
    let out = FixtureSupport.built.directory + "/outfix"
    let status = FixtureSupport.run(
      gcc,
      [
        "-O2", "-g", "-fno-omit-frame-pointer", "-ffunction-sections", "-Wl,--gc-sections",
        "-Wl,--build-id", FixtureSupport.sourceDirectory + "/outside.c", "-o", out,
      ]
    ).status
    return status == 0 ? out : nil
  }()

  struct Section {
    var name: String
    var start: UInt64
    var size: UInt64
    var isCode: Bool
    var end: UInt64 { start + size }
  }

  /// The sections of `binary` (`readelf -SW`).
  static func sections(of binary: String) throws -> [Section] {
    let readelf = try XCTUnwrap(FixtureSupport.which("readelf"), "readelf not installed")
    var result: [Section] = []
    for line in FixtureSupport.run(readelf, ["-SW", binary]).output.split(separator: "\n") {
      guard let close = line.firstIndex(of: "]") else { continue }
      let fields = line[line.index(after: close)...].split(separator: " ")
      guard fields.count >= 7, let start = UInt64(fields[2], radix: 16),
        let size = UInt64(fields[4], radix: 16)
      else { continue }
      let flags = fields.count >= 8 && fields[6].allSatisfy(\.isLetter) ? fields[6] : ""
      result.append(
        Section(name: String(fields[0]), start: start, size: size, isCode: flags.contains("X")))
    }
    return result
  }

  /// The frames of `address` as llvm-symbolizer's oracle frames (`??` for none).
  private func ours(_ symbolizer: Symbolizer, _ address: UInt64) -> [FixtureSupport.OracleFrame] {
    symbolizer.symbolize(address).frames.map {
      FixtureSupport.OracleFrame(
        name: $0.linkageName ?? "??", location: "\(baseName($0.file ?? "??")):\($0.line)")
    }
  }

  /// Addresses of `binary` outside every executable section: no name, no
  /// file, and the text form is `module+0xoffset`.
  private func checkOutsideCode(binary: String) throws {
    let sections = try Self.sections(of: binary)
    let code = sections.filter(\.isCode)
    XCTAssertFalse(code.isEmpty)
    func isCode(_ address: UInt64) -> Bool {
      code.contains { $0.start <= address && address < $0.end }
    }
    var addresses: [(String, UInt64)] = [
      ("ELF header", 0), ("ELF header", 3), ("ELF header", 0x41),
    ]
    for name in [".rodata", ".eh_frame_hdr", ".eh_frame"] {
      if let section = sections.first(where: { $0.name == name }), section.size > 8 {
        addresses.append((name, section.start + 8))
      }
    }
    for name in [".text", ".fini"] {
      if let section = sections.first(where: { $0.name == name }), !isCode(section.end) {
        addresses.append(("end of " + name, section.end))
      }
    }
    let oracle = FixtureSupport.oracle(binary: binary, addresses: addresses.map(\.1))
    let symbolizer = Symbolizer(executable: binary)
    for (index, (what, address)) in addresses.enumerated() {
      XCTAssertFalse(isCode(address), "\(what) 0x\(String(address, radix: 16))")
      let frames = symbolizer.symbolize(address).frames
      let llvm = oracle.map { "\($0[index])" } ?? "no llvm-symbolizer"
      XCTAssertEqual(frames.count, 1)
      XCTAssertNil(
        frames.first?.linkageName,
        "\(baseName(binary)) \(what) 0x\(String(address, radix: 16)) (llvm-symbolizer: \(llvm))")
      XCTAssertNil(frames.first?.file, "\(baseName(binary)) \(what)")
      XCTAssertEqual(
        FrameFormatting.describe(frames.first!),
        "\(baseName(binary))+0x\(String(address, radix: 16))")
    }
  }

  /// Inside `.text`: the byte just past the last function, the padding
  /// between functions (where llvm-symbolizer names nothing), and the last
  /// byte of every function, all against llvm-symbolizer.
  private func checkInsideText(binary: String) throws {
    guard FixtureSupport.llvmSymbolizer != nil else {
      throw XCTSkip("llvm-symbolizer not found next to swift")
    }
    let text = try XCTUnwrap(try Self.sections(of: binary).first { $0.name == ".text" })
    let functions = FixtureSupport.functions(of: binary)
      .filter { $0.start >= text.start && $0.start < text.end }
      .sorted { $0.start < $1.start }
    let starts = Set(FixtureSupport.functions(of: binary).map(\.start))
    var gaps: [UInt64] = []
    for (first, second) in zip(functions, functions.dropFirst())
    where first.start + first.size < second.start {
      gaps.append(first.start + first.size)
    }
    let last = try XCTUnwrap(functions.max { $0.start + $0.size < $1.start + $1.size })
    var pastLast: [UInt64] = []
    if !starts.contains(last.start + last.size) { pastLast.append(last.start + last.size) }
    let lastBytes = functions.map { $0.start + $0.size - 1 }
    let all = gaps + pastLast + lastBytes
    let oracle = try XCTUnwrap(FixtureSupport.oracle(binary: binary, addresses: all))
    let symbolizer = Symbolizer(executable: binary)
    var comparedGaps = 0
    for (address, expected) in zip(all, oracle) {
      let isLastByte = lastBytes.contains(address)
      // llvm-symbolizer stretches a size-0 symbol to the next one; compare
      // only where it names nothing (or, for code, everywhere).
      guard isLastByte || expected.first?.name == "??" else { continue }
      if !isLastByte { comparedGaps += 1 }
      let answer = ours(symbolizer, address)
      XCTAssertEqual(answer, expected, "\(baseName(binary)) 0x\(String(address, radix: 16))")
      if isLastByte {
        XCTAssertNotEqual(answer.last?.name, "??", "0x\(String(address, radix: 16))")
      }
    }
    XCTAssertGreaterThan(comparedGaps, 0, "no padding between functions found")
  }

  func testOutsideCodeHasNoNameInDiscardedDwarfFixture() throws {
    let binary = try XCTUnwrap(Self.outsideProgram, "gcc failed to build outside.c")
    try checkOutsideCode(binary: binary)
  }

  func testOutsideCodeHasNoNameInCFixture() throws {
    try checkOutsideCode(binary: try FixtureSupport.cProgram())
  }

  func testOutsideCodeHasNoNameInSwiftFixture() throws {
    try checkOutsideCode(binary: try FixtureSupport.swiftProgram())
  }

  func testPaddingAndFunctionEndsMatchLLVMSymbolizer() throws {
    let binary = try XCTUnwrap(Self.outsideProgram, "gcc failed to build outside.c")
    try checkInsideText(binary: binary)
    try checkInsideText(binary: try FixtureSupport.cProgram())
    try checkInsideText(binary: try FixtureSupport.swiftProgram())
  }

  /// A symbol without a size (`bare_tail`, and `_fini`) covers up to the
  /// next symbol inside its section, not the data after the section.
  func testUnsizedSymbolStopsAtItsSection() throws {
    let binary = try XCTUnwrap(Self.outsideProgram, "gcc failed to build outside.c")
    let sections = try Self.sections(of: binary)
    let fini = try XCTUnwrap(sections.first { $0.name == ".fini" })
    let symbolizer = Symbolizer(executable: binary)
    XCTAssertEqual(symbolizer.symbolize(fini.start).frames.first?.linkageName, "_fini")
    XCTAssertEqual(symbolizer.symbolize(fini.end - 1).frames.first?.linkageName, "_fini")
    XCTAssertNil(symbolizer.symbolize(fini.end).frames.first?.linkageName)
    let nm = try XCTUnwrap(FixtureSupport.which("nm"))
    let bare = try XCTUnwrap(
      FixtureSupport.run(nm, [binary]).output.split(separator: "\n")
        .first { $0.hasSuffix(" bare_tail") }
        .flatMap { UInt64($0.split(separator: " ")[0], radix: 16) })
    XCTAssertEqual(symbolizer.symbolize(bare).frames.first?.linkageName, "bare_tail")
  }
}
