import Foundation
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// The tool where the system starts no thread (`ulimit -u 1` for a user
/// with a process already): `report` reads on its own thread, `demo` stops
/// with one line, `symbolize` (libdispatch's threads, which wait for one
/// forever) too; none crashes or hangs. The limit binds only a user
/// without root's powers, so the tool runs as `nobody` through `setpriv`,
/// where the test runs as root (CI does); elsewhere it checks nothing.
@Suite struct ThreadLimitTests {
  /// `rawlockcheck arguments` as nobody, with one process allowed.
  static func runLimited(_ arguments: [String]) throws -> ToolRun? {
    guard getuid() == 0, FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv"),
      FileManager.default.isExecutableFile(atPath: "/bin/bash")
    else {
      return nil
    }
    func asNobody(_ arguments: [String], limit: String) throws -> ToolRun {
      let quoted = ([FixturePaths.tool.path] + arguments).map { "'\($0)'" }
        .joined(separator: " ")
      // `timeout` outside the limit (it forks): a hang fails, not waits;
      // with SIGKILL, as the test process may block SIGTERM for its children.
      return try ToolRun.command(
        "/usr/bin/timeout",
        [
          "--signal=KILL", "60", "/usr/bin/setpriv", "--reuid=65534", "--regid=65534",
          "--clear-groups",
          "/bin/bash", "-c", "\(limit)exec \(quoted)",
        ])
    }
    // Nobody may not reach the build (a checkout under a private home).
    guard try asNobody(["--version"], limit: "").status == 0 else { return nil }
    return try asNobody(arguments, limit: "ulimit -u 1 && ")
  }

  @Test func reportReadsOnItsOwnThread() throws {
    let trace = FixturePaths.traces.appendingPathComponent("seed-scenario.rlt").path
    guard let run = try Self.runLimited(["report", "--reader-thread", "on", trace]) else { return }
    #expect(run.status == 1, "\(run.stderr)")
    // The fixture must be readable to nobody too; a finding proves it was.
    #expect(run.stdout.contains("[ BUG: Invalid wait context ]"))
    #expect(run.stderr.isEmpty, "\(run.stderr)")
  }

  @Test func demoAndSymbolizeSayWhyAndStop() throws {
    guard let demo = try Self.runLimited(["demo", "--rounds", "1"]) else { return }
    #expect(demo.status == 2)
    #expect(
      demo.stderr == "rawlockcheck: demo: cannot start a thread: Resource temporarily unavailable\n"
    )
    guard
      let symbolize = try Self.runLimited(
        ["symbolize", "--exe", FixturePaths.tool.path, "--jobs", "1", "0x1000"])
    else { return }
    #expect(symbolize.status == 2)
    #expect(
      symbolize.stderr
        == "rawlockcheck: symbolize: cannot start a thread: Resource temporarily unavailable\n")
  }
}
