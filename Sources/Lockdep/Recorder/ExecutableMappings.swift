import Basics
import Symbolizer

#if canImport(Glibc)
  import Glibc
#endif

/// The executable mappings of `/proc/self/maps`.
enum ExecutableMappings {
  struct Mapping {
    var start: UInt64
    var end: UInt64
    var offset: UInt64
    var path: String
  }

  /// The mappings as `module` lines, each with the GNU build-id from the
  /// dynamic linker's list: of the object whose executable segment lies
  /// in the mapping (matched by address, not path: the linker names a
  /// library by the path it opened, `/lib/...` on a merged-`/usr` system,
  /// where the maps name the file, `/usr/lib/...`).
  static func records() -> [ModuleRecord] {
    records(of: read())
  }

  /// `records()` of mappings read before: those of files.
  static func records(of mappings: [Mapping]) -> [ModuleRecord] {
    let loaded = ProcessModules.current()
    return mappings.filter { $0.path.hasPrefix("/") }.map { mapping in
      let range = mapping.start..<mapping.end
      let buildID = loaded.first { $0.executableRanges.contains { $0.overlaps(range) } }?
        .buildIDHex
      return ModuleRecord(
        start: mapping.start, end: mapping.end, fileOffset: mapping.offset, path: mapping.path,
        buildID: buildID)
    }
  }

  /// Every executable mapping, in address order: of a file (its path), the
  /// kernel's (`[vdso]`), or anonymous (JIT code: no path).
  static func read() -> [Mapping] {
    guard let f = fopen("/proc/self/maps", "r") else { return [] }
    defer { fclose(f) }
    var result: [Mapping] = []
    var line = [CChar](repeating: 0, count: 4096)
    while fgets(&line, Int32(line.count), f) != nil {
      let text = String(
        decoding: line.prefix { $0 != 0 && $0 != 10 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
      let fields = text.split(separator: " ", omittingEmptySubsequences: true)
      guard fields.count >= 5, fields[1].contains("x") else { continue }
      let range = fields[0].split(separator: "-")
      guard range.count == 2, let start = UInt64(range[0], radix: 16),
        let end = UInt64(range[1], radix: 16), let offset = UInt64(fields[2], radix: 16)
      else { continue }
      result.append(
        Mapping(
          start: start, end: end, offset: offset,
          path: fields.count > 5 ? fields[5...].joined(separator: " ") : ""))
    }
    return result
  }
}
