import Foundation
import Testing

/// A child forked while another thread takes the process's first lock,
/// which makes the validator, does not wait forever for the half-made
/// validator (Swift's lazy initialization, begun by a thread the child did
/// not inherit): it validates nothing, as any child forked after the
/// validator started. Before, 17 of 20 children forked 1 ms after that
/// thread started hung.
@Suite struct ForkWhileStartingTests {
  @Test func noChildForkedWhileTheValidatorIsMadeHangs() throws {
    let process = Process()
    process.executableURL = RecorderTests.probe
    process.arguments = ["fork-while-starting"]
    var environment = ProcessInfo.processInfo.environment
    // Set, so that the probe does not choose a policy (which would make
    // the validator before the scenario).
    environment["RAWLOCKCHECK"] = "collect"
    environment.removeValue(forKey: "RAWLOCKCHECK_TRACE")
    process.environment = environment
    let out = Pipe()
    process.standardOutput = out
    try process.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    let text = String(decoding: data, as: UTF8.self)
    #expect(text.contains("hung 0\n"), "\(text)")
    #expect(process.terminationStatus == 0)
  }
}

/// More lock classes than the class table holds (lockdep's
/// `MAX_LOCKDEP_KEYS`, 1,048,576) in a live program: one `limit-exceeded`
/// finding, then validation is off for the process, as lockdep turns
/// itself off (an ABBA after it is not found). The 1,048,577th class
/// crashed the process before. (About 10 s: a million locks are made.)
@Suite struct LiveClassTableTests {
  @Test func aClassPastTheTableIsOneFindingThenValidationStops() throws {
    let process = Process()
    process.executableURL = RecorderTests.probe
    process.arguments = ["class-table-full"]
    var environment = ProcessInfo.processInfo.environment
    environment["RAWLOCKCHECK"] = "collect"
    environment.removeValue(forKey: "RAWLOCKCHECK_TRACE")
    process.environment = environment
    let out = Pipe()
    process.standardOutput = out
    process.standardError = FileHandle.nullDevice
    try process.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    let text = String(decoding: data, as: UTF8.self)
    #expect(process.terminationStatus == 0, "\(text)")
    #expect(text.contains("made 1048579\n"), "\(text)")
    let findings = text.split(separator: "\n").filter { $0.hasPrefix("finding ") }
    #expect(findings == ["finding limit-exceeded 1"], "\(text)")
  }
}
