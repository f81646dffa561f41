import CElfutils

/// The directory index of each file of a line program's header, read from
/// `.debug_line` itself: libdw's file table holds each file's joined path
/// (its directory's text, `/`, its name) but not which directory that was,
/// and a relative path of directory 0, which is the compilation directory,
/// must not be joined to it again, while one of another relative directory
/// must (`SymbolizerEngine.fileID`). Text alone cannot tell them apart
/// when one directory's text starts another's (`.` and `./Ipopt/src`).
///
/// Invariant: every read is bounded by the header's end; a header this
/// does not understand (a form it cannot skip, a length past the section)
/// gives nil, never a guess.
enum LineProgramDirectories {
  /// The files' directory indices in libdw's numbering of the program at
  /// `offset` of `section` (`DW_AT_stmt_list`): DWARF 5 numbers files from
  /// 0, as libdw does; DWARF 2 to 4 from 1, libdw's entry 0 being a
  /// placeholder (given directory -1 here).
  static func of(section: UnsafeRawBufferPointer, offset: Int) -> (
    version: Int, directories: [Int]
  )? {
    guard let base = section.baseAddress, offset >= 0, offset + 4 <= section.count else {
      return nil
    }
    let start = base.assumingMemoryBound(to: UInt8.self)
    let sectionEnd = start + section.count
    var p = start + offset
    var offsetSize = 4
    var length = UInt64(UnsafeRawPointer(p).loadUnaligned(as: UInt32.self))
    p += 4
    if length == 0xffff_ffff {
      guard sectionEnd - p >= 8 else { return nil }
      length = UnsafeRawPointer(p).loadUnaligned(as: UInt64.self)
      p += 8
      offsetSize = 8
    }
    guard length <= UInt64(sectionEnd - p), sectionEnd - p >= 2 else { return nil }
    let unitEnd = p + Int(length)
    let version = Int(UnsafeRawPointer(p).loadUnaligned(as: UInt16.self))
    p += 2
    guard (2...5).contains(version) else { return nil }
    var addressSize = 8
    if version >= 5 {
      guard unitEnd - p >= 2 else { return nil }
      addressSize = Int(p.pointee)
      p += 2
    }
    guard unitEnd - p >= offsetSize else { return nil }
    let headerLength =
      offsetSize == 8
      ? UnsafeRawPointer(p).loadUnaligned(as: UInt64.self)
      : UInt64(UnsafeRawPointer(p).loadUnaligned(as: UInt32.self))
    p += offsetSize
    guard headerLength <= UInt64(unitEnd - p) else { return nil }
    let end = p + Int(headerLength)
    // minimum_instruction_length, [maximum_operations_per_instruction],
    // default_is_stmt, line_base, line_range, opcode_base.
    let fixed = version >= 4 ? 6 : 5
    guard end - p >= fixed else { return nil }
    let opcodeBase = Int(p[fixed - 1])
    p += fixed + max(opcodeBase - 1, 0)
    guard p <= end else { return nil }
    if version < 5 {
      return fromVersion4(p, end: end).map { (version, $0) }
    }
    let shape = DwarfForms.UnitShape(
      version: version, addressSize: addressSize, offsetSize: offsetSize)
    return fromVersion5(p, end: end, shape: shape).map { (version, $0) }
  }

  /// DWARF 2 to 4: include directories (strings to an empty one), then
  /// files (name, directory, time, length) to an empty name.
  private static func fromVersion4(_ start: UnsafePointer<UInt8>, end: UnsafePointer<UInt8>)
    -> [Int]?
  {
    var p = start
    while true {
      guard p < end else { return nil }
      if p.pointee == 0 { break }
      guard let next = skipString(p, end: end) else { return nil }
      p = next
    }
    p += 1
    var directories = [-1]
    while true {
      guard p < end else { return nil }
      if p.pointee == 0 { return directories }
      guard let afterName = skipString(p, end: end),
        let (directory, afterDirectory) = DwarfForms.readULEB(afterName, end: end),
        let afterTime = DwarfForms.skipLEB(afterDirectory, end: end),
        let afterLength = DwarfForms.skipLEB(afterTime, end: end)
      else { return nil }
      directories.append(Int(truncatingIfNeeded: directory))
      p = afterLength
    }
  }

