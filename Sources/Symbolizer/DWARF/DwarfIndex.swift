import Basics
import CElfutils

/// One module's DWARF, indexed for address lookups without `.debug_aranges`.
///
/// elfutils 0.188 finds the compilation unit and function of an address
/// through `.debug_aranges` (`dwfl_module_addrdie`, `dwarf_addrdie`,
/// `dwfl_module_getsrc`), which swiftc and clang do not emit, and its scope
/// walk (`dwarf_getscopes`) does not enter `DW_TAG_module`, where swiftc puts
/// every function. This index uses only the CU DIEs' own ranges and the DIE
/// tree:
///
/// - built eagerly: a sorted array of every CU's address ranges (`cuRanges`);
/// - built lazily per CU: its functions and inlined calls, read in one pass
///   over its DIEs (`UnitScopes`); when a unit cannot be read that way,
///   libdw's walk instead: subprogram ranges found by descending into
///   modules, namespaces, lexical blocks and subprograms, and per lookup the
///   `DW_TAG_inlined_subroutine` children that contain the address.
///
/// All addresses here are DWARF (link-time) addresses: runtime - `bias`.
/// `Dwarf_Die` values point into the `Dwarf` handle of `source`: owned by the
/// `Dwfl`, which outlives this index, or by the index's own `DwarfImage`.
final class DwarfIndex {

  /// One compilation unit: its DIE and, once needed, its functions.
  struct Unit {
    /// The unit's DIE in this file: its address ranges, line program and
    /// compilation directory.
    var die: Dwarf_Die
    /// A skeleton unit's split unit (`-gsplit-dwarf`: its functions and
    /// inlined calls are in the `.dwo` file), when libdw found it.
    var split: Dwarf_Die?
    /// The DIE whose tree holds the unit's functions: the split unit's, or
    /// `die`.
    var scopeRoot: Dwarf_Die { split ?? die }
    /// Where the unit's data (header included) starts and ends in
    /// `.debug_info` (nil if unknown).
    var bounds: (start: UnsafePointer<UInt8>, end: UnsafePointer<UInt8>)?
    /// The one-pass index of functions and inlined calls, once built; nil
    /// inside when the unit could not be read that way.
    var scopes: UnitScopes??
    /// The libdw-walk fallback: subprogram ranges and their DIEs.
    var subprograms: [AddressRange]?
    var dies: [Dwarf_Die] = []
    var files: OpaquePointer?
    var fileCount = 0
    var filesLoaded = false
    /// `relativeIncludeDirectories(unit:)`, once needed.
    var includeDirectories: [String]?
    /// `directoryIndex(ofFile:unit:)`'s table, once needed (nil inside:
    /// the header could not be read, or does not number libdw's files).
    var fileDirectories: [UInt: Int]??
    /// The unit's line program from `lineTables`, once looked up (nil
    /// inside when it is not there).
    var lineTable: LineTables.Table??
    /// The unit's line rows, once needed (nil inside: no line program).
    var rows: LineRows??
    /// The parents of its DIEs, for names built from DWARF; once needed.
    var names: CxxNames?
  }

  let bias: UInt64
  /// The `.dwo` files (`dwoFile(unit:)`) of the skeleton units with code
  /// whose split unit libdw did not find: their functions are named from
  /// the symbol table, without inlined frames.
  private(set) var missingSplitUnits: [String] = []
  @exclusivity(unchecked) private(set) var units: [Unit] = []
  @exclusivity(unchecked) private var cuRanges: [AddressRange] = []
  /// The directory over `cuRanges`' starts.
  private var cuDirectory = StartDirectory()
  /// Keeps the inflated sections alive when the DWARF was opened that way.
  private let source: ModuleDwarf
  /// The parsed `.debug_abbrev` tables the one-pass unit reads use (nil
  /// when the section cannot be found: libdw's walk is used instead).
  let abbreviations: AbbreviationTables?
  /// Line programs decoded ahead of need, when the DWARF was inflated by us.
  private let lineTables: LineTables?

