import Basics
import CElfutils
import Glibc

/// The single-threaded core behind `Symbolizer`: one `Dwfl`, the module
/// slots, and the per-address cache. Not thread-safe; `Symbolizer` keeps it
/// behind a mutex.
///
/// Invariants: `ranges` is sorted by `low` and every entry's `index` is a
/// slot; a cached answer holds until a module is unloaded, which drops the
/// whole cache (a module's file is read once); `nameTable` and `fileTable`
/// only grow, so a number handed out stays valid.
///
/// Stored properties are `@exclusivity(unchecked)` (as are `DwarfIndex`'s
/// and `ModuleSlot`'s): the engine is only reached through `Symbolizer`'s
/// mutex, one call at a time, and no access to a property outlives the
/// statement that makes it. The runtime's dynamic exclusivity checks were
/// about a sixth of the time of an uncached lookup.
final class SymbolizerEngine {
  let isInProcess: Bool
  private let dwfl: OpaquePointer
  private let callbacks: UnsafeMutablePointer<Dwfl_Callbacks>
  private let debugDirectories: [String]
  @exclusivity(unchecked) private(set) var slots: [ModuleSlot] = []
  @exclusivity(unchecked) private var ranges: [AddressRange] = []
  /// Answers by address: for exact addresses, and for return addresses.
  @exclusivity(unchecked) private var cache = AddressTable<[Frame]>(capacity: 1024)
  @exclusivity(unchecked) private var returnCache = AddressTable<[Frame]>(capacity: 1024)
  /// Interned names and file names, numbered in order of first use (the
  /// numbers `FrameRecord`s hold), found by the address of their C string
  /// and, for names, by text (one `SymbolName` per distinct linkage name).
  @exclusivity(unchecked) private(set) var nameTable: [SymbolName] = []
  @exclusivity(unchecked) private var nameIDs = AddressTable<Int32>(capacity: 1024)
  @exclusivity(unchecked) private var nameIDsByText = [NameText: Int32](minimumCapacity: 1024)
  /// Per name number: whether a C++ name's readable form was settled with
  /// a DIE at hand (see `settleName`).
  @exclusivity(unchecked) private var nameSettled: [Bool] = []
  @exclusivity(unchecked) private(set) var fileTable: [String] = []
  @exclusivity(unchecked) private var fileIDs = AddressTable<Int32>()
  /// What was read once per DIE (keyed by the DIE's address, which is unique
  /// while the `Dwfl` lives): function names, and inlined calls' call sites.
  @exclusivity(unchecked) private var dieNames = AddressTable<Int32>(capacity: 1024)
  @exclusivity(unchecked) private var callSites = AddressTable<CallSite>(capacity: 1024)
  /// Scratch storage reused by every lookup.
  @exclusivity(unchecked) private var chain: [Dwarf_Die] = []
  @exclusivity(unchecked) private var records: [FrameRecord] = []
  @exclusivity(unchecked) private var reportedInProcess: Set<String> = []
  /// The dynamic linker's counters at the last refresh (in-process only).
  @exclusivity(unchecked) private var loadedGeneration: (adds: UInt64, subs: UInt64) = (0, 0)
  /// Bound on cached addresses; the cache is dropped when it is reached.
  /// Zero: answers are not cached.
  private let cacheLimit: Int
  /// What this engine shares with the engines of its symbolizer's lanes:
  /// inflated DWARF images and `SymbolName`s.
  let lanes: LaneShare

  init(
    inProcess: Bool, debugDirectories: [String], cachesAddresses: Bool = true,
    lanes: LaneShare = LaneShare()
  ) {
    self.lanes = lanes
    isInProcess = inProcess
    cacheLimit = cachesAddresses ? 1 << 20 : 0
    self.debugDirectories = debugDirectories
    callbacks = DebugInfoLookup.makeCallbacks(debugDirectories: debugDirectories)
    dwfl = dwfl_begin(callbacks)!
  }

  deinit {
    dwfl_end(dwfl)
    DebugInfoLookup.release(callbacks)
  }

  // MARK: Reporting modules

  /// Refreshes the modules when a `dlopen` or `dlclose` happened since the
  /// last look (the dynamic linker's counters changed). Cheap otherwise.
  func refreshIfModulesChanged() {
    guard isInProcess else { return }
    let current = ProcessModules.generation()
    if current != loadedGeneration { refreshProcessModules() }
  }

