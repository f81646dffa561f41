import Basics
import CElfutils
import Glibc

/// The DWARF of a file whose debug sections are compressed, inflated by the
/// symbolizer into one in-memory ELF image and opened there with libdw.
///
/// libdw inflates every compressed debug section when it opens a file, one
/// after another and checksummed; Debian's separate debug files compress them
/// all. For libc that was 46 ms of a 135 ms cold run, 7 ms of it for
/// `.debug_loclists`, which symbolizing never reads. Here only the sections
/// that lookups read (`sectionNames`) are inflated, without the checksum
/// (`SectionInflater`): `.debug_info` on one core, the others on a second,
/// which then decodes the line programs (`LineTables`).
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

  /// The image and its `Dwarf` handle.
  let handle: InMemoryDwarf
  var dwarf: OpaquePointer { handle.dwarf }
  /// The module's DWARF 5 line programs, decoded while `.debug_info` was
  /// inflating (nil with one processor, or when they could not be).
  let lineTables: LineTables?
  /// The address of the file's first executable segment (it keeps its
  /// program headers), to relate its addresses to the module's.
  let codeAddress: UInt64?

  private init(handle: InMemoryDwarf, lineTables: LineTables?, codeAddress: UInt64?) {
    self.handle = handle
    self.lineTables = lineTables
    self.codeAddress = codeAddress
  }

  /// What another thread needs to open the same DWARF without inflating it
  /// again: the image's bytes, the decoded line programs and the code
  /// address, all immutable.
  struct Share: Sendable {
    fileprivate let image: InMemoryDwarf.Image
    fileprivate let lineTables: LineTables?
    fileprivate let codeAddress: UInt64?
  }

  /// This image's share, for `open(sharing:)` on another thread.
  var share: Share {
    Share(image: handle.image, lineTables: lineTables, codeAddress: codeAddress)
  }

  /// A new handle over an image another `DwarfImage` inflated (libdw handles
  /// are not shared between threads; the bytes they read are); nil when
  /// libdw cannot open it.
  static func open(sharing share: Share) -> DwarfImage? {
    InMemoryDwarf.open(share.image).map {
      DwarfImage(handle: $0, lineTables: share.lineTables, codeAddress: share.codeAddress)
    }
  }

  /// One section to put in the image.
  private struct Section {
    var name: String
    var flags: UInt64
    var alignment: UInt64
    var source: UnsafeRawBufferPointer
    var isCompressed: Bool
    var size: Int
  }

  /// Opens the DWARF of `path` this way. nil when there is nothing to gain or
  /// it cannot be done safely: `.debug_info` is not compressed with zlib, the
  /// file is not 64-bit ELF, it refers to a supplementary file (dwz), or a
  /// section does not inflate. The caller then lets libdw open the file.
  ///
  /// With `lanes`, an image another lane inflated from the same file is
  /// opened again instead (nothing is inflated twice), and one this call
  /// inflates is offered to the other lanes.
  static func open(path: String, lanes: LaneShare? = nil) -> DwarfImage? {
    if let lanes, let shared = lanes.image(of: path) { return shared }
    let image = inflate(path: path)
    if let lanes, let image { lanes.keep(image, of: path) }
    return image
  }

  private static func inflate(path: String) -> DwarfImage? {
    _ = libelfReady
    guard let fd = RegularFile.openForReading(path) else { return nil }
    defer { close(fd) }
    guard let file = elf_begin(fd, ELF_C_READ_MMAP, nil) else { return nil }
    defer { elf_end(file) }
    var header = GElf_Ehdr()
    guard elf_kind(file) == ELF_K_ELF, gelf_getclass(file) == ELFCLASS64,
      gelf_getehdr(file, &header) != nil
    else { return nil }
    guard let sections = wantedSections(of: file),
      sections.contains(where: { $0.name == ".debug_info" && $0.isCompressed })
    else { return nil }

    let layout = sections.map {
      InMemoryDwarf.Section(name: $0.name, flags: $0.flags, alignment: $0.alignment, size: $0.size)
    }
    var lineTables: LineTables?
    let assembled = InMemoryDwarf.assemble(layout, like: header) { placed, image in
      let outcome = inflateAll(sections, placed: placed, into: image, like: header)
      lineTables = outcome.lineTables
      return outcome.succeeded
    }
    guard let assembled else { return nil }
    return DwarfImage(
      handle: assembled, lineTables: lineTables, codeAddress: ElfFileInfo(elf: file)?.codeAddress)
  }

  /// The wanted sections of `file` with their data, or nil when the file
  /// cannot be handled here (see `open`).
  private static func wantedSections(of file: OpaquePointer) -> [Section]? {
    var sections: [Section] = []
    var usable = true
    let named = ElfSections.forEach(in: file) { scn, cName, header in
      let name = String(cString: cName)
      // A dwz supplementary file holds part of the DWARF: libdw finds it.
      if name == ".gnu_debugaltlink" || name == ".debug_sup" { usable = false }
      guard usable, sectionNames.contains(name) else { return usable }
      guard let section = wantedSection(scn, name: name, header: header) else {
        usable = false
        return false
      }
      sections.append(section)
      return true
    }
    return named && usable ? sections : nil
  }

  /// One wanted section's bytes, size once inflated and alignment; nil when
  /// its data or compression header is unusable.
  private static func wantedSection(_ scn: OpaquePointer, name: String, header: GElf_Shdr)
    -> Section?
  {
    guard let data = elf_rawdata(scn, nil), let bytes = data.pointee.d_buf,
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
      guard gelf_getchdr(scn, &compression) != nil,
        compression.ch_type == UInt32(ELFCOMPRESS_ZLIB), section.source.count >= headerSize,
        compression.ch_size / 1032 <= UInt64(section.source.count)
      else { return nil }
      section.source = UnsafeRawBufferPointer(rebasing: section.source[headerSize...])
      section.size = Int(compression.ch_size)
      section.alignment = compression.ch_addralign
    }
    // Only the bytes matter to libdw: any alignment up to 64 is kept,
    // anything else (0, not a power of two, absurd) becomes 8.
    if section.alignment == 0 || section.alignment > 64 || section.alignment.nonzeroBitCount != 1 {
      section.alignment = 8
    }
    return section
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

  /// Each worker's outcome, written by that worker only, and the line
  /// tables the second worker decoded.
  private final class Outcomes: @unchecked Sendable {
    var succeeded: UnsafeMutableBufferPointer<Bool>
    var lineTables: LineTables?
    init(count: Int) {
      succeeded = .allocate(capacity: count)
      succeeded.initialize(repeating: false)
    }
    deinit { succeeded.deallocate() }
  }

  /// The image, shared by workers that write disjoint parts of it.
  private struct SharedImage: @unchecked Sendable {
    var bytes: UnsafeMutableRawBufferPointer
  }

  /// Inflates (or copies) every section into its place in `image`. With two
  /// or more processors, `.debug_info` (by far the largest) is inflated on
  /// one and everything else on another, which then decodes the line
  /// programs (`LineTables`, which need no `.debug_info` in DWARF 5) while
  /// the first is still busy. Returns whether every section inflated, and
  /// the line tables.
  private static func inflateAll(
    _ sections: [Section], placed: [InMemoryDwarf.Section],
    into image: UnsafeMutableRawBufferPointer,
    like header: GElf_Ehdr
  ) -> (succeeded: Bool, lineTables: LineTables?) {
    let jobs = zip(sections, placed).map { section, place in
      Job(
        source: section.source,
        destination: UnsafeMutableRawBufferPointer(
          rebasing: image[place.offset..<place.offset + place.size]),
        isCompressed: section.isCompressed)
    }
    let split = System.processorCount >= 2 && jobs.count >= 2
    let info = sections.firstIndex { $0.name == ".debug_info" } ?? 0
    let plan: [[Job]] =
      split ? [[jobs[info]], jobs.indices.filter { $0 != info }.map { jobs[$0] }] : [jobs]
    let outcomes = Outcomes(count: plan.count)
    let shared = SharedImage(bytes: image)
    let work: @Sendable (Int) -> Void = { worker in
      outcomes.succeeded[worker] = plan[worker].allSatisfy { $0.run() }
      if split, worker == 1, outcomes.succeeded[worker] {
        outcomes.lineTables = LineTables.decode(sections: placed, of: shared.bytes, like: header)
      }
    }
    // The second worker is a thread of its own, not libdispatch's: the
    // live validator symbolizes wherever a finding happens, a dispatch
    // worker's exit among them (a thread-specific data destructor), where
    // libdispatch's own state for the thread is gone and
    // `concurrentPerform` crashed the process. Where no thread can be
    // started, the calling thread does both.
    let helper = split ? try? SpawnedThread.starting { work(1) } : nil
    work(0)
    if let helper { helper.join() } else if split { work(1) }
    return (outcomes.succeeded.allSatisfy { $0 }, outcomes.lineTables)
  }
}
