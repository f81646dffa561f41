import Allocator
import Foundation
import Testing

@testable import rawlockcheck

/// `rawlockcheck demo`, run as a process (the built debug binary).
@Suite struct DemoTests {
  /// The text report: the lockdep block of the inline-nowait design, with
  /// frames in the allocator and in RCU, and the table of all four designs.
  @Test func textReportShowsTheInvalidWaitContext() throws {
    let run = try ToolRun(["demo", "--rounds", "2"])
    #expect(run.status == 0, "\(run.stderr)")
    let text = run.stdout
    #expect(text.contains("[ BUG: Invalid wait context ]"))
    #expect(text.contains("&zone->lock"))
    #expect(text.contains("&krcp->lock"))
    #expect(text.contains("&some_lock"))
    let frames = text.split(separator: "\n").filter { $0.hasPrefix(" #") && !$0.contains(": (") }
    #expect(frames.contains { $0.contains("Sources/Allocator/") })
    #expect(frames.contains { $0.contains("Sources/RCU/") })
    #expect(frames.contains { $0.contains("Sources/rawlockcheck/Demo/") })
    for design in ["inline-nowait", "no-locks", "nolock", "deferred"] {
      #expect(text.contains("\n\(design) "), "no table row for \(design)")
    }
    #expect(text.contains("as expected"))
    // The count is of times it happened: at least once per finding.
    #expect(text.contains("(happened "))
    // A baseline measured in the same run, and each design's time over it.
    let rows = text.split(separator: "\n")
    let header = try #require(rows.first { $0.hasPrefix("design ") })
    #expect(header.contains("pages allocated") && header.contains("pages used"))
    #expect(header.hasSuffix("x kfree"))
    let baseline = try #require(rows.first { $0.hasPrefix("kfree (baseline) ") })
    #expect(baseline.hasSuffix(" 1.00"))
    // The hold times: a row for the baseline's empty section and for each design.
    let holdHeader = try #require(rows.firstIndex { $0.hasPrefix("time inside &some_lock") })
    let holdRows = rows[(holdHeader + 1)...].prefix(6).map(String.init)
    #expect(holdRows.first?.split(separator: " ") == ["design", "p50", "p99.9", "max"])
    #expect(holdRows.dropFirst().first?.hasPrefix("empty section (baseline) ") == true)
    for design in ["inline-nowait", "no-locks", "nolock", "deferred"] {
      #expect(holdRows.contains { $0.hasPrefix(design + " ") }, "no hold row for \(design)")
    }
  }

  /// Every figure is a ratio against a baseline measured in the same run
  /// (the same allocations, each freed at once with kfree), after a
  /// warm-up; a page counts as used only if it held an array, so never
  /// more than allocated. The tool says whether it is a debug build (the
  /// tests' own build: its times are mostly its own).
  @Test func jsonFiguresAreRatiosToTheSameRunsBaseline() throws {
    let run = try ToolRun(["demo", "--format", "json", "--rounds", "2", "--threads", "2"])
    #expect(run.status == 0, "\(run.stderr)")
    let object = try #require(
      try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
    #expect((object["warmUpRounds"] as? Int ?? 0) >= 1)
    #if DEBUG
      #expect(object["build"] as? String == "debug")
    #else
      #expect(object["build"] as? String == "release")
    #endif
    let baseline = try #require(object["baseline"] as? [String: Any])
    #expect(baseline["objectsFreed"] as? Int == object["objectsPerDesign"] as? Int)
    let baseNs = try #require(baseline["nsPerObject"] as? Int)
    #expect(baseNs > 0)
    // Each figure is the median of the timed runs, which are listed.
    let runs = try #require(object["measuredRuns"] as? Int)
    #expect(runs >= 3 && runs % 2 == 1)
    func isMedian(_ ns: Int, of figures: Any?) -> Bool {
      guard let figures = figures as? [Int], figures.count == runs else { return false }
      return figures.sorted()[runs / 2] == ns
    }
    #expect(isMedian(baseNs, of: baseline["nsPerObjectRuns"]), "\(baseline)")
    let designs = try #require(object["designs"] as? [[String: Any]])
    #expect(designs.count == 4)
    for design in designs {
      let ns = try #require(design["nsPerObject"] as? Int)
      let percent = try #require(design["percentOfBaseline"] as? Int)
      #expect(isMedian(ns, of: design["nsPerObjectRuns"]), "\(design)")
      // Both figures are rounded: the percentage agrees within a point or two.
      let expected = Double(ns) * 100 / Double(baseNs)
      #expect(abs(Double(percent) - expected) <= 2 + expected / Double(baseNs), "\(design)")
      let allocated = try #require(design["arrayPagesAllocated"] as? Int)
      let used = try #require(design["arrayPagesUsed"] as? Int)
      #expect(used <= allocated, "\(design)")
    }
    // The time inside the raw lock per call: percentiles in order, for the
    // baseline's empty section and for each design.
    for figures in [baseline] + designs {
      let hold = try #require(figures["holdNanoseconds"] as? [String: Int], "\(figures)")
      let (p50, p999, max) = (hold["p50"] ?? -1, hold["p999"] ?? -1, hold["max"] ?? -1)
      #expect(0 <= p50 && p50 <= p999 && p999 <= max, "\(hold)")
    }
  }

