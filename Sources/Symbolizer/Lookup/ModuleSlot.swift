import Basics
import CElfutils

/// One module the symbolizer knows: where it is mapped, and the file that
/// backs it (`ModuleFile`), whose indexes it shares with every other
/// mapping of that file.
///
/// Invariants: `bias` is runtime minus link-time address for this mapping;
/// `module` is nil exactly when no usable file was found (missing, or its
/// build-id did not match, in which case `isStale` is true).
final class ModuleSlot {
  /// The path as the process or trace named it.
  let path: String
  /// The file actually read (may differ when found under a debug directory).
  let resolvedPath: String?
  let bias: UInt64
  let isStale: Bool
  /// The file's module and indexes, in link-time addresses.
  let file: ModuleFile

  /// A mapping at `bias` of the file libdwfl reported as `module` at that
  /// same bias (nil: no usable file).
  convenience init(
    path: String, resolvedPath: String?, bias: UInt64, module: OpaquePointer?, isStale: Bool,
    lanes: LaneShare
  ) {
    self.init(
      path: path, resolvedPath: resolvedPath, bias: bias, isStale: isStale,
      file: ModuleFile(module: module, bias: bias, lanes: lanes))
  }

  /// A mapping at `bias` of `file`, which may be another slot's: a trace
  /// that maps one file at several places indexes it once.
  init(path: String, resolvedPath: String?, bias: UInt64, isStale: Bool, file: ModuleFile) {
    self.path = path
    self.resolvedPath = resolvedPath
    self.bias = bias
    self.isStale = isStale
    self.file = file
  }

  /// The libdwfl module of the file (reported at `file.bias`).
  var module: OpaquePointer? { file.module }

  /// The DWARF index, built on first use; nil when the module has no DWARF.
  var dwarf: DwarfIndex? { file.dwarf }

  /// What to subtract from a runtime address of this mapping for the
  /// address `dwarf`, this file's index, looks up (`DwarfIndex.bias` is
  /// that of the mapping the file was reported at).
  @inline(__always)
  func dwarfBias(_ dwarf: DwarfIndex) -> UInt64 { dwarf.bias &- file.bias &+ bias }

  /// The `.dwo` files of its DWARF's split units that were not found
  /// (`ModuleFile.missingSplitUnits`).
  var missingSplitUnits: [String] { file.missingSplitUnits(named: resolvedPath ?? path) }

  /// Whether the module's file was found and its DWARF looked for, but
  /// none was there (nor in a debug file): its frames come from the symbol
  /// table, without file:line.
  var lacksDWARF: Bool { file.lacksDWARF }

  /// See `ModuleFile.unreadableDebugInfo`.
  var unreadableDebugInfo: ModuleFile.UnreadableDebugInfo? { file.unreadableDebugInfo }

  /// Whether link-time address `address` is inside one of the module's
  /// executable sections: only such an address may be given a name.
  @inline(__always)
  func isCode(_ address: UInt64) -> Bool { file.code.contains(address) }

  /// See `ModuleFile.ownSymbol(at:)`.
  @inline(__always)
  func ownSymbol(at address: UInt64) -> SymbolTable.Entry? { file.ownSymbol(at: address) }

  /// See `ModuleFile.anySymbol(at:)`.
  @inline(__always)
  func anySymbol(at address: UInt64) -> SymbolTable.Entry? { file.anySymbol(at: address) }
}

/// One ELF file the symbolizer reads, for one mapping or several, and its
/// lazily built indexes, all in link-time addresses but the DWARF index's
/// own bias (`DwarfIndex.bias`, of the mapping at `bias`).
///
/// Invariant: `module` was reported to libdwfl at `bias`.
final class ModuleFile {
  /// The file's libdwfl module (nil: no usable file was found).
  let module: OpaquePointer?
  /// The bias `module` was reported at.
  let bias: UInt64
  /// What this file's symbolizer shares with its lanes.
  let lanes: LaneShare

  @exclusivity(unchecked) private var dwarfState: DwarfIndex??
  @exclusivity(unchecked) private var ownSymbolState: SymbolTable?
  @exclusivity(unchecked) private var allSymbolState: SymbolTable?
  @exclusivity(unchecked) private var codeState: CodeRanges?

  init(module: OpaquePointer?, bias: UInt64, lanes: LaneShare) {
    self.module = module
    self.bias = bias
    self.lanes = lanes
  }