  /// Indexes the CUs of `module`'s DWARF, or returns nil when it has none.
  /// With `lanes`, an image another lane inflated is reused.
  convenience init?(module: OpaquePointer, lanes: LaneShare? = nil) {
    guard let source = ModuleDwarf.open(module, lanes: lanes) else { return nil }
    self.init(source: source)
  }

  /// Indexes the CUs of `source`, or returns nil when it has none.
  init?(source: ModuleDwarf) {
    self.source = source
    bias = source.bias
    let dwarf = source.dwarf
    abbreviations = AbbreviationTables(dwarf: dwarf)
    lineTables = source.image?.lineTables
    let unitEnds = Self.unitEnds(of: dwarf)
    // Absolute and without symbolic links, as libdw's (the descriptor's
    // `/proc/self/fd` link: an executable reached through a link, a debug
    // file through a `.build-id` one, has its directory where it lies).
    let directory = source.path.map { resolvedPath($0) ?? absolutePath($0) }.flatMap { path in
      path.lastIndex(of: "/").map { String(path[..<$0]) }
    }
    var cu: OpaquePointer? = nil
    while true {
      var next: OpaquePointer? = nil
      var version: Dwarf_Half = 0
      var unitType: UInt8 = 0
      var die = Dwarf_Die()
      // No split unit asked for here: libdw would look for every
      // skeleton's, and swiftc writes one for each Clang module a Swift
      // unit imported, whose `.pcm` file libdw then opened and read (158
      // of them, 10 ms, for a small Swift binary's first address).
      guard dwarf_get_units(dwarf, cu, &next, &version, &unitType, &die, nil) == 0,
        let next
      else { break }
      cu = next
      // Type units hold no code; a cleared DIE is a unit libdw cannot read.
      guard unitType != UInt8(DW_UT_type), unitType != UInt8(DW_UT_split_type), die.addr != nil
      else { continue }
      let unitIndex = units.count
      var bounds: (start: UnsafePointer<UInt8>, end: UnsafePointer<UInt8>)?
      let offset = dwarf_dieoffset(&die)
      // A skeleton's functions are in its split unit, in another file with
      // its own abbreviations: libdw's walk reads them (no bounds here).
      // Only one with code: swiftc's skeletons of the Clang modules it
      // imported (`.pcm` files) hold types alone, and are read as before.
      let hasCode =
        dwarf_hasattr(&die, UInt32(DW_AT_low_pc)) != 0
        || dwarf_hasattr(&die, UInt32(DW_AT_ranges)) != 0
      var subdie = Dwarf_Die()
      var blocking: String? = nil
      if unitType == UInt8(DW_UT_skeleton) && hasCode {
        blocking = Self.splitFileBlocking(skeleton: &die, directory: directory)
        if blocking == nil { _ = dwarf_cu_info(next, nil, nil, nil, &subdie, nil, nil, nil) }
      }
      let split: Dwarf_Die? =
        unitType == UInt8(DW_UT_skeleton) && subdie.addr != nil && hasCode ? subdie : nil
      if split == nil, let address = die.addr, let unit = unitEnds.index(containing: offset) {
        let section = UnsafePointer(address.assumingMemoryBound(to: UInt8.self)) - Int(offset)
        bounds = (section + Int(unitEnds[unit].low), section + Int(unitEnds[unit].high))
      }
      units.append(Unit(die: die, split: split, bounds: bounds, subprograms: nil))
      if unitType == UInt8(DW_UT_skeleton) && subdie.addr == nil && hasCode {
        missingSplitUnits.append(blocking ?? dwoFile(unit: unitIndex) ?? "?")
      }
      forEachRange(of: &die) { low, high in
        cuRanges.append(AddressRange(low: low, high: high, index: unitIndex))
      }
    }
    guard !units.isEmpty else { return nil }
    // Among ranges that start together, the unit first in `.debug_info`
    // is placed last, where the lookup (which scans back from the last
    // start at or below an address) meets it first. Two units claim the
    // same code when the linker kept one copy of a COMDAT function and
    // pointed the discarded copy's DWARF at it (same size): the first unit
    // is the one whose copy was kept, as llvm-symbolizer takes it, and
    // the other may name other inlined template instances (GCC merges
    // identical bodies differently in each unit).
    cuRanges.sort { ($0.low, $1.index) < ($1.low, $0.index) }
    cuDirectory = StartDirectory(count: cuRanges.count) { [cuRanges] in cuRanges[$0].low }
  }

