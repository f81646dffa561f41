import CElfutils
import XCTest

@testable import Symbolizer

/// `LineRows` (our binary search over a unit's row addresses) picks the row
/// libdw's `dwarf_getsrc_die` picks, for the fixtures' DWARF 4 (swiftc) and
/// DWARF 5 (gcc 12) line programs. libc's decoded-ahead programs are
/// checked the same way in `DwarfImageTests`.
final class LineRowsTests: XCTestCase {
  func testEveryFixtureAddressGetsLibdwsRow() throws {
    let built = FixtureSupport.built
    let binaries = [built.cProgram, built.swiftProgram].compactMap { $0 }
    guard !binaries.isEmpty else { throw XCTSkip("no fixture could be built") }
    for binary in binaries {
      let engine = SymbolizerEngine(inProcess: false, debugDirectories: [])
      defer { withExtendedLifetime(engine) {} }
      XCTAssertEqual(engine.report(executable: binary).status, .ok)
      let dwarf = try XCTUnwrap(engine.slots.first?.dwarf, binary)
      var compared = 0
      var outside = 0
      for function in FixtureSupport.functions(of: binary) {
        // Every byte, and the byte past the end (where a sequence may end),
        // in the unit of the function's start.
        guard let unit = dwarf.unit(containing: function.start) else { continue }
        for pc in function.start...(function.start + function.size) {
          var die = dwarf.units[unit].die
          let ours = dwarf.line(at: pc, unit: unit)
          let theirs = dwarf_getsrc_die(&die, pc)
          XCTAssertEqual(ours, theirs, "\(binary) 0x\(String(pc, radix: 16))")
          compared += 1
          if theirs == nil { outside += 1 }
        }
      }
      XCTAssertGreaterThan(compared, 200, binary)
      XCTAssertLessThan(outside, compared, binary)
    }
  }
}