  /// Adds the modules loaded in this process since the last refresh and
  /// forgets those unloaded since (their addresses may be reused by the next
  /// `dlopen`, so cached answers are dropped too).
  func refreshProcessModules() {
    loadedGeneration = ProcessModules.generation()
    let loaded = ProcessModules.current()
    let loadedKeys = Set(loaded.map { "\($0.bias):\($0.path)" })
    let gone = reportedInProcess.subtracting(loadedKeys)
    if !gone.isEmpty {
      reportedInProcess.subtract(gone)
      ranges.removeAll { range in
        let slot = slots[range.index]
        return gone.contains("\(slot.bias):\(slot.path)")
      }
      cache.removeAll()
      returnCache.removeAll()
    }
    var added = false
    dwfl_report_begin_add(dwfl)
    for module in loaded {
      let key = "\(module.bias):\(module.path)"
      guard !reportedInProcess.contains(key) else { continue }
      reportedInProcess.insert(key)
      var reported: OpaquePointer?
      var stale = false
      if access(module.path, R_OK) == 0 {
        reported = dwfl_report_elf(dwfl, baseName(module.path), module.path, -1, module.bias, false)
        if let reported, let expected = module.buildID, let actual = buildID(of: reported),
          actual != expected
        {
          // The file on disk was replaced after it was loaded.
          stale = true
        }
      }
      let slot = ModuleSlot(
        path: module.path, resolvedPath: reported == nil ? nil : module.path, bias: module.bias,
        module: stale ? nil : reported, isStale: stale, lanes: lanes)
      addSlot(slot, ranges: module.executableRanges)
      added = true
    }
    dwfl_report_end(dwfl, nil, nil)
    if added { ranges.sort { $0.low < $1.low } }
  }

  /// Adds the modules of a trace; see
  /// `Symbolizer.init(modules:debugDirectories:binaries:)`.
  func report(records: [ModuleRecord], binaries: [String] = []) -> [ModuleResolution] {
    var resolutions: [ModuleResolution] = []
    var byMapping: [String: Int] = [:]
    // Each named file's build-id, read once.
    let named = binaries.map { (path: $0, buildID: ElfFileInfo.read($0)?.buildID) }
    // How many distinct files of the trace share each base name: a named
    // file goes to a record without a build-id by its name only when that
    // name is one file's (two `libx.so` from two directories would take
    // one file's names for both).
    var filesByName: [String: Set<String>] = [:]
    for record in records { filesByName[baseName(record.path), default: []].insert(record.path) }
    dwfl_report_begin_add(dwfl)
    for record in records {
      let expected = record.buildID.flatMap(NumberText.bytes(fromHex:))
      // A named file is this record's when their build-ids agree, or, for
      // a record without one, when their base names do and no other file
      // of the trace has that name.
      let name = baseName(record.path)
      let chosen = named.filter { file in
        if let expected, expected.count > 1 { return file.buildID == expected }
        return baseName(file.path) == name && filesByName[name, default: []].count == 1
      }.map(\.path)
      let found = locate(path: record.path, buildID: expected, preferring: chosen)
      var bias: UInt64 = 0
      if let info = found.info,
        let computed = info.bias(mappingStart: record.start, fileOffset: record.fileOffset)
      {
        bias = computed
      } else {
        bias = record.start &- record.fileOffset
      }
      let key = "\(bias):\(record.path)"
      if let existing = byMapping[key] {
        ranges.append(AddressRange(low: record.start, high: record.end, index: existing))
        continue
      }
      var module: OpaquePointer?
      if found.status == .ok, let file = found.path {
        module = dwfl_report_elf(dwfl, baseName(record.path), file, -1, bias, false)
      }
      let status: ModuleResolution.Status =
        found.status == .ok && module == nil ? .missing : found.status
      let slot = ModuleSlot(
        path: record.path, resolvedPath: module == nil ? nil : found.path, bias: bias,
        module: module, isStale: status == .stale, lanes: lanes)
      byMapping[key] = addSlot(slot, ranges: [record.start..<record.end])
      resolutions.append(
        ModuleResolution(path: record.path, resolvedPath: slot.resolvedPath, status: status))
    }
    dwfl_report_end(dwfl, nil, nil)
    ranges.sort { $0.low < $1.low }
    return resolutions
  }

