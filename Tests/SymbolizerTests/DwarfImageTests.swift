import CElfutils
import Foundation
import XCTest

@testable import Symbolizer

/// Compressed debug sections inflated by the symbolizer itself
/// (`SectionInflater`, `DwarfImage`) against zlib's own compressor and
/// libdw's own way of opening the same file.
final class DwarfImageTests: XCTestCase {
  /// `bytes` compressed by zlib's own compressor, as a zlib stream.
  private func zlibStream(_ bytes: [UInt8]) throws -> [UInt8] {
    var size = compressBound(UInt(bytes.count))
    var out = [UInt8](repeating: 0, count: Int(size))
    XCTAssertEqual(compress2(&out, &size, bytes, UInt(bytes.count), 9), Z_OK)
    return Array(out[..<Int(size)])
  }

  private func inflate(_ stream: [UInt8], size: Int) -> [UInt8]? {
    var out = [UInt8](repeating: 0xee, count: size)
    let ok = stream.withUnsafeBytes { source in
      out.withUnsafeMutableBytes { SectionInflater.inflate(source, into: $0) }
    }
    return ok ? out : nil
  }

  func testInflaterRoundTripsAndRefusesWhatDoesNotFit() throws {
    var rng = SystemRandomNumberGenerator()
    // Compressible but not trivial: DWARF-like runs with random bytes mixed in.
    var data: [UInt8] = []
    while data.count < 300_000 {
      data += Array("DW_TAG_subprogram DW_AT_name ".utf8)
      data += (0..<Int.random(in: 1...40, using: &rng)).map { _ in UInt8.random(in: 0...255) }
    }
    let stream = try zlibStream(data)
    XCTAssertEqual(inflate(stream, size: data.count), data)

    // The size the compression header promises must be exact.
    XCTAssertNil(inflate(stream, size: data.count - 1))
    XCTAssertNil(inflate(stream, size: data.count + 1))
    // Cut short, or followed by more than the 4-byte checksum.
    XCTAssertNil(inflate(Array(stream.dropLast(100)), size: data.count))
    XCTAssertNil(inflate(stream + [0, 0], size: data.count))
    // Not a zlib header: method 7, then a header that fails its check.
    var method = stream
    method[0] = (method[0] & 0xf0) | 7
    XCTAssertNil(inflate(method, size: data.count))
    var check = stream
    check[1] ^= 1
    XCTAssertNil(inflate(check, size: data.count))
    XCTAssertNil(inflate([], size: data.count))
  }

