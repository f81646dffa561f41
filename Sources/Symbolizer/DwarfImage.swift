import CElfutils
import Dispatch
import Glibc

/// The DWARF of a file whose debug sections are compressed, inflated by the
/// symbolizer into one in-memory ELF image and opened there with libdw.
///
/// libdw inflates every compressed debug section when it opens a file, one
/// after another and checksummed; Debian's separate debug files compress them
/// all. For libc that was 46 ms of a 135 ms cold run, 7 ms of it for
/// `.debug_loclists`, which symbolizing never reads. Here only the sections
/// that lookups read (`sectionNames`) are inflated, the largest on one core
/// and the others on the rest, without the checksum (`SectionInflater`).
///
/// Invariants: the image holds an ELF header copied from the file's (with
/// new section counts and offsets), the wanted sections the file has
/// (inflated, `SHF_COMPRESSED` cleared), `.shstrtab` and the section header
/// table; it lives as long as `dwarf`, whose data points into it.
final class DwarfImage {
  /// The sections libdw reads for address lookups: units, abbreviations,
  /// line tables, strings, address ranges, and the DWARF 5 index tables.
  static let sectionNames: Set<String> = [
    ".debug_info", ".debug_abbrev", ".debug_line", ".debug_str", ".debug_line_str",
    ".debug_rnglists", ".debug_ranges", ".debug_addr", ".debug_str_offsets",
  ]

  let dwarf: OpaquePointer
  /// The address of the file's first executable segment (it keeps its
  /// program headers), to relate its addresses to the module's.
  let codeAddress: UInt64?
  private let elf: OpaquePointer
  private let image: UnsafeMutableRawBufferPointer

  private init(
    dwarf: OpaquePointer, codeAddress: UInt64?, elf: OpaquePointer,
    image: UnsafeMutableRawBufferPointer
  ) {
    self.dwarf = dwarf
    self.codeAddress = codeAddress
    self.elf = elf
    self.image = image
  }

  deinit {
    dwarf_end(dwarf)
    elf_end(elf)
    image.deallocate()
  }

  /// One section to put in the image.
  private struct Section {
    var name: String
    var flags: UInt64
    var alignment: UInt64
    var source: UnsafeRawBufferPointer
    var isCompressed: Bool
    var size: Int
    var offset = 0
    var nameOffset = 0
  }

