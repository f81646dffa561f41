import CElfutils
import Glibc

/// The `Dwarf` handle a module's lookups read, and the bias from runtime to
/// DWARF addresses.
///
/// When the file holding the module's DWARF (the module's own file, or the
/// separate debug file libdwfl found for it) has compressed debug sections,
/// the symbolizer inflates the ones it reads itself (`DwarfImage`); otherwise
/// libdwfl's handle is used as it is.
struct ModuleDwarf {
  var dwarf: OpaquePointer
  var bias: UInt64
  /// The inflated image `dwarf` lives in, when it was opened that way.
  var image: DwarfImage?

  /// The DWARF of `module`, or nil when it has none.
  static func open(_ module: OpaquePointer) -> ModuleDwarf? {
    if let inflated = openInflated(module) { return inflated }
    var bias: Dwarf_Addr = 0
    guard let dwarf = dwfl_module_getdwarf(module, &bias) else { return nil }
    return ModuleDwarf(dwarf: dwarf, bias: bias, image: nil)
  }

  /// The module's DWARF through `DwarfImage`, when its file compresses it.
  private static func openInflated(_ module: OpaquePointer) -> ModuleDwarf? {
    var loadBias: GElf_Addr = 0
    guard let main = dwfl_module_getelf(module, &loadBias) else { return nil }
    var path: String?
    if ElfSections.has(".debug_info", in: main) {
      path = fileNames(of: module).main
    } else {
      // Finds the separate debug file without reading its DWARF (libdwfl
      // looks for it when the module's own file has no .symtab).
      _ = dwfl_module_getsymtab(module)
      path = fileNames(of: module).debug
    }
    guard let path, let image = DwarfImage.open(path: path) else { return nil }
    // A separate debug file normally has the same addresses as the module's
    // file; if its code segment moved (prelink), follow it.
    var bias = loadBias
    if let mainCode = ElfSections.codeAddress(of: main), let debugCode = image.codeAddress {
      bias = loadBias &+ mainCode &- debugCode
    }
    return ModuleDwarf(dwarf: image.dwarf, bias: bias, image: image)
  }

  private static func fileNames(of module: OpaquePointer) -> (main: String?, debug: String?) {
    var main: UnsafePointer<CChar>?
    var debug: UnsafePointer<CChar>?
    _ = dwfl_module_info(module, nil, nil, nil, nil, nil, &main, &debug)
    return (main.map { String(cString: $0) }, debug.map { String(cString: $0) })
  }
}

/// Small questions about an open ELF file.
enum ElfSections {
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
    var stringsIndex = 0
    guard elf_getshdrstrndx(elf, &stringsIndex) == 0 else { return nil }
    var scn: OpaquePointer? = nil
    while let current = elf_nextscn(elf, scn) {
      scn = current
      var header = GElf_Shdr()
      guard gelf_getshdr(current, &header) != nil, header.sh_type != UInt32(SHT_NOBITS),
        let text = elf_strptr(elf, stringsIndex, Int(header.sh_name))
      else { continue }
      if strcmp(text, name) == 0 { return current }
    }
    return nil
  }

  /// The address of the first executable `PT_LOAD` segment of `elf`.
  static func codeAddress(of elf: OpaquePointer) -> UInt64? {
    var count = 0
    guard elf_getphdrnum(elf, &count) == 0 else { return nil }
    for index in 0..<count {
      var header = GElf_Phdr()
      if gelf_getphdr(elf, Int32(index), &header) != nil, header.p_type == UInt32(PT_LOAD),
        header.p_flags & UInt32(PF_X) != 0
      {
        return header.p_vaddr
      }
    }
    return nil
  }
}