  /// Skeleton unit `unitIndex`'s `.dwo` file (DWARF 5's `DW_AT_dwo_name`,
  /// or the GNU extension's of DWARF 4), under its compilation directory
  /// when relative, where the compiler wrote it (relative still when that
  /// directory is: `ModuleSlot` puts it under the DWARF file's, where libdw
  /// looked).
  private func dwoFile(unit unitIndex: Int) -> String? {
    var die = units[unitIndex].die
    guard let name = Self.dwoName(of: &die) else { return nil }
    return joinedPath(compilationDirectory(unit: unitIndex) ?? "", name)
  }

  /// A skeleton unit's `DW_AT_dwo_name` (or the GNU extension's).
  private static func dwoName(of die: inout Dwarf_Die) -> String? {
    var attribute = Dwarf_Attribute()
    for name in [DW_AT_dwo_name, DW_AT_GNU_dwo_name] {
      guard dwarf_attr(&die, UInt32(name), &attribute) != nil,
        let text = dwarf_formstring(&attribute)
      else { continue }
      return String(cString: text)
    }
    return nil
  }

  /// The first place libdw opens when it looks for `skeleton`'s `.dwo`
  /// file that holds something other than a regular file (a FIFO, a
  /// device), whose open would block forever, if any: the name in the
  /// DWARF file's `directory`, then under the unit's compilation directory
  /// (as libdw 0.188's `__libdw_find_split_unit` tries them). The unit is
  /// then taken as one whose split file is that place, not readable.
  static func splitFileBlocking(skeleton: inout Dwarf_Die, directory: String?) -> String? {
    guard let name = dwoName(of: &skeleton) else { return nil }
    var candidates: [String] = []
    if name.hasPrefix("/") {
      candidates = [name]
    } else {
      let compilationDirectory = Self.compilationDirectory(of: &skeleton)
      for base in [
        directory, compilationDirectory,
        directory.flatMap { d in compilationDirectory.map { d + "/" + $0 } },
      ] {
        if let base { candidates.append(base + "/" + name) }
      }
    }
    return candidates.first(where: RegularFile.isOtherThanRegular)
  }

  /// Forgets the unit ranges that do not start in code (`isCode` is asked
  /// with a DWARF address): what a linker left of discarded functions
  /// (ld.bfd resolves their addresses to 0, so they cover the ELF header).
  /// Only the unit search is narrowed; a unit keeps its DIEs.
  func keepUnitRanges(startingIn isCode: (UInt64) -> Bool) {
    let kept = cuRanges.filter { isCode($0.low) }
    guard kept.count != cuRanges.count else { return }
    cuRanges = kept
    cuDirectory = StartDirectory(count: kept.count) { kept[$0].low }
  }

  /// `[header offset, next unit offset)` of every unit in `.debug_info`.
  /// A unit's end is its header's length, which libdw does not hold to
  /// the section: a damaged length (`0x80000113`) put the end 2 GB past
  /// `.debug_info`, and the scope walk, whose every read is checked
  /// against that end, read unmapped memory. Ends are cut at the
  /// section's size, and a unit that would end before it starts ends the
  /// list.
  private static func unitEnds(of dwarf: OpaquePointer) -> [AddressRange] {
    var ends: [AddressRange] = []
    // libdw has the section decompressed by now (`dwarf_begin_elf`),
    // also an old GNU-compressed `.zdebug_info`, which keeps its name.
    // Not found: the ends as the headers give them, as before.
    let size =
      dwarf_getelf(dwarf).flatMap {
        ElfSections.data(".debug_info", in: $0) ?? ElfSections.data(".zdebug_info", in: $0)
      }.map { Dwarf_Off($0.count) } ?? Dwarf_Off.max
    var offset: Dwarf_Off = 0
    var next: Dwarf_Off = 0
    var headerSize = 0
    while offset < size,
      dwarf_next_unit(dwarf, offset, &next, &headerSize, nil, nil, nil, nil, nil, nil) == 0
    {
      let high = min(next, size)
      guard high > offset else { break }
      ends.append(AddressRange(low: offset, high: high, index: ends.count))
      offset = high
    }
    return ends
  }

