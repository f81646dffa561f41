import Basics
import CElfutils
import Glibc

/// The libdwfl callbacks: separate debug files are found only on the local
/// disk, by build-id under each absolute entry of the debuginfo path
/// (`<root>/.build-id/xx/yyyy.debug`, libdwfl's own search), then by
/// `.gnu_debuglink` as libdwfl's standard search looks (here, so that
/// nothing is ever downloaded: the standard search ends with the
/// debuginfod client when `DEBUGINFOD_URLS` is set, as distributions set
/// it system-wide, and skipping it whole lost every debuglink file). Only
/// regular files are opened: a FIFO where a debug file is looked for would
/// block the open forever.
enum DebugInfoLookup {
  /// The debuginfo path when none is set: libdwfl's default.
  static let defaultPath = ":.debug:/usr/lib/debug"

  /// Allocates callbacks whose debuginfo path is the default followed by
  /// `debugDirectories`. The memory must outlive the `Dwfl`; `release`
  /// frees it. Each module reported with them is given the path
  /// (`attach(_:to:)`), which the debuglink search reads.
  static func makeCallbacks(debugDirectories: [String]) -> UnsafeMutablePointer<Dwfl_Callbacks> {
    let callbacks = UnsafeMutablePointer<Dwfl_Callbacks>.allocate(capacity: 1)
    let pathSlot = UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>.allocate(capacity: 1)
    // libdwfl's build-id search skips a relative entry: `--debug-dir dbg`
    // is made absolute against the working directory.
    let path = ([defaultPath] + debugDirectories.map(absolutePath)).joined(separator: ":")
    pathSlot.pointee = strdup(path)
    callbacks.initialize(
      to: Dwfl_Callbacks(
        find_elf: { _, _, _, _, _, _ in -1 },
        find_debuginfo: { module, userdata, name, base, file, debuglink, crc, out in
          guard let module else { return -1 }
          let path = userdata?.pointee.map {
            String(cString: $0.assumingMemoryBound(to: CChar.self))
          }
          return DebugInfoLookup.find(
            module, userdata: userdata, name: name, base: base, file: file, debuglink: debuglink,
            crc: crc, out: out, path: path ?? DebugInfoLookup.defaultPath)
        },
        section_address: dwfl_offline_section_address,
        debuginfo_path: pathSlot))
    return callbacks
  }

  /// Gives `module`, just reported with `callbacks`, their debuginfo path
  /// (as its libdwfl user data, which the search callback is handed).
  static func attach(_ callbacks: UnsafeMutablePointer<Dwfl_Callbacks>, to module: OpaquePointer) {
    var userdata: UnsafeMutablePointer<UnsafeMutableRawPointer?>? = nil
    _ = dwfl_module_info(module, &userdata, nil, nil, nil, nil, nil, nil)
    userdata?.pointee = callbacks.pointee.debuginfo_path?.pointee.map {
      UnsafeMutableRawPointer($0)
    }
  }

  static func release(_ callbacks: UnsafeMutablePointer<Dwfl_Callbacks>) {
    if let slot = callbacks.pointee.debuginfo_path {
      free(slot.pointee)
      slot.deallocate()
    }
    callbacks.deallocate()
  }

  /// The search: by build-id (libdwfl's, unless one of its candidates is
  /// no regular file), then by debuglink.
  static func find(
    _ module: OpaquePointer, userdata: UnsafeMutablePointer<UnsafeMutableRawPointer?>?,
    name: UnsafePointer<CChar>?, base: GElf_Addr, file: UnsafePointer<CChar>?,
    debuglink: UnsafePointer<CChar>?, crc: GElf_Word,
    out: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?, path: String
  ) -> Int32 {
    let entries = path.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
    let buildID = self.buildID(of: module)
    if let buildID, buildID.count > 1 {
      let hex = hexString(buildID)
      let candidate = ".build-id/\(hex.prefix(2))/\(hex.dropFirst(2)).debug"
      let roots = entries.map { $0.drop { $0 == "+" || $0 == "-" } }.filter { $0.hasPrefix("/") }
      if !roots.contains(where: { RegularFile.isOtherThanRegular("\($0)/\(candidate)") }) {
        let fd = dwfl_build_id_find_debuginfo(
          module, userdata, name, base, file, debuglink, crc, out)
        if fd >= 0 { return fd }
      }
    }
    // libdwfl asks again for a dwz alternate file (`.gnu_debugaltlink`:
    // its name comes as the debuglink, with CRC 0), to be checked against
    // the DWARF's alternate build-id, not the module's: that search stays
    // libdwfl's own, as before (without debuginfod).
    if debuglink != nil && crc == 0 {
      if let urls = getenv("DEBUGINFOD_URLS"), urls.pointee != 0 { return -1 }
      return dwfl_standard_find_debuginfo(
        module, userdata, name, base, file, debuglink, crc, out)
    }
    guard let file else { return -1 }
    let link = debuglink.map { String(cString: $0) }
    let given = String(cString: file)
    let fd = findByDebuglink(
      file: given, debuglink: link, crc: crc, buildID: buildID, entries: entries, out: out)
    // As libdwfl, once more from the file's real path (a module reached
    // through a symbolic link, `/lib` on a merged-`/usr` system).
    guard fd < 0, let resolved = resolvedPath(given), resolved != given else { return fd }
    return findByDebuglink(
      file: resolved, debuglink: link, crc: crc, buildID: buildID, entries: entries, out: out)
  }

