import Foundation
import Testing

/// Real lockdep splats, replayed through `rawlockcheck report`.
///
/// Each trace under Fixtures/traces/splats re-creates the lock history behind one lockdep
/// report seen in the wild (syzkaller's `pkg/report/testdata/linux/report/N` files, syzbot
/// reports on LKML, netdev and io-uring threads, bcachefs GitHub issues), or is a clean
/// variant of one that lockdep accepts. Its header says:
///
/// - `# source:` where the splat is: repository, path and commit, or list, subject and date;
/// - `# options:` the checking options that match the reporting kernel (`--no-raw-nesting`
///   where it ran without PROVE_RAW_LOCK_NESTING, `--preempt-rt` for PREEMPT_RT kernels);
/// - `# expect:` the finding kind (spec/reports.md) the splat is, or `clean`;
/// - `# line:` (any number) text that must appear in the text report.
///
/// The `# line:` texts are copied verbatim from the real splat, never from rawlockcheck's
/// output, and changed only where spec/reports.md fixes a difference:
///
/// - no lock addresses: ` #0: ffff888041bdbf60 (&oi->ip_alloc_sem){++++}-{3:3}, at: ...`
///   is kept as ` #0: (&oi->ip_alloc_sem){++++}-{3:3}`;
/// - locations are the trace's file:line, so the `, at: ...` part is cut off;
/// - the spec's titles: `BUG: sleeping function called from invalid context` ends there (the
///   kernel adds ` at file:line`), and a `WARNING: comm/pid still has locks held!` splat is
///   `WARNING: lock held when thread exits!`;
/// - every lock name is followed by `-{OUTER:INNER}`: kernels before 5.7 printed none, so
///   their lock texts end at the usage string (`(rtnl_mutex){+.+.}`).
///
/// Where rawlockcheck's output differs from the splat in a way the spec does not fix (the
/// `comm/pid` label of `swapper/0/0`, lines the kernel prints and rawlockcheck does not),
/// the line is left out of the fixture rather than adjusted.
@Suite struct RealSplatTests {
  static let cases = FixturePaths.traces(
    under: FixturePaths.traces.appendingPathComponent("splats"))

  /// The lines that may hold `# line:` texts (`# source:`, `# options:` and `# expect:` come
  /// first, within the 20 lines `FixturePaths.header(of:)` reads).
  static let headerLines = 40

  @Test func thereAreSplatFixtures() {
    #expect(Self.cases.count >= 20)
    let clean = Self.cases.filter { FixturePaths.header(of: $0)["expect"] == "clean" }
    #expect(clean.count >= 3, "clean variants: \(clean.map(\.lastPathComponent))")
  }

  /// A splat fixture reports its kind with every expected line; a clean variant reports
  /// nothing.
  @Test(arguments: cases)
  func splat(_ url: URL) throws {
    let name = url.lastPathComponent
    let header = FixturePaths.header(of: url)
    let source = try #require(header["source"], "\(name): no '# source:' line")
    #expect(!source.isEmpty, "\(name): empty '# source:' line")
    let expected = try #require(header["expect"], "\(name): no '# expect:' line")
    let options = (header["options"] ?? "").split(separator: " ").map(String.init)
    let lines = try Self.expectedLines(of: url)

    let text = try ToolRun(["report"] + options + [url.path])
    let json = try ToolRun(["report", "--format", "json"] + options + [url.path])
    let object = try #require(
      try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any],
      "\(name): \(json.stderr)")
    let findings = try #require(object["findings"] as? [[String: Any]])
    let kinds = findings.compactMap { $0["kind"] as? String }

    if expected == "clean" {
      #expect(text.status == 0, "\(name): \(text.stdout)\(text.stderr)")
      #expect(json.status == 0)
      #expect(kinds.isEmpty, "\(name): expected no finding, got \(kinds)")
      #expect(lines.isEmpty, "\(name): a clean variant expects no report lines")
    } else {
      #expect(text.status == 1, "\(name): \(text.stderr)")
      #expect(json.status == 1)
      #expect(kinds.contains(expected), "\(name): expected \(expected) among \(kinds)")
      #expect(!lines.isEmpty, "\(name): no '# line:' texts")
      for line in lines {
        #expect(text.stdout.contains(line), "\(name): the report lacks \"\(line)\"")
      }
    }
  }

  /// The `# line:` texts of a fixture's header: everything after `# line: `, leading spaces
  /// kept (they place a scenario table's CPU1 column), trailing ones dropped.
  /// `FixturePaths.header(of:)` keeps one value per key and cuts it at `(`, so it cannot
  /// carry them. A `# line:` below the header would be silently ignored: that is an error.
  static func expectedLines(of url: URL) throws -> [String] {
    let prefix = "# line: "
    let all = try String(contentsOf: url, encoding: .utf8).split(separator: "\n")
    let lines = all.prefix(headerLines).filter { $0.hasPrefix(prefix) }.map {
      String($0.dropFirst(prefix.count)).replacingOccurrences(
        of: "\\s+$", with: "", options: .regularExpression)
    }
    let everywhere = all.filter { $0.hasPrefix(prefix) }.count
    #expect(
      everywhere == lines.count,
      "\(url.lastPathComponent): '# line:' after the first \(headerLines) lines")
    return lines
  }
}