  /// The scopes containing `pc` in unit `unitIndex`: its subprogram, then
  /// each inlined call nested in the previous one; nil when no function of
  /// the unit contains `pc`.
  func scopeChain(containing pc: UInt64, unit unitIndex: Int) -> [Dwarf_Die]? {
    var chain: [Dwarf_Die] = []
    return scopeChain(containing: pc, unit: unitIndex, into: &chain) ? chain : nil
  }

  /// Replaces `chain` with the scopes containing `pc` in unit `unitIndex`
  /// (as `scopeChain(containing:unit:)` returns them), reusing its storage;
  /// false when no function of the unit contains `pc`.
  func scopeChain(containing pc: UInt64, unit unitIndex: Int, into chain: inout [Dwarf_Die])
    -> Bool
  {
    if units[unitIndex].scopes == nil {
      units[unitIndex].scopes = .some(
        units[unitIndex].bounds.flatMap { bounds in
          abbreviations.flatMap {
            UnitScopes(
              unitDie: units[unitIndex].die, start: bounds.start, end: bounds.end,
              abbreviations: $0)
          }
        })
    }
    if case .some(.some) = units[unitIndex].scopes {
      return units[unitIndex].scopes!!.scopeChain(containing: pc, into: &chain)
    }
    chain.removeAll(keepingCapacity: true)
    guard let subprogram = subprogram(containing: pc, unit: unitIndex) else { return false }
    chain.append(contentsOf: Self.inlineChain(of: subprogram, pc: pc))
    return true
  }

  /// Every CU's address ranges, sorted by `low`; `index` is the unit.
  var unitRanges: [AddressRange] { cuRanges }

  /// The bytes of `.debug_info` the indexed units span (headers included):
  /// what reading their DIEs costs grows with it.
  var unitBytes: Int {
    units.reduce(0) { total, unit in total + (unit.bounds.map { $0.end - $0.start } ?? 0) }
  }

  /// The CU whose ranges contain `pc`.
  func unit(containing pc: UInt64) -> Int? {
    cuRanges.index(containing: pc, in: cuDirectory)
  }

  /// The concrete `DW_TAG_subprogram` of unit `unitIndex` containing `pc`.
  func subprogram(containing pc: UInt64, unit unitIndex: Int) -> Dwarf_Die? {
    if units[unitIndex].subprograms == nil { indexSubprograms(unit: unitIndex) }
    guard let found = units[unitIndex].subprograms!.index(containing: pc) else { return nil }
    return units[unitIndex].dies[found]
  }

  /// The line table row for `pc` in unit `unitIndex` (a `Dwarf_Line`),
  /// chosen as `dwarf_getsrc_die` chooses it, from the unit's `LineRows`.
  func line(at pc: UInt64, unit unitIndex: Int) -> OpaquePointer? {
    if units[unitIndex].rows == nil { units[unitIndex].rows = .some(lineRows(unit: unitIndex)) }
    guard case .some(.some(let rows)) = units[unitIndex].rows else { return nil }
    return rows.row(containing: pc)
  }

  /// The rows of unit `unitIndex`'s line program: decoded ahead
  /// (`lineTables`) when it is there, else by `dwarf_getsrclines`.
  private func lineRows(unit unitIndex: Int) -> LineRows? {
    if let table = lineTable(unit: unitIndex) {
      return LineRows(lines: table.lines, count: table.count)
    }
    var lines: OpaquePointer?
    var count = 0
    guard dwarf_getsrclines(&units[unitIndex].die, &lines, &count) == 0, let lines else {
      return nil
    }
    return LineRows(lines: lines, count: count)
  }

