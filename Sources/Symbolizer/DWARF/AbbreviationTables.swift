import CElfutils

/// The abbreviation tables of one `.debug_abbrev` section, each parsed on
/// first use, so that `UnitScopes` can read a DIE's tag, children flag and
/// attribute forms from an array instead of libdw's lock-guarded hash.
///
/// Invariants: a `Table`'s declarations and attributes never change once
/// parsed; `Declaration.attributes` indexes `Table.attributes`; a
/// declaration whose every form has a fixed size has `fixedSize >= 0`, the
/// byte count of its attribute values.
final class AbbreviationTables {
  struct Attribute {
    var name: UInt32
    var form: UInt32
  }

  struct Declaration {
    var tag: UInt32
    var hasChildren: Bool
    var attributes: Range<Int>
    /// Bytes of all attribute values, or -1 when some form's size varies.
    var fixedSize: Int
    /// Where `DW_AT_sibling`'s value starts, relative to the first
    /// attribute value, when every value before it has a fixed size; else -1.
    var siblingOffset: Int
    var siblingForm: UInt32
  }

  /// One unit's table: declarations by code (`byCode[code - 1]` when codes
  /// are dense from 1, as gcc, clang and swiftc emit them; `sparse`
  /// otherwise).
  struct Table {
    var attributes: [Attribute] = []
    var byCode: [Declaration] = []
    var sparse: [UInt64: Declaration] = [:]

    func declaration(_ code: UInt64) -> Declaration? {
      if code >= 1, code <= UInt64(byCode.count) { return byCode[Int(code - 1)] }
      return sparse[code]
    }
  }

  /// Form sizes depend on the unit's address and offset sizes, so a table
  /// is parsed once per unit shape that uses it.
  private struct Key: Hashable {
    var offset: UInt64
    var version: Int
    var addressSize: Int
    var offsetSize: Int
  }

  private let section: UnsafeRawBufferPointer
  private var tables: [Key: Table?] = [:]

  init(section: UnsafeRawBufferPointer) {
    self.section = section
  }

  /// The tables of `dwarf`'s `.debug_abbrev`, or nil when it cannot be found.
  convenience init?(dwarf: OpaquePointer) {
    guard let elf = dwarf_getelf(dwarf), let section = ElfSections.data(".debug_abbrev", in: elf)
    else { return nil }
    self.init(section: section)
  }

  /// The table at `offset` in the section for a unit of `shape`, or nil
  /// when it is malformed.
  func table(at offset: UInt64, shape: DwarfForms.UnitShape) -> Table? {
    let key = Key(
      offset: offset, version: shape.version, addressSize: shape.addressSize,
      offsetSize: shape.offsetSize)
    if let known = tables[key] { return known }
    let parsed = parse(at: offset, shape: shape)
    tables[key] = .some(parsed)
    return parsed
  }

  private func parse(at offset: UInt64, shape: DwarfForms.UnitShape) -> Table? {
    guard let base = section.baseAddress, offset < UInt64(section.count) else { return nil }
    let start = base.assumingMemoryBound(to: UInt8.self)
    let end = start + section.count
    var p = start + Int(offset)
    var table = Table()
    while true {
      guard let (code, afterCode) = DwarfForms.readULEB(p, end: end) else { return nil }
      p = afterCode
      if code == 0 { break }
      guard let (tag, afterTag) = DwarfForms.readULEB(p, end: end), afterTag < end else {
        return nil
      }
      let hasChildren = afterTag.pointee != 0
      p = afterTag + 1
      let first = table.attributes.count
      var fixedSize = 0
      var siblingOffset = -1
      var siblingForm: UInt32 = 0
      while true {
        guard let (name, afterName) = DwarfForms.readULEB(p, end: end),
          let (form, afterForm) = DwarfForms.readULEB(afterName, end: end)
        else { return nil }
        p = afterForm
        if name == 0 && form == 0 { break }
        if form == UInt64(DW_FORM_implicit_const) {
          guard let next = DwarfForms.skipLEB(p, end: end) else { return nil }
          p = next
        }
        let attribute = Attribute(
          name: UInt32(truncatingIfNeeded: name), form: UInt32(truncatingIfNeeded: form))
        if attribute.name == UInt32(DW_AT_sibling), fixedSize >= 0 {
          siblingOffset = fixedSize
          siblingForm = attribute.form
        }
        if fixedSize >= 0 {
          let size = DwarfForms.fixedSize(of: attribute.form, shape: shape)
          fixedSize = size.map { fixedSize + $0 } ?? -1
        }
        table.attributes.append(attribute)
      }
      let declaration = Declaration(
        tag: UInt32(truncatingIfNeeded: tag), hasChildren: hasChildren,
        attributes: first..<table.attributes.count, fixedSize: fixedSize,
        siblingOffset: siblingOffset, siblingForm: siblingForm)
      if code == UInt64(table.byCode.count + 1), table.sparse.isEmpty {
        table.byCode.append(declaration)
      } else {
        table.sparse[code] = declaration
      }
    }
    return table
  }
}
