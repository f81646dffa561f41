import Foundation
import XCTest

@testable import Symbolizer

/// A file whose DWARF is damaged is symbolized as far as it can be, never
/// read past its data: the fuzzing of the symbolizer with mutated ELF
/// files found each case below crashing the process.
final class DamagedDebugInfoTests: XCTestCase {
  /// A copy of the C fixture with `patch` applied to the bytes of its
  /// section `name` (which it is given with its file offset).
  private func patchedFixture(
    section name: String, _ patch: (inout Data, Int) throws -> Void
  ) throws -> String {
    try patchedFixtureAndSize(section: name, patch).path
  }

  /// `patchedFixture`, with the section's size.
  private func patchedFixtureAndSize(
    section name: String, _ patch: (inout Data, Int) throws -> Void
  ) throws -> (path: String, size: Int) {
    let original = try FixtureSupport.cProgram()
    let (status, listing) = FixtureSupport.run("/usr/bin/readelf", ["-S", "-W", original])
    XCTAssertEqual(status, 0)
    // `[ N] .debug_info PROGBITS 0000000000000000 003071 ...`: the file
    // offset is the column after the address.
    let line = try XCTUnwrap(
      listing.split(separator: "\n").first { $0.contains(" \(name) ") }, listing)
    let fields = line.split(separator: " ").map(String.init)
    let at = try XCTUnwrap(fields.firstIndex(of: name))
    let offset = try XCTUnwrap(Int(fields[at + 3], radix: 16), String(line))
    let size = try XCTUnwrap(Int(fields[at + 4], radix: 16), String(line))
    var data = try Data(contentsOf: URL(fileURLWithPath: original))
    try patch(&data, offset)
    let copy = FixtureSupport.built.directory + "/damaged-\(name)-\(UUID().uuidString)"
    try data.write(to: URL(fileURLWithPath: copy))
    return (copy, size)
  }

  /// A unit length with its top bit set (`0x80000113`) put the unit's end
  /// 2 GB past `.debug_info`, and the scope walk read unmapped memory
  /// (SIGSEGV); now the end is cut at the section's.
  func testAUnitLongerThanItsSectionIsReadOnlyToTheSectionsEnd() throws {
    let (damaged, size) = try patchedFixtureAndSize(section: ".debug_info") { data, offset in
      // The first unit's 32-bit length, little-endian: its top byte.
      data[offset + 3] = 0x7f
    }
    defer { try? FileManager.default.removeItem(atPath: damaged) }
    // Every unit's bytes lie inside the section: a walk that runs on past
    // a malformed DIE (as a second damaged byte made it) stops there.
    let engine = SymbolizerEngine(inProcess: false, debugDirectories: [])
    XCTAssertEqual(engine.report(executable: damaged).status, .ok)
    let dwarf = try XCTUnwrap(engine.slots.first?.dwarf)
    // The first unit starts the section (a C program has no type units).
    let sectionStart = try XCTUnwrap(dwarf.units.first?.bounds).start
    for unit in dwarf.units {
      guard let bounds = unit.bounds else { continue }
      XCTAssertLessThanOrEqual(bounds.end - sectionStart, size)
    }
    withExtendedLifetime(engine) {}
    let symbolizer = Symbolizer(executable: damaged)
    let functions = FixtureSupport.functions(of: damaged)
    XCTAssertFalse(functions.isEmpty)
    for function in functions {
      for address in stride(from: function.start, to: function.start + function.size, by: 3) {
        // Every address has an answer (at least its symbol's name).
        XCTAssertFalse(symbolizer.symbolize(address).frames.isEmpty)
      }
    }
  }
}