  /// DWARF 5: the directory table, then the file table, each a list of
  /// entry formats (content type, form) and the entries.
  private static func fromVersion5(
    _ start: UnsafePointer<UInt8>, end: UnsafePointer<UInt8>, shape: DwarfForms.UnitShape
  ) -> [Int]? {
    var p = start
    guard let (_, afterDirectories) = entries(at: p, end: end, shape: shape) else { return nil }
    p = afterDirectories
    guard let (files, _) = entries(at: p, end: end, shape: shape) else { return nil }
    return files
  }

  /// One table of a DWARF 5 header at `start`: each entry's
  /// `DW_LNCT_directory_index` (0 when it has none), and the address after
  /// the table.
  private static func entries(
    at start: UnsafePointer<UInt8>, end: UnsafePointer<UInt8>, shape: DwarfForms.UnitShape
  ) -> ([Int], UnsafePointer<UInt8>)? {
    var p = start
    guard p < end else { return nil }
    let formatCount = Int(p.pointee)
    p += 1
    var formats: [(content: UInt64, form: UInt32)] = []
    for _ in 0..<formatCount {
      guard let (content, q) = DwarfForms.readULEB(p, end: end),
        let (form, r) = DwarfForms.readULEB(q, end: end)
      else { return nil }
      formats.append((content, UInt32(truncatingIfNeeded: form)))
      p = r
    }
    guard let (count, q) = DwarfForms.readULEB(p, end: end), count <= UInt64(end - q) + 1 else {
      return nil
    }
    p = q
    var directories: [Int] = []
    directories.reserveCapacity(Int(count))
    for _ in 0..<count {
      var directory = 0
      for format in formats {
        if format.content == UInt64(DW_LNCT_directory_index) {
          guard let (value, _) = readUnsigned(form: format.form, at: p, end: end) else {
            return nil
          }
          directory = Int(truncatingIfNeeded: value)
        }
        guard let next = DwarfForms.skip(form: format.form, at: p, end: end, shape: shape) else {
          return nil
        }
        p = next
      }
      directories.append(directory)
    }
    return (directories, p)
  }

  /// An unsigned constant of `form` (`data1`, `data2`, `data4`, `data8`,
  /// `udata`), or nil for another form.
  private static func readUnsigned(
    form: UInt32, at p: UnsafePointer<UInt8>, end: UnsafePointer<UInt8>
  ) -> (UInt64, UnsafePointer<UInt8>)? {
    let raw = UnsafeRawPointer(p)
    switch Int(form) {
    case DW_FORM_data1 where end - p >= 1: return (UInt64(p.pointee), p + 1)
    case DW_FORM_data2 where end - p >= 2:
      return (UInt64(raw.loadUnaligned(as: UInt16.self)), p + 2)
    case DW_FORM_data4 where end - p >= 4:
      return (UInt64(raw.loadUnaligned(as: UInt32.self)), p + 4)
    case DW_FORM_data8 where end - p >= 8: return (raw.loadUnaligned(as: UInt64.self), p + 8)
    case DW_FORM_udata: return DwarfForms.readULEB(p, end: end)
    default: return nil
    }
  }

  /// The address past the NUL-terminated string at `p`, or nil when it
  /// runs to `end`.
  private static func skipString(_ p: UnsafePointer<UInt8>, end: UnsafePointer<UInt8>)
    -> UnsafePointer<UInt8>?
  {
    var q = p
    while q < end, q.pointee != 0 { q += 1 }
    return q < end ? q + 1 : nil
  }
}
