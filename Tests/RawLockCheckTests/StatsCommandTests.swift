import Foundation
import Testing

@Suite struct StatsCommandTests {
  func json(_ run: ToolRun) throws -> [String: Any] {
    try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
  }

  @Test func countsTheSeedScenario() throws {
    let run = try ToolRun(["stats", "--format", "json", "findings/invalid-wait-context-seed.rlt"])
    #expect(run.status == 0)
    #expect(run.stderr.isEmpty)
    let object = try json(run)
    #expect(object["events"] as? Int == 8)
    #expect(object["classes"] as? Int == 4)
    #expect(object["classesDeclared"] as? Int == 4)
    #expect(object["subclassVariants"] as? Int == 0)
    // some_lock -> krc, krc -> zone, pcp -> zone (the trylock of pcp adds none).
    #expect(object["dependencies"] as? Int == 3)
    #expect(object["acquisitions"] as? Int == 4)
    #expect(object["maxHeldDepth"] as? Int == 4)
    let deepest = try #require(object["maxHeldDepthThread"] as? [String: String])
    #expect(deepest == ["id": "1", "name": "kworker"])
    let verbs = try #require(object["eventsPerKind"] as? [String: Int])
    #expect(verbs == ["acquire": 4, "release": 4])
    let threads = try #require(object["eventsPerThread"] as? [[String: Any]])
    #expect(threads.count == 1)
    #expect(threads.first?["events"] as? Int == 8)
    let findings = try #require(object["findings"] as? [String: [String: Int]])
    #expect(findings == ["invalid-wait-context": ["distinct": 1, "occurrences": 1]])
  }

  /// A repeated chain is a cache hit; a subclass is a class of its own; the
  /// busiest class comes first.
  @Test func countsHitsSubclassesAndTheBusiestClass() throws {
    let trace = """
      rawlockcheck-trace 1
      thread 1 name=a
      thread 2 name=b
      class m mutex name=&m
      class s spinlock name=&s
      class i mutex name=&inode
      1 acquire m
      1 acquire s
      1 release s
      1 release m
      1 acquire m
      1 acquire s
      1 release s
      1 release m
      2 acquire i inst=1
      2 acquire i sub=1 inst=2
      2 release i inst=2
      2 release i inst=1
      2 irq-disable
      2 acquire s
      2 release s
      2 irq-enable

      """
    let run = try ToolRun(["stats", "--format", "json", "-"], input: trace)
    #expect(run.status == 0, "\(run.stderr)")
    let object = try json(run)
    #expect(object["classes"] as? Int == 4)
    #expect(object["classesDeclared"] as? Int == 3)
    #expect(object["subclassVariants"] as? Int == 1)
    #expect(object["dependencies"] as? Int == 2)  // m -> s, i -> i/1
    #expect(object["acquisitions"] as? Int == 7)
    #expect(object["chainCacheHits"] as? Int == 2)  // the second m and m -> s
    #expect(object["chainsValidated"] as? Int == 5)
    let verbs = try #require(object["eventsPerKind"] as? [String: Int])
    #expect(verbs == ["acquire": 7, "release": 7, "irq-disable": 1, "irq-enable": 1])
    let threads = try #require(object["eventsPerThread"] as? [[String: Any]])
    #expect(threads.map { $0["id"] as? String } == ["1", "2"])
    #expect(threads.map { $0["name"] as? String } == ["a", "b"])
    #expect(threads.map { $0["events"] as? Int } == [8, 8])
    let busiest = try #require(object["busiestClasses"] as? [[String: Any]])
    #expect(busiest.map { $0["name"] as? String } == ["&s", "&m", "&inode", "&inode/1"])
    #expect(busiest.map { $0["acquisitions"] as? Int } == [3, 2, 1, 1])
    #expect(busiest.last?["subclass"] as? Int == 1)
    #expect((object["findings"] as? [String: Any])?.isEmpty == true)
  }

