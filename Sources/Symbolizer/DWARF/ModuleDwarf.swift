import CElfutils

/// The `Dwarf` handle a module's lookups read, and the bias from runtime to
/// DWARF addresses.
///
/// When the file holding the module's DWARF (the module's own file, or the
/// separate debug file libdwfl found for it) has compressed debug sections,
/// the symbolizer inflates the ones it reads itself (`DwarfImage`); otherwise
/// libdwfl's handle is used as it is.
struct ModuleDwarf {
  let dwarf: OpaquePointer
  let bias: UInt64
  /// The inflated image `dwarf` lives in, when it was opened that way.
  let image: DwarfImage?
  /// The file `dwarf` is read from, when known: where libdw looks for a
  /// skeleton unit's `.dwo` file first (its directory).
  var path: String? = nil

  /// The DWARF of `module`, or nil when it has none. With `lanes`, an image
  /// another lane inflated is reused (see `DwarfImage.open(path:lanes:)`).
  static func open(_ module: OpaquePointer, lanes: LaneShare? = nil) -> ModuleDwarf? {
    if let inflated = openInflated(module, lanes: lanes) { return inflated }
    var bias: Dwarf_Addr = 0
    guard let dwarf = dwfl_module_getdwarf(module, &bias) else { return nil }
    let names = fileNames(of: module)
    return ModuleDwarf(dwarf: dwarf, bias: bias, image: nil, path: names.debug ?? names.main)
  }

  /// The module's DWARF through `DwarfImage`, when its file compresses it.
  private static func openInflated(_ module: OpaquePointer, lanes: LaneShare?) -> ModuleDwarf? {
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
    guard let path, let image = DwarfImage.open(path: path, lanes: lanes) else { return nil }
    // A separate debug file normally has the same addresses as the module's
    // file; if its code segment moved (prelink), follow it.
    var bias = loadBias
    if let mainCode = ElfFileInfo(elf: main)?.codeAddress, let debugCode = image.codeAddress {
      bias = loadBias &+ mainCode &- debugCode
    }
    return ModuleDwarf(dwarf: image.dwarf, bias: bias, image: image, path: path)
  }

  /// The module's own file and the separate debug file libdwfl found for
  /// it (nil until it looked, or when there is none).
  static func fileNames(of module: OpaquePointer) -> (main: String?, debug: String?) {
    var main: UnsafePointer<CChar>?
    var debug: UnsafePointer<CChar>?
    _ = dwfl_module_info(module, nil, nil, nil, nil, nil, &main, &debug)
    return (main.map { String(cString: $0) }, debug.map { String(cString: $0) })
  }
}