  /// JSON: exactly one design has findings, inline-nowait, and its finding
  /// names the zone lock, the raw locks held and frames in RCU.
  @Test func jsonShowsOneDesignWithFindings() throws {
    let run = try ToolRun(["demo", "--format", "json", "--rounds", "2"])
    #expect(run.status == 0, "\(run.stderr)")
    let object = try #require(
      try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
    #expect(object["expected"] as? Bool == true)
    let designs = try #require(object["designs"] as? [[String: Any]])
    #expect(
      designs.map { $0["design"] as? String } == [
        "inline-nowait", "no-locks", "nolock", "deferred",
      ])
    let withFindings = designs.filter { ($0["findings"] as? [Any])?.isEmpty == false }
    #expect(withFindings.map { $0["design"] as? String } == ["inline-nowait"])
    let finding = try #require((withFindings.first?["findings"] as? [[String: Any]])?.first)
    #expect(finding["kind"] as? String == "invalid-wait-context")
    #expect(finding["lock"] as? String == "&zone->lock")
    let held = finding["held"] as? [String] ?? []
    #expect(held.contains("&some_lock") && held.contains("&krcp->lock"))
    let files = (finding["frames"] as? [[String: Any]] ?? []).compactMap { $0["file"] as? String }
    #expect(files.contains { $0.contains("Sources/RCU/") })
    #expect(files.contains { $0.contains("Sources/Allocator/") })
    for design in designs {
      #expect(design["objectsFreed"] as? Int == object["objectsPerDesign"] as? Int)
    }
  }

  /// Checked as for PREEMPT_RT, `spin_lock_irqsave(&zone->lock)` leaves
  /// interrupts on, as that kernel's does (`zone->lock` is a sleeping lock
  /// there): the allocator's own paths are clean in every design, and
  /// inline-nowait alone is flagged, with the invalid wait context and the
  /// sleep in atomic context that `rt_spin_lock()`'s `might_sleep` reports
  /// under the raw lock, both of `&zone->lock` under `&krcp->lock`.
  /// Before, every design reported sleeping in the allocator "with
  /// interrupts disabled", and the demo ended "NOT as expected".
  @Test func preemptRTFlagsOnlyTheZoneLockUnderTheRawLock() throws {
    let run = try ToolRun.command(
      "/usr/bin/env",
      [
        "RAWLOCKCHECK_PREEMPT_RT=1", FixturePaths.tool.path, "demo", "--format", "json",
        "--rounds", "2", "--threads", "2",
      ])
    #expect(run.status == 0, "\(run.stderr)")
    let object = try #require(
      try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
    #expect(object["expected"] as? Bool == true)
    let designs = try #require(object["designs"] as? [[String: Any]])
    let withFindings = designs.filter { ($0["findings"] as? [Any])?.isEmpty == false }
    #expect(withFindings.map { $0["design"] as? String } == ["inline-nowait"])
    let findings = withFindings.first?["findings"] as? [[String: Any]] ?? []
    #expect(
      Set(findings.compactMap { $0["kind"] as? String })
        == ["invalid-wait-context", "sleep-in-atomic"])
    for finding in findings {
      #expect(finding["lock"] as? String == "&zone->lock")
      #expect((finding["held"] as? [String] ?? []).contains("&krcp->lock"))
    }
  }

  /// The demo is a run of the validator that collects its findings:
  /// `RAWLOCKCHECK` (off, abort, print) is said to be ignored, not obeyed
  /// (off found nothing and ended "NOT as expected"; abort ended the demo
  /// at its first finding; print printed each report twice). Without raw
  /// lock nesting checked, inline-nowait's bug goes unseen, as in lockdep
  /// before CONFIG_PROVE_RAW_LOCK_NESTING: the demo expects that, and says
  /// why (it ended "NOT as expected", naming no variable).
  @Test func settingsThatChangeCheckingAreSaidOrExpected() throws {
    let tool = FixturePaths.tool.path
    let arguments = ["demo", "--design", "inline-nowait", "--rounds", "1", "--threads", "1"]
    for setting in ["off", "abort", "print"] {
      let run = try ToolRun.command("/usr/bin/env", ["RAWLOCKCHECK=\(setting)", tool] + arguments)
      #expect(run.status == 0, "\(setting): \(run.stderr)")
      #expect(
        run.stderr
          == "rawlockcheck: demo: RAWLOCKCHECK=\(setting) ignored: the demo validates and "
          + "collects its findings itself\n")
      #expect(run.stdout.components(separatedBy: "[ BUG: Invalid wait context ]").count == 2)
    }
    let plain = try ToolRun.command(
      "/usr/bin/env",
      ["RAWLOCKCHECK_NO_RAW_NESTING=1", tool, "demo", "--rounds", "1", "--threads", "1"])
    #expect(plain.status == 0, "\(plain.stderr)")
    #expect(!plain.stdout.contains("BUG"))
    #expect(
      plain.stdout.contains("as expected: inline-nowait, no-locks, nolock, deferred ran clean"))
    #expect(plain.stdout.contains("RAWLOCKCHECK_NO_RAW_NESTING"))
  }

  /// `--design nolock`: alloc_pages_nolock() never waits, so the run is clean.
  @Test func nolockIsClean() throws {
    let run = try ToolRun(["demo", "--design", "nolock", "--rounds", "2"])
    #expect(run.status == 0, "\(run.stderr)")
    #expect(!run.stdout.contains("BUG"))
    #expect(run.stdout.contains("nolock ran clean"))
  }

  /// The zone is sized for the threads: 600 threads (each holding a
  /// round's objects, more than the 4,096 pages a small run has) run clean;
  /// more than `DemoScenario.maxThreads` is bad usage, not a crash.
  @Test func manyThreadsFitTheZone() throws {
    let run = try ToolRun(["demo", "--design", "nolock", "--rounds", "1", "--threads", "600"])
    #expect(run.status == 0, "\(run.stderr)")
    #expect(run.stdout.contains("nolock ran clean"))
    let tooMany = try ToolRun(["demo", "--threads", "4097"])
    #expect(tooMany.status == 2)
    #expect(tooMany.stderr.contains("--threads must be at most 4096, got 4097"))
  }

  /// An unknown design is bad usage.
  @Test func unknownDesignIsUsageError() throws {
    let run = try ToolRun(["demo", "--design", "gfp-atomic"])
    #expect(run.status == 2)
  }

  /// A count out of range is said so, whatever its sign (`-1` is a value,
  /// not a missing one), and a run that would not end is refused.
  @Test(arguments: [
    (["demo", "--threads", "-1"], "--threads must be at least 1, got -1"),
    (["demo", "--rounds", "0"], "--rounds must be at least 1, got 0"),
    (["demo", "--rounds", "65537"], "--rounds must be at most 65536, got 65537"),
    (
      ["demo", "--threads", "4096", "--rounds", "65536"],
      "--threads times --rounds times 1024 objects a round must be at most 67108864 calls per "
        + "design, got 4096 x 65536 x 1024 = 274877906944"
    ),
    (
      ["demo", "--threads", "2", "--rounds", "32769"],
      "must be at most 67108864 calls per design, got 2 x 32769 x 1024 = 67110912"
    ),
    (["generate", "--events", "-5"], "rawlockcheck: --events must be at least 1, got -5 (see"),
    (["generate", "--threads", "0"], "rawlockcheck: --threads must be at least 1, got 0 (see"),
    (["generate", "--seed", "-1"], "The value '-1' is invalid for '--seed <seed>'"),
    (["generate", "--classes", "-1"], "rawlockcheck: --classes must be at least 16, got -1 (see"),
    (["generate", "--stacks", "-1"], "rawlockcheck: --stacks must be at least 0, got -1 (see"),
    (
      ["generate", "--shape", "bogus"],
      "Please provide one of the following: reuse, low-reuse, churn, pool, random-order, frees, "
        + "deep "
        + "(see 'rawlockcheck generate --help')\n"
    ),
    (["graph", "--max-edges", "-1", "t.rlt"], "--max-edges must be 0 (all) or more, got -1"),
    (
      ["symbolize", "--jobs", "-1", "--exe", "/bin/true", "0x1"],
      "--jobs must be between 1 and 64, not -1"
    ),
  ])
  func countsOutOfRangeAreUsageErrors(arguments: [String], message: String) throws {
    let run = try ToolRun(arguments)
    #expect(run.status == 2)
    #expect(run.stderr.contains(message), "\(run.stderr)")
    #expect(run.stdout.isEmpty)
  }
}