  /// Adds one ELF file whose addresses are its own link-time addresses
  /// (bias 0), covering the whole address space: `symbolize --exe`.
  func report(executable path: String) -> ModuleResolution {
    dwfl_report_begin_add(dwfl)
    let module = dwfl_report_elf(dwfl, baseName(path), path, -1, 0, false)
    dwfl_report_end(dwfl, nil, nil)
    let slot = ModuleSlot(
      path: path, resolvedPath: module == nil ? nil : path, bias: 0, module: module,
      isStale: false, lanes: lanes)
    addSlot(slot, ranges: [0..<UInt64.max])
    return ModuleResolution(
      path: path, resolvedPath: slot.resolvedPath, status: module == nil ? .missing : .ok)
  }

  @discardableResult
  private func addSlot(_ slot: ModuleSlot, ranges newRanges: [Range<UInt64>]) -> Int {
    let index = slots.count
    slots.append(slot)
    for range in newRanges {
      ranges.append(AddressRange(low: range.lowerBound, high: range.upperBound, index: index))
    }
    return index
  }

  /// Finds the file for a trace's module: the `preferring` files (named by
  /// the user), the path itself, then under each debug directory (by base
  /// name, by the full path below the root, and by `.build-id/xx/yyyy` and
  /// `.build-id/xx/yyyy.debug`), then `/usr/lib/debug/.build-id/`. With a
  /// build-id, only a file whose build-id matches is used; finding only
  /// mismatching files makes the module stale.
  private func locate(path: String, buildID: [UInt8]?, preferring: [String] = []) -> (
    path: String?, info: ElfFileInfo?, status: ModuleResolution.Status
  ) {
    var candidates = preferring + [path]
    var buildIDPaths: [String] = []
    if let buildID, buildID.count > 1 {
      let hex = hexString(buildID)
      let head = String(hex.prefix(2))
      let tail = String(hex.dropFirst(2))
      buildIDPaths = ["/.build-id/\(head)/\(tail)", "/.build-id/\(head)/\(tail).debug"]
    }
    for root in debugDirectories {
      candidates.append(root + "/" + baseName(path))
      if path.hasPrefix("/") { candidates.append(root + path) }
      candidates += buildIDPaths.map { root + $0 }
    }
    candidates += buildIDPaths.map { "/usr/lib/debug" + $0 }
    var sawMismatch = false
    for candidate in candidates where access(candidate, R_OK) == 0 {
      guard let info = ElfFileInfo.read(candidate) else { continue }
      if let buildID, info.buildID != buildID {
        sawMismatch = true
        continue
      }
      return (candidate, info, .ok)
    }
    return (nil, nil, sawMismatch ? .stale : .missing)
  }

  /// The compilation units of every module with DWARF (in runtime
  /// addresses), and every module without, numbered; see `LookupLocality`.
  func lookupLocality() -> LookupLocality {
    var keyed: [AddressRange] = []
    var count = 0
    var unitBytes = 0
    for (index, slot) in slots.enumerated() {
      if let dwarf = slot.dwarf {
        unitBytes += dwarf.unitBytes
        var units = 0
        for unit in dwarf.unitRanges {
          keyed.append(
            AddressRange(
              low: unit.low &+ dwarf.bias, high: unit.high &+ dwarf.bias,
              index: count + unit.index))
          units = max(units, unit.index + 1)
        }
        count += units
      } else {
        for range in ranges where range.index == index {
          keyed.append(AddressRange(low: range.low, high: range.high, index: count))
        }
        count += 1
      }
    }
    return LookupLocality(ranges: keyed, count: count, unitBytes: unitBytes)
  }

  // MARK: Lookups

  /// The frames of `address`, innermost first (never empty).
  func frames(for address: UInt64, isReturnAddress: Bool) -> [Frame] {
    guard cacheLimit > 0 else {
      return computeFrames(for: address, isReturnAddress: isReturnAddress)
    }
    if let cached = isReturnAddress ? returnCache[address] : cache[address] { return cached }
    let result = computeFrames(for: address, isReturnAddress: isReturnAddress)
    if isReturnAddress {
      if returnCache.count >= cacheLimit { returnCache.removeAll() }
      returnCache.updateValue(result, forKey: address)
    } else {
      if cache.count >= cacheLimit { cache.removeAll() }
      cache.updateValue(result, forKey: address)
    }
    return result
  }

