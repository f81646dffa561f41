import Foundation
import Testing

@testable import rawlockcheck

/// `--reader-thread auto` starts the reading thread only where it can pay:
/// more than one core, and a trace that is not a small regular file (for
/// 16,000 traces of a few events, starting it was a third of `report`'s
/// time).
@Suite struct ReaderThreadChoiceTests {
  @Test func autoReadsASmallRegularFileOnOneThread() throws {
    let small = FixturePaths.traces.appendingPathComponent("findings/circular-abba.rlt").path
    #expect(!ReaderThreadChoice.auto.isOn(forTraceAt: small))
    #expect(ReaderThreadChoice.on.isOn(forTraceAt: small))
    #expect(!ReaderThreadChoice.off.isOn(forTraceAt: small))
    // Anything else with more than one core: a large file, a file not
    // there yet (the reader says why), a FIFO.
    let large = FileManager.default.temporaryDirectory
      .appendingPathComponent("large-\(UUID().uuidString).rlt")
    try Data(count: ReaderThreadChoice.smallTraceBytes).write(to: large)
    defer { try? FileManager.default.removeItem(at: large) }
    let manyCores = ReaderThreadChoice.processCores > 1
    #expect(ReaderThreadChoice.auto.isOn(forTraceAt: large.path) == manyCores)
    #expect(ReaderThreadChoice.auto.isOn(forTraceAt: "/no/such/trace.rlt") == manyCores)
    #expect(!ReaderThreadChoice.off.isOn(forTraceAt: large.path))
  }
}