/// The demo's scenario in this process.
@Suite struct DemoScenarioTests {
  /// Objects freed with `kvfreeRCU` wait for a grace period; on a machine
  /// too busy to run RCU's threads they pile up until the zone is out of
  /// pages. A round's allocation then waits for the deferred frees (the
  /// design's barrier, `reclaim`) and tries again, as the kernel's
  /// reclaim would. Before, the allocation was force-unwrapped and the demo
  /// died with SIGILL and no message (seen once in eight long runs on a
  /// loaded machine). Here the zone is filled by objects that `reclaim`
  /// frees.
  @Test func aZoneOutOfPagesWaitsForTheDeferredFrees() throws {
    var scenario = DemoScenario()
    scenario.objectsPerRound = 64
    let pages = PageAllocator(pages: 16)
    let slab = SlabAllocator(pages: pages)
    var held: [UnsafeMutableRawPointer] = []
    while let object = slab.kmalloc(DemoScenario.objectSize) { held.append(object) }
    #expect(held.count > 64)
    var reclaims = 0
    var batch: [UnsafeMutableRawPointer] = []
    scenario.allocateRound(from: slab, into: &batch) {
      reclaims += 1
      for object in held { slab.kfree(object) }
      held = []
    }
    #expect(reclaims == 1)
    #expect(batch.count == 64)
    for object in batch { slab.kfree(object) }
    #expect(slab.objectsInUse == 0)
  }
}
