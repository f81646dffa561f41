import Basics
import LockGraph
import Lockdep
import RCU
import Report

/// The demo's text output: each finding's lockdep report, the table of
/// designs, and the verdict.
enum DemoText {
  static let scenarioLine = "raw_spin_lock(&some_lock); kfree_rcu(p)"

  /// Whether this is a debug build (`swift build` without `-c release`),
  /// whose times are mostly its own unoptimized code's.
  static var isDebugBuild: Bool {
    #if DEBUG
      true
    #else
      false
    #endif
  }

  /// The whole text report.
  static func render(
    _ results: [DemoResult], baseline: DemoBaseline, scenario: DemoScenario, expected: Bool
  ) -> String {
    var out =
      "rawlockcheck demo: \(scenarioLine) on \(scenario.threads) thread\(scenario.threads == 1 ? "" : "s"), "
      + "\(scenario.objects) objects per design, per-CPU page lists and krcp page caches "
      + "drained every \(scenario.objectsPerRound) objects per thread; "
      + "each design and the baseline (the same allocations, each freed at once with kfree "
      + "after the lock is dropped: no RCU, barrier or workers) measured after "
      + "\(DemoScenario.warmUpRounds) warm-up round\(DemoScenario.warmUpRounds == 1 ? "" : "s"), "
      + "\(DemoScenario.measuredRuns) times in turn (each time below is the median run's; "
      + "findings are every timed run's, counted over them; pages, fallbacks and failures "
      + "are the median-time run's)"
      + (LockValidation.checksAsPreemptRT
        ? "; checked as for PREEMPT_RT (RAWLOCKCHECK_PREEMPT_RT): spinlock_t sleeps" : "")
      + (isDebugBuild
        ? "; a debug build: its times are mostly the debug build's own cost "
          + "(scripts/demo.sh builds for release)" : "")
      + "\n\n"
    for result in results where !result.findings.isEmpty {
      let n = result.findings.count
      out += "\(result.design.rawValue): \(n) distinct finding\(n == 1 ? "" : "s")\n\n"
      for finding in result.findings {
        out += finding.text
        if !finding.text.hasSuffix("\n") { out += "\n" }
        out +=
          "(happened \(finding.count) time\(finding.count == 1 ? "" : "s") in the "
          + "\(DemoScenario.measuredRuns) timed runs)\n\n"
      }
    }
    out += table(results, baseline: baseline) + "\n"
    out += holdTable(results, baseline: baseline) + "\n"
    out += verdict(results, expected: expected)
    return out
  }

  /// The table over the designs that ran, under the baseline's row; the
  /// last column is each time per object over the baseline's.
  static func table(_ results: [DemoResult], baseline: DemoBaseline) -> String {
    let header = [
      "design", "findings", "pages allocated", "pages used", "list fallbacks",
      "nolock failures", "objects freed", "ns/object", "x kfree",
    ]
    var rows = [header]
    rows.append([
      "kfree (baseline)", "-", "-", "-", "-", "-", "\(baseline.objects)",
      String(format2: baseline.nsPerObject), "1.00",
    ])
    for r in results {
      let s = r.statistics
      rows.append([
        r.design.rawValue, "\(r.findings.count)", "\(s.arrayPagesAllocated)",
        "\(s.arrayPagesUsed)", "\(s.listFallbacks)", "\(s.nolockFailures)", "\(s.objectsFreed)",
        String(format2: r.nsPerObject), String(format2: r.ratio(to: baseline)),
      ])
    }
    return aligned(rows)
  }

  /// The time each kfree_rcu() kept its thread inside `&some_lock`, per
  /// design, under the baseline's empty section.
  static func holdTable(_ results: [DemoResult], baseline: DemoBaseline) -> String {
    func row(_ name: String, _ h: DemoHoldTimes) -> [String] {
      [name, "\(h.p50)", "\(h.p999)", "\(h.max)"]
    }
    let rows =
      [["design", "p50", "p99.9", "max"], row("empty section (baseline)", baseline.hold)]
      + results.map { row($0.design.rawValue, $0.hold) }
    return "time inside &some_lock per kfree_rcu(p), ns (what a raw lock's holder makes "
      + "everyone else wait; each percentile the median run's; a user-space holder can be "
      + "preempted inside, which a kernel raw_spinlock_t holder cannot, and that is most of "
      + "the slowest calls):\n" + aligned(rows)
  }

  /// `rows` as columns: the first left-aligned, the others right-aligned.
  static func aligned(_ rows: [[String]]) -> String {
    let widths = rows[0].indices.map { column in rows.map { $0[column].count }.max()! }
    return rows.map { row in
      row.indices.map { column in
        let cell = row[column]
        let pad = String(repeating: " ", count: widths[column] - cell.count)
        return column == 0 ? cell + pad : pad + cell
      }.joined(separator: "  ")
    }.joined(separator: "\n") + "\n"
  }

