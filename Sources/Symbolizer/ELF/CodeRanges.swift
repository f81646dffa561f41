import CElfutils

/// Where a module's file has code: the `[sh_addr, sh_addr + sh_size)` of
/// every allocated section with `SHF_EXECINSTR` (`.init`, `.plt`, `.text`,
/// `.fini`, ...), in link-time addresses; the executable `PT_LOAD` segments
/// when the file has no section headers.
///
/// An address outside all of them (the ELF header, `.rodata`,
/// `.eh_frame_hdr`, data) is never named: DWARF that a linker left at
/// address 0 for discarded functions, or a symbol without a size before
/// them, would otherwise give it a function.
///
/// Invariants: `ranges` are non-empty, largest first (`.text` is nearly
/// always the one an address is in, so a lookup usually compares once).
struct CodeRanges {
  private(set) var ranges: [Range<UInt64>]

  init(ranges: [Range<UInt64>]) {
    // Sizes compared as UInt64: `Range.count` is an Int, and traps for a
    // range wider than Int.max, which a corrupt section header can declare.
    self.ranges = ranges.filter { !$0.isEmpty }.sorted {
      $0.upperBound - $0.lowerBound > $1.upperBound - $1.lowerBound
    }
  }

  /// The code of `module`'s own file (the one libdwfl reported).
  static func of(module: OpaquePointer) -> CodeRanges {
    var bias: GElf_Addr = 0
    guard let elf = dwfl_module_getelf(module, &bias) else { return CodeRanges(ranges: []) }
    return of(elf: elf)
  }

  /// The code of an open ELF file.
  static func of(elf: OpaquePointer) -> CodeRanges {
    var found: [Range<UInt64>] = []
    let executable = UInt64(SHF_ALLOC) | UInt64(SHF_EXECINSTR)
    var scn = elf_nextscn(elf, nil)
    while let current = scn {
      var header = GElf_Shdr()
      if gelf_getshdr(current, &header) != nil, header.sh_flags & executable == executable,
        header.sh_size > 0
      {
        found.append(Self.range(start: header.sh_addr, size: header.sh_size))
      }
      scn = elf_nextscn(elf, current)
    }
    if found.isEmpty {
      var count = 0
      if elf_getphdrnum(elf, &count) == 0 {
        for index in 0..<count {
          var header = GElf_Phdr()
          guard gelf_getphdr(elf, Int32(index), &header) != nil,
            header.p_type == UInt32(PT_LOAD), header.p_flags & UInt32(PF_X) != 0
          else { continue }
          found.append(Self.range(start: header.p_vaddr, size: header.p_memsz))
        }
      }
    }
    return CodeRanges(ranges: found)
  }

  /// `[start, start + size)`, ending at the top of the address space when
  /// the sum would wrap (a corrupt header: `start..<start &+ size` would be
  /// a range whose upper bound is below its lower one, which traps).
  static func range(start: UInt64, size: UInt64) -> Range<UInt64> {
    let (end, overflow) = start.addingReportingOverflow(size)
    return start..<(overflow ? UInt64.max : end)
  }

  /// The code range that holds `address`, if any.
  @inline(__always)
  func range(containing address: UInt64) -> Range<UInt64>? {
    for range in ranges where range.contains(address) { return range }
    return nil
  }

  @inline(__always)
  func contains(_ address: UInt64) -> Bool {
    range(containing: address) != nil
  }
}
