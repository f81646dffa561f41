import Basics
import CElfutils
import Glibc

/// What the symbolizer needs from an ELF file before reporting it to libdwfl:
/// its loadable segments (to compute a mapping's bias) and its GNU build-id.
struct ElfFileInfo {
  struct Segment {
    var offset: UInt64
    var vaddr: UInt64
    var fileSize: UInt64
    var isExecutable: Bool
  }

  var segments: [Segment]
  var buildID: [UInt8]?
  /// Where the file is cut short, when it is: a header, a section header
  /// table or a loaded segment reaching past its last byte (a copy or a
  /// download that stopped early), which libelf reads as if the rest were
  /// absent.
  var truncation: String?

  /// Reads `path` with libelf; nil when it cannot be opened or is not ELF.
  static func read(_ path: String) -> ElfFileInfo? {
    _ = libelfReady
    // A FIFO or a device named as a module is not read (it would block).
    guard let fd = RegularFile.openForReading(path) else { return nil }
    defer { close(fd) }
    guard let elf = elf_begin(fd, ELF_C_READ_MMAP, nil) else { return nil }
    defer { elf_end(elf) }
    return ElfFileInfo(elf: elf)
  }

  /// The segments and build-id of an open ELF file; nil when it is not ELF.
  init?(elf: OpaquePointer) {
    guard elf_kind(elf) == ELF_K_ELF else { return nil }
    var count = 0
    guard elf_getphdrnum(elf, &count) == 0 else { return nil }
    segments = []
    for index in 0..<count {
      var header = GElf_Phdr()
      guard gelf_getphdr(elf, Int32(index), &header) != nil, header.p_type == UInt32(PT_LOAD) else {
        continue
      }
      segments.append(
        Segment(
          offset: header.p_offset, vaddr: header.p_vaddr, fileSize: header.p_filesz,
          isExecutable: header.p_flags & UInt32(PF_X) != 0))
    }
    var bytes: UnsafeRawPointer?
    let length = dwelf_elf_gnu_build_id(elf, &bytes)
    if length > 0, let bytes {
      buildID = Array(UnsafeRawBufferPointer(start: bytes, count: length))
    }
    truncation = Self.truncation(of: elf, segments: segments)
  }

  /// What of the file lies past its end, if anything (`truncation`).
  private static func truncation(of elf: OpaquePointer, segments: [Segment]) -> String? {
    var size = 0
    guard elf_rawfile(elf, &size) != nil else { return nil }
    let fileSize = UInt64(size)
    var header = GElf_Ehdr()
    guard gelf_getehdr(elf, &header) != nil else { return "its ELF header is cut short" }
    let sectionHeadersEnd =
      header.e_shoff &+ UInt64(header.e_shnum) &* UInt64(header.e_shentsize)
    if header.e_shoff > 0, sectionHeadersEnd > fileSize {
      return "its section headers end at byte \(sectionHeadersEnd), past its \(fileSize) bytes"
    }
    if let cut = segments.first(where: { $0.offset &+ $0.fileSize > fileSize }) {
      return
        "a loaded segment ends at byte \(cut.offset &+ cut.fileSize), past its \(fileSize) bytes"
    }
    return nil
  }

  /// The address of the first executable segment.
  var codeAddress: UInt64? { segments.first(where: \.isExecutable)?.vaddr }

  /// The load bias of a mapping that starts at runtime address `start` and
  /// maps file offset `fileOffset` (as `/proc/PID/maps` shows it): the
  /// `PT_LOAD` segment containing that offset gives the link-time address
  /// of the offset, and the bias is the difference. When no segment holds it
  /// (a debug-only file), the mapping is taken to be the executable
  /// segment's. nil if there is none.
  func bias(mappingStart start: UInt64, fileOffset: UInt64) -> UInt64? {
    let pageMask: UInt64 = ~0xfff
    let containing = segments.filter {
      ($0.offset & pageMask) <= fileOffset
        && fileOffset < max($0.offset &+ $0.fileSize, $0.offset + 1)
    }
    if let segment = containing.first(where: \.isExecutable) ?? containing.first {
      // runtime(X) = bias + vaddr + (X - offset) for every file offset X.
      return start &- segment.vaddr &- fileOffset &+ segment.offset
    }
    // A debug-only file (`objcopy --only-keep-debug`) keeps the segments'
    // addresses but not their file offsets or sizes. The code mapping
    // starts at the page of the executable segment's address.
    guard let code = segments.first(where: \.isExecutable) else { return nil }
    return start &- (code.vaddr & pageMask)
  }
}

/// libelf requires its version handshake once per process before any use.
let libelfReady: Bool = elf_version(UInt32(EV_CURRENT)) != UInt32(EV_NONE)
