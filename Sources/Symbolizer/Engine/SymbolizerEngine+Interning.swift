import Basics
import CElfutils
import Glibc

/// Interning: linkage names (each demangled, or built from its DIE, once),
/// file names, and what is read once per DIE (its name, an inlined call's
/// call site).
extension SymbolizerEngine {
  /// The number of the shared `SymbolName` of a C string inside the module
  /// data (DWARF string sections and symbol string tables live as long as
  /// the `Dwfl`, so the pointer identifies the text). A symbol version suffix
  /// (`name@GLIBC_2.2.5`, which libdwfl appends to `.dynsym` names) is dropped.
  func symbolName(_ text: UnsafePointer<CChar>) -> Int32 {
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
  func settleName(_ id: Int32, die: Dwarf_Die, unit: Int, dwarf: DwarfIndex) {
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
  /// `DW_AT_comp_dir`), unless libdw joined it to that directory already:
  /// DWARF 5's directory 0 is the compilation directory itself, and a file
  /// in it is not joined twice (Debian's libc: `./nptl` and
  /// `pthread_create.c` print `./nptl/pthread_create.c`, as llvm-symbolizer
  /// prints them; before 2026-12-06 `./nptl/./nptl/pthread_create.c`, as
  /// addr2line does).
  func fileID(
    _ text: UnsafePointer<CChar>, unit: Int = 0, dwarf: DwarfIndex? = nil
  ) -> Int32 {
    let key = UInt64(UInt(bitPattern: text))
    if let known = fileIDs[key] { return known }
    let id = Int32(fileTable.count)
    var path = String(cString: text)
    if text.pointee != 0x2F, let dwarf, let directory = dwarf.compilationDirectory(unit: unit),
      !Self.isJoined(
        path, to: directory, directoryIndex: dwarf.directoryIndex(ofFile: text, unit: unit),
        includes: { dwarf.relativeIncludeDirectories(unit: unit) })
    {
      path = directory + "/" + path
    }
    fileTable.append(collapsingSlashes(path))
    fileIDs.updateValue(id, forKey: key)
    return id
  }

  /// Whether libdw joined `path` to `directory` already: a file of the
  /// unit's directory 0, which is the compilation directory
  /// (`./nptl/pthread_create.c` of `./nptl`; clang's DWARF 5 `src/x.c` of
  /// `.`, built as `clang src/x.c -fdebug-prefix-map=$PWD=.`, is
  /// `./src/x.c`, as llvm-symbolizer 21 prints it; it was `././src/x.c`).
  /// A path of one of the unit's relative include directories `includes`
  /// (`./inc/helper.h` of `./inc`, `-I./inc`) is relative to the
  /// compilation directory, and joined (llvm-symbolizer's
  /// `././inc/helper.h`), also where that directory is spelled as the
  /// compilation directory (DWARF 4's `-I./sub` of `./sub`).
  ///
  /// The file's `directoryIndex` in its line program's header decides
  /// where it is known (`DwarfIndex.directoryIndex(ofFile:unit:)`): libdw
  /// joined directory 0's text to a file of it, and another directory's
  /// to a file of that one. Text alone guesses, and guessed wrong where
  /// one directory's text starts another's: Debian's libipopt, with the
  /// compilation directory `./Ipopt/src/Algorithm` and an include
  /// directory `.`, printed `./Ipopt/src/Algorithm/./Ipopt/src/Algorithm/
  /// IpAugRestoSystemSolver.cpp` (before 2026-12-07).
  static func isJoined(
    _ path: String, to directory: String, directoryIndex: Int?, includes: () -> [String]
  ) -> Bool {
    // A file of directory 0 whose path does not start with the
    // compilation directory (an empty directory 0: libdw's bare name) is
    // joined.
    if let directoryIndex, directoryIndex >= 0 {
      return directoryIndex == 0 && path.hasPrefix(directory + "/")
    }
    guard path.hasPrefix(directory + "/") else { return false }
    return !includes().contains { path.hasPrefix($0 + "/") }
  }

  /// `path` with each run of slashes as one, as llvm-symbolizer prints it:
  /// libdw joins a compilation directory `/` and a file `/<compiler-generated>`
  /// into `//<compiler-generated>`.
  func collapsingSlashes(_ path: String) -> String {
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
  func dieName(_ die: inout Dwarf_Die) -> Int32 {
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

  func setLocation(
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

  /// The call site of an inlined call DIE, read once per DIE. A value
  /// past `Int.max` (damaged debug information: an `implicit_const` read
  /// as unsigned) is no value.
  func callSite(of inlined: inout Dwarf_Die, unit: Int, dwarf: DwarfIndex) -> CallSite {
    let key = UInt64(UInt(bitPattern: inlined.addr))
    if let known = callSites[key] { return known }
    func value(_ name: Int) -> Int? {
      var attribute = Dwarf_Attribute()
      var result: Dwarf_Word = 0
      guard dwarf_attr(&inlined, UInt32(name), &attribute) != nil,
        dwarf_formudata(&attribute, &result) == 0
      else { return nil }
      return Int(exactly: result)
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
}
