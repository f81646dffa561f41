import Foundation
import LockGraph
import Symbolizer
import Testing
import WaitContext

@testable import Report
@testable import rawlockcheck

/// `report --format sarif`: SARIF 2.1.0's required structure on every
/// finding kind's fixture, symbolized locations, standard input, the
/// progress bar's text and the `low-reuse` trace shape.
@Suite struct SARIFReportTests {
  static func object(_ text: String) throws -> [String: Any] {
    try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
  }

  /// A location's physical location has an artifact URI and a start line,
  /// or an address.
  static func checkLocation(_ location: [String: Any]?) throws {
    let location = try #require(location)
    let physical = try #require(location["physicalLocation"] as? [String: Any])
    if let artifact = physical["artifactLocation"] as? [String: Any] {
      #expect(!((artifact["uri"] as? String) ?? "").isEmpty)
      if let region = physical["region"] as? [String: Any] {
        #expect(((region["startLine"] as? Int) ?? 0) >= 1)
      }
    } else {
      #expect(physical["address"] is [String: Any])
    }
  }

  @Test(
    arguments: FixturePaths.traces(under: FixturePaths.traces.appendingPathComponent("findings")))
  func sarifHasTheRequiredStructure(_ url: URL) throws {
    let expected = try #require(FixturePaths.header(of: url)["expect"])
    let run = try ToolRun(["report", "--format", "sarif", url.path])
    #expect(run.status == 1)
    let log = try Self.object(run.stdout)
    #expect(log["version"] as? String == "2.1.0")
    #expect((log["$schema"] as? String)?.contains("sarif") == true)
    let runs = try #require(log["runs"] as? [[String: Any]])
    #expect(runs.count == 1)
    let driver = try #require(
      (runs[0]["tool"] as? [String: Any])?["driver"] as? [String: Any])
    #expect(driver["name"] as? String == "rawlockcheck")
    let rules = try #require(driver["rules"] as? [[String: Any]])
    let ruleIDs = rules.compactMap { $0["id"] as? String }
    #expect(ruleIDs.count == 11)
    for rule in rules {
      let text = (rule["shortDescription"] as? [String: Any])?["text"] as? String
      #expect(!(text ?? "").isEmpty)
    }
    let results = try #require(runs[0]["results"] as? [[String: Any]])
    #expect(!results.isEmpty)
    var kinds = Set<String>()
    for result in results {
      let ruleID = try #require(result["ruleId"] as? String)
      kinds.insert(ruleID)
      #expect(result["ruleIndex"] as? Int == ruleIDs.firstIndex(of: ruleID))
      #expect(result["level"] as? String == "error")
      let message = try #require((result["message"] as? [String: Any])?["text"] as? String)
      #expect(!message.isEmpty)
      let locations = try #require(result["locations"] as? [[String: Any]])
      #expect(locations.count == 1)
      try Self.checkLocation(locations.first)
      #expect(((result["occurrenceCount"] as? Int) ?? 0) >= 1)
      let flows = try #require(result["codeFlows"] as? [[String: Any]])
      let threadFlows = try #require(flows.first?["threadFlows"] as? [[String: Any]])
      #expect(!threadFlows.isEmpty)
      for flow in threadFlows {
        let steps = try #require(flow["locations"] as? [[String: Any]])
        #expect(!steps.isEmpty)
        for step in steps { try Self.checkLocation(step["location"] as? [String: Any]) }
      }
    }
    #expect(kinds == Set(expected.split(separator: " ").map(String.init)))
  }

  /// The title and the lock names make the message; held locks' and the
  /// chain's stacks are further thread flows.
  /// A binary trace's events carry no line: without stacks, each flow is
  /// the trace and its event (`t.rltb: event 2`), not left out, so a
  /// merged cycle has its acquisition's, its dependency's and its held
  /// lock's flows as a text trace's does.
  /// The messages of the thread flows of a SARIF run's first result.
  static func threadFlowMessages(_ run: ToolRun) throws -> [String] {
    let result = try #require(
      ((try object(run.stdout)["runs"] as? [[String: Any]])?.first?["results"]
        as? [[String: Any]])?.first)
    return (result["codeFlows"] as? [[String: Any]] ?? []).flatMap {
      ($0["threadFlows"] as? [[String: Any]] ?? []).compactMap {
        ($0["message"] as? [String: Any])?["text"] as? String
      }
    }
  }

  @Test func aBinaryTraceWithoutStacksKeepsEveryFlow() throws {
    let dir = try MergeCommandTests.directory([
      "t1.rlt": MergeCommandTests.first, "t2.rlt": MergeCommandTests.second,
    ])
    defer { try? FileManager.default.removeItem(at: dir) }
    #expect(try ToolRun(["convert", "t2.rlt", "t2.rltb"], in: dir).status == 0)
    func flows(_ second: String) throws -> [String] {
      try Self.threadFlowMessages(
        ToolRun(["report", "--merge", "t1.rlt", second, "--format", "sarif"], in: dir))
    }
    let text = try flows("t2.rlt")
    #expect(text.count == 3, "\(text)")
    #expect(try flows("t2.rltb") == text)
  }

  /// The same for a cycle closed against a `--graph-in` file's
  /// dependency that came from a binary trace (no line, no stack): its
  /// thread flow names that trace, as the text report does, rather than
  /// being left out.
  @Test func aGraphFileDependencyFromABinaryTraceKeepsItsFlow() throws {
    let dir = try MergeCommandTests.directory([
      "t1.rlt": MergeCommandTests.first, "t2.rlt": MergeCommandTests.second,
    ])
    defer { try? FileManager.default.removeItem(at: dir) }
    func flows(_ first: String) throws -> [String] {
      #expect(try ToolRun(["report", "--graph-out", "g.rlg", first], in: dir).status == 0)
      return try Self.threadFlowMessages(
        ToolRun(["report", "--graph-in", "g.rlg", "t2.rlt", "--format", "sarif"], in: dir))
    }
    let text = try flows("t1.rlt")
    #expect(text.count == 3, "\(text)")
    #expect(try ToolRun(["convert", "t1.rlt", "t1.rltb"], in: dir).status == 0)
    #expect(try flows("t1.rltb") == text)
  }

  /// `--source-root` changes only SARIF's locations: with another format
  /// it is said to be unused, and the report is as without it.
  @Test func sourceRootWithoutSARIFIsSaidToBeUnused() throws {
    let plain = try ToolRun(["report", "findings/circular-abba.rlt"])
    let rooted = try ToolRun([
      "report", "--source-root", FixturePaths.root.path, "findings/circular-abba.rlt",
    ])
    #expect(rooted.status == plain.status)
    #expect(rooted.stdout == plain.stdout)
    #expect(
      rooted.stderr
        == "rawlockcheck: --source-root is used only with --format sarif; "
        + "the text report is as without it\n")
  }

  @Test func sourceRootMakesLocationsRelativeToSRCROOT() throws {
    // Run from Fixtures/traces with the repository as the root.
    let root = FixturePaths.root.path
    let run = try ToolRun([
      "report", "--format", "sarif", "--source-root", root, "findings/circular-abba.rlt",
    ])
    let log = try Self.object(run.stdout)
    let runs = log["runs"] as? [[String: Any]]
    let bases = runs?.first?["originalUriBaseIds"] as? [String: Any]
    let srcroot = bases?["SRCROOT"] as? [String: Any]
    #expect((srcroot?["uri"] as? String)?.hasSuffix("/") == true)
    let results = runs?.first?["results"] as? [[String: Any]] ?? []
    let location = (results.first?["locations"] as? [[String: Any]])?.first
    let physical = location?["physicalLocation"] as? [String: Any]
    let artifact = physical?["artifactLocation"] as? [String: Any]
    #expect(artifact?["uri"] as? String == "Fixtures/traces/findings/circular-abba.rlt")
    #expect(artifact?["uriBaseId"] as? String == "SRCROOT")
    // Without it: the path as given.
    let plain = try Self.object(
      try ToolRun(["report", "--format", "sarif", "findings/circular-abba.rlt"]).stdout)
    #expect(!String(describing: plain).contains("SRCROOT"))
  }

  /// With a source root, the location is the innermost frame under it (the
  /// checkout's code, which code scanning annotates), not a library's frame
  /// inside it. The probe's finding: innermost its own `main.swift`, then
  /// `KernelLock.withLock` of the Lockdep library.
  @Test func theLocationIsTheInnermostFrameUnderTheSourceRoot() throws {
    let (_, trace) = try RecorderTests.record("invalid-wait-context")
    defer { try? FileManager.default.removeItem(at: trace) }
    func location(_ options: [String]) throws -> (uri: String?, line: Int?) {
      let run = try ToolRun(["report", "--format", "sarif"] + options + [trace.path])
      let result =
        ((try Self.object(run.stdout)["runs"] as? [[String: Any]])?.first?["results"]
        as? [[String: Any]])?.first
      let physical =
        (result?["locations"] as? [[String: Any]])?.first?["physicalLocation"]
        as? [String: Any]
      return (
        (physical?["artifactLocation"] as? [String: Any])?["uri"] as? String,
        (physical?["region"] as? [String: Any])?["startLine"] as? Int
      )
    }
    let sources = FixturePaths.root.appendingPathComponent("Sources").path
    #expect(try location([]).uri?.hasSuffix("/Sources/LockdepProbe/main.swift") == true)
    #expect(
      try location(["--source-root", sources + "/LockdepProbe"]).uri == "main.swift")
    #expect(
      try location(["--source-root", sources + "/Lockdep"]).uri == "Locks/KernelLock.swift")
    // The thread flows' texts name files under the root relative to it
    // too: no path of the machine that ran the tool in an uploaded log.
    let rooted = try ToolRun(
      ["report", "--format", "sarif", "--source-root", sources, trace.path]
    ).stdout
    #expect(rooted.contains("LockdepProbe/main.swift:"))
    // Once: `originalUriBaseIds.SRCROOT` itself.
    #expect(rooted.components(separatedBy: sources + "/").count == 2, "\(rooted.prefix(3000))")
  }

  /// A lock left held at a thread's exit is found in libc's thread
  /// teardown, none of whose frames is the checkout's: the location is then
  /// the held lock's acquisition (the probe's `runOnThread {
  /// leaked.lock() }`), not glibc's `nptl` file, the exit's innermost
  /// frame with a line: under the source root, relative to it, and without
  /// one too (found by a user's package).
  @Test(arguments: [true, false])
  func aLockHeldAtExitIsLocatedWhereItWasTaken(withSourceRoot: Bool) throws {
    let (_, trace) = try RecorderTests.record("locks-held-at-exit")
    defer { try? FileManager.default.removeItem(at: trace) }
    let sources = FixturePaths.root.appendingPathComponent("Sources").path
    let root = withSourceRoot ? ["--source-root", sources] : []
    let run = try ToolRun(["report", "--format", "sarif"] + root + [trace.path])
    let results =
      (try Self.object(run.stdout)["runs"] as? [[String: Any]])?.first?["results"]
      as? [[String: Any]] ?? []
    let result = results.first { $0["ruleId"] as? String == "locks-held-at-exit" }
    let physical =
      (result?["locations"] as? [[String: Any]])?.first?["physicalLocation"] as? [String: Any]
    let uri = (physical?["artifactLocation"] as? [String: Any])?["uri"] as? String
    if withSourceRoot {
      #expect(uri == "LockdepProbe/main.swift", "\(run.stdout.prefix(2000))")
    } else {
      #expect(uri == "file://" + sources + "/LockdepProbe/main.swift", "\(run.stdout.prefix(2000))")
    }
  }

  /// A relative path is placed under the working directory only when the
  /// file is there: glibc's `./nptl/nptl_deallocate_tsd.c` (relative to
  /// glibc's build) named a file of the checkout that does not exist.
  @Test func aRelativePathIsPlacedOnlyWhereItsFileIs() throws {
    let dir = FileManager.default.temporaryDirectory
      .appendingPathComponent("sarif-placed-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(
      atPath: dir + "/src", withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: dir) }
    try Data("x".utf8).write(to: URL(fileURLWithPath: dir + "/src/main.swift"))
    let log = SARIFReport(reports: [], version: "1", sourceRoot: dir, workingDirectory: dir)
    #expect(log.placed("./src/main.swift") == dir + "/src/main.swift")
    #expect(log.isUnderSourceRoot("src/main.swift"))
    #expect(log.placed("./nptl/nptl_deallocate_tsd.c") == "./nptl/nptl_deallocate_tsd.c")
    #expect(!log.isUnderSourceRoot("./nptl/nptl_deallocate_tsd.c"))
    // Reported from elsewhere: a path relative to the checkout (a build
    // with `-fdebug-prefix-map=$PWD=.`) is placed under the source root
    // when its file is there.
    let elsewhere = SARIFReport(reports: [], version: "1", sourceRoot: dir, workingDirectory: "/")
    #expect(elsewhere.placed("./src/main.swift") == dir + "/src/main.swift")
    #expect(elsewhere.isUnderSourceRoot("./src/main.swift"))
    #expect(elsewhere.placed("./nptl/nptl_deallocate_tsd.c") == "./nptl/nptl_deallocate_tsd.c")
  }

  /// `--source-root` is one directory however it is spelled (`./`,
  /// `x/..`, `//`, a symbolic link to it): each gave absolute URIs, as if
  /// nothing were under it. One that is not a directory is a usage error.
  @Test func theSourceRootIsNormalized() throws {
    let root = FixturePaths.root.path
    func srcroot(_ spelling: String) throws -> String? {
      let run = try ToolRun([
        "report", "--format", "sarif", "--source-root", spelling, "findings/circular-abba.rlt",
      ])
      let runs = try Self.object(run.stdout)["runs"] as? [[String: Any]]
      let result = (runs?.first?["results"] as? [[String: Any]])?.first
      let physical =
        (result?["locations"] as? [[String: Any]])?.first?["physicalLocation"] as? [String: Any]
      return (physical?["artifactLocation"] as? [String: Any])?["uri"] as? String
    }
    let expected = "Fixtures/traces/findings/circular-abba.rlt"
    #expect(try srcroot(root) == expected)
    // Run from Fixtures/traces.
    #expect(try srcroot("../..") == expected)
    #expect(try srcroot("../../Sources/..") == expected)
    #expect(try srcroot(root + "//") == expected)
    #expect(try srcroot("./../../") == expected)
    let link = FileManager.default.temporaryDirectory
      .appendingPathComponent("srcroot-link-\(UUID().uuidString)").path
    try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: root)
    defer { try? FileManager.default.removeItem(atPath: link) }
    #expect(try srcroot(link) == expected)
    // `link/..` is the link target's parent, as the kernel reads it.
    let intoFixtures = link + "-fixtures"
    try FileManager.default.createSymbolicLink(
      atPath: intoFixtures, withDestinationPath: root + "/Fixtures")
    defer { try? FileManager.default.removeItem(atPath: intoFixtures) }
    #expect(try srcroot(intoFixtures + "/..") == expected)
    let missing = try ToolRun([
      "report", "--format", "sarif", "--source-root", "/no/such/dir", "findings/circular-abba.rlt",
    ])
    #expect(missing.status == 2)
    #expect(missing.stderr.hasPrefix("rawlockcheck: --source-root /no/such/dir: not a directory"))
  }

  /// A dependency SwiftPM checked out under the source root
  /// (`.build/checkouts/...`) is a library, not the checkout's code.
  @Test func aDependencyCheckedOutUnderTheRootIsNotTheCheckoutsCode() {
    let log = SARIFReport(reports: [], version: "1", sourceRoot: "/src/app", workingDirectory: "/")
    #expect(log.isUnderSourceRoot("/src/app/Sources/App/Server.swift"))
    #expect(!log.isUnderSourceRoot("/src/app/.build/checkouts/main/Sources/Allocator/Zone.swift"))
    #expect(!log.isUnderSourceRoot("/src/other/Server.swift"))
  }

  /// A link seeded from a graph file (`--graph-in`) has its recorded
  /// frame, not an address: its SARIF location has none (it read
  /// `absoluteAddress: 0`).
  @Test func aSeededLinkHasNoAddress() throws {
    let (_, forward) = try RecorderTests.record("order-forward")
    let (_, backward) = try RecorderTests.record("order-backward")
    let graph = FileManager.default.temporaryDirectory
      .appendingPathComponent("sarif-seed-\(UUID().uuidString).rlg")
    defer {
      for f in [forward, backward, graph] { try? FileManager.default.removeItem(at: f) }
    }
    #expect(try ToolRun(["report", "--graph-out", graph.path, forward.path]).status == 0)
    let run = try ToolRun([
      "report", "--format", "sarif", "--graph-in", graph.path, backward.path,
    ])
    #expect(run.status == 1, "\(run.stderr)")
    #expect(run.stdout.contains("circular"), "a cycle with the seeded order")
    #expect(!run.stdout.contains("\"absoluteAddress\": 0"))
  }

  /// A truncated binary trace is read up to its last whole record with a
  /// warning: in SARIF a notification of level `warning`, naming the trace
  /// and the byte, and the run still successful (with `--merge` too).
  @Test func aTruncationWarningIsANotification() throws {
    let dir = FileManager.default.temporaryDirectory
      .appendingPathComponent("sarif-truncated-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    let whole = dir.appendingPathComponent("t.rltb")
    let convert = try ToolRun(
      ["convert", "findings/circular-abba.rlt", whole.path, "--to", "binary"])
    #expect(convert.status == 0, "\(convert.stderr)")
    let bytes = try Data(contentsOf: whole)
    let cut = dir.appendingPathComponent("cut.rltb")
    try bytes.prefix(bytes.count - 1).write(to: cut)
    for options in [[], ["--merge"]] {
      let run = try ToolRun(["report", "--format", "sarif"] + options + [cut.path])
      #expect(run.stderr.contains("truncated at byte"), "\(run.stderr)")
      let invocation =
        ((try Self.object(run.stdout)["runs"] as? [[String: Any]])?.first?[
          "invocations"] as? [[String: Any]])?.first
      #expect(invocation?["executionSuccessful"] as? Bool == true)
      let notes = invocation?["toolExecutionNotifications"] as? [[String: Any]] ?? []
      #expect(notes.count == 1)
      #expect(notes.first?["level"] as? String == "warning")
      let text = (notes.first?["message"] as? [String: Any])?["text"] as? String ?? ""
      #expect(text.contains("cut.rltb: truncated at byte"), "\(text)")
    }
  }

  @Test func circularDependencyCarriesItsChain() throws {
    let run = try ToolRun(["report", "--format", "sarif", "findings/circular-abba.rlt"])
    let result = try #require(
      ((try Self.object(run.stdout)["runs"] as? [[String: Any]])?.first?["results"]
        as? [[String: Any]])?.first)
    let message = try #require((result["message"] as? [String: Any])?["text"] as? String)
    #expect(message.hasPrefix("WARNING: possible circular locking dependency detected: "))
    #expect(message.contains("&dev->lock") && message.contains("&fs->lock"))
    let threadFlows = try #require(
      (result["codeFlows"] as? [[String: Any]])?.first?["threadFlows"] as? [[String: Any]])
    #expect(threadFlows.count == 3, "the acquisition, the chain's other link, the held lock")
  }

  /// With a module map, the location is the innermost frame with a file.
  @Test func symbolizedFindingPointsAtTheSource() throws {
    let url = try SymbolizedReportTests.trace(buildID: nil)
    let run = try ToolRun(["report", "--format", "sarif", url.path])
    #expect(run.status == 1)
    let result = try #require(
      ((try Self.object(run.stdout)["runs"] as? [[String: Any]])?.first?["results"]
        as? [[String: Any]])?.first)
    let physical = try #require(
      (result["locations"] as? [[String: Any]])?.first?["physicalLocation"] as? [String: Any])
    let uri = try #require((physical["artifactLocation"] as? [String: Any])?["uri"] as? String)
    #expect(uri.hasPrefix("file:///") && uri.hasSuffix("main.swift"), "\(uri)")
    // `main`+1 is compiler-generated: the file, at its first line (code
    // scanning needs a line), without a column.
    let region = physical["region"] as? [String: Any]
    #expect(region?["startLine"] as? Int == 1 && region?["startColumn"] == nil, "\(physical)")
  }

  /// GitHub code scanning rejects an upload whose run has more than
  /// 25,000 results: traces reported together without `--merge` (1,000
  /// distinct findings each at most) stop there, and a warning says how
  /// many were left out and what to do.
  @Test func aRunStopsAtTheResultsCodeScanningAccepts() throws {
    // A recursive locking of each of 1,000 classes: 1,000 findings.
    let classes = 1000
    let trace =
      (["rawlockcheck-trace 1"] + (0..<classes).map { "class C\($0) mutex" }
      + (0..<classes).flatMap { c in
        ["acquire", "acquire", "release", "release"].map { "1 \($0) C\(c)" }
      })
      .joined(separator: "\n") + "\n"
    let dir = try MergeCommandTests.directory(["t.rlt": trace])
    defer { try? FileManager.default.removeItem(at: dir) }
    let run = try ToolRun(
      ["report", "--format", "sarif"] + Array(repeating: "t.rlt", count: 26), in: dir)
    #expect(run.status == 1)
    let runs = try #require(try Self.object(run.stdout)["runs"] as? [[String: Any]])
    let results = try #require(runs.first?["results"] as? [[String: Any]])
    #expect(results.count == SARIFOutput.maxResults)
    let invocation = (runs.first?["invocations"] as? [[String: Any]])?.first
    let notes = (invocation?["toolExecutionNotifications"] as? [[String: Any]]) ?? []
    let texts = notes.compactMap { ($0["message"] as? [String: Any])?["text"] as? String }
    #expect(
      texts.contains { $0.hasPrefix("1000 results left out, past the 25000 of a run") }, "\(texts)")
    #expect(invocation?["executionSuccessful"] as? Bool == true)
  }

  @Test func severalTracesShareOneRun() throws {
    let run = try ToolRun([
      "report", "--format", "sarif", "findings/circular-abba.rlt", "findings/sleep-in-atomic.rlt",
    ])
    let runs = try #require(try Self.object(run.stdout)["runs"] as? [[String: Any]])
    #expect(runs.count == 1)
    let ruleIDs = (runs[0]["results"] as? [[String: Any]])?.compactMap { $0["ruleId"] as? String }
    #expect(Set(ruleIDs ?? []) == ["circular-dependency", "sleep-in-atomic"])
  }

  /// Each result names its trace, also among several traces not merged
  /// (two traces' findings were otherwise alike, to the byte), and carries
  /// a fingerprint for a code scanning service to match results across
  /// runs (GitHub's `partialFingerprints`, which its API upload does not
  /// compute): the same for the same mistake, wherever its lines moved;
  /// another for another mistake.
  @Test func resultsNameTheirTraceAndCarryAStableFingerprint() throws {
    let abba = try String(
      contentsOf: FixturePaths.traces.appendingPathComponent("findings/circular-abba.rlt"),
      encoding: .utf8)
    let lines = abba.split(separator: "\n", omittingEmptySubsequences: false)
    let moved = ([lines[0], "# moved", "# down"] + lines.dropFirst()).joined(separator: "\n")
    let other = try String(
      contentsOf: FixturePaths.traces.appendingPathComponent("findings/sleep-in-atomic.rlt"),
      encoding: .utf8)
    let dir = try MergeCommandTests.directory(["a.rlt": abba, "b.rlt": moved, "c.rlt": other])
    defer { try? FileManager.default.removeItem(at: dir) }
    let run = try ToolRun(["report", "--format", "sarif", "a.rlt", "b.rlt", "c.rlt"], in: dir)
    #expect(run.status == 1)
    let runs = try #require(try Self.object(run.stdout)["runs"] as? [[String: Any]])
    let results = try #require(runs.first?["results"] as? [[String: Any]])
    let traces = results.map { ($0["properties"] as? [String: Any])?["trace"] as? String }
    #expect(traces == ["a.rlt", "b.rlt", "c.rlt"])
    let prints = results.map {
      ($0["partialFingerprints"] as? [String: Any])?["rawlockcheckFinding/v1"] as? String
    }
    #expect(prints.allSatisfy { $0?.count == 16 }, "\(prints)")
    #expect(prints[0] == prints[1])
    #expect(prints[0] != prints[2])
    // The lines moved: the results differ in where, not in what.
    let lineOf = { (r: [String: Any]) in
      (((r["locations"] as? [[String: Any]])?.first?["physicalLocation"] as? [String: Any])?[
        "region"] as? [String: Any])?["startLine"] as? Int
    }
    #expect(lineOf(results[0]) != lineOf(results[1]))
  }

  /// Two findings the report tells apart (two stacks) whose stacks hash
  /// alike (unsymbolized, so no function names) get two fingerprints: a
  /// code scanning service would make them one alert otherwise. The
  /// first keeps the plain hash, the second is `hash:2` (GitHub's own
  /// occurrence suffix).
  @Test func findingsAlikeButDistinctGetFingerprintsApart() throws {
    let trace = """
      rawlockcheck-trace 1
      class A mutex name=&a->lock
      stack s1 0x1000 0x2000
      stack s2 0x3000 0x4000
      1 acquire A
      1 acquire A at=s1
      2 acquire A
      2 acquire A at=s2

      """
    let dir = try MergeCommandTests.directory(["fp.rlt": trace])
    defer { try? FileManager.default.removeItem(at: dir) }
    let run = try ToolRun(["report", "--format", "sarif", "fp.rlt"], in: dir)
    #expect(run.status == 1)
    let runs = try #require(try Self.object(run.stdout)["runs"] as? [[String: Any]])
    let results = try #require(runs.first?["results"] as? [[String: Any]])
    let prints = results.compactMap {
      ($0["partialFingerprints"] as? [String: Any])?["rawlockcheckFinding/v1"] as? String
    }
    #expect(prints.count == 2 && Set(prints).count == 2, "\(prints)")
    #expect(prints.count == 2 && prints[1] == prints[0] + ":2", "\(prints)")
  }

  /// What GitHub code scanning requires beyond the schema (its SARIF
  /// support page; the SARIF SDK's GH1003 and GH2012 rules): every rule
  /// has a short and a full description and a help text, and every
  /// result's location a line (`region.startLine`), also a binary trace's
  /// without symbols, which has no line of its own.
  @Test func rulesAndLocationsHaveWhatCodeScanningRequires() throws {
    let dir = try MergeCommandTests.directory([:])
    defer { try? FileManager.default.removeItem(at: dir) }
    let binary = dir.appendingPathComponent("abba.rltb").path
    let converted = try ToolRun([
      "convert", FixturePaths.traces.appendingPathComponent("findings/circular-abba.rlt").path,
      binary,
    ])
    #expect(converted.status == 0)
    let run = try ToolRun(["report", "--format", "sarif", binary])
    #expect(run.status == 1)
    let runs = try #require(try Self.object(run.stdout)["runs"] as? [[String: Any]])
    let driver = (runs.first?["tool"] as? [String: Any])?["driver"] as? [String: Any]
    let rules = try #require(driver?["rules"] as? [[String: Any]])
    #expect(rules.count == FindingKind.allCases.count)
    for rule in rules {
      for key in ["shortDescription", "fullDescription", "help"] {
        let text = (rule[key] as? [String: Any])?["text"] as? String ?? ""
        #expect(!text.isEmpty, "\(rule["id"] ?? "?") \(key)")
      }
    }
    let results = try #require(runs.first?["results"] as? [[String: Any]])
    #expect(!results.isEmpty)
    for result in results {
      let physical =
        ((result["locations"] as? [[String: Any]])?.first?["physicalLocation"])
        as? [String: Any]
      let line = (physical?["region"] as? [String: Any])?["startLine"] as? Int ?? 0
      #expect(line >= 1, "\(result)")
    }
  }

  /// A fingerprint is what a code scanning service matches alerts by from
  /// run to run: a change of the tool must not change it for the same
  /// finding, or every open alert closes and opens again, its triage
  /// lost. These are the values of earlier versions (the names of a cycle,
  /// a recursive locking and an irq-unsafe dependency hashed in their old
  /// order, the held lock first, which `lockNames(of:)` no longer uses).
  @Test(arguments: [
    ("findings/circular-abba.rlt", "670aa5c41410d01d"),
    ("findings/irq-lock-inversion-middle.rlt", "4d33bbb8c0d8b07e"),
    ("findings/recursive-locking.rlt", "df07512492f1eeb1"),
  ])
  func fingerprintsStayWhatTheyWere(_ trace: String, _ fingerprint: String) throws {
    let run = try ToolRun(["report", "--format", "sarif", trace])
    #expect(run.status == 1)
    let runs = try #require(try Self.object(run.stdout)["runs"] as? [[String: Any]])
    let results = try #require(runs.first?["results"] as? [[String: Any]])
    let prints = results.map {
      ($0["partialFingerprints"] as? [String: Any])?["rawlockcheckFinding/v1"] as? String
    }
    #expect(prints == [fingerprint])
  }

  /// A trace that cannot be read is in the log: the run's invocation is
  /// not successful and its notification gives the error and the trace
  /// (a log without results would show in CI as a clean run), while the
  /// other trace's results are kept. A log of traces all read has one
  /// successful invocation. The JSON of several traces is an array,
  /// whichever of them could be read.
  @Test func aTraceThatCannotBeReadFailsTheInvocation() throws {
    let bad = FileManager.default.temporaryDirectory
      .appendingPathComponent("unreadable-\(UUID().uuidString).rlt")
    try Data("rawlockcheck-trace 1\nbogus\n".utf8).write(to: bad)
    defer { try? FileManager.default.removeItem(at: bad) }
    let run = try ToolRun(["report", "--format", "sarif", "findings/circular-abba.rlt", bad.path])
    #expect(run.status == 2)
    let runs = try #require(try Self.object(run.stdout)["runs"] as? [[String: Any]])
    let invocation = try #require((runs[0]["invocations"] as? [[String: Any]])?.first)
    #expect(invocation["executionSuccessful"] as? Bool == false)
    let note = try #require(
      (invocation["toolExecutionNotifications"] as? [[String: Any]])?.first)
    #expect(note["level"] as? String == "error")
    let text = ((note["message"] as? [String: Any])?["text"] as? String) ?? ""
    #expect(text.hasPrefix(bad.path + ":2: "), "\(text)")
    let location = (note["locations"] as? [[String: Any]])?.first
    try Self.checkLocation(location)
    #expect(!((runs[0]["results"] as? [[String: Any]]) ?? []).isEmpty)

    let clean = try ToolRun(["report", "--format", "sarif", "findings/circular-abba.rlt"])
    let cleanRuns = try #require(try Self.object(clean.stdout)["runs"] as? [[String: Any]])
    let cleanInvocation = try #require(
      (cleanRuns[0]["invocations"] as? [[String: Any]])?.first)
    #expect(cleanInvocation["executionSuccessful"] as? Bool == true)
    #expect(cleanInvocation["toolExecutionNotifications"] == nil)

    let json = try ToolRun(["report", "--format", "json", bad.path, "findings/circular-abba.rlt"])
    #expect(json.status == 2)
    let reports = try #require(
      try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [Any])
    #expect(reports.count == 1)
  }

  @Test func uriEncodesWhatAURICannotHold() {
    #expect(SARIFReport.uri("/a b/c.swift") == "file:///a%20b/c.swift")
    #expect(SARIFReport.uri("Sources/X.swift") == "Sources/X.swift")
    // A relative path's first segment holds no `:` (RFC 3986, 4.2): a
    // URI parser took `c:d.rlt` for scheme `c`.
    #expect(SARIFReport.uri("c:d.rlt") == "c%3Ad.rlt")
    #expect(URL(string: SARIFReport.uri("c:d.rlt"))?.scheme == nil)
    #expect(SARIFReport.uri("a/c:d.rlt") == "a/c:d.rlt")
    #expect(SARIFReport.uri("/c:d.rlt") == "file:///c:d.rlt")
  }

  /// `report -` reads standard input, and names it `-`.
  @Test func dashReadsStandardInput() throws {
    let text = try String(
      contentsOf: FixturePaths.traces.appendingPathComponent("findings/circular-abba.rlt"),
      encoding: .utf8)
    let run = try ToolRun(["report", "-"], input: text)
    #expect(run.status == 1)
    #expect(run.stdout.contains("-: 8 events, 1 finding (circular-dependency 1)"))
    #expect(run.stderr.isEmpty, "no progress bar when stderr is not a terminal")
    let twice = try ToolRun(["report", "-", "-"], input: text)
    #expect(twice.status == 2)
  }

  @Test func progressLineFormatting() {
    let regular = ProgressBar.line(
      label: "t.rlt", done: 50 << 20, total: 200 << 20, elapsed: 2, width: 8)
    #expect(regular == "t.rlt [##......] 25% 50.0/200.0 MiB 25.0 MiB/s 0:02 elapsed 0:06 left")
    let pipe = ProgressBar.line(label: "-", done: 3 << 20, total: nil, elapsed: 1.5)
    #expect(pipe == "- 3.0 MiB 2.0 MiB/s 0:02 elapsed")
    #expect(ProgressBar.clock(3725) == "1:02:05")
    #expect(ProgressBar.mebibytes(1_572_864) == "1.5")
  }

  /// The bar fits the terminal (a line that wraps leaves a row behind at
  /// each redrawing: it was about 90 columns and the trace's name, on any
  /// terminal): the bar narrows first, then the label keeps its end.
  @Test func progressLineFitsTheTerminal() {
    func fitted(_ label: String, _ columns: Int) -> String {
      ProgressBar.fitted(
        label: label, done: 50 << 20, total: 200 << 20, elapsed: 2, columns: columns)
    }
    let whole = fitted("t.rlt", 200)
    #expect(whole == ProgressBar.line(label: "t.rlt", done: 50 << 20, total: 200 << 20, elapsed: 2))
    let narrow = fitted("t.rlt", 70)
    #expect(narrow.unicodeScalars.count == 70)
    #expect(narrow.hasPrefix("t.rlt [##.......] 25% "), "\(narrow)")
    #expect(narrow.hasSuffix(" 0:06 left"))
    let long = String(repeating: "shard-directory/", count: 8) + "trace-0001.rlt"
    let cut = fitted(long, 79)
    #expect(cut.unicodeScalars.count <= 79)
    #expect(cut.hasPrefix("...") && cut.contains("-0001.rlt [##......] 25%"), "\(cut)")
    for columns in [1, 5, 20, 40] {
      #expect(fitted(long, columns).unicodeScalars.count <= columns)
    }
    // Wide characters take two columns each: a name of them is cut to fit
    // as many columns, not characters (it wrapped).
    let wide = String(repeating: "日志/", count: 12) + "トレース.rlt"
    #expect(ProgressBar.columns("日志") == 4 && ProgressBar.columns("e\u{301}") == 1)
    for columns in [10, 40, 79] {
      let text = fitted(wide, columns)
      #expect(ProgressBar.columns(text) <= columns, "\(text)")
    }
    #expect(fitted(wide, 79).contains("トレース.rlt ["))
  }

  /// The low-reuse shape is clean, and hits the chain cache rarely.
  @Test func lowReuseTraceIsCleanWithFewChainHits() throws {
    let generated = try ToolRun(["generate", "--shape", "low-reuse", "--events", "200000"])
    #expect(generated.status == 0)
    let run = try ToolRun(["report", "--statistics", "-"], input: generated.stdout)
    #expect(run.status == 0, "\(run.stdout.suffix(2000))")
    let hits = try #require(
      run.stderr.split(separator: "(").last?.split(separator: "%").first.flatMap { Double($0) })
    #expect(hits > 10 && hits < 45, "\(run.stderr)")
  }

  /// `--stacks` writes the events a recorder would: the same events as
  /// without it (the same findings: none), each acquisition and release
  /// with `inst=`, each acquisition with `at=` a declared stack, and the
  /// acquisitions of one class at a few stacks only.
  @Test(arguments: ["reuse", "low-reuse", "churn"])
  func stacksAddARecordersOptionsToTheSameEvents(shape: String) throws {
    let plain = try ToolRun(["generate", "--shape", shape, "--events", "20000"])
    let recorded = try ToolRun([
      "generate", "--shape", shape, "--events", "20000", "--stacks", "16",
    ])
    #expect(plain.status == 0 && recorded.status == 0)
    func events(_ text: String) -> [Substring] {
      text.split(separator: "\n").filter {
        !$0.hasPrefix("#") && !$0.hasPrefix("class ") && !$0.hasPrefix("stack ")
          && !$0.hasPrefix("thread ")
      }
    }
    let stripped = events(recorded.stdout).map { line in
      line.split(separator: " ").filter { !$0.hasPrefix("inst=") && !$0.hasPrefix("at=") }
        .joined(separator: " ")
    }
    #expect(stripped == events(plain.stdout).map(String.init))
    var sites: [Substring: Set<Substring>] = [:]
    for line in events(recorded.stdout) {
      let words = line.split(separator: " ")
      guard words[1] == "acquire" || words[1] == "release" else { continue }
      #expect(words.contains { $0.hasPrefix("inst=0x") }, "\(line)")
      let at = words.first { $0.hasPrefix("at=s") }
      #expect((at != nil) == (words[1] == "acquire"), "\(line)")
      if let at { sites[words[2], default: []].insert(at) }
    }
    #expect(!sites.isEmpty && sites.values.allSatisfy { $0.count <= 4 })
    let run = try ToolRun(["report", "-"], input: recorded.stdout)
    #expect(run.status == 0, "\(run.stdout.suffix(2000))")
  }

  /// The churn shape is clean: a thread per code path, each exiting with
  /// nothing held (an exit with a lock held is a finding), and no more
  /// than `--threads` of them alive at once.
  @Test func churnTraceIsCleanWithAThreadPerTask() throws {
    let generated = try ToolRun([
      "generate", "--shape", "churn", "--events", "50000", "--threads", "3",
    ])
    #expect(generated.status == 0)
    let run = try ToolRun(["report", "-"], input: generated.stdout)
    #expect(run.status == 0, "\(run.stdout.suffix(2000))")
    var alive: Set<Substring> = []
    var threads = 0
    var most = 0
    for line in generated.stdout.split(separator: "\n") where line.hasPrefix("w") {
      let words = line.split(separator: " ")
      if words[1] == "exit" {
        alive.remove(words[0])
      } else if alive.insert(words[0]).inserted {
        threads += 1
      }
      most = max(most, alive.count)
    }
    #expect(alive.isEmpty)
    #expect(most == 3)
    #expect(threads > 50000 / 20, "\(threads) threads")
  }

  /// A binary rebuilt since the trace (its frames stale, no names), or not
  /// found (an address alone): the location is the trace's line, not a
  /// frame of the libraries below them (here `pthread_create.c`).
  @Test(arguments: [true, false])
  func anUnsymbolizedFrameLeavesTheLocationToTheTrace(stale: Bool) throws {
    struct StaleResolver: FrameResolving {
      var stale: Bool
      func frames(for origin: Origin) -> [Frame] {
        [
          Frame(address: 0x1000, module: "app", moduleOffset: 0x1000, isStale: stale),
          Frame(
            address: 0x2000, function: "start_thread", file: "./nptl/pthread_create.c", line: 442),
        ]
      }
    }
    var validator = LockValidator()
    let raw = validator.declareClass(
      key: "raw", name: nil, kind: .rawSpinlock, waits: try ClassWaitTypes(kind: .rawSpinlock))
    let mutex = validator.declareClass(
      key: "m", name: nil, kind: .mutex, waits: try ClassWaitTypes(kind: .mutex))
    let thread = validator.declareThread(token: "1")
    try validator.process(
      LockEvent(
        .acquire, thread: thread, lockClass: raw, origin: Origin(stack: StackID(0), line: 5)))
    try validator.process(
      LockEvent(
        .acquire, thread: thread, lockClass: mutex, origin: Origin(stack: StackID(0), line: 6)))
    let report = TextReport(
      validator: validator, source: "t.rlt", resolver: StaleResolver(stale: stale))
    let log = try Self.object(SARIFReport(reports: [report], version: "0").value().render())
    let results = try #require(
      ((log["runs"] as? [[String: Any]])?.first?["results"]) as? [[String: Any]])
    #expect(!results.isEmpty)
    for result in results {
      let location = (result["locations"] as? [[String: Any]])?.first
      let physical = location?["physicalLocation"] as? [String: Any]
      let uri = (physical?["artifactLocation"] as? [String: Any])?["uri"] as? String
      let line = (physical?["region"] as? [String: Any])?["startLine"] as? Int
      #expect(uri == "t.rlt" && line == 6, "\(result)")
    }
  }
}

