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