  /// What builds readable C++ names from the DIEs of unit `unitIndex`
  /// (its DIEs' parents are found on first use).
  func cxxNames(unit unitIndex: Int) -> CxxNames {
    if let known = units[unitIndex].names { return known }
    let names = CxxNames(unit: units[unitIndex].scopeRoot)
    units[unitIndex].names = names
    return names
  }

  /// A function DIE of unit `unitIndex` whose linkage name (through its
  /// abstract origin or specification) is `linkage`: the function a
  /// compiler-outlined part (clang's `….cold.2`, whose DIE is named by its
  /// symbol) was split from. A linear search, for names no demangler reads.
  func function(named linkage: String, unit unitIndex: Int) -> Dwarf_Die? {
    guard case .some(.some(let scopes)) = units[unitIndex].scopes else { return nil }
    for entry in scopes.entries where entry.parent < 0 {
      var die = entry.die
      var attribute = Dwarf_Attribute()
      if dwarf_attr_integrate(&die, UInt32(DW_AT_linkage_name), &attribute) != nil,
        let text = dwarf_formstring(&attribute), String(cString: text) == linkage
      {
        return die
      }
    }
    return nil
  }

  /// Unit `unitIndex`'s compilation directory (`DW_AT_comp_dir`), when it
  /// has one (not empty): a file table entry whose directory is relative
  /// (swiftc writes `Sources/RCU` beside `/work/main/Sources/RCU`) is
  /// relative to it, and libdw leaves it relative. It may be relative
  /// itself (`-fdebug-prefix-map=$PWD=./sub`, Debian's libc: `./stdlib`),
  /// and is joined all the same, as llvm-symbolizer and addr2line join it.
  func compilationDirectory(unit unitIndex: Int) -> String? {
    var die = units[unitIndex].die
    return Self.compilationDirectory(of: &die)
  }

  /// A unit DIE's `DW_AT_comp_dir`, when it has a non-empty one.
  private static func compilationDirectory(of die: inout Dwarf_Die) -> String? {
    var attribute = Dwarf_Attribute()
    guard dwarf_attr(&die, UInt32(DW_AT_comp_dir), &attribute) != nil,
      let text = dwarf_formstring(&attribute), text.pointee != 0
    else { return nil }
    return String(cString: text)
  }

  /// The file table entry `index` of unit `unitIndex` (for `DW_AT_call_file`).
  func fileName(_ index: Int, unit unitIndex: Int) -> UnsafePointer<CChar>? {
    guard let (files, count) = fileTable(unit: unitIndex), index >= 0, index < count else {
      return nil
    }
    return dwarf_filesrc(files, index, nil, nil)
  }

  /// Unit `unitIndex`'s file table and its size.
  private func fileTable(unit unitIndex: Int) -> (OpaquePointer, Int)? {
    // A split unit's `DW_AT_call_file` numbers the files of its skeleton's
    // table, as does llvm-symbolizer: a split unit has no `DW_AT_stmt_list`
    // of its own and takes its skeleton's (DWARF 5, 3.1.3). Its
    // `.debug_line.dwo`, which libdw reads for its DIE when there is one,
    // is for type units (clang's `-fdebug-types-section`: other files,
    // other numbers; gcc writes the skeleton's files there again). It was
    // read before 2026-12-06.
    if let table = lineTable(unit: unitIndex) {
      return (table.files, table.fileCount)
    }
    if !units[unitIndex].filesLoaded {
      units[unitIndex].filesLoaded = true
      var files: OpaquePointer?
      var count = 0
      var root = units[unitIndex].die
      if dwarf_getsrcfiles(&root, &files, &count) == 0 {
        units[unitIndex].files = files
        units[unitIndex].fileCount = count
      }
    }
    return units[unitIndex].files.map { ($0, units[unitIndex].fileCount) }
  }