  /// Appends the answer for `address` to `batch`, with the names, files and
  /// modules the batch's sequence has not delivered yet. Not cached.
  func symbolize(_ address: UInt64, isReturnAddress: Bool, into batch: inout SymbolizedBatch) {
    let slot = appendRecords(for: address, isReturnAddress: isReturnAddress, to: &batch.frames)
    batch.finishAnswer(address: address, module: slot)
    if batch.deliveredNames < nameTable.count {
      batch.newNames += nameTable[batch.deliveredNames...]
    }
    if batch.deliveredFiles < fileTable.count {
      batch.newFiles += fileTable[batch.deliveredFiles...]
    }
    while batch.deliveredModules < slots.count {
      let slot = slots[batch.deliveredModules]
      batch.newModules.append(.init(path: slot.path, bias: slot.bias, isStale: slot.isStale))
    }
  }

  private func computeFrames(for address: UInt64, isReturnAddress: Bool) -> [Frame] {
    records.removeAll(keepingCapacity: true)
    let index = appendRecords(for: address, isReturnAddress: isReturnAddress, to: &records)
    var base = Frame(address: address)
    if index >= 0 {
      let slot = slots[Int(index)]
      base.module = slot.path
      base.moduleOffset = address &- slot.bias
      base.isStale = slot.isStale
    }
    return records.map { record in
      var frame = base
      if record.name >= 0 { frame.name = nameTable[Int(record.name)] }
      if record.file >= 0 { frame.file = fileTable[Int(record.file)] }
      frame.line = Int(record.line)
      frame.column = Int(record.column)
      frame.isInlined = record.isInlined
      frame.fileIsFromSymbolTable = record.fileFromSymbolTable
      return frame
    }
  }

  /// Appends the frames of `address` to `records`, innermost first (at least
  /// one), and returns the slot of its module, or -1 when no module holds it.
  private func appendRecords(
    for address: UInt64, isReturnAddress: Bool, to records: inout [FrameRecord]
  ) -> Int32 {
    guard isReturnAddress, address > 0 else { return appendRecords(at: address, to: &records) }
    // A return address is looked up one byte back, in its call.
    let start = records.count
    let index = appendRecords(at: address - 1, to: &records)
    // A return address with nothing named one byte back is no call's:
    // the kernel's return into a signal's trampoline (`__restore_rt`),
    // the first byte of a function after padding. It is looked up itself.
    guard records.count == start + 1, records[start].name < 0, records[start].file < 0 else {
      return index
    }
    records.removeLast()
    return appendRecords(at: address, to: &records)
  }

  /// `appendRecords(for:isReturnAddress:to:)` of the code at `pc`.
  private func appendRecords(at pc: UInt64, to records: inout [FrameRecord]) -> Int32 {
    var index = ranges.index(containing: pc)
    if index == nil, isInProcess {
      refreshProcessModules()
      index = ranges.index(containing: pc)
    }
    guard let index else {
      records.append(.unknown)
      return -1
    }
    let slot = slots[index]
    guard slot.module != nil else {
      records.append(.unknown)
      return Int32(index)
    }
    let linkPC = pc &- slot.bias
    // No name for what is not code: the ELF header, `.rodata`, unwind tables.
    guard slot.isCode(linkPC) else {
      records.append(.unknown)
      return Int32(index)
    }
    // The outermost frame is named by the module's own symbol covering the
    // address, as llvm-symbolizer does: it carries the compiler clone suffix
    // (`.cold`, `.isra.0`) and the exported alias of a stripped library.
    let ownSymbol = slot.ownSymbol(at: linkPC)

    if let dwarf = slot.dwarf {
      let dwarfPC = pc &- dwarf.bias
      if let unit = dwarf.unit(containing: dwarfPC) {
        if dwarf.scopeChain(containing: dwarfPC, unit: unit, into: &chain) {
          appendInlineRecords(
            dwarf: dwarf, unit: unit, pc: dwarfPC,
            outerName: ownSymbol.map { symbolName($0.name) }, to: &records)
          return Int32(index)
        }
        // Code with line information but no function DIE (assembly).
        var record = FrameRecord.unknown
        if let symbol = ownSymbol ?? slot.anySymbol(at: linkPC) {
          record.name = symbolName(symbol.name)
        }
        setLocation(&record, lineAt: dwarfPC, unit: unit, dwarf: dwarf)
        records.append(record)
        return Int32(index)
      }
    }
    var record = FrameRecord.unknown
    if let symbol = ownSymbol ?? slot.anySymbol(at: linkPC) {
      record.name = symbolName(symbol.name)
      record.file = symbol.file.map { fileID($0) } ?? -1
      record.fileFromSymbolTable = record.file >= 0
    }
    records.append(record)
    return Int32(index)
  }