  /// The DWARF index, built on first use; nil when the module has no DWARF.
  var dwarf: DwarfIndex? {
    if let state = dwarfState { return state }
    let built = module.flatMap { DwarfIndex(module: $0, lanes: lanes) }
    if let built {
      let code = code
      let shift = built.bias &- bias
      built.keepUnitRanges { code.contains($0 &+ shift) }
    }
    dwarfState = .some(built)
    return built
  }

  /// The DWARF index when it was built (nil: not yet, or no DWARF);
  /// builds nothing.
  var builtDwarf: DwarfIndex? {
    guard case .some(.some(let index)) = dwarfState else { return nil }
    return index
  }

  /// The `.dwo` files of its DWARF's split units that were not found
  /// (`DwarfIndex.missingSplitUnits`), a relative one under the directory
  /// of the file whose DWARF was read (libdw looks there; `path`: the
  /// module's path, when libdwfl names no file); empty until the DWARF
  /// index is built.
  func missingSplitUnits(named path: String) -> [String] {
    guard let missing = builtDwarf?.missingSplitUnits, !missing.isEmpty else { return [] }
    let names = module.map(ModuleDwarf.fileNames(of:))
    let file = names?.debug ?? names?.main ?? path
    return missing.map { joinedPath(directoryName(file), $0) }
  }

  /// Whether the module's file was found and its DWARF looked for, but
  /// none was there (nor in a debug file).
  var lacksDWARF: Bool {
    guard module != nil, case .some(.none) = dwarfState else { return false }
    return true
  }

  /// With `lacksDWARF`, where a `.debug_info` section is there but could
  /// not be read (damaged, or compressed in a form libelf cannot
  /// inflate): `.own` in the module's own file, `.separate(path)` in the
  /// debug file libdwfl found for it. Nil when neither has one: DWARF left
  /// out, not damaged.
  var unreadableDebugInfo: UnreadableDebugInfo? {
    guard let module else { return nil }
    var bias: GElf_Addr = 0
    if let elf = dwfl_module_getelf(module, &bias), ElfSections.hasDebugInfo(in: elf) {
      return .own
    }
    guard let debug = ModuleDwarf.fileNames(of: module).debug,
      ElfSections.hasDebugInfo(atPath: debug)
    else { return nil }
    return .separate(debug)
  }

  /// Which file holds DWARF that could not be read.
  enum UnreadableDebugInfo {
    /// The module's own file.
    case own
    /// The separate debug file at this path.
    case separate(String)
  }

  /// Where the module's own file has code (its executable sections), read
  /// on first use.
  var code: CodeRanges {
    if let known = codeState { return known }
    let built = module.map { CodeRanges.of(module: $0) } ?? CodeRanges(ranges: [])
    codeState = built
    return built
  }

  /// The function symbol of the module's own file that covers `address`
  /// (a link-time address); the table is built on first use. Looked up in
  /// place: handing out the table would retain and release it per lookup.
  func ownSymbol(at address: UInt64) -> SymbolTable.Entry? {
    if ownSymbolState == nil {
      guard let module else { return nil }
      ownSymbolState = SymbolTable.own(of: module, code: code)
    }
    return ownSymbolState!.lookup(address)
  }

  /// The function symbol covering `address` among every symbol libdwfl
  /// knows (with a separate debug file's local symbols), built on first use.
  func anySymbol(at address: UInt64) -> SymbolTable.Entry? {
    if allSymbolState == nil {
      guard let module else { return nil }
      allSymbolState = SymbolTable.all(of: module, bias: bias, code: code)
    }
    return allSymbolState!.lookup(address)
  }
}

/// Where a module record of a trace was found, for diagnostics.
public struct ModuleResolution: Sendable, Hashable {
  /// Whether the module's file was found, and whether it is the one recorded.
  public enum Status: String, Sendable, Hashable {
    /// The file was found and matches (or no build-id was recorded).
    case ok
    /// No file was found; frames print as `module+0xoffset`.
    case missing
    /// Only files with a different build-id were found; frames are marked stale.
    case stale
  }

  /// The path the trace or process named.
  public var path: String
  /// The file that is read for it, when one is used.
  public var resolvedPath: String?
  /// Whether the file was found and matches.
  public var status: Status
}
