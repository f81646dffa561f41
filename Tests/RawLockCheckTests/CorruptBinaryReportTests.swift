import Foundation
import Testing

/// A binary trace whose reading ends at a malformed record (a crash's
/// zero-filled tail, a flipped byte) is reported up to that record, as a
/// truncated one is (issue 15: "a truncated or corrupted binary trace is
/// read up to its last whole event with a warning naming the byte
/// offset"), and the record is the trace's error: its one line naming its
/// byte offset, as before, and status 2. The report was lost with the
/// error.
@Suite struct CorruptBinaryReportTests {
  @Test(arguments: ["on", "off"])
  func aMalformedRecordEndsTheReportOfTheRecordsBeforeIt(readerThread: String) throws {
    let directory = FileManager.default.temporaryDirectory
      .appendingPathComponent("corrupt-binary-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    let binary = directory.appendingPathComponent("c.rltb")
    let converted = try ToolRun(
      [
        "convert", FixturePaths.traces.appendingPathComponent("findings/circular-three.rlt").path,
        binary.path,
      ])
    #expect(converted.status == 0, "\(converted.stderr)")
    var bytes = try Data(contentsOf: binary)
    let end = bytes.count
    bytes.append(contentsOf: [UInt8](repeating: 0, count: 16))
    try bytes.write(to: binary)
    for format in ["text", "json"] {
      let run = try ToolRun(
        ["report", "--reader-thread", readerThread, "--format", format, binary.path],
        in: directory)
      #expect(run.status == 2, "\(run.stderr)")
      #expect(
        run.stderr
          == "rawlockcheck: \(binary.path): byte \(end): unknown record type 0x00\n"
      )
      #expect(run.stdout.contains("circular"), "\(run.stdout)")
    }
  }
}
