import XCTest

@testable import Symbolizer

/// The one-pass unit reader handles every unit gcc 12 (DWARF 5, with
/// `DW_FORM_implicit_const`) and swiftc (DWARF 4) produce for the fixtures,
/// so the libdw fallback is not what answers; and cut-short data is refused,
/// not read past.
final class UnitScopesTests: XCTestCase {
  /// Each fixture's DWARF index, with the engine that owns its `Dwfl` (the
  /// index's DIEs point into it, so the engine must outlive their use).
  private func dwarfIndexes() throws -> [(
    binary: String, engine: SymbolizerEngine, dwarf: DwarfIndex
  )] {
    let built = FixtureSupport.built
    let binaries = [built.cProgram, built.swiftProgram].compactMap { $0 }
    guard !binaries.isEmpty else { throw XCTSkip("no fixture could be built") }
    return try binaries.map { binary in
      let engine = SymbolizerEngine(inProcess: false, debugDirectories: [])
      XCTAssertEqual(engine.report(executable: binary).status, .ok)
      return (binary, engine, try XCTUnwrap(engine.slots.first?.dwarf, binary))
    }
  }

  func testEveryFixtureUnitIsReadInOnePass() throws {
    for (binary, engine, dwarf) in try dwarfIndexes() {
      defer { withExtendedLifetime(engine) {} }
      XCTAssertFalse(dwarf.units.isEmpty, binary)
      var functions = 0
      for unit in dwarf.units {
        let bounds = try XCTUnwrap(unit.bounds, binary)
        let scopes = UnitScopes(
          unitDie: unit.die, start: bounds.start, end: bounds.end,
          abbreviations: try XCTUnwrap(dwarf.abbreviations))
        XCTAssertNotNil(scopes, "\(binary): a unit fell back to libdw's walk")
        functions += scopes?.subprograms.count ?? 0
      }
      XCTAssertGreaterThan(functions, 3, binary)
    }
  }

  func testCutShortUnitIsRefused() throws {
    for (binary, engine, dwarf) in try dwarfIndexes() {
      defer { withExtendedLifetime(engine) {} }
      let unit = try XCTUnwrap(
        dwarf.units.max { a, b in
          (a.bounds.map { $0.end - $0.start } ?? 0) < (b.bounds.map { $0.end - $0.start } ?? 0)
        })
      let bounds = try XCTUnwrap(unit.bounds)
      let cut = bounds.start + (bounds.end - bounds.start) / 2
      XCTAssertNil(
        UnitScopes(
          unitDie: unit.die, start: bounds.start, end: cut,
          abbreviations: try XCTUnwrap(dwarf.abbreviations)), binary)
    }
  }
}