  /// The directory index, in the line program's header, of the file of
  /// unit `unitIndex` whose libdw path is `text` (a pointer into its file
  /// table, as `dwarf_linesrc` and `dwarf_filesrc` give it); nil when the
  /// header cannot tell (`LineProgramDirectories`).
  func directoryIndex(ofFile text: UnsafePointer<CChar>, unit unitIndex: Int) -> Int? {
    if units[unitIndex].fileDirectories == nil {
      units[unitIndex].fileDirectories = .some(fileDirectories(unit: unitIndex))
    }
    guard case .some(.some(let table)) = units[unitIndex].fileDirectories else { return nil }
    return table[UInt(bitPattern: text)]
  }

  /// Each file of unit `unitIndex`'s libdw file table (by its path's
  /// address) with its directory index, read from `.debug_line`; nil when
  /// the header's files are not libdw's one for one (a DWARF 4 program's
  /// `DW_LNE_define_file` adds files the header does not list).
  private func fileDirectories(unit unitIndex: Int) -> [UInt: Int]? {
    var die = units[unitIndex].die
    var attribute = Dwarf_Attribute()
    var offset: Dwarf_Word = 0
    guard dwarf_attr(&die, UInt32(DW_AT_stmt_list), &attribute) != nil,
      dwarf_formudata(&attribute, &offset) == 0, let elf = dwarf_getelf(source.dwarf),
      let section = ElfSections.data(".debug_line", in: elf)
        ?? ElfSections.data(".zdebug_line", in: elf),
      offset < UInt64(section.count),
      let header = LineProgramDirectories.of(section: section, offset: Int(offset)),
      let (files, count) = fileTable(unit: unitIndex)
    else { return nil }
    var directories = header.directories
    // DWARF 5 numbers files from 0, and libdw too; it may still put its
    // placeholder first (DWARF 4's is in `directories` already).
    if header.version >= 5 && directories.count + 1 == count { directories.insert(-1, at: 0) }
    guard directories.count == count else { return nil }
    var table: [UInt: Int] = [:]
    for i in 0..<count {
      if let text = dwarf_filesrc(files, i, nil, nil) {
        table[UInt(bitPattern: text)] = directories[i]
      }
    }
    return table
  }

  /// The relative include directories of unit `unitIndex`'s file table
  /// (past its directory 0, the compilation directory), each once needed
  /// per unit: a path libdw joined to one of them is relative to the
  /// compilation directory; one of directory 0 is not
  /// (`SymbolizerEngine.isJoined`).
  func relativeIncludeDirectories(unit unitIndex: Int) -> [String] {
    if let known = units[unitIndex].includeDirectories { return known }
    var found: [String] = []
    var directories: UnsafePointer<UnsafePointer<CChar>?>?
    var count = 0
    if let (files, _) = fileTable(unit: unitIndex),
      dwarf_getsrcdirs(files, &directories, &count) == 0, let directories
    {
      for i in 1..<max(count, 1) {
        if let text = directories[i], text.pointee != 0x2F { found.append(String(cString: text)) }
      }
    }
    units[unitIndex].includeDirectories = found
    return found
  }

  /// The decoded-ahead program of unit `unitIndex` (its `DW_AT_stmt_list`).
  private func lineTable(unit unitIndex: Int) -> LineTables.Table? {
    guard let lineTables else { return nil }
    if let known = units[unitIndex].lineTable { return known }
    var die = units[unitIndex].die
    var attribute = Dwarf_Attribute()
    var offset: Dwarf_Word = 0
    var table: LineTables.Table?
    if dwarf_attr(&die, UInt32(DW_AT_stmt_list), &attribute) != nil,
      dwarf_formudata(&attribute, &offset) == 0
    {
      table = lineTables.table(at: offset)
    }
    units[unitIndex].lineTable = .some(table)
    return table
  }

  private func indexSubprograms(unit unitIndex: Int) {
    var ranges: [AddressRange] = []
    var dies: [Dwarf_Die] = []
    var cuDie = units[unitIndex].scopeRoot
    collectSubprograms(under: &cuDie, ranges: &ranges, dies: &dies)
    ranges.sort { $0.low < $1.low }
    units[unitIndex].subprograms = ranges
    units[unitIndex].dies = dies
  }