  /// One record per scope of `chain` (the subprogram first), appended
  /// innermost first: the innermost scope's line is `pc`'s, every outer
  /// scope's is the call site of the inlined call inside it.
  private func appendInlineRecords(
    dwarf: DwarfIndex, unit: Int, pc: UInt64, outerName: Int32?,
    to records: inout [FrameRecord]
  ) {
    for level in stride(from: chain.count - 1, through: 0, by: -1) {
      var record = FrameRecord.unknown
      record.isInlined = level > 0
      if level == 0, let outerName {
        record.name = outerName
      } else {
        record.name = dieName(&chain[level])
      }
      if record.name >= 0, !nameSettled[Int(record.name)] {
        settleName(record.name, die: chain[level], unit: unit, dwarf: dwarf)
      }
      if level == chain.count - 1 {
        setLocation(&record, lineAt: pc, unit: unit, dwarf: dwarf)
      } else {
        let site = callSite(of: &chain[level + 1], unit: unit, dwarf: dwarf)
        record.file = site.file
        record.line = site.line
        record.column = site.column
      }
      records.append(record)
    }
  }

  // MARK: Interning

  /// The number of the shared `SymbolName` of a C string inside the module
  /// data (DWARF string sections and symbol string tables live as long as
  /// the `Dwfl`, so the pointer identifies the text). A symbol version suffix
  /// (`name@GLIBC_2.2.5`, which libdwfl appends to `.dynsym` names) is dropped.
  private func symbolName(_ text: UnsafePointer<CChar>) -> Int32 {
    let key = UInt64(UInt(bitPattern: text))
    if let known = nameIDs[key] { return known }
    let length = strlen(text)
    let end = memchr(text + 1, Int32(UInt8(ascii: "@")), max(length, 1) - 1)
    let count = end.map { UnsafeRawPointer($0) - UnsafeRawPointer(text) } ?? length
    let linkage = text.withMemoryRebound(to: UInt8.self, capacity: count) {
      NameText(UnsafeBufferPointer(start: $0, count: count))
    }
    // One lookup: the entry is found and, when new, filled in place.
    func intern(_ entry: inout Int32?) -> Int32 {
      if let known = entry { return known }
      let id = Int32(nameTable.count)
      nameTable.append(lanes.name(linkage))
      nameSettled.append(false)
      entry = id
      return id
    }
    let id = intern(&nameIDsByText[linkage])
    nameIDs.updateValue(id, forKey: key)
    return id
  }

  /// Makes the readable form of C++ name `id` (met as the name of `die`)
  /// one that is not mangled, once per name: when no demangler reads it
  /// (GCC 12's `__cxa_demangle` and C++20 names from clang 17 and later),
  /// the name is built from the DIE (`CxxNames`), with the symbol's clone
  /// suffix (`.cold`) as c++filt prints it. Demangling here, once, instead
  /// of when the name is first printed costs nothing more: the form is
  /// published for every reader.
  private func settleName(_ id: Int32, die: Dwarf_Die, unit: Int, dwarf: DwarfIndex) {
    nameSettled[Int(id)] = true
    let name = nameTable[Int(id)]
    guard name.linkage.hasPrefix("_Z") else { return }
    if let readable = Demangler.readable(name.linkage) {
      _ = name.publish(readable)
      return
    }
    var function = die
    var attribute = Dwarf_Attribute()
    if dwarf_attr_integrate(&function, UInt32(DW_AT_name), &attribute) != nil,
      let own = dwarf_formstring(&attribute), own[0] == CChar(UInt8(ascii: "_")),
      own[1] == CChar(UInt8(ascii: "Z"))
    {
      // clang names an outlined part's DIE by its symbol (`_Z….cold.2`): the
      // readable name is that of the function it was split from.
      let base = String(name.linkage.prefix { $0 != "." })
      guard let original = dwarf.function(named: base, unit: unit) else { return }
      function = original
    }
    guard let built = dwarf.cxxNames(unit: unit).functionName(function) else { return }
    _ = name.publish(built + Demangler.cloneSuffix(of: name.linkage))
  }

