import Basics
import CElfutils
import Glibc

/// The sections of an open ELF file, by name.
enum ElfSections {
  /// Calls `body` with each section that has data in the file, its name
  /// and its header, until `body` returns false. Returns false when the
  /// section names cannot be read.
  @discardableResult
  static func forEach(
    in elf: OpaquePointer,
    _ body: (OpaquePointer, UnsafePointer<CChar>, GElf_Shdr) -> Bool
  ) -> Bool {
    var stringsIndex = 0
    guard elf_getshdrstrndx(elf, &stringsIndex) == 0 else { return false }
    var scn: OpaquePointer? = nil
    while let current = elf_nextscn(elf, scn) {
      scn = current
      var header = GElf_Shdr()
      guard gelf_getshdr(current, &header) != nil, header.sh_type != UInt32(SHT_NOBITS),
        let name = elf_strptr(elf, stringsIndex, Int(header.sh_name))
      else { continue }
      if !body(current, name, header) { break }
    }
    return true
  }

  /// Whether `elf` has a section called `name` with data in the file.
  static func has(_ name: String, in elf: OpaquePointer) -> Bool {
    section(name, in: elf) != nil
  }

  /// Whether `elf` has DWARF's `.debug_info` (or an old GNU-compressed
  /// `.zdebug_info`) with data in the file.
  static func hasDebugInfo(in elf: OpaquePointer) -> Bool {
    has(".debug_info", in: elf) || has(".zdebug_info", in: elf)
  }

  /// `hasDebugInfo(in:)` of the ELF file at `path`; false when it cannot be
  /// read as one.
  static func hasDebugInfo(atPath path: String) -> Bool {
    guard let fd = RegularFile.openForReading(path) else { return false }
    defer { close(fd) }
    guard let elf = elf_begin(fd, ELF_C_READ_MMAP, nil) else { return false }
    defer { elf_end(elf) }
    return elf_kind(elf) == ELF_K_ELF && hasDebugInfo(in: elf)
  }

  /// The (decompressed, if libelf was asked to) data of section `name`.
  static func data(_ name: String, in elf: OpaquePointer) -> UnsafeRawBufferPointer? {
    guard let scn = section(name, in: elf), let data = elf_getdata(scn, nil),
      let bytes = data.pointee.d_buf
    else { return nil }
    return UnsafeRawBufferPointer(start: bytes, count: data.pointee.d_size)
  }

  /// The first section called `name` that has data in the file.
  private static func section(_ name: String, in elf: OpaquePointer) -> OpaquePointer? {
    var found: OpaquePointer?
    forEach(in: elf) { scn, text, _ in
      if strcmp(text, name) == 0 { found = scn }
      return found == nil
    }
    return found
  }
}
