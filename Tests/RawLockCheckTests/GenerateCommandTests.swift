import Foundation
import Testing

/// `generate --events N` writes exactly N events, in every shape, and the
/// trace stays clean (what it still owes is written, the rest filled).
@Suite struct GenerateCommandTests {
  @Test(arguments: ["reuse", "low-reuse", "churn", "pool", "frees", "deep"])
  func writesExactlyTheEventsAsked(shape: String) throws {
    for (events, extra) in [
      (1, [String]()), (2, []), (3, []), (17, []), (1000, []), (4_099, ["--threads", "3"]),
      (20_001, ["--stacks", "8"]),
      // Far more threads than events: most slots never run a thread.
      (100, ["--threads", "300000"]),
    ] {
      let generated = try ToolRun(
        ["generate", "--shape", shape, "--events", "\(events)", "--seed", "\(events)"] + extra)
      #expect(generated.status == 0, "\(generated.stderr)")
      let lines = generated.stdout.split(separator: "\n").filter {
        !$0.hasPrefix("#") && !$0.hasPrefix("rawlockcheck-trace")
          && !$0.hasPrefix("class ") && !$0.hasPrefix("stack ") && !$0.hasPrefix("thread ")
      }
      #expect(lines.count == events, "\(shape) --events \(events)")
      let report = try ToolRun(["report", "-"], input: generated.stdout)
      #expect(report.status == 0, "\(shape) --events \(events): \(report.stdout)")
      #expect(report.stdout == "-: \(events) event\(events == 1 ? "" : "s"), no findings\n")
    }
  }

  /// The `pool` shape is `churn` without exits: a thread per code path,
  /// each ending with nothing held and never seen again, no more than
  /// `--threads` of them with lines still to write at once. The trace is
  /// clean, and every thread is still alive at its end (`stats` counts
  /// them all, and no `exit` is written).
  @Test func poolThreadsEndHoldingNothingAndNeverExit() throws {
    let generated = try ToolRun([
      "generate", "--shape", "pool", "--events", "50000", "--threads", "3",
    ])
    #expect(generated.status == 0)
    var held: [Substring: Int] = [:]
    var running: Set<Substring> = []
    var most = 0
    for line in generated.stdout.split(separator: "\n") where line.hasPrefix("w") {
      let words = line.split(separator: " ")
      #expect(words[1] == "acquire" || words[1] == "release", "\(line)")
      held[words[0], default: 0] += words[1] == "acquire" ? 1 : -1
      if held[words[0]] == 0 { running.remove(words[0]) } else { running.insert(words[0]) }
      most = max(most, running.count)
    }
    #expect(held.values.allSatisfy { $0 == 0 })
    #expect(most == 3)
    #expect(held.count > 50000 / 20, "\(held.count) threads")
    let run = try ToolRun(["report", "-"], input: generated.stdout)
    #expect(run.status == 0, "\(run.stdout.suffix(2000))")
    let stats = try ToolRun(["stats", "--format", "json", "-"], input: generated.stdout)
    #expect(stats.stdout.contains("\"w\(held.count / 2)\""), "\(stats.stdout.prefix(2000))")
  }

  /// The `frees` shape frees memory while its threads hold locks: each
  /// thread holds a lock from its first event to its last, and a fifth or
  /// more of the events are frees, none of memory a lock lies in (the
  /// trace is clean), so every free is checked against held locks.
  @Test func freesComeWhileEveryThreadHoldsALock() throws {
    let generated = try ToolRun([
      "generate", "--shape", "frees", "--events", "20000", "--threads", "50",
    ])
    #expect(generated.status == 0, "\(generated.stderr)")
    let events = generated.stdout.split(separator: "\n").map { $0.split(separator: " ") }
      .filter { $0.count >= 2 && $0[0].hasPrefix("f") }
    let frees = events.filter { $0[1] == "free" }.count
    #expect(frees * 5 >= events.count, "\(frees) frees of \(events.count) events")
    var holding = Set<Substring>()
    var freesWhileHolding = 0
    for words in events {
      if words[1] == "acquire" && words[2] == "c0" { holding.insert(words[0]) }
      if words[1] == "release" && words[2] == "c0" { holding.remove(words[0]) }
      if words[1] == "free" && holding.count == 50 { freesWhileHolding += 1 }
    }
    #expect(freesWhileHolding == frees)
    let report = try ToolRun(["report", "-"], input: generated.stdout)
    #expect(report.stdout == "-: 20000 events, no findings\n")
  }

  /// The `random-order` shape nests sleeping locks in no order: it writes
  /// exactly N events, declares only mutexes and read-write semaphores
  /// (so no wait-context or irq finding can come), releases what it takes
  /// (nothing is left held or unbalanced), and its pairs of classes are
  /// taken both ways round, so what the report finds is cycles and only
  /// cycles (past the report's limit of distinct findings).
  @Test func randomOrderNestsSleepingLocksInNoOrder() throws {
    let generated = try ToolRun([
      "generate", "--shape", "random-order", "--events", "200000", "--classes", "300",
    ])
    #expect(generated.status == 0, "\(generated.stderr)")
    let lines = generated.stdout.split(separator: "\n")
    let kinds = Set(lines.filter { $0.hasPrefix("class ") }.map { $0.split(separator: " ")[2] })
    #expect(kinds == ["mutex", "rwsem"])
    let events = lines.filter {
      !$0.hasPrefix("#") && !$0.hasPrefix("rawlockcheck-trace") && !$0.hasPrefix("class ")
        && !$0.hasPrefix("thread ")
    }
    #expect(events.count == 200_000)
    // Some pair of classes is nested both ways round.
    var held: [Substring: [Substring]] = [:]
    var pairs = Set<String>()
    for line in events {
      let words = line.split(separator: " ")
      guard words.count >= 3 else { continue }
      if words[1] == "acquire" {
        for outer in held[words[0], default: []] { pairs.insert("\(outer) \(words[2])") }
        held[words[0], default: []].append(words[2])
      } else if words[1] == "release" {
        held[words[0]]?.removeAll { $0 == words[2] }
      }
    }
    #expect(
      pairs.contains { pairs.contains($0.split(separator: " ").reversed().joined(separator: " ")) })
    let report = try ToolRun(["report", "--format", "json", "-"], input: generated.stdout)
    #expect(report.status == 1)
    let json = try #require(
      try JSONSerialization.jsonObject(with: Data(report.stdout.utf8)) as? [String: Any])
    let findings = try #require(json["findings"] as? [[String: Any]])
    let found = Set(findings.compactMap { $0["kind"] as? String })
    #expect(found == ["circular-dependency", "limit-exceeded"], "\(found)")
  }
}
