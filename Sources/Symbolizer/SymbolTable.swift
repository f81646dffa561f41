import CElfutils

/// A module's function symbols, sorted by address, for the addresses no
/// DWARF describes (hand-written assembly, stripped objects).
///
/// Built once from `dwfl_module_getsym_info` (which reads `.symtab`, or the
/// debug file's, or `.dynsym`). Lookups are a binary search, unlike
/// `dwfl_module_addrinfo`, which scans the whole table per call.
///
/// Invariants: `entries` is sorted by `start` with one entry per start
/// address; addresses are link-time addresses (runtime minus the bias).
struct SymbolTable {
  struct Entry {
    var start: UInt64
    var size: UInt64
    var name: String
    /// Exported: global or weak binding with default visibility.
    var isGlobal: Bool
    /// For a local symbol, the source file named by the `STT_FILE` symbol
    /// before it (the only source hint for code without DWARF).
    var file: String?
  }

  private(set) var entries: [Entry] = []

  /// Reads the function symbols of `module`; `bias` is the module's load bias.
  init(module: OpaquePointer, bias: UInt64) {
    let count = dwfl_module_getsymtab(module)
    guard count > 0 else { return }
    var raw: [Entry] = []
    raw.reserveCapacity(Int(count))
    var currentFile: String?
    for index in 1..<count {
      var symbol = GElf_Sym()
      var address: GElf_Addr = 0
      var section: GElf_Word = 0
      guard
        let name = dwfl_module_getsym_info(module, index, &symbol, &address, &section, nil, nil)
      else { continue }
      let type = Int32(symbol.st_info & 0xf)
      if type == STT_FILE {
        currentFile = String(cString: name)
        continue
      }
      guard type == STT_FUNC || type == STT_GNU_IFUNC, symbol.st_shndx != UInt16(SHN_UNDEF) else {
        continue
      }
      let binding = Int32(symbol.st_info >> 4)
      // elfutils appends the symbol version of .dynsym entries (`name@GLIBC_2.2.5`).
      var text = String(cString: name)
      if let at = text.firstIndex(of: "@"), at != text.startIndex {
        text = String(text[..<at])
      }
      guard !text.isEmpty else { continue }
      raw.append(
        Entry(
          start: address &- bias, size: symbol.st_size, name: text,
          isGlobal: (binding == STB_GLOBAL || binding == STB_WEAK)
            && Int32(symbol.st_other & 3) == STV_DEFAULT,
          file: binding == STB_LOCAL ? currentFile : nil))
    }
    // At one address, keep one alias, chosen as llvm-symbolizer does for a
    // stripped library (whose only symbols are the exported ones): a sized
    // symbol over an unsized one, an exported one (global or weak, default
    // visibility) over a local or hidden one, the larger size, then the name
    // that sorts last (`shutdown` over `__shutdown`).
    raw.sort {
      if $0.start != $1.start { return $0.start < $1.start }
      let (a, b) = (Self.rank($0), Self.rank($1))
      if a != b { return a > b }
      return $0.name > $1.name
    }
    var unique: [Entry] = []
    unique.reserveCapacity(raw.count)
    for entry in raw where unique.last?.start != entry.start {
      unique.append(entry)
    }
    entries = unique
  }

  private static func rank(_ entry: Entry) -> (Int, Int, UInt64) {
    (entry.size > 0 ? 1 : 0, entry.isGlobal ? 1 : 0, entry.size)
  }

  /// The symbol containing link-time address `address`: the last one that
  /// starts at or below it, if the address is inside its size (or the
  /// symbol is unsized and it is the nearest start).
  func lookup(_ address: UInt64) -> Entry? {
    var low = 0
    var high = entries.count
    while low < high {
      let mid = (low + high) / 2
      if entries[mid].start <= address { low = mid + 1 } else { high = mid }
    }
    guard low > 0 else { return nil }
    let entry = entries[low - 1]
    if entry.size == 0 || address < entry.start &+ entry.size { return entry }
    return nil
  }
}
