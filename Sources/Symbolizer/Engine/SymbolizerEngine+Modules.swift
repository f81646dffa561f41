import Basics
import CElfutils
import Glibc

/// Reporting modules: the process's own (refreshed after `dlopen` and
/// `dlclose`), a trace's records, an executable; where their files and
/// debug files are, by path and build-id.
extension SymbolizerEngine {
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
      let file = module.openPath ?? module.path
      if access(file, R_OK) == 0 {
        reported = reportELF(named: baseName(module.path), at: file, bias: module.bias)
        if let reported, let expected = module.buildID,
          let actual = DebugInfoLookup.buildID(of: reported),
          actual != expected
        {
          // The file on disk was replaced after it was loaded.
          stale = true
        }
      }
      let slot = ModuleSlot(
        path: module.path, resolvedPath: reported == nil ? nil : file, bias: module.bias,
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
    // The file read for each path found, reported to libdwfl once: a
    // trace that maps one file at many places (a library loaded in
    // several namespaces, or a made-up trace) indexes its DWARF once, not
    // once a mapping (500 mappings of one file took 7 GB, then crashed).
    var byFile: [String: ModuleFile] = [:]
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
      let file: ModuleFile
      if found.status == .ok, let path = found.path {
        if let known = byFile[path] {
          file = known
        } else {
          file = ModuleFile(
            module: reportELF(named: baseName(record.path), at: path, bias: bias),
            bias: bias, lanes: lanes)
          byFile[path] = file
        }
      } else {
        file = ModuleFile(module: nil, bias: bias, lanes: lanes)
      }
      let status: ModuleResolution.Status =
        found.status == .ok && file.module == nil ? .missing : found.status
      let slot = ModuleSlot(
        path: record.path, resolvedPath: file.module == nil ? nil : found.path, bias: bias,
        isStale: status == .stale, file: file)
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
    let module = reportELF(named: baseName(path), at: path, bias: 0)
    dwfl_report_end(dwfl, nil, nil)
    let slot = ModuleSlot(
      path: path, resolvedPath: module == nil ? nil : path, bias: 0, module: module,
      isStale: false, lanes: lanes)
    addSlot(slot, ranges: [0..<UInt64.max])
    return ModuleResolution(
      path: path, resolvedPath: slot.resolvedPath, status: module == nil ? .missing : .ok)
  }

  /// The first slot of each file (`ModuleSlot.file`), in slot order: what
  /// is said of a file is said once, however many places map it.
  var slotsOfDistinctFiles: [ModuleSlot] {
    var seen = Set<ObjectIdentifier>()
    return slots.filter { seen.insert(ObjectIdentifier($0.file)).inserted }
  }

  @discardableResult
  func addSlot(_ slot: ModuleSlot, ranges newRanges: [Range<UInt64>]) -> Int {
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
  func locate(path: String, buildID: [UInt8]?, preferring: [String] = []) -> (
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
    // A file's units have one key each however many places map it (its
    // first key by file), so that one lane reads each unit, and count
    // toward the bytes once.
    var firstKey: [ObjectIdentifier: Int] = [:]
    for (index, slot) in slots.enumerated() {
      if let dwarf = slot.dwarf {
        let known = firstKey[ObjectIdentifier(slot.file)]
        let base = known ?? count
        var units = 0
        for unit in dwarf.unitRanges {
          keyed.append(
            AddressRange(
              low: unit.low &+ slot.dwarfBias(dwarf), high: unit.high &+ slot.dwarfBias(dwarf),
              index: base + unit.index))
          units = max(units, unit.index + 1)
        }
        if known == nil {
          firstKey[ObjectIdentifier(slot.file)] = base
          unitBytes += dwarf.unitBytes
          count += units
        }
      } else {
        for range in ranges where range.index == index {
          keyed.append(AddressRange(low: range.low, high: range.high, index: count))
        }
        count += 1
      }
    }
    return LookupLocality(ranges: keyed, count: count, unitBytes: unitBytes)
  }

  /// `dwfl_report_elf` of the file at `path`, its module given the
  /// engine's debuginfo path for the debuglink search
  /// (`DebugInfoLookup.attach(_:to:)`).
  func reportELF(named name: String, at path: String, bias: UInt64) -> OpaquePointer? {
    let module = dwfl_report_elf(dwfl, name, path, -1, bias, false)
    if let module { DebugInfoLookup.attach(callbacks, to: module) }
    return module
  }
}
