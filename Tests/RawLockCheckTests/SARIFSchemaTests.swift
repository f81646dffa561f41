import Foundation
import Testing

/// `report --format sarif` against the SARIF 2.1.0 JSON schema itself
/// (`SARIFSchemaValidator`): every finding kind's fixture, several traces in
/// one log, `--source-root`, a clean trace, and a trace that cannot be read
/// (the invocation's notification).
@Suite struct SARIFSchemaTests {
  /// Writes `report --format sarif` of `arguments` to a file in `directory`.
  static func sarif(
    _ arguments: [String], named name: String, in directory: URL, statuses: Set<Int32> = [0, 1]
  ) throws -> URL {
    let run = try ToolRun(["report", "--format", "sarif"] + arguments)
    #expect(statuses.contains(run.status), "\(arguments): \(run.stderr)")
    let file = directory.appendingPathComponent(name + ".sarif")
    try Data(run.stdout.utf8).write(to: file)
    return file
  }

  @Test(
    .enabled(
      if: SARIFSchemaValidator.runs,
      "no SARIF schema validator (scripts/install-sarif-venv.sh installs it; scripts/test.sh requires it)"
    ))
  func everyReportValidatesAgainstTheSARIF210Schema() throws {
    let directory = FileManager.default.temporaryDirectory
      .appendingPathComponent("sarif-schema-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    let findings = FixturePaths.traces(
      under: FixturePaths.traces.appendingPathComponent("findings"))
    #expect(findings.count >= 11)
    var files: [URL] = []
    for trace in findings {
      files.append(
        try Self.sarif(
          [trace.path], named: trace.deletingPathExtension().lastPathComponent,
          in: directory))
    }
    files.append(try Self.sarif(findings.map(\.path), named: "all-in-one-log", in: directory))
    files.append(
      try Self.sarif(
        ["--source-root", FixturePaths.root.path, findings[0].path], named: "source-root",
        in: directory))
    let clean = FixturePaths.traces(under: FixturePaths.traces.appendingPathComponent("clean"))
    files.append(try Self.sarif([try #require(clean.first).path], named: "clean", in: directory))
    let unreadable = directory.appendingPathComponent("unreadable.rlt")
    try Data("rawlockcheck-trace 1\nbogus\n".utf8).write(to: unreadable)
    files.append(
      try Self.sarif(
        [findings[0].path, unreadable.path], named: "one-unreadable", in: directory, statuses: [2]))
    // A trace named twice, and one the `--graph-in` file recorded too: one
    // artifact each (the schema's `uniqueItems`).
    files.append(
      try Self.sarif([findings[0].path, findings[0].path], named: "twice", in: directory))
    let graph = directory.appendingPathComponent("seen.rlg")
    let written = try ToolRun(["report", "--graph-out", graph.path, findings[0].path])
    #expect(written.status == 1, "\(written.stderr)")
    files.append(
      try Self.sarif(
        ["--graph-in", graph.path, findings[0].path], named: "graph-in", in: directory))
    for file in files.suffix(2) {
      let log = try JSONSerialization.jsonObject(with: Data(contentsOf: file)) as? [String: Any]
      let artifacts = (log?["runs"] as? [[String: Any]])?.first?["artifacts"] as? [[String: Any]]
      let uris = (artifacts ?? []).compactMap {
        ($0["location"] as? [String: Any])?["uri"] as? String
      }
      #expect(
        uris.count == 1 && Set(uris).count == uris.count, "\(file.lastPathComponent): \(uris)")
    }
    // A stack past the frames a report prints: a last location says how
    // many more there are.
    let deep = directory.appendingPathComponent("deep.rlt")
    try Data(ReportCommandTests.deepStackTrace(frames: 200).utf8).write(to: deep)
    let deepLog = try Self.sarif([deep.path], named: "deep", in: directory)
    #expect(try String(contentsOf: deepLog, encoding: .utf8).contains("... 72 more frames"))
    files.append(deepLog)
    let errors = try SARIFSchemaValidator.errors(in: files)
    if !errors.isEmpty {
      Issue.record("SARIF 2.1.0 schema errors:\n\(errors.prefix(20).joined(separator: "\n"))")
    }
  }
}