  /// libc's separate debug file (Debian's libc6-dbg compresses every debug
  /// section): the DWARF opened through `DwarfImage` and the DWARF libdw
  /// opens itself give the same bias, units, scope chains and lines.
  func testLibcThroughImageEqualsLibdwsOwnOpening() throws {
    let libc = try XCTUnwrap(ProcessModules.current().first { $0.path.hasSuffix("/libc.so.6") })
    let hex = try XCTUnwrap(libc.buildIDHex)
    let debugFile = "/usr/lib/debug/.build-id/\(hex.prefix(2))/\(hex.dropFirst(2)).debug"
    guard FileManager.default.fileExists(atPath: debugFile) else {
      throw XCTSkip("libc6-dbg not installed (scripts/install-deps.sh installs it)")
    }
    let callbacks = DebugInfoLookup.makeCallbacks(debugDirectories: [])
    defer { DebugInfoLookup.release(callbacks) }
    func module(_ dwfl: OpaquePointer) throws -> OpaquePointer {
      dwfl_report_begin_add(dwfl)
      let module = dwfl_report_elf(dwfl, "libc.so.6", libc.path, -1, libc.bias, false)
      dwfl_report_end(dwfl, nil, nil)
      return try XCTUnwrap(module, String(cString: dwfl_errmsg(-1)))
    }
    let dwflA = try XCTUnwrap(dwfl_begin(callbacks))
    let dwflB = try XCTUnwrap(dwfl_begin(callbacks))
    defer {
      dwfl_end(dwflA)
      dwfl_end(dwflB)
    }
    let moduleA = try module(dwflA)
    let ours = try XCTUnwrap(ModuleDwarf.open(moduleA))
    XCTAssertNotNil(ours.image, "libc's compressed DWARF was left to libdw")
    var libdwBias: Dwarf_Addr = 0
    let libdwDwarf = try XCTUnwrap(dwfl_module_getdwarf(try module(dwflB), &libdwBias))
    let theirs = ModuleDwarf(dwarf: libdwDwarf, bias: libdwBias, image: nil)
    XCTAssertEqual(ours.bias, theirs.bias)

    let a = try XCTUnwrap(DwarfIndex(source: ours))
    let b = try XCTUnwrap(DwarfIndex(source: theirs))
    XCTAssertGreaterThan(a.units.count, 1000, "libc has about 2,000 units")
    XCTAssertEqual(a.units.count, b.units.count)
    XCTAssertEqual(
      a.units.map {
        var die = $0.die
        return dwarf_dieoffset(&die)
      },
      b.units.map {
        var die = $0.die
        return dwarf_dieoffset(&die)
      })

    // Code addresses from libc's own symbol table.
    let symbols = SymbolTable.all(of: moduleA, bias: libc.bias)
    var rng = SystemRandomNumberGenerator()
    var compared = 0
    var withInlined = 0
    for _ in 0..<3000 {
      let entry = symbols.entries[Int.random(in: 0..<symbols.entries.count, using: &rng)]
      guard entry.size > 0 else { continue }
      // Link-time address, then DWARF address (the module is at libc.bias).
      let link = entry.start + UInt64.random(in: 0..<entry.size, using: &rng)
      let pc = link &+ libc.bias &- a.bias
      let unit = a.unit(containing: pc)
      XCTAssertEqual(unit, b.unit(containing: pc))
      guard let unit else { continue }
      let chainA = a.scopeChain(containing: pc, unit: unit)?.map {
        var d = $0
        return dwarf_dieoffset(&d)
      }
      let chainB = b.scopeChain(containing: pc, unit: unit)?.map {
        var d = $0
        return dwarf_dieoffset(&d)
      }
      XCTAssertEqual(chainA, chainB, "0x\(String(pc, radix: 16))")
      // Ours: the line programs decoded ahead (LineTables); libdw's: its
      // own lookup on the CU DIE. Same row: line, column, file.
      var dieB = b.units[unit].die
      let rowA = a.line(at: pc, unit: unit)
      let rowB = dwarf_getsrc_die(&dieB, pc)
      XCTAssertEqual(rowA == nil, rowB == nil, "0x\(String(pc, radix: 16))")
      if let rowA, let rowB {
        var lineA: Int32 = -1
        var lineB: Int32 = -1
        var columnA: Int32 = -1
        var columnB: Int32 = -1
        dwarf_lineno(rowA, &lineA)
        dwarf_lineno(rowB, &lineB)
        dwarf_linecol(rowA, &columnA)
        dwarf_linecol(rowB, &columnB)
        XCTAssertEqual(lineA, lineB, "0x\(String(pc, radix: 16))")
        XCTAssertEqual(columnA, columnB, "0x\(String(pc, radix: 16))")
        XCTAssertEqual(
          dwarf_linesrc(rowA, nil, nil).map { String(cString: $0) },
          dwarf_linesrc(rowB, nil, nil).map { String(cString: $0) })
      }
      compared += 1
      if (chainA?.count ?? 0) > 1 { withInlined += 1 }
    }
    XCTAssertGreaterThan(compared, 2000)
    XCTAssertGreaterThan(withInlined, 100, "too few inlined calls compared")
  }

  /// A compressed file whose `.debug_info` compression header lies about the
  /// inflated size: far too large (must not be allocated), one byte too
  /// large, or one too small. Opening is refused, never a crash, and the
  /// untouched file opens.
  func testDamagedCompressionHeaderIsRefused() throws {
    let binary = try FixtureSupport.cProgram()
    guard let objcopy = FixtureSupport.which("objcopy"),
      let readelf = FixtureSupport.which("readelf")
    else { throw XCTSkip("binutils not installed") }
    let compressed = FixtureSupport.built.directory + "/cfix-zlib-\(UUID().uuidString)"
    XCTAssertEqual(
      FixtureSupport.run(objcopy, ["--compress-debug-sections=zlib", binary, compressed]).status, 0)
    defer { try? FileManager.default.removeItem(atPath: compressed) }
    XCTAssertNotNil(DwarfImage.open(path: compressed))

    // `readelf -SW`: [Nr] Name Type Address Off Size ...; the section's data
    // starts with its Elf64_Chdr (type, reserved, size, alignment).
    let line = try XCTUnwrap(
      FixtureSupport.run(readelf, ["-SW", compressed]).output.split(separator: "\n").first {
        $0.contains(" .debug_info ")
      })
    let fields = line.split(separator: "]").last!.split(separator: " ")
    let offset = try XCTUnwrap(Int(fields[3], radix: 16), String(line))
    let original = try Data(contentsOf: URL(fileURLWithPath: compressed))
    let size = original.withUnsafeBytes {
      $0.loadUnaligned(fromByteOffset: offset + 8, as: UInt64.self)
    }
    XCTAssertGreaterThan(size, 1000, "not a compression header at \(offset)")
    for lie in [size << 40, size + 1, size - 1] {
      var damaged = original
      withUnsafeBytes(of: lie.littleEndian) {
        damaged.replaceSubrange((offset + 8)..<(offset + 16), with: $0)
      }
      try damaged.write(to: URL(fileURLWithPath: compressed))
      XCTAssertNil(DwarfImage.open(path: compressed), "size \(lie) accepted")
    }
  }
}