  /// Opens the DWARF of `path` this way. nil when there is nothing to gain or
  /// it cannot be done safely: `.debug_info` is not compressed with zlib, the
  /// file is not 64-bit ELF, it refers to a supplementary file (dwz), or a
  /// section does not inflate. The caller then lets libdw open the file.
  static func open(path: String) -> DwarfImage? {
    _ = libelfReady
    let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    guard let file = elf_begin(fd, ELF_C_READ_MMAP, nil) else { return nil }
    defer { elf_end(file) }
    var header = GElf_Ehdr()
    guard elf_kind(file) == ELF_K_ELF, gelf_getclass(file) == ELFCLASS64,
      gelf_getehdr(file, &header) != nil
    else { return nil }
    guard var sections = wantedSections(of: file),
      sections.contains(where: { $0.name == ".debug_info" && $0.isCompressed })
    else { return nil }

    // Layout: ELF header, sections (aligned), .shstrtab, section headers.
    var names: [UInt8] = [0]
    var offset = MemoryLayout<Elf64_Ehdr>.size
    for index in sections.indices {
      let alignment = max(Int(sections[index].alignment), 1)
      offset = (offset + alignment - 1) / alignment * alignment
      sections[index].offset = offset
      offset += sections[index].size
      sections[index].nameOffset = names.count
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

    guard inflateAll(sections, into: image) else {
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
        sh_name: UInt32(section.nameOffset), sh_type: UInt32(SHT_PROGBITS),
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

    guard
      let elf = elf_memory(
        image.baseAddress!.assumingMemoryBound(to: CChar.self), image.count)
    else {
      image.deallocate()
      return nil
    }
    guard let dwarf = dwarf_begin_elf(elf, DWARF_C_READ, nil) else {
      elf_end(elf)
      image.deallocate()
      return nil
    }
    return DwarfImage(
      dwarf: dwarf, codeAddress: ElfSections.codeAddress(of: file), elf: elf, image: image)
  }

  /// The wanted sections of `file` with their data, or nil when the file
  /// cannot be handled here (see `open`).
  private static func wantedSections(of file: OpaquePointer) -> [Section]? {
    var stringsIndex = 0
    guard elf_getshdrstrndx(file, &stringsIndex) == 0 else { return nil }
    var sections: [Section] = []
    var scn: OpaquePointer? = nil
    while let current = elf_nextscn(file, scn) {
      scn = current
      var header = GElf_Shdr()
      guard gelf_getshdr(current, &header) != nil,
        let cName = elf_strptr(file, stringsIndex, Int(header.sh_name))
      else { return nil }
      let name = String(cString: cName)
      // A dwz supplementary file holds part of the DWARF: libdw finds it.
      if name == ".gnu_debugaltlink" || name == ".debug_sup" { return nil }
      guard sectionNames.contains(name), header.sh_type != UInt32(SHT_NOBITS) else { continue }
      guard let data = elf_rawdata(current, nil), let bytes = data.pointee.d_buf,
        data.pointee.d_size == Int(header.sh_size)
      else { return nil }
      var section = Section(
        name: name, flags: header.sh_flags, alignment: header.sh_addralign,
        source: UnsafeRawBufferPointer(start: bytes, count: data.pointee.d_size),
        isCompressed: header.sh_flags & UInt64(SHF_COMPRESSED) != 0, size: data.pointee.d_size)
      if section.isCompressed {
        var compression = GElf_Chdr()
        let headerSize = MemoryLayout<Elf64_Chdr>.size
        // Deflate expands at most 1032:1: a larger promise is a damaged
        // header, not something to allocate.
        guard gelf_getchdr(current, &compression) != nil,
          compression.ch_type == UInt32(ELFCOMPRESS_ZLIB), section.source.count >= headerSize,
          compression.ch_size / 1032 <= UInt64(section.source.count)
        else { return nil }
        section.source = UnsafeRawBufferPointer(rebasing: section.source[headerSize...])
        section.size = Int(compression.ch_size)
        section.alignment = compression.ch_addralign
      }
      // Only the bytes matter to libdw: any alignment up to 64 is kept,
      // anything else (0, not a power of two, absurd) becomes 8.
      if section.alignment == 0 || section.alignment > 64 || section.alignment.nonzeroBitCount != 1
      {
        section.alignment = 8
      }
      sections.append(section)
    }
    return sections
  }

  /// One section's bytes and where they go; each job writes only its own
  /// destination, so jobs may run on different threads.
  private struct Job: @unchecked Sendable {
    var source: UnsafeRawBufferPointer
    var destination: UnsafeMutableRawBufferPointer
    var isCompressed: Bool

    func run() -> Bool {
      if isCompressed { return SectionInflater.inflate(source, into: destination) }
      destination.copyMemory(from: source)
      return true
    }
  }

  /// Each worker's outcome, written by that worker only.
  private final class Outcomes: @unchecked Sendable {
    var succeeded: UnsafeMutableBufferPointer<Bool>
    init(count: Int) {
      succeeded = .allocate(capacity: count)
      succeeded.initialize(repeating: false)
    }
    deinit { succeeded.deallocate() }
  }

  /// Inflates (or copies) every section into its place in `image`, the
  /// largest first, each onto the least loaded of one worker per processor.
  private static func inflateAll(_ sections: [Section], into image: UnsafeMutableRawBufferPointer)
    -> Bool
  {
    let workers = max(1, min(sections.count, System.processorCount))
    var load = [Int](repeating: 0, count: workers)
    var plan = [[Job]](repeating: [], count: workers)
    for section in sections.sorted(by: { $0.source.count > $1.source.count }) {
      let worker = load.indices.min { load[$0] < load[$1] }!
      plan[worker].append(
        Job(
          source: section.source,
          destination: UnsafeMutableRawBufferPointer(
            rebasing: image[section.offset..<section.offset + section.size]),
          isCompressed: section.isCompressed))
      load[worker] += section.source.count
    }
    let jobs = plan
    let outcomes = Outcomes(count: workers)
    DispatchQueue.concurrentPerform(iterations: workers) { worker in
      outcomes.succeeded[worker] = jobs[worker].allSatisfy { $0.run() }
    }
    return outcomes.succeeded.allSatisfy { $0 }
  }
}
