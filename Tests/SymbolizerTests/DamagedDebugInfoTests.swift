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
    everyAddressHasAnAnswer(damaged, every: 3)
  }

  /// Every `step`-th address of every function of `binary` has an answer
  /// (at least its symbol's name).
  private func everyAddressHasAnAnswer(_ binary: String, every step: Int) {
    let symbolizer = Symbolizer(executable: binary)
    let functions = FixtureSupport.functions(of: binary)
    XCTAssertFalse(functions.isEmpty)
    for function in functions {
      for address in stride(from: function.start, to: function.start + function.size, by: step) {
        XCTAssertFalse(symbolizer.symbolize(address).frames.isEmpty)
      }
    }
  }

  /// An inlined call's `DW_AT_call_file` given as an `implicit_const` of
  /// -1 in its abbreviation (one damaged byte of `.debug_abbrev`) is read
  /// as unsigned, past `Int.max`, and trapped converting it (SIGILL, no
  /// message); now such a value is none, and the frame has no call site.
  func testACallSitePastIntMaxIsNoCallSite() throws {
    var patched = 0
    let damaged = try patchedFixture(section: ".debug_abbrev") { data, offset in
      // Attribute specifications are (name, form[, value]) in ULEB128:
      // `DW_AT_call_file` (0x58) or `DW_AT_call_column` (0x57), then
      // `DW_FORM_implicit_const` (0x21) and a one-byte SLEB128 value.
      var i = offset
      while i + 2 < data.count && i < offset + (1 << 16) {
        if (data[i] == 0x58 || data[i] == 0x57) && data[i + 1] == 0x21 && data[i + 2] < 0x80 {
          data[i + 2] = 0x7f  // -1
          patched += 1
        }
        i += 1
      }
    }
    defer { try? FileManager.default.removeItem(atPath: damaged) }
    guard patched > 0 else {
      throw XCTSkip("the compiler gave no call site an implicit_const: nothing to damage")
    }
    everyAddressHasAnAnswer(damaged, every: 1)
  }

  /// A class's template parameter whose type is the class itself (one
  /// damaged reference: a real splat needed one byte) made a C++ name
  /// built from DWARF recurse until the stack overflowed (SIGSEGV after
  /// 51,500 frames): the name's parts (a template argument, a local class's
  /// function) each started their depth count again. Now one name has a
  /// budget, and a name past it is not built: its frame keeps the
  /// linkage name.
  func testATypeThatIsItsOwnTemplateArgumentEndsNamesInsteadOfTheStack() throws {
    let original = try XCTUnwrap(
      FixtureSupport.built.clangxxProgram, "the toolchain's clang++ built no C++20 fixture")
    let (_, dump) = FixtureSupport.run("/usr/bin/readelf", ["--debug-dump=info", original])
    var patches: [(at: Int, value: UInt32)] = []
    var unit = 0
    var open: [Int: (offset: Int, tag: Substring)] = [:]
    let lines = dump.split(separator: "\n")
    for (i, line) in lines.enumerated() {
      if let range = line.range(of: "Compilation Unit @ offset ") {
        let number = line[range.upperBound...].dropLast()
        unit = number.hasPrefix("0x") ? Int(number.dropFirst(2), radix: 16) ?? 0 : Int(number) ?? 0
        open = [:]
      }
      // ` <3><fd>: Abbrev Number: 20 (DW_TAG_template_type_param)`
      let parts = line.split(separator: " ")
      guard parts.count >= 5, parts[0].hasPrefix("<"), parts[1] == "Abbrev",
        let close = parts[0].firstIndex(of: ">")
      else { continue }
      let depth = Int(parts[0][parts[0].index(after: parts[0].startIndex)..<close]) ?? -1
      let offsetText = parts[0][parts[0].index(after: close)...].dropFirst().prefix { $0 != ">" }
      let tag = parts[4].dropFirst().dropLast()
      guard let offset = Int(offsetText, radix: 16) else { continue }
      open[depth] = (offset, tag)
      // Its next line: `    <fe>   DW_AT_type        : <0xa04>` (a ref4).
      guard tag == "DW_TAG_template_type_param", i + 1 < lines.count,
        let parent = open[depth - 1],
        parent.tag == "DW_TAG_class_type" || parent.tag == "DW_TAG_structure_type"
      else { continue }
      let attribute = lines[i + 1].split(separator: " ")
      guard attribute.count >= 4, attribute[1] == "DW_AT_type",
        let at = Int(attribute[0].dropFirst().dropLast(), radix: 16)
      else { continue }
      patches.append((at, UInt32(parent.offset - unit)))
    }
    XCTAssertFalse(patches.isEmpty, "no class template parameter in the fixture")
    let (_, listing) = FixtureSupport.run("/usr/bin/readelf", ["-S", "-W", original])
    let line = try XCTUnwrap(listing.split(separator: "\n").first { $0.contains(" .debug_info ") })
    let fields = line.split(separator: " ").map(String.init)
    let section = try XCTUnwrap(
      fields.firstIndex(of: ".debug_info").flatMap { Int(fields[$0 + 3], radix: 16) })
    var data = try Data(contentsOf: URL(fileURLWithPath: original))
    for patch in patches {
      for byte in 0..<4 {
        data[section + patch.at + byte] = UInt8(truncatingIfNeeded: patch.value >> (8 * byte))
      }
    }
    let damaged = FixtureSupport.built.directory + "/damaged-cycle-\(UUID().uuidString)"
    try data.write(to: URL(fileURLWithPath: damaged))
    defer { try? FileManager.default.removeItem(atPath: damaged) }
    let symbolizer = Symbolizer(executable: damaged)
    let functions = FixtureSupport.functions(of: damaged)
    XCTAssertFalse(functions.isEmpty)
    for function in functions {
      XCTAssertFalse(symbolizer.symbolize(function.start).frames.isEmpty)
    }
  }
}
