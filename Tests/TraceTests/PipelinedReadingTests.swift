import Foundation
import LockGraph
import Testing
import WaitContext

@testable import Trace

/// `TraceReader.readOnTwoThreads`: a reader thread feeding the validating
/// thread gives what reading on one thread gives.
@Suite struct PipelinedReadingTests {
  /// What a validator ended with, as far as a report shows it.
  struct Outcome: Equatable {
    var error: String?
    var events: Int64
    var findings: [String]
    var warnings: [String]
  }

  static func outcome(
    _ path: String, twoThreads: Bool, prepare: (inout LockValidator) -> Void = { _ in }
  ) -> Outcome {
    var validator = LockValidator()
    prepare(&validator)
    var warnings: [String] = []
    let reader = TraceReader(path: path, displayName: "t")
    var failure: String? = nil
    do {
      _ =
        try twoThreads
        ? reader.readOnTwoThreads(into: &validator, warning: { warnings.append($0) })
        : reader.read(into: &validator, warning: { warnings.append($0) })
    } catch {
      failure = error.description
    }
    let findings = validator.findings.findings.map {
      "\($0.kind) \($0.origin.line) \($0.origin.event) \($0.lock?.lockClass.raw ?? -1) \($0.count)"
    }
    return Outcome(
      error: failure, events: validator.eventCount, findings: findings, warnings: warnings)
  }

  /// Every fixture, in both encodings.
  @Test(arguments: RoundTrip.fixtures)
  func sameOutcomeAsOneThread(_ name: String) throws {
    let path = BinaryRoundTrip.path(name)
    #expect(Self.outcome(path, twoThreads: true) == Self.outcome(path, twoThreads: false))
    let binary = RoundTrip.temporaryFile(
      try BinaryRoundTrip.rewrite(path, with: BinaryTraceWriter()))
    defer { try? FileManager.default.removeItem(at: binary) }
    #expect(
      Self.outcome(binary.path, twoThreads: true) == Self.outcome(binary.path, twoThreads: false))
  }

  /// Malformed traces, a refused event after many batches, a truncated
  /// binary trace: the same error or warning.
  @Test func sameErrorsAndWarnings() throws {
    let base = RoundTrip.root.appendingPathComponent("Fixtures/traces/malformed")
    for name in try FileManager.default.contentsOfDirectory(atPath: base.path) {
      let path = base.appendingPathComponent(name).path
      let one = Self.outcome(path, twoThreads: false)
      #expect(one.error != nil)
      #expect(Self.outcome(path, twoThreads: true) == one)
    }
    let refused = RoundTrip.temporaryFile(
      Array(EventBatchTests.text(tail: ["1 hardirq-exit", "1 no-such-verb"]).utf8))
    defer { try? FileManager.default.removeItem(at: refused) }
    let one = Self.outcome(refused.path, twoThreads: false)
    #expect(one.error?.contains("hardirq-exit without hardirq-enter") == true)
    #expect(Self.outcome(refused.path, twoThreads: true) == one)
    let whole = try BinaryRoundTrip.rewrite(
      BinaryRoundTrip.path("findings/circular-abba.rlt"), with: BinaryTraceWriter())
    let truncated = RoundTrip.temporaryFile(Array(whole.dropLast(2)))
    defer { try? FileManager.default.removeItem(at: truncated) }
    let cut = Self.outcome(truncated.path, twoThreads: false)
    #expect(cut.warnings.count == 1)
    #expect(Self.outcome(truncated.path, twoThreads: true) == cut)
  }

  /// A validator that already knows a class and a thread gives the trace's
  /// classes and threads other ids than the reader's numbers: the
  /// validating thread maps them.
  @Test func mapsIDsWhenTheValidatorNumbersDiffer() {
    func prepare(_ v: inout LockValidator) {
      _ = v.declareClass(key: "earlier", kind: .mutex, waits: try! ClassWaitTypes(kind: .mutex))
      _ = v.declareThread(token: "earlier")
    }
    for name in ["findings/circular-abba.rlt", "findings/irq-lock-inversion.rlt"] {
      let path = BinaryRoundTrip.path(name)
      let one = Self.outcome(path, twoThreads: false, prepare: prepare)
      #expect(!one.findings.isEmpty)
      #expect(Self.outcome(path, twoThreads: true, prepare: prepare) == one)
    }
  }
}