  /// The number of the shared `String` of a C string inside the module data
  /// (file names; of unit `unit` of `dwarf` when given). A relative path
  /// of a unit is joined to its compilation directory, as llvm-symbolizer
  /// does (DWARF: a relative include directory is relative to
  /// `DW_AT_comp_dir`).
  private func fileID(
    _ text: UnsafePointer<CChar>, unit: Int = 0, dwarf: DwarfIndex? = nil
  ) -> Int32 {
    let key = UInt64(UInt(bitPattern: text))
    if let known = fileIDs[key] { return known }
    let id = Int32(fileTable.count)
    var path = String(cString: text)
    if text.pointee != 0x2F, let directory = dwarf?.compilationDirectory(unit: unit) {
      path = directory + "/" + path
    }
    fileTable.append(collapsingSlashes(path))
    fileIDs.updateValue(id, forKey: key)
    return id
  }

  /// `path` with each run of slashes as one, as llvm-symbolizer prints it:
  /// libdw joins a compilation directory `/` and a file `/<compiler-generated>`
  /// into `//<compiler-generated>`.
  private func collapsingSlashes(_ path: String) -> String {
    guard path.contains("//") else { return path }
    var out = ""
    var previous: Character = " "
    for c in path where !(c == "/" && previous == "/") {
      out.append(c)
      previous = c
    }
    return out
  }

  /// The name number of a function or inlined call DIE (-1: none), read once
  /// per DIE: `DW_AT_linkage_name` (or `DW_AT_MIPS_linkage_name`), else
  /// `DW_AT_name`, following `DW_AT_abstract_origin` and `DW_AT_specification`.
  private func dieName(_ die: inout Dwarf_Die) -> Int32 {
    let key = UInt64(UInt(bitPattern: die.addr))
    if let known = dieNames[key] { return known }
    var id: Int32 = -1
    var attribute = Dwarf_Attribute()
    for name in [DW_AT_linkage_name, DW_AT_MIPS_linkage_name, DW_AT_name] {
      if dwarf_attr_integrate(&die, UInt32(name), &attribute) != nil,
        let text = dwarf_formstring(&attribute)
      {
        id = symbolName(text)
        break
      }
    }
    dieNames.updateValue(id, forKey: key)
    return id
  }

  private func setLocation(
    _ record: inout FrameRecord, lineAt pc: UInt64, unit: Int, dwarf: DwarfIndex
  ) {
    guard let line = dwarf.line(at: pc, unit: unit) else { return }
    var number: Int32 = 0
    var column: Int32 = 0
    dwarf_lineno(line, &number)
    dwarf_linecol(line, &column)
    record.line = number
    record.column = column
    if let source = dwarf_linesrc(line, nil, nil) {
      record.file = fileID(source, unit: unit, dwarf: dwarf)
    }
  }

  /// The call site of an inlined call DIE, read once per DIE.
  private func callSite(of inlined: inout Dwarf_Die, unit: Int, dwarf: DwarfIndex) -> CallSite {
    let key = UInt64(UInt(bitPattern: inlined.addr))
    if let known = callSites[key] { return known }
    func value(_ name: Int) -> Int? {
      var attribute = Dwarf_Attribute()
      var result: Dwarf_Word = 0
      guard dwarf_attr(&inlined, UInt32(name), &attribute) != nil,
        dwarf_formudata(&attribute, &result) == 0
      else { return nil }
      return Int(result)
    }
    var site = CallSite(file: -1, line: 0, column: 0)
    if let file = value(DW_AT_call_file) {
      site.file =
        dwarf.fileName(file, unit: unit).map { fileID($0, unit: unit, dwarf: dwarf) } ?? -1
    }
    site.line = Int32(truncatingIfNeeded: value(DW_AT_call_line) ?? 0)
    site.column = Int32(truncatingIfNeeded: value(DW_AT_call_column) ?? 0)
    callSites.updateValue(site, forKey: key)
    return site
  }

  private func buildID(of module: OpaquePointer) -> [UInt8]? {
    var bits: UnsafePointer<UInt8>?
    var vaddr: GElf_Addr = 0
    let length = dwfl_module_build_id(module, &bits, &vaddr)
    guard length > 0, let bits else { return nil }
    return Array(UnsafeBufferPointer(start: bits, count: Int(length)))
  }
}
