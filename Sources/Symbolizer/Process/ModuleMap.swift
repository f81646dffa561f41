import CElfutils
import Glibc

/// An ELF object loaded in this process, as the dynamic linker reports it.
///
/// Invariants: `executableRanges` are the runtime address ranges of the
/// object's `PT_LOAD` segments with `PF_X`, sorted and non-empty for any
/// module the map keeps; runtime address = link-time address + `bias`.
public struct LoadedModule: Sendable, Hashable {
  /// Absolute path of the file (the main executable's comes from /proc/self/exe).
  public var path: String
  /// Load bias: what was added to every link-time address (`dlpi_addr`).
  public var bias: UInt64
  /// Runtime ranges of the executable segments.
  public var executableRanges: [Range<UInt64>]
  /// The GNU build-id from the object's `PT_NOTE` segment, if it has one.
  public var buildID: [UInt8]?
  /// Where the file is read, when not at `path`: `/proc/self/exe` for a
  /// main executable deleted or replaced on disk since it started (a
  /// rebuild while it runs), whose link names its path with ` (deleted)`
  /// but still opens the running file.
  public var openPath: String? = nil

  /// The build-id in lowercase hex, as `readelf -n` and traces print it.
  public var buildIDHex: String? { buildID.map(hexString) }

  /// Whether `address` lies inside one of the executable segments.
  public func contains(_ address: UInt64) -> Bool {
    executableRanges.contains { $0.contains(address) }
  }
}

/// The process's module map, from `dl_iterate_phdr`.
public enum ProcessModules {
  /// Every loaded object with at least one executable segment, in the
  /// dynamic linker's order (main executable first). Objects without a file
  /// on disk (the vDSO) are included; their `path` is the linker's name.
  public static func current() -> [LoadedModule] {
    var collected: [LoadedModule] = []
    withUnsafeMutablePointer(to: &collected) { pointer in
      _ = dl_iterate_phdr(
        { info, _, data in
          guard let info, let data else { return 0 }
          let modules = data.assumingMemoryBound(to: [LoadedModule].self)
          if let module = ProcessModules.module(from: info.pointee) {
            modules.pointee.append(module)
          }
          return 0
        }, pointer)
    }
    return collected
  }

  private static func module(from info: dl_phdr_info) -> LoadedModule? {
    let bias = UInt64(info.dlpi_addr)
    var ranges: [Range<UInt64>] = []
    var buildID: [UInt8]?
    guard let headers = info.dlpi_phdr else { return nil }
    for index in 0..<Int(info.dlpi_phnum) {
      let header = headers[index]
      if header.p_type == UInt32(PT_LOAD), header.p_flags & UInt32(PF_X) != 0, header.p_memsz > 0 {
        let start = bias &+ header.p_vaddr
        ranges.append(start..<(start &+ header.p_memsz))
      } else if header.p_type == UInt32(PT_NOTE), buildID == nil {
        let start = UnsafeRawPointer(bitPattern: UInt(bias &+ header.p_vaddr))
        if let start {
          buildID = gnuBuildID(
            inNotes: UnsafeRawBufferPointer(start: start, count: Int(header.p_memsz)))
        }
      }
    }
    guard !ranges.isEmpty else { return nil }
    let name = info.dlpi_name.map { String(cString: $0) } ?? ""
    var path = name.isEmpty ? executablePath() : name
    var openPath: String? = nil
    let deleted = " (deleted)"
    if name.isEmpty, path.hasSuffix(deleted) {
      path.removeLast(deleted.count)
      openPath = "/proc/self/exe"
    }
    return LoadedModule(
      path: path, bias: bias, executableRanges: ranges.sorted { $0.lowerBound < $1.lowerBound },
      buildID: buildID, openPath: openPath)
  }

  /// The main executable's path, from the /proc/self/exe link.
  /// The dynamic linker's load and unload counters (`dlpi_adds`,
  /// `dlpi_subs`): they change exactly when a `dlopen` or `dlclose` changed
  /// the set of loaded objects. Costs one `dl_iterate_phdr` callback.
  public static func generation() -> (adds: UInt64, subs: UInt64) {
    var counters: (adds: UInt64, subs: UInt64) = (0, 0)
    withUnsafeMutablePointer(to: &counters) { pointer in
      _ = dl_iterate_phdr(
        { info, size, data in
          guard let info, let data,
            size >= MemoryLayout<dl_phdr_info>.offset(of: \.dlpi_subs)! + 8
          else { return 1 }
          data.assumingMemoryBound(to: (adds: UInt64, subs: UInt64).self).pointee = (
            UInt64(info.pointee.dlpi_adds), UInt64(info.pointee.dlpi_subs)
          )
          return 1
        }, pointer)
    }
    return counters
  }

  /// The path of this process's executable (`/proc/self/exe`), or empty
  /// when it cannot be read.
  public static func executablePath() -> String {
    var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
    let length = readlink("/proc/self/exe", &buffer, buffer.count - 1)
    guard length > 0 else { return "" }
    return String(decoding: buffer[0..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
  }
}

/// The descriptor of the first `NT_GNU_BUILD_ID` note named "GNU" in a
/// buffer of ELF notes (4-byte aligned name and descriptor), or nil.
func gnuBuildID(inNotes notes: UnsafeRawBufferPointer) -> [UInt8]? {
  var offset = 0
  func align4(_ value: Int) -> Int { (value + 3) & ~3 }
  while offset + 12 <= notes.count {
    let nameSize = Int(notes.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    let descSize = Int(notes.loadUnaligned(fromByteOffset: offset + 4, as: UInt32.self))
    let type = notes.loadUnaligned(fromByteOffset: offset + 8, as: UInt32.self)
    let nameStart = offset + 12
    let descStart = nameStart + align4(nameSize)
    guard descStart + descSize <= notes.count else { return nil }
    if type == UInt32(NT_GNU_BUILD_ID), nameSize == 4,
      notes[nameStart] == 0x47, notes[nameStart + 1] == 0x4E, notes[nameStart + 2] == 0x55
    {
      return Array(notes[descStart..<(descStart + descSize)])
    }
    offset = descStart + align4(descSize)
  }
  return nil
}

/// Lowercase hex of `bytes`.
func hexString(_ bytes: [UInt8]) -> String {
  let digits = Array("0123456789abcdef".utf8)
  var out: [UInt8] = []
  out.reserveCapacity(bytes.count * 2)
  for byte in bytes {
    out.append(digits[Int(byte >> 4)])
    out.append(digits[Int(byte & 15)])
  }
  return String(decoding: out, as: UTF8.self)
}
