import CElfutils

/// A module's function symbols, sorted by address, for naming the outermost
/// frame of an address and the addresses no DWARF describes (hand-written
/// assembly, stripped objects).
///
/// Two tables exist per module:
/// - `own(of:)`: the symbols of the loaded file itself (its `.symtab`, or
///   `.dynsym` when it is stripped). This is the table llvm-symbolizer names
///   the outermost frame from, so a stripped library's frames carry the
///   exported alias (`malloc`, `__res_send`) rather than the internal name.
/// - `all(of:)`: what libdwfl finds, which includes a separate debug
///   file's `.symtab` with every local symbol; the fallback when the own
///   table has nothing for an address.
///
/// Lookups are a binary search inside one bucket of a `StartDirectory`,
/// unlike `dwfl_module_addrinfo`, which scans the whole table per call.
/// Names stay C strings inside the ELF data (which lives as long as the
/// `Dwfl`) until a lookup needs one.
///
/// A symbol covers `[start, start + size)`; one without a size covers from
/// its start up to the next symbol, and never past the end of the
/// executable section it starts in (`CodeRanges`). A symbol that starts
/// outside every executable section covers nothing, so `_fini` (size 0, the
/// last function of most binaries) does not name `.rodata`, `.eh_frame_hdr`
/// and everything else after it.
///
/// Invariants: `entries` is sorted by `start` with one entry per start
/// address; `start <= end` for each; addresses are link-time addresses
/// (runtime minus the bias).
struct SymbolTable {
  struct Entry {
    var start: UInt64
    var size: UInt64
    /// Where the symbol's coverage ends (exclusive): `start + size`, or for
    /// a symbol without a size the end of its executable section.
    var end: UInt64 = 0
    /// NUL-terminated, inside the module's ELF data.
    var name: UnsafePointer<CChar>
    /// For a local symbol, the source file named by the
    /// `STT_FILE` symbol before it (the only source hint for code without DWARF).
    var file: UnsafePointer<CChar>?
  }

  let entries: [Entry]
  /// The directory over `entries`' starts.
  private let directory: StartDirectory

  /// The symbols of `module`'s own file: `.symtab`, else `.dynsym`;
  /// `code`: where that file has code (default: read from it).
  static func own(of module: OpaquePointer, code: CodeRanges? = nil) -> SymbolTable {
    var bias: GElf_Addr = 0
    guard let elf = dwfl_module_getelf(module, &bias) else { return SymbolTable(entries: []) }
    let code = code ?? CodeRanges.of(elf: elf)
    var chosen: OpaquePointer?
    var chosenHeader = GElf_Shdr()
    var section = elf_nextscn(elf, nil)
    while let current = section {
      var header = GElf_Shdr()
      if gelf_getshdr(current, &header) != nil {
        if header.sh_type == UInt32(SHT_SYMTAB) {
          chosen = current
          chosenHeader = header
          break
        }
        if header.sh_type == UInt32(SHT_DYNSYM), chosen == nil {
          chosen = current
          chosenHeader = header
        }
      }
      section = elf_nextscn(elf, current)
    }
    guard let chosen, let data = elf_getdata(chosen, nil), chosenHeader.sh_entsize > 0 else {
      return SymbolTable(entries: [])
    }
    let count = Int(chosenHeader.sh_size / chosenHeader.sh_entsize)
    var raw: [Entry] = []
    raw.reserveCapacity(count)
    var currentFile: UnsafePointer<CChar>?
    for index in 1..<max(count, 1) {
      var symbol = GElf_Sym()
      guard gelf_getsym(data, Int32(index), &symbol) != nil,
        let name = elf_strptr(elf, Int(chosenHeader.sh_link), Int(symbol.st_name))
      else { continue }
      if Int32(symbol.st_info & 0xf) == STT_FILE {
        currentFile = name.pointee == 0 ? nil : UnsafePointer(name)
        continue
      }
      guard isFunction(symbol), name.pointee != 0 else { continue }
      let isLocal = Int32(symbol.st_info >> 4) == STB_LOCAL
      raw.append(
        Entry(
          start: symbol.st_value, size: symbol.st_size, name: UnsafePointer(name),
          file: isLocal ? currentFile : nil))
    }
    return SymbolTable(unsorted: raw, code: code)
  }

