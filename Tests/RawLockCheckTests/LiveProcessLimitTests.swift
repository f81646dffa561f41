import Foundation
import Testing

/// A child forked while another thread takes the process's first lock,
/// which makes the validator, does not wait forever for the half-made
/// validator (Swift's lazy initialization, begun by a thread the child did
/// not inherit): it validates nothing, as any child forked after the
/// validator started. Before, 19 of this scenario's 60 children (forked
/// every 100 µs from that thread's start) hung.
@Suite struct ForkWhileStartingTests {
  @Test func noChildForkedWhileTheValidatorIsMadeHangs() throws {
    let (status, text) = try Self.runProbe("fork-while-starting")
    #expect(text.contains("hung 0\n"), "\(text)")
    #expect(status == 0)
  }

  /// `LockdepProbe scenario` with `RAWLOCKCHECK=collect` (set, so that the
  /// probe does not choose a policy, which would make the validator before
  /// the scenario), recording nothing: its status and standard output.
  /// With `choosesPolicy`, `RAWLOCKCHECK` is unset and the probe chooses
  /// `collect` itself (and so can choose again).
  static func runProbe(
    _ scenario: String, choosesPolicy: Bool = false
  ) throws -> (status: Int32, output: String) {
    let run = try RecorderTests.launch(
      [scenario],
      environment: [
        "RAWLOCKCHECK": choosesPolicy ? nil : "collect", "RAWLOCKCHECK_TRACE": nil,
      ],
      capture: .standardOutput)
    return (run.status, run.text)
  }
}

/// More lock classes than the class table holds (lockdep's
/// `MAX_LOCKDEP_KEYS`, 1,048,576) in a live program: one `limit-exceeded`
/// finding, then validation is off for the process, as lockdep turns
/// itself off (an ABBA after it is not found), even when the program
/// chooses its policy again (which turned validation back on, and the
/// classless locks crashed it). The 1,048,577th class crashed the
/// process before. (About 10 s: a million locks are made.)
@Suite struct LiveClassTableTests {
  @Test func aClassPastTheTableIsOneFindingThenValidationStops() throws {
    let (status, text) = try ForkWhileStartingTests.runProbe(
      "class-table-full", choosesPolicy: true)
    #expect(status == 0, "\(text)")
    #expect(text.contains("made 1048579\n"), "\(text)")
    let findings = text.split(separator: "\n").filter { $0.hasPrefix("finding ") }
    #expect(findings == ["finding limit-exceeded 1"], "\(text)")
  }

  /// The trace of such a run gives the finding too, where the lock was
  /// made: the class past the table and a `might-lock` of it end the
  /// trace. It ended there unsaid, and `report` found nothing.
  @Test func itsTraceGivesTheFindingToo() throws {
    let (output, trace) = try RecorderTests.run("class-table-full")
    defer { try? FileManager.default.removeItem(at: trace) }
    #expect(output.filter { $0.hasPrefix("finding ") } == ["finding limit-exceeded 1"])
    let text = try ToolRun(["report", trace.path])
    #expect(text.status == 1, "\(text.stderr)")
    #expect(text.stdout.contains("\nBUG: MAX_LOCKDEP_KEYS too low!\n"), "\(text.stdout)")
    #expect(text.stdout.hasSuffix(": 1 event, 1 finding (limit-exceeded 1)\n"), "\(text.stdout)")
    #expect(
      text.stdout.contains("LockdepProbe/main.swift:"),
      "the stack where the lock was made: \(text.stdout)")
  }
}
