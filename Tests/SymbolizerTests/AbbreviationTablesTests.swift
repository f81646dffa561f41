import CElfutils
import Foundation
import XCTest

@testable import Symbolizer

/// `AbbreviationTables` and the one-pass read against libdw's own reading of
/// the same DIEs: for every DIE, the same tag, children flag and attribute
/// forms, the value bytes a fixed-size declaration promises, and for every
/// function and inlined call, the same address ranges (which the one-pass
/// read takes from `DW_AT_low_pc`/`DW_AT_high_pc` itself). Covers the
/// fixtures (gcc 12 DWARF 5, swiftc DWARF 4) and every 4th unit of libc
/// (Debian's gcc, `DW_AT_ranges` in `.debug_rnglists`, `implicit_const`).
final class AbbreviationTablesTests: XCTestCase {
  func testDeclarationsAndRangesMatchLibdw() throws {
    var indexes: [(String, SymbolizerEngine, DwarfIndex, stride: Int)] = []
    let built = FixtureSupport.built
    var paths = [built.cProgram, built.swiftProgram].compactMap { $0 }.map { ($0, 1) }
    if let libc = ProcessModules.current().first(where: { $0.path.hasSuffix("/libc.so.6") }),
      let hex = libc.buildIDHex,
      FileManager.default.fileExists(
        atPath: "/usr/lib/debug/.build-id/\(hex.prefix(2))/\(hex.dropFirst(2)).debug")
    {
      paths.append((libc.path, 4))
    }
    guard !paths.isEmpty else { throw XCTSkip("no fixture could be built") }
    for (path, stride) in paths {
      let engine = SymbolizerEngine(inProcess: false, debugDirectories: [])
      XCTAssertEqual(engine.report(executable: path).status, .ok)
      indexes.append((path, engine, try XCTUnwrap(engine.slots.first?.dwarf, path), stride))
    }
    for (path, engine, dwarf, stride) in indexes {
      defer { withExtendedLifetime(engine) {} }
      let tables = try XCTUnwrap(dwarf.abbreviations, path)
      var checked = (dies: 0, fixed: 0, functions: 0)
      for unitIndex in Swift.stride(from: 0, to: dwarf.units.count, by: stride) {
        let unit = dwarf.units[unitIndex]
        var cuDie = unit.die
        var version: Dwarf_Half = 0
        var offset: Dwarf_Off = 0
        var addressSize: UInt8 = 0
        var offsetSize: UInt8 = 0
        var scratch = Dwarf_Die()
        XCTAssertNotNil(
          dwarf_cu_die(
            unit.die.cu, &scratch, &version, &offset, &addressSize, &offsetSize, nil, nil))
        let shape = DwarfForms.UnitShape(
          version: Int(version), addressSize: Int(addressSize), offsetSize: Int(offsetSize))
        let table = try XCTUnwrap(tables.table(at: offset, shape: shape), path)
        let bounds = try XCTUnwrap(unit.bounds)

        // libdw's view: every DIE, and every function's ranges by DIE offset.
        var expected: [Dwarf_Off: [UInt64]] = [:]
        func visit(_ die: inout Dwarf_Die) {
          let start = die.addr!.assumingMemoryBound(to: UInt8.self)
          guard let (code, values) = DwarfForms.readULEB(start, end: bounds.end),
            let declaration = table.declaration(code)
          else { return XCTFail("\(path): no declaration for a DIE") }
          checked.dies += 1
          XCTAssertEqual(Int32(bitPattern: declaration.tag), dwarf_tag(&die))
          XCTAssertEqual(declaration.hasChildren, dwarf_haschildren(&die) == 1)
          var theirs: [UInt32] = []
          var name: UInt32 = 0
          var form: UInt32 = 0
          while dwarf_getabbrevattr_data(die.abbrev, theirs.count / 2, &name, &form, nil, nil) == 0
          {
            theirs += [name, form]
          }
          XCTAssertEqual(
            table.attributes[declaration.attributes].flatMap { [$0.name, $0.form] }, theirs)
          var next = Dwarf_Die()
          let nextFound =
            declaration.hasChildren
            ? dwarf_child(&die, &next) == 0 : dwarf_siblingof(&die, &next) == 0
          if declaration.fixedSize >= 0, nextFound {
            XCTAssertEqual(
              next.addr, UnsafeMutableRawPointer(mutating: values + declaration.fixedSize))
            checked.fixed += 1
          }
          let tag = Int(dwarf_tag(&die))
          if tag == DW_TAG_subprogram || tag == DW_TAG_inlined_subroutine {
            var ranges: [UInt64] = []
            forEachRange(of: &die) { ranges += [$0, $1] }
            if !ranges.isEmpty { expected[dwarf_dieoffset(&die)] = ranges }
          }
          var child = Dwarf_Die()
          guard declaration.hasChildren, dwarf_child(&die, &child) == 0 else { return }
          while true {
            visit(&child)
            var sibling = Dwarf_Die()
            guard dwarf_siblingof(&child, &sibling) == 0 else { break }
            child = sibling
          }
        }
        visit(&cuDie)

        // The one-pass read, with every pending subtree read.
        var scopes = try XCTUnwrap(
          UnitScopes(
            unitDie: unit.die, start: bounds.start, end: bounds.end, abbreviations: tables), path)
        for subprogram in scopes.subprograms { _ = scopes.scopeChain(containing: subprogram.low) }
        var ours: [Dwarf_Off: [UInt64]] = [:]
        for entry in scopes.entries {
          var die = entry.die
          ours[dwarf_dieoffset(&die)] = scopes.ranges(of: entry).flatMap { [$0.low, $0.high] }
        }
        XCTAssertEqual(ours, expected, "\(path) unit \(unitIndex)")
        checked.functions += expected.count
      }
      XCTAssertGreaterThan(checked.dies, 100, path)
      XCTAssertGreaterThan(checked.fixed, 10, path)
      XCTAssertGreaterThan(checked.functions, 3, path)
    }
  }
}
