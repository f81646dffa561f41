import CElfutils
import Glibc

/// Every DWARF 5 line program of a module, decoded by libdw ahead of need,
/// through a second `Dwarf` handle over a small image of `.debug_line`,
/// `.debug_line_str` and `.debug_str` only.
///
/// DWARF 5 line programs are self-contained (their directory table starts
/// with the compilation directory), so `dwarf_next_lines` can decode them
/// all before `.debug_info` exists: `DwarfImage` does it on the core that is
/// not inflating `.debug_info`. Lookups then find the row through
/// `LineRows`, without decoding anything.
///
/// Invariants: immutable once `decode` returns; every `Table` points into
/// `handle`'s memory, which lives as long as this object. Programs of
/// DWARF 4 and older are not here (they need their unit's
/// `DW_AT_comp_dir`); their units' rows come from `dwarf_getsrclines` on
/// first use (see `DwarfIndex.line(at:unit:)`).
final class LineTables: @unchecked Sendable {
  /// One decoded program: libdw's rows (sorted by address) and file table.
  struct Table {
    var lines: OpaquePointer
    var count: Int
    var files: OpaquePointer
    var fileCount: Int
  }

  private let handle: InMemoryDwarf
  private let tables: [UInt64: Table]

  private init(handle: InMemoryDwarf, tables: [UInt64: Table]) {
    self.handle = handle
    self.tables = tables
  }

  /// The program at `offset` in `.debug_line` (a unit's `DW_AT_stmt_list`).
  func table(at offset: UInt64) -> Table? { tables[offset] }

  /// Decodes every DWARF 5 program of the `.debug_line` placed in `image`
  /// (with `.debug_line_str` and `.debug_str`, copied into an image of
  /// their own); nil when there is none or libdw cannot read them.
  static func decode(
    sections: [InMemoryDwarf.Section], of image: UnsafeMutableRawBufferPointer,
    like header: GElf_Ehdr
  ) -> LineTables? {
    let wanted: Set<String> = [".debug_line", ".debug_line_str", ".debug_str"]
    let parts = sections.filter { wanted.contains($0.name) }
    guard let line = parts.first(where: { $0.name == ".debug_line" }) else { return nil }
    let program = UnsafeRawBufferPointer(rebasing: image[line.offset..<line.offset + line.size])
    guard
      let handle = InMemoryDwarf.assemble(
        parts.map {
          InMemoryDwarf.Section(
            name: $0.name, flags: $0.flags, alignment: $0.alignment, size: $0.size)
        },
        like: header,
        fill: { placed, copy in
          for (part, place) in zip(parts, placed) {
            copy.baseAddress!.advanced(by: place.offset).copyMemory(
              from: image.baseAddress!.advanced(by: part.offset), byteCount: part.size)
          }
          return true
        })
    else { return nil }
    var tables: [UInt64: Table] = [:]
    var offset: Dwarf_Off = 0
    while Int(offset) < program.count {
      guard let header = Self.header(at: Int(offset), in: program) else { break }
      guard header.version >= 5 else {
        // Older programs need their unit's directory: left to libdw.
        offset = Dwarf_Off(header.next)
        continue
      }
      var next: Dwarf_Off = 0
      var cu: OpaquePointer? = nil
      var files: OpaquePointer? = nil
      var fileCount = 0
      var lines: OpaquePointer? = nil
      var count = 0
      guard
        dwarf_next_lines(
          handle.dwarf, offset, &next, &cu, &files, &fileCount, &lines, &count) == 0,
        next > offset
      else { break }
      if let lines, let files {
        tables[offset] = Table(lines: lines, count: count, files: files, fileCount: fileCount)
      }
      offset = next
    }
    guard !tables.isEmpty else { return nil }
    return LineTables(handle: handle, tables: tables)
  }

  /// The version of the line program at `offset` and where the next one
  /// starts, from its unit length (4 bytes, or 12 for 64-bit DWARF).
  private static func header(at offset: Int, in program: UnsafeRawBufferPointer) -> (
    version: Int, next: Int
  )? {
    guard offset + 4 <= program.count else { return nil }
    var length = Int(program.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    var at = offset + 4
    if length == 0xffff_ffff {
      guard offset + 12 <= program.count else { return nil }
      let wide = program.loadUnaligned(fromByteOffset: offset + 4, as: UInt64.self)
      guard wide < UInt64(program.count) else { return nil }
      length = Int(wide)
      at = offset + 12
    }
    guard at + 2 <= program.count, length >= 2, at + length <= program.count else { return nil }
    return (Int(program.loadUnaligned(fromByteOffset: at, as: UInt16.self)), at + length)
  }
}