  /// libdwfl's `find_debuginfo_in_path()`: the debuglink name (else the
  /// file's name with `.debug`, unchecked) in the file's directory for an
  /// empty entry, in the subdirectory a relative entry names, and under
  /// an absolute entry in the file's directory's path and each shorter
  /// tail of it; a leading `+` or `-` turns the CRC check on or off.
  /// A candidate is taken when its build-id is the module's (when the
  /// module has one), else when its CRC is the debuglink's.
  private static func findByDebuglink(
    file: String, debuglink: String?, crc: GElf_Word, buildID: [UInt8]?, entries: [String],
    out: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?
  ) -> Int32 {
    let slash = file.lastIndex(of: "/")
    let fileBase = slash.map { String(file[file.index(after: $0)...]) } ?? file
    let fileDirectory = slash.map { String(file[..<$0]) }
    let name = debuglink ?? fileBase + ".debug"
    // The file's own name too, outside its directory, only when the name
    // looked for was made up (no debuglink), as libdwfl's
    // `try_file_basename`: with a debuglink, a stripped copy of the file
    // would be taken for its debug file.
    func alsoBase(_ directory: String) -> [String] {
      debuglink == nil ? [directory + fileBase] : []
    }
    var main = stat()
    let mainKnown = stat(file, &main) == 0
    var entries = entries
    var checkByDefault = true
    if let first = entries.first, first.hasPrefix("+") || first.hasPrefix("-") {
      checkByDefault = first.hasPrefix("+")
      entries[0].removeFirst()
    }
    for var entry in entries {
      var check = checkByDefault
      if entry.hasPrefix("+") || entry.hasPrefix("-") {
        check = entry.removeFirst() == "+"
      }
      check = check && debuglink != nil
      // A file named without a directory is looked for from the working
      // directory (libdwfl joins nothing to the name then).
      let within = fileDirectory.map { $0 + "/" } ?? ""
      var candidates: [String] = []
      if entry.isEmpty {
        candidates = [within + name]
      } else if entry.hasPrefix("/") {
        guard let fileDirectory, fileDirectory.hasPrefix("/") else { continue }
        var tail = Substring(fileDirectory)
        while let next = tail.firstIndex(of: "/") {
          tail = tail[tail.index(after: next)...]
          guard !tail.isEmpty else { break }
          candidates += ["\(entry)/\(tail)/\(name)"] + alsoBase("\(entry)/\(tail)/")
        }
        candidates += ["\(entry)/\(name)"] + alsoBase("\(entry)/")
      } else {
        candidates = ["\(within)\(entry)/\(name)"] + alsoBase("\(within)\(entry)/")
      }
      for candidate in candidates {
        guard let fd = RegularFile.openForReading(candidate) else { continue }
        var info = stat()
        if mainKnown, fstat(fd, &info) == 0, info.st_dev == main.st_dev, info.st_ino == main.st_ino
        {
          close(fd)
          continue
        }
        if matches(fd, buildID: buildID, check: check, crc: crc) {
          out?.pointee = strdup(candidate)
          return fd
        }
        close(fd)
      }
    }
    return -1
  }

  /// libdwfl's `validate()`: the build-id when the module has one, else
  /// the CRC when checked.
  private static func matches(_ fd: Int32, buildID: [UInt8]?, check: Bool, crc: GElf_Word) -> Bool {
    if let buildID {
      guard let elf = elf_begin(fd, ELF_C_READ_MMAP, nil) else { return false }
      defer { elf_end(elf) }
      var bytes: UnsafeRawPointer?
      let length = dwelf_elf_gnu_build_id(elf, &bytes)
      guard length > 0, let bytes else { return false }
      return Array(UnsafeRawBufferPointer(start: bytes, count: length)) == buildID
    }
    guard check else { return true }
    var sum = crc32(0, nil, 0)
    var buffer = [UInt8](repeating: 0, count: 65536)
    var offset: off_t = 0
    while true {
      let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, offset) }
      guard n >= 0 else { return false }
      if n == 0 { break }
      sum = buffer.withUnsafeBytes {
        crc32(sum, $0.bindMemory(to: Bytef.self).baseAddress, uInt(n))
      }
      offset += off_t(n)
    }
    return GElf_Word(truncatingIfNeeded: sum) == crc
  }

  /// The module's build-id, if it has one.
  static func buildID(of module: OpaquePointer) -> [UInt8]? {
    var bits: UnsafePointer<UInt8>?
    var vaddr: GElf_Addr = 0
    let length = dwfl_module_build_id(module, &bits, &vaddr)
    guard length > 0, let bits else { return nil }
    return Array(UnsafeBufferPointer(start: bits, count: Int(length)))
  }
}