  /// Adds the subprograms with addresses under `parent`; `inFunction`:
  /// `parent` is inside a function, where a local class holds the concrete
  /// DIEs of its member functions when gcc wrote them.
  private func collectSubprograms(
    under parent: inout Dwarf_Die, ranges: inout [AddressRange], dies: inout [Dwarf_Die],
    inFunction: Bool = false
  ) {
    var child = Dwarf_Die()
    guard dwarf_child(&parent, &child) == 0 else { return }
    while true {
      switch Int(dwarf_tag(&child)) {
      case DW_TAG_subprogram:
        let index = dies.count
        var added = false
        forEachRange(of: &child) { low, high in
          ranges.append(AddressRange(low: low, high: high, index: index))
          added = true
        }
        if added { dies.append(child) }
        // swiftc nests a closure's subprogram inside its parent function's.
        if dwarf_haschildren(&child) != 0 {
          collectSubprograms(under: &child, ranges: &ranges, dies: &dies, inFunction: true)
        }
      case DW_TAG_module, DW_TAG_namespace, DW_TAG_lexical_block:
        if dwarf_haschildren(&child) != 0 {
          collectSubprograms(under: &child, ranges: &ranges, dies: &dies, inFunction: inFunction)
        }
      case DW_TAG_structure_type, DW_TAG_class_type,
        DW_TAG_union_type where inFunction:
        if dwarf_haschildren(&child) != 0 {
          collectSubprograms(under: &child, ranges: &ranges, dies: &dies, inFunction: true)
        }
      default:
        break
      }
      var next = Dwarf_Die()
      guard dwarf_siblingof(&child, &next) == 0 else { return }
      child = next
    }
  }

  /// The chain of scopes that contain `pc`, outermost (the subprogram) first,
  /// then each `DW_TAG_inlined_subroutine` nested in the previous one.
  static func inlineChain(of subprogram: Dwarf_Die, pc: UInt64) -> [Dwarf_Die] {
    var chain = [subprogram]
    var scope = subprogram
    while let inlined = innermostInlined(in: &scope, pc: pc) {
      chain.append(inlined)
      scope = inlined
    }
    return chain
  }

  /// The first inlined call directly inside `scope` (looking through lexical
  /// blocks) whose ranges contain `pc`.
  private static func innermostInlined(in scope: inout Dwarf_Die, pc: UInt64) -> Dwarf_Die? {
    var child = Dwarf_Die()
    guard dwarf_child(&scope, &child) == 0 else { return nil }
    while true {
      let tag = dwarf_tag(&child)
      if tag == Int32(DW_TAG_inlined_subroutine) {
        if dwarf_haspc(&child, pc) == 1 { return child }
      } else if tag == Int32(DW_TAG_lexical_block)
        || tag == Int32(DW_TAG_try_block) || tag == Int32(DW_TAG_catch_block)
      {
        // A block without address attributes can still hold inlined calls.
        let hasAddresses =
          dwarf_hasattr(&child, UInt32(DW_AT_low_pc)) != 0
          || dwarf_hasattr(&child, UInt32(DW_AT_ranges)) != 0
        if !hasAddresses || dwarf_haspc(&child, pc) == 1 {
          if let found = innermostInlined(in: &child, pc: pc) { return found }
        }
      }
      var next = Dwarf_Die()
      guard dwarf_siblingof(&child, &next) == 0 else { return nil }
      child = next
    }
  }
}

/// Calls `body` with each `[low, high)` address range of `die` (from
/// `DW_AT_low_pc`/`DW_AT_high_pc` or `DW_AT_ranges`); empty ranges are skipped.
func forEachRange(of die: inout Dwarf_Die, _ body: (UInt64, UInt64) -> Void) {
  var base: Dwarf_Addr = 0
  var start: Dwarf_Addr = 0
  var end: Dwarf_Addr = 0
  var offset = dwarf_ranges(&die, 0, &base, &start, &end)
  while offset > 0 {
    if end > start { body(start, end) }
    offset = dwarf_ranges(&die, offset, &base, &start, &end)
  }
}