  /// One line: whether the run came out as expected.
  static func verdict(_ results: [DemoResult], expected: Bool) -> String {
    let clean = results.filter { !$0.design.expectsFinding }.map(\.design.rawValue)
    if expected {
      var parts: [String] = []
      if results.contains(where: { $0.design.expectsFinding }) {
        parts.append(
          "inline-nowait takes \(DemoResult.expectedLock) under the raw "
            + "\(DemoResult.expectedHolder)")
      }
      if !clean.isEmpty { parts.append("\(clean.joined(separator: ", ")) ran clean") }
      if LockValidation.checksAsPreemptRT && results.contains(where: { $0.design.expectsFinding }) {
        parts.append(
          "checked as for PREEMPT_RT, &zone->lock sleeps, so inline-nowait also sleeps in "
            + "atomic context (the 2020 kernel skipped the allocation on PREEMPT_RT for this "
            + "reason)")
      }
      if !DemoDesign.validatorSeesTheBug
        && results.contains(where: { $0.design == .inlineNowait })
      {
        parts.append(
          "checked without raw lock nesting (RAWLOCKCHECK_NO_RAW_NESTING), a spinlock_t "
            + "counts as a spin lock and inline-nowait's bug goes unseen, as in lockdep before "
            + "CONFIG_PROVE_RAW_LOCK_NESTING")
      }
      return "as expected: " + parts.joined(separator: "; ") + "\n"
    }
    var problems: [String] = []
    for r in results {
      let unexpected = r.unexpected
      if r.design.expectsFinding && r.findings.count == unexpected.count {
        problems.append(
          "\(r.design.rawValue) did not find \(DemoResult.expectedLock) taken under "
            + "\(DemoResult.expectedHolder)")
      }
      if !unexpected.isEmpty {
        let kinds = unexpected.map(\.kind.rawValue).joined(separator: ", ")
        problems.append("\(r.design.rawValue) had \(unexpected.count) other finding(s): \(kinds)")
      }
    }
    return "NOT as expected: " + problems.joined(separator: "; ") + "\n"
  }
}

/// The demo's JSON output: one object with each design's figures and
/// findings (kind, the lock being taken, the locks held, the frames).
enum DemoJSON {
  /// The object.
  static func value(
    _ results: [DemoResult], baseline: DemoBaseline, scenario: DemoScenario, expected: Bool
  ) -> JSONValue {
    .object([
      ("tool", .string("rawlockcheck")),
      ("version", .string(RawLockCheck.version)),
      ("scenario", .string(DemoText.scenarioLine)),
      ("threads", .int(scenario.threads)),
      ("objectsPerDesign", .int(scenario.objects)),
      ("warmUpRounds", .int(DemoScenario.warmUpRounds)),
      ("measuredRuns", .int(DemoScenario.measuredRuns)),
      // Times of a debug build are mostly its own unoptimized code's.
      ("build", .string(DemoText.isDebugBuild ? "debug" : "release")),
      ("expected", .bool(expected)),
      (
        "baseline",
        .object([
          ("free", .string("kfree")),
          ("objectsFreed", .int(baseline.objects)),
          ("nsPerObject", .int(Int(baseline.nsPerObject.rounded()))),
          ("nsPerObjectRuns", runs(baseline.runSeconds, objects: baseline.objects)),
          ("holdNanoseconds", hold(baseline.hold)),
        ])
      ),
      ("designs", .array(results.map { design($0, baseline: baseline) })),
    ])
  }

  /// One design's figures; `percentOfBaseline` is its time per object over
  /// the baseline's, in percent (JSONValue has no fractions).
  static func design(_ r: DemoResult, baseline: DemoBaseline) -> JSONValue {
    let s = r.statistics
    return .object([
      ("design", .string(r.design.rawValue)),
      ("expectsFinding", .bool(r.design.expectsFinding)),
      ("arrayPagesAllocated", .int(s.arrayPagesAllocated)),
      ("arrayPagesUsed", .int(s.arrayPagesUsed)),
      ("peakArrayPages", .int(s.peakArrayPages)),
      ("listFallbacks", .int(s.listFallbacks)),
      ("nolockFailures", .int(s.nolockFailures)),
      ("objectsQueued", .int(s.objectsQueued)),
      ("objectsFreed", .int(s.objectsFreed)),
      ("nsPerObject", .int(Int(r.nsPerObject.rounded()))),
      ("percentOfBaseline", .int(Int((r.ratio(to: baseline) * 100).rounded()))),
      ("nsPerObjectRuns", runs(r.runSeconds, objects: r.objects)),
      ("arrayPagesAllocatedRuns", counts(r.runStatistics, \.arrayPagesAllocated)),
      ("arrayPagesUsedRuns", counts(r.runStatistics, \.arrayPagesUsed)),
      ("listFallbacksRuns", counts(r.runStatistics, \.listFallbacks)),
      ("nolockFailuresRuns", counts(r.runStatistics, \.nolockFailures)),
      ("holdNanoseconds", hold(r.hold)),
      ("findings", .array(r.findings.map(finding))),
    ])
  }