  /// Every acquisition the total counts is some class's: `might-lock` is
  /// lockdep's `lock_acquire()` and `lock_release()`, and with
  /// `--preempt-rt` each outermost `bh-disable` takes the `local_bh` map,
  /// a class no event names. (Before 2026-12-07 the total counted them and
  /// `busiestClasses` did not: found by an independent model of `stats`.)
  @Test func theBusiestClassesCountWhatTheTotalCounts() throws {
    let trace = """
      rawlockcheck-trace 1
      class a mutex name=&a
      class s spinlock name=&s
      1 might-lock a
      1 bh-disable
      1 acquire s
      1 release s
      1 bh-enable

      """
    for rt in [false, true] {
      let run = try ToolRun(
        ["stats", "--format", "json", "-"] + (rt ? ["--preempt-rt"] : []), input: trace)
      #expect(run.status == 0, "\(run.stderr)")
      let object = try json(run)
      let busiest = try #require(object["busiestClasses"] as? [[String: Any]])
      let counts = Dictionary(
        uniqueKeysWithValues: busiest.map {
          ($0["name"] as? String ?? "?", $0["acquisitions"] as? Int ?? -1)
        })
      #expect(counts == (rt ? ["&a": 1, "&s": 1, "local_bh": 1] : ["&a": 1, "&s": 1]), "rt \(rt)")
      #expect(object["acquisitions"] as? Int == counts.values.reduce(0, +), "rt \(rt)")
    }
    // A class the trace declares with the map's key and other wait types
    // is not the map (the validator declares its own): the takings are
    // the map's. (The review found them counted for the trace's class.)
    let mine = """
      rawlockcheck-trace 1
      class rawlockcheck:local_bh raw_spinlock name=mine
      1 acquire rawlockcheck:local_bh
      1 release rawlockcheck:local_bh
      1 bh-disable
      1 bh-enable
      1 bh-disable
      1 bh-enable

      """
    let run = try ToolRun(["stats", "--format", "json", "--preempt-rt", "-"], input: mine)
    #expect(run.status == 0, "\(run.stderr)")
    let busiest = try #require(try json(run)["busiestClasses"] as? [[String: Any]])
    #expect(busiest.map { $0["name"] as? String } == ["local_bh", "mine"])
    #expect(busiest.map { $0["acquisitions"] as? Int } == [2, 1])
  }

  @Test func textHasTheLockdepStatsLines() throws {
    let run = try ToolRun(["stats", "findings/circular-three.rlt"])
    #expect(run.status == 0)
    let lines = run.stdout.split(separator: "\n").map(String.init)
    #expect(lines.first == "findings/circular-three.rlt:")
    func value(_ name: String) -> String? {
      for line in lines {
        let body = line.drop { $0 == " " }
        if body.hasPrefix("\(name):") {
          return body.dropFirst(name.count + 1).trimmingCharacters(in: .whitespaces)
        }
      }
      return nil
    }
    #expect(value("events") == "12")
    #expect(value("lock-classes") == "3 [max: 1048576]")
    #expect(value("direct dependencies") == "2")
    #expect(value("chains validated (cache misses)") == "6")
    #expect(value("chain cache hits") == "0")
    #expect(value("max held depth") == "2 [max: 1024] (thread/1)")
    #expect(value("findings") == "1 distinct, 1 occurrence")
    #expect(value("circular-dependency") == "1 (1 occurrence)")
    #expect(value("acquire") == "6")
    #expect(value("thread/3") == "4")
    #expect(run.stdout.contains("busiest classes (acquisitions, top 10):\n  A:"))
  }

