import CElfutils
import Glibc

/// A 64-bit ELF file assembled in memory from sections the symbolizer has
/// prepared (inflated, or copied), opened with `elf_memory` and
/// `dwarf_begin_elf`. Owns the `Elf` and the `Dwarf`; the image's memory is
/// shared with every handle `open(_:)` makes over it.
///
/// Invariants: the image is an ELF header (identity, type and machine
/// copied from the file the sections came from), the sections at their
/// aligned offsets, `.shstrtab` and the section header table; it is not
/// written once assembled, and `dwarf`'s data points into it, which lives as
/// long as any handle over it.
final class InMemoryDwarf {
  struct Section {
    var name: String
    var flags: UInt64
    var alignment: UInt64
    var size: Int
    var offset = 0
  }

  /// The image's memory, freed with the last handle over it. Immutable once
  /// assembled, so handles on different threads may read it.
  final class Image: @unchecked Sendable {
    let bytes: UnsafeMutableRawBufferPointer
    init(bytes: UnsafeMutableRawBufferPointer) { self.bytes = bytes }
    deinit { bytes.deallocate() }
  }

  let dwarf: OpaquePointer
  private let elf: OpaquePointer
  let image: Image

  private init(dwarf: OpaquePointer, elf: OpaquePointer, image: Image) {
    self.dwarf = dwarf
    self.elf = elf
    self.image = image
  }

  deinit {
    dwarf_end(dwarf)
    elf_end(elf)
  }

  /// Opens `image` with libelf and libdw; nil when libdw finds no DWARF.
  /// Used again on an image another handle assembled, it makes a handle for
  /// another thread: libdw handles are not shared between threads, but the
  /// bytes they read can be.
  static func open(_ image: Image) -> InMemoryDwarf? {
    let bytes = image.bytes
    guard let elf = elf_memory(bytes.baseAddress!.assumingMemoryBound(to: CChar.self), bytes.count)
    else { return nil }
    guard let dwarf = dwarf_begin_elf(elf, DWARF_C_READ, nil) else {
      elf_end(elf)
      return nil
    }
    return InMemoryDwarf(dwarf: dwarf, elf: elf, image: image)
  }

  /// Lays `sections` out, lets `fill` write each one's bytes at its
  /// `offset` in the image, adds the headers and opens the result; nil when
  /// `fill` fails or libdw finds no DWARF in it.
  static func assemble(
    _ sections: [Section], like header: GElf_Ehdr,
    fill: ([Section], UnsafeMutableRawBufferPointer) -> Bool
  ) -> InMemoryDwarf? {
    _ = libelfReady
    var sections = sections
    var names: [UInt8] = [0]
    var nameOffsets: [Int] = []
    var offset = MemoryLayout<Elf64_Ehdr>.size
    for index in sections.indices {
      let alignment = max(Int(sections[index].alignment), 1)
      offset = (offset + alignment - 1) / alignment * alignment
      sections[index].offset = offset
      offset += sections[index].size
      nameOffsets.append(names.count)
      names += Array(sections[index].name.utf8) + [0]
    }
    let shstrtabNameOffset = names.count
    names += Array(".shstrtab".utf8) + [0]
    let namesOffset = offset
    offset = (offset + names.count + 7) / 8 * 8
    let headersOffset = offset
    let sectionCount = sections.count + 2  // the null section and .shstrtab
    let size = headersOffset + sectionCount * MemoryLayout<Elf64_Shdr>.size
    let image = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 16)

    guard fill(sections, image) else {
      image.deallocate()
      return nil
    }
    names.withUnsafeBytes {
      image.baseAddress!.advanced(by: namesOffset).copyMemory(
        from: $0.baseAddress!, byteCount: $0.count)
    }
    var elfHeader = Elf64_Ehdr()
    withUnsafeMutableBytes(of: &elfHeader.e_ident) { ident in
      withUnsafeBytes(of: header.e_ident) { ident.copyMemory(from: $0) }
    }
    elfHeader.e_type = header.e_type
    elfHeader.e_machine = header.e_machine
    elfHeader.e_version = header.e_version
    elfHeader.e_ehsize = UInt16(MemoryLayout<Elf64_Ehdr>.size)
    elfHeader.e_shoff = UInt64(headersOffset)
    elfHeader.e_shentsize = UInt16(MemoryLayout<Elf64_Shdr>.size)
    elfHeader.e_shnum = UInt16(sectionCount)
    elfHeader.e_shstrndx = UInt16(sectionCount - 1)
    image.storeBytes(of: elfHeader, toByteOffset: 0, as: Elf64_Ehdr.self)

    var headers = [Elf64_Shdr](repeating: Elf64_Shdr(), count: sectionCount)
    for (index, section) in sections.enumerated() {
      headers[index + 1] = Elf64_Shdr(
        sh_name: UInt32(nameOffsets[index]), sh_type: UInt32(SHT_PROGBITS),
        sh_flags: section.flags & ~UInt64(SHF_COMPRESSED), sh_addr: 0,
        sh_offset: UInt64(section.offset), sh_size: UInt64(section.size), sh_link: 0, sh_info: 0,
        sh_addralign: section.alignment,
        sh_entsize: section.flags & UInt64(SHF_STRINGS) != 0 ? 1 : 0
      )
    }
    headers[sectionCount - 1] = Elf64_Shdr(
      sh_name: UInt32(shstrtabNameOffset), sh_type: UInt32(SHT_STRTAB), sh_flags: 0, sh_addr: 0,
      sh_offset: UInt64(namesOffset), sh_size: UInt64(names.count), sh_link: 0, sh_info: 0,
      sh_addralign: 1, sh_entsize: 0)
    headers.withUnsafeBytes {
      image.baseAddress!.advanced(by: headersOffset).copyMemory(
        from: $0.baseAddress!, byteCount: $0.count)
    }

    return open(Image(bytes: image))
  }
}