  /// Hold-time percentiles: `{"p50": …, "p999": …, "max": …}`.
  static func hold(_ h: DemoHoldTimes) -> JSONValue {
    .object([("p50", .int(h.p50)), ("p999", .int(h.p999)), ("max", .int(h.max))])
  }

  /// Each timed run's nanoseconds per object, in the order they ran.
  static func runs(_ seconds: [Double], objects: Int) -> JSONValue {
    .array(seconds.map { .int(Int(($0 * 1e9 / Double(max(1, objects))).rounded())) })
  }

  /// One counter of each timed run, in the order they ran.
  static func counts(_ runs: [KvfreeStatistics], _ field: KeyPath<KvfreeStatistics, Int>)
    -> JSONValue
  {
    .array(runs.map { .int($0[keyPath: field]) })
  }

  static func finding(_ f: DemoFinding) -> JSONValue {
    let parsed = DemoReportText(f.text)
    return .object([
      ("kind", .string(f.kind.rawValue)),
      ("title", .string(Self.plainTitle(f.kind))),
      ("count", .int(f.count)),
      ("lock", .optional(parsed.lock)),
      ("held", .array(parsed.held.map(JSONValue.string))),
      ("frames", .array(parsed.frames.map(frame))),
      ("text", .string(f.text)),
    ])
  }

  /// The title as `spec/reports.md`'s JSON writes it (no `[ ]`).
  static func plainTitle(_ kind: FindingKind) -> String {
    var title = Substring(kind.title)
    if title.hasPrefix("[ ") && title.hasSuffix(" ]") { title = title.dropFirst(2).dropLast(2) }
    return String(title)
  }

  static func frame(_ f: DemoReportText.Frame) -> JSONValue {
    .object([
      ("function", .string(f.function)),
      ("file", .optional(f.file)),
      ("line", f.line.map { .int($0) } ?? .null),
      ("inlined", .bool(f.inlined)),
    ])
  }
}

/// The parts of a lockdep-style report the JSON repeats: the lock being
/// taken, the held locks' names, the stack's frames.
struct DemoReportText {
  /// One frame of `stack backtrace:`.
  struct Frame {
    var function: String
    var file: String?
    var line: Int?
    var inlined: Bool
  }

  var lock: String?
  var held: [String] = []
  var frames: [Frame] = []

  init(_ text: String) {
    let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    var section = ""
    for line in lines {
      if line.hasSuffix("is trying to lock:") || line.hasSuffix("is trying to acquire:")
        || line.hasSuffix("may sleep acquiring:")
      {
        section = "lock"
      } else if line.contains(" held by ") && line.hasSuffix(":") {
        section = "held"
      } else if line == "stack backtrace:" {
        section = "stack"
      } else if line.isEmpty || !line.hasPrefix(" ") {
        section = ""
      } else if section == "lock" {
        lock = Self.lockName(line)
        section = ""
      } else if section == "held" {
        if let name = Self.lockName(line) { held.append(name) }
      } else if section == "stack" {
        if let frame = Self.frame(line) { frames.append(frame) }
      }
    }
  }

  /// `&zone->lock` from ` (&zone->lock){....}-{3:3}, at: …` or ` #1: (&krcp->lock)…`.
  static func lockName(_ line: String) -> String? {
    guard let open = line.firstIndex(of: "(") else { return nil }
    var depth = 0
    var index = open
    while index < line.endIndex {
      switch line[index] {
      case "(": depth += 1
      case ")":
        depth -= 1
        if depth == 0 { return String(line[line.index(after: open)..<index]) }
      default: break
      }
      index = line.index(after: index)
    }
    return nil
  }

  /// ` #3 function file:line [inlined]`; a frame without a location is its
  /// function alone (`FrameText.location(in:)`).
  static func frame(_ line: String) -> Frame? {
    var body = Substring(line).drop { $0 == " " }
    guard body.first == "#" else { return nil }
    body = body.drop { $0 != " " }.drop { $0 == " " }
    let location = FrameText.location(in: body)
    return Frame(
      function: String(location.function), file: location.file.map(String.init),
      line: location.line > 0 ? location.line : nil, inlined: location.isInlined)
  }

  /// What makes two occurrences the same finding: the lock taken and the
  /// stack (the thread, and origins the validator only shows once, differ).
  var identity: String {
    ([lock ?? ""] + held + frames.map { "\($0.function) \($0.file ?? "") \($0.line ?? 0)" })
      .joined(separator: "\n")
  }
}