  /// With more threads than the text lists, it lists the busiest (most
  /// first, ties in declaration order) and sums the others; JSON lists
  /// every thread.
  @Test func manyThreadsListTheBusiest() throws {
    var lines = ["rawlockcheck-trace 1", "class A spinlock"]
    // Thread tN takes and drops A N times (2N events): t29 is the busiest.
    for t in 0..<30 {
      for _ in 0..<t { lines += ["t\(t) acquire A", "t\(t) release A"] }
      lines.append("t\(t) might-sleep")
    }
    let trace = lines.joined(separator: "\n") + "\n"
    let text = try ToolRun(["stats", "-"], input: trace)
    #expect(text.status == 0)
    let body = text.stdout.components(separatedBy: "events per thread")[1]
      .components(separatedBy: "\n\n")[0]
    #expect(body.hasPrefix(" (the 20 busiest of 30; --format json lists every one):"))
    let rows = body.split(separator: "\n").dropFirst().map {
      $0.split(separator: " ").map(String.init)
    }
    #expect(rows.count == 21)
    // t29 .. t10, each with 2N + 1 events.
    #expect(rows.prefix(20).map { $0[0] } == (10..<30).reversed().map { "thread/t\($0):" })
    #expect(rows.prefix(20).map { $0.last } == (10..<30).reversed().map { "\(2 * $0 + 1)" })
    // t0 .. t9: 10 threads, sum of 2N + 1 for N < 10 = 100 events.
    #expect(rows[20] == ["10", "other", "threads:", "100"])
    let json = try ToolRun(["stats", "--format", "json", "-"], input: trace)
    let threads = try #require(try self.json(json)["eventsPerThread"] as? [[String: Any]])
    #expect(threads.count == 30)
  }

  @Test func aBadTraceIsStatusTwoWithItsLine() throws {
    let run = try ToolRun(["stats", "malformed/unbalanced.rlt"])
    #expect(run.status == 2)
    #expect(run.stdout.isEmpty)
    #expect(run.stderr.hasPrefix("rawlockcheck: malformed/unbalanced.rlt:3: "))
    #expect(run.stderr.split(separator: "\n").count == 1)
  }

  /// Several traces are each counted on their own, as `report` validates
  /// each without `--merge`: a block (an object) per trace in the order
  /// given, one trace's classes and events not added to another's; a trace
  /// that cannot be read is said in one line and the others still counted,
  /// with status 2.
  @Test func severalTracesAreEachCountedOnTheirOwn() throws {
    let seed = "findings/invalid-wait-context-seed.rlt"
    let abba = "findings/circular-abba.rlt"
    let alone = try json(ToolRun(["stats", "--format", "json", abba]))
    let run = try ToolRun(["stats", "--format", "json", seed, "missing.rlt", abba])
    #expect(run.status == 2)
    #expect(run.stderr.split(separator: "\n").count == 1)
    #expect(run.stderr.contains("missing.rlt"))
    let objects = try #require(
      try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [[String: Any]])
    #expect(objects.map { $0["source"] as? String } == [seed, abba])
    #expect(objects.first?["events"] as? Int == 8)
    for key in ["events", "classes", "dependencies", "acquisitions"] {
      #expect(objects.last?[key] as? Int == alone[key] as? Int, "\(key)")
    }
    let text = try ToolRun(["stats", seed, abba])
    #expect(text.status == 0)
    #expect(text.stdout.contains("\(seed):\n"))
    #expect(text.stdout.contains("\n\n\(abba):\n"))
    // The first trace unreadable: the text starts with the next block.
    let afterMissing = try ToolRun(["stats", "missing.rlt", seed])
    #expect(afterMissing.status == 2)
    #expect(afterMissing.stdout.hasPrefix("\(seed):\n"), "\(afterMissing.stdout)")
    let twice = try ToolRun(["stats", "-", "-"], input: "")
    #expect(twice.status == 2)
    #expect(twice.stderr.contains("Standard input (-) can be read only once"))
  }

  /// `--binary` and `--debug-dir`, which spec/reports.md lists among the
  /// options every checking command accepts, are taken (and checked) by
  /// `stats` too, and change nothing it prints.
  @Test func takesTheSymbolFileOptionsOfEveryCheckingCommand() throws {
    let seed = "findings/invalid-wait-context-seed.rlt"
    let plain = try ToolRun(["stats", seed])
    let given = try ToolRun([
      "stats", "--binary", FixturePaths.tool.path, "--debug-dir", "/tmp", seed,
    ])
    #expect(given.status == 0, "\(given.stderr)")
    #expect(given.stdout == plain.stdout)
    let notELF = try ToolRun(["stats", "--binary", seed, seed])
    #expect(notELF.status == 2)
    #expect(notELF.stderr.contains("--binary \(seed)"), "\(notELF.stderr)")
  }
}