  /// Every function symbol libdwfl knows for `module` (the main file's
  /// `.symtab`, else the debug file's, else `.dynsym`); `bias` is the
  /// module's load bias; `code`: where the module's own file has code
  /// (default: read from it).
  static func all(of module: OpaquePointer, bias: UInt64, code: CodeRanges? = nil)
    -> SymbolTable
  {
    let code = code ?? CodeRanges.of(module: module)
    let count = dwfl_module_getsymtab(module)
    guard count > 0 else { return SymbolTable(entries: []) }
    var raw: [Entry] = []
    raw.reserveCapacity(Int(count))
    var currentFile: UnsafePointer<CChar>?
    for index in 1..<count {
      var symbol = GElf_Sym()
      var address: GElf_Addr = 0
      var section: GElf_Word = 0
      guard
        let name = dwfl_module_getsym_info(module, index, &symbol, &address, &section, nil, nil)
      else { continue }
      if Int32(symbol.st_info & 0xf) == STT_FILE {
        currentFile = name.pointee == 0 ? nil : name
        continue
      }
      guard isFunction(symbol), name.pointee != 0 else { continue }
      let isLocal = Int32(symbol.st_info >> 4) == STB_LOCAL
      raw.append(
        Entry(
          start: address &- bias, size: symbol.st_size, name: name,
          file: isLocal ? currentFile : nil))
    }
    return SymbolTable(unsorted: raw, code: code)
  }

  private static func isFunction(_ symbol: GElf_Sym) -> Bool {
    let type = Int32(symbol.st_info & 0xf)
    return (type == STT_FUNC || type == STT_GNU_IFUNC) && symbol.st_shndx != UInt16(SHN_UNDEF)
  }

  private init(entries: [Entry]) {
    self.entries = entries
    directory = StartDirectory(count: entries.count) { entries[$0].start }
  }

  /// Keeps one symbol per address, as llvm-symbolizer does: the largest
  /// size, and among equal sizes the one that comes last in the table
  /// (`__res_send` over `res_send`, `__memcpy_chk_*` over `__memmove_chk_*`).
  private init(unsorted raw: [Entry], code: CodeRanges) {
    let order = raw.indices.sorted {
      let (a, b) = (raw[$0], raw[$1])
      if a.start != b.start { return a.start < b.start }
      if a.size != b.size { return a.size < b.size }
      return $0 < $1
    }
    var unique: [Entry] = []
    unique.reserveCapacity(raw.count)
    for index in order {
      if let last = unique.last, last.start == raw[index].start {
        unique[unique.count - 1] = raw[index]
      } else {
        unique.append(raw[index])
      }
    }
    for index in unique.indices {
      let entry = unique[index]
      if entry.size > 0 {
        unique[index].end = entry.start &+ entry.size
      } else {
        // Up to the next symbol (the lookup stops there), within its section.
        unique[index].end = code.range(containing: entry.start)?.upperBound ?? entry.start
      }
    }
    entries = unique
    directory = StartDirectory(count: unique.count) { unique[$0].start }
  }

  /// The symbol containing link-time address `address`: the last one that
  /// starts at or below it, if the address is before its `end` (an unsized
  /// symbol extends to the next one, within its executable section).
  func lookup(_ address: UInt64) -> Entry? {
    entries.withUnsafeBufferPointer { entries in
      let low = entries.prefixCount(in: directory, for: address, where: { $0.start <= address })
      guard low > 0 else { return nil }
      let entry = entries[low - 1]
      if address < entry.end { return entry }
      return nil
    }
  }
}