/// `report --format sarif` writes its log a trace at a time (it kept every
/// trace's report to the end: 26 KB a trace): the log of several traces
/// holds, in order, the results each trace's own log holds, an artifact
/// per trace read, and an invocation that names the trace that could not
/// be read, however many results came before.
@Suite struct SARIFStreamTests {
  static func log(_ traces: [String]) throws -> (status: Int32, log: [String: Any]) {
    let run = try ToolRun(["report", "--format", "sarif"] + traces)
    return (run.status, try SARIFReportTests.object(run.stdout))
  }

  static func run(_ log: [String: Any]) -> [String: Any] {
    (log["runs"] as? [[String: Any]])?.first ?? [:]
  }

  @Test func aLogOfSeveralTracesIsTheirLogsInOrder() throws {
    let traces = [
      "findings/circular-abba.rlt", "clean/nested-ok.rlt", "malformed/unknown-class.rlt",
      "findings/circular-three.rlt", "findings/bad-unlock-balance.rlt",
    ]
    let (status, whole) = try Self.log(traces)
    #expect(status == 2)
    var expected: [NSDictionary] = []
    for trace in traces where !trace.hasPrefix("malformed/") {
      let single = try Self.log([trace]).log
      expected += (Self.run(single)["results"] as? [[String: Any]] ?? []).map { $0 as NSDictionary }
    }
    let results = (Self.run(whole)["results"] as? [[String: Any]] ?? []).map { $0 as NSDictionary }
    #expect(results.count == expected.count && results.count >= 3)
    #expect(results == expected)
    let artifacts = Self.run(whole)["artifacts"] as? [[String: Any]] ?? []
    #expect(artifacts.count == 4)
    let invocation = (Self.run(whole)["invocations"] as? [[String: Any]])?.first ?? [:]
    #expect(invocation["executionSuccessful"] as? Bool == false)
    let notes = invocation["toolExecutionNotifications"] as? [[String: Any]] ?? []
    #expect(notes.count == 1 && "\(notes)".contains("unknown-class.rlt"))
    // Clean traces only: no result, and the log is still whole.
    let (cleanStatus, clean) = try Self.log(["clean/nested-ok.rlt", "clean/interrupts-ok.rlt"])
    #expect(cleanStatus == 0)
    #expect((Self.run(clean)["results"] as? [Any])?.isEmpty == true)
    #expect((Self.run(clean)["artifacts"] as? [Any])?.count == 2)
  }
}

/// `--source-root .` in a working directory that was removed: refused in
/// one line, status 2 (it became `/`, and every path was placed under it).
@Suite struct SourceRootInARemovedDirectoryTests {
  @Test func aRelativeRootWithoutAWorkingDirectoryIsRefused() throws {
    let dir = try MergeCommandTests.directory([:])
    defer { try? FileManager.default.removeItem(at: dir) }
    let trace = FixturePaths.traces.appendingPathComponent("findings/circular-abba.rlt").path
    let run = try ToolRun.command(
      "/bin/sh",
      [
        "-c",
        "mkdir '\(dir.path)/gone' && cd '\(dir.path)/gone' && rmdir '\(dir.path)/gone' && "
          + "'\(FixturePaths.tool.path)' report --format sarif --source-root . '\(trace)'",
      ])
    #expect(run.status == 2)
    #expect(run.stdout.isEmpty)
    #expect(run.stderr.hasPrefix("rawlockcheck: --source-root .: relative, and the working "))
  }
}
