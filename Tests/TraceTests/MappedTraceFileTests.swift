import Foundation
import Testing

@testable import Trace

#if canImport(Glibc)
  import Glibc
#endif

/// `MappedTraceFile`: the bytes of a file from an offset that is no page
/// boundary, and pages given back behind the reader still read the same.
@Suite struct MappedTraceFileTests {
  @Test func aFileIsMappedFromAnyOffset() throws {
    let path = FileManager.default.temporaryDirectory
      .appendingPathComponent("mapped-\(UUID().uuidString)").path
    defer { unlink(path) }
    // 3 MiB of a pattern no two nearby offsets share.
    let bytes = (0..<(3 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 13) }
    try Data(bytes).write(to: URL(fileURLWithPath: path))
    let fd = open(path, O_RDONLY)
    #expect(fd >= 0)
    defer { close(fd) }
    // (The command's setting; readers in this process map files from now on.)
    TraceReading.mapsFiles = true
    for start in [0, 1, 4095, 4096, 5000] {
      let size = bytes.count - start
      guard
        var file = MappedTraceFile(
          fd: fd, start: UInt64(start), size: UInt64(size), name: "t")
      else {
        Issue.record("not mapped from \(start)")
        continue
      }
      #expect(file.bytes.count == size)
      #expect(Array(file.bytes.prefix(64)) == Array(bytes[start..<start + 64]))
      // Given back, and read again: the same bytes (from the file).
      file.release(before: size / 2)
      let quarter = size / 4
      #expect(
        Array(file.bytes[quarter..<quarter + 64])
          == Array(bytes[(start + quarter)..<(start + quarter + 64)]))
      #expect(Array(file.bytes.suffix(64)) == Array(bytes.suffix(64)))
    }
  }
}
