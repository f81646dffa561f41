import Foundation
import Testing

/// `report --merge`, `--graph-in` and `--graph-out` (docs/graph-file-format.md).
@Suite struct MergeCommandTests {
  static let first = """
    rawlockcheck-trace 1
    class A mutex name=&a->lock
    class B mutex name=&b->lock
    1 acquire A
    1 acquire B
    1 release B
    1 release A

    """
  static let second = """
    rawlockcheck-trace 1
    class B mutex name=&b->lock
    class A mutex name=&a->lock
    7 acquire B
    7 acquire A
    7 release A
    7 release B

    """

  /// A fresh directory holding `files`.
  static func directory(_ files: [String: String]) throws -> URL {
    let dir = FileManager.default.temporaryDirectory
      .appendingPathComponent("merge-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    for (name, text) in files {
      try Data(text.utf8).write(to: dir.appendingPathComponent(name))
    }
    return dir
  }

  /// A merged trace's last line, without its newline, that the merge
  /// refuses (a class the first trace declared as another kind) is the
  /// error it is with its newline, not a line cut short: the parser took
  /// it, and no text appended changes what it declares.
  @Test func aLastLineTheMergeRefusesIsNoCut() throws {
    let dir = try Self.directory([
      "m1.rlt": "rawlockcheck-trace 1\nclass A mutex\n",
      "m2.rlt": "rawlockcheck-trace 1\nclass A spinlock name=fo",
    ])
    defer { try? FileManager.default.removeItem(at: dir) }
    let run = try ToolRun(["report", "--merge", "m1.rlt", "m2.rlt"], in: dir)
    #expect(run.status == 2)
    #expect(run.stderr.hasPrefix("rawlockcheck: m2.rlt:2: "), "\(run.stderr)")
    #expect(!run.stderr.contains("cut short"), "\(run.stderr)")
  }

  /// With `--preempt-rt`, the `local_bh` map a section takes is a class of
  /// the tool's own: a trace merged after it that declares a class named
  /// `local_bh` of another kind is merged (it was refused: `class
  /// "local_bh" is spinlock here but custom ... in an earlier source`).
  @Test func aTracesOwnLocalBHClassMergesWithTheMap() throws {
    let dir = try Self.directory([
      "m1.rlt": "rawlockcheck-trace 1\nclass C spinlock\n1 bh-disable\n1 acquire C\n"
        + "1 release C\n1 bh-enable\n",
      "m2.rlt": "rawlockcheck-trace 1\nclass local_bh spinlock\nclass C spinlock\n"
        + "1 acquire local_bh\n1 acquire C\n1 release C\n1 release local_bh\n",
    ])
    defer { try? FileManager.default.removeItem(at: dir) }
    let run = try ToolRun(["report", "--preempt-rt", "--merge", "m1.rlt", "m2.rlt"], in: dir)
    #expect(run.status == 0, "\(run.stderr)")
    #expect(run.stdout.contains("8 events, no findings"), "\(run.stdout)")
  }

  /// The chain of a circular-dependency block names both traces' lines.
  static func expectCycleAcrossTraces(_ run: ToolRun) {
    #expect(run.status == 1)
    #expect(run.stdout.contains("WARNING: possible circular locking dependency detected"))
    #expect(
      run.stdout.contains("-> #1 (&b->lock){+.+.}-{4:4}:\n       t1.rlt:5 (no stack recorded)"))
    #expect(
      run.stdout.contains("-> #0 (&a->lock){+.+.}-{4:4}:\n       t2.rlt:5 (no stack recorded)"))
    #expect(run.stdout.contains("found at t2.rlt:5"))
    #expect(run.stdout.components(separatedBy: "circular locking dependency").count == 2)
  }

  @Test func eachTraceAloneIsClean() throws {
    let dir = try Self.directory(["t1.rlt": Self.first, "t2.rlt": Self.second])
    defer { try? FileManager.default.removeItem(at: dir) }
    let run = try ToolRun(["report", "t1.rlt", "t2.rlt"], in: dir)
    #expect(run.status == 0)
    #expect(run.stdout == "t1.rlt: 4 events, no findings\nt2.rlt: 4 events, no findings\n")
  }

  @Test func mergedTracesCloseTheCycle() throws {
    let dir = try Self.directory(["t1.rlt": Self.first, "t2.rlt": Self.second])
    defer { try? FileManager.default.removeItem(at: dir) }
    let run = try ToolRun(["report", "--merge", "t1.rlt", "t2.rlt"], in: dir)
    Self.expectCycleAcrossTraces(run)
    #expect(run.stdout.contains("thread/2:7 is trying to acquire lock:"))
    #expect(run.stdout.hasSuffix("t1.rlt + t2.rlt: 8 events, 1 finding (circular-dependency 1)\n"))
  }

  /// Memory is a process's (a trace is one process's): a `free` or an
  /// `init` in one merged trace touches no lock a thread of another trace
  /// holds at the same address, while within one trace it is lockdep's
  /// "held lock freed!".
  @Test func aFreeInOneTraceTouchesNoLockOfAnother() throws {
    let holds = "rawlockcheck-trace 1\nclass A mutex\n1 acquire A inst=0x1000\n"
    let dir = try Self.directory([
      "holds.rlt": holds,
      "frees.rlt": "rawlockcheck-trace 1\nclass A mutex\n1 free 0x1000 64\n1 init A inst=0x1000\n",
      "both.rlt": holds + "2 free 0x1000 64\n",
    ])
    defer { try? FileManager.default.removeItem(at: dir) }
    let merged = try ToolRun(["report", "--merge", "holds.rlt", "frees.rlt"], in: dir)
    #expect(merged.status == 0)
    #expect(merged.stdout == "holds.rlt + frees.rlt: 3 events, no findings\n")
    let alone = try ToolRun(["report", "both.rlt"], in: dir)
    #expect(alone.stdout.contains("WARNING: held lock freed!"))
    let mergedWithin = try ToolRun(["report", "--merge", "both.rlt", "frees.rlt"], in: dir)
    #expect(mergedWithin.stdout.components(separatedBy: "WARNING: held lock freed!").count == 2)
  }

  /// `--statistics` of a merged run: each trace's line counts that
  /// trace's events and chain-cache lookups (not the run's so far), and
  /// says its classes and dependencies are the merged graph's.
  @Test func mergedStatisticsCountEachTracesOwnEvents() throws {
    let dir = try Self.directory(["t1.rlt": Self.first, "t2.rlt": Self.second])
    defer { try? FileManager.default.removeItem(at: dir) }
    let run = try ToolRun(["report", "--merge", "--statistics", "t1.rlt", "t2.rlt"], in: dir)
    let lines = run.stderr.split(separator: "\n")
    #expect(lines.count == 2, "\(run.stderr)")
    #expect(lines.first?.hasPrefix("t1.rlt: 4 events in ") == true)
    #expect(lines.last?.hasPrefix("t2.rlt: 4 events in ") == true)
    #expect(lines.last?.contains("chain cache 0 hits, 2 misses") == true)
    // B -> A closes a cycle: refused, the graph keeps A -> B alone.
    #expect(lines.last?.hasSuffix("2 classes, 1 dependencies in the merged graph so far") == true)
  }

  /// Standard input redirected from a trace named too is that trace,
  /// merged once (its findings would be reported twice, at one place);
  /// another file with the same text is merged.
  @Test func standardInputFromANamedTraceIsMergedOnce() throws {
    let dir = try Self.directory(["t1.rlt": Self.first])
    defer { try? FileManager.default.removeItem(at: dir) }
    let redirected = try ToolRun(
      ["report", "--merge", "t1.rlt", "-"], in: dir,
      standardInput: FileHandle(forReadingFrom: dir.appendingPathComponent("t1.rlt")))
    #expect(redirected.stderr == "rawlockcheck: -: the same file as t1.rlt, merged once\n")
    #expect(redirected.stdout == "t1.rlt: 4 events, no findings\n")
    let copy = try ToolRun(["report", "--merge", "t1.rlt", "-"], in: dir, input: Self.first)
    #expect(copy.stdout == "t1.rlt + -: 8 events, no findings\n")
  }

  /// A seeded edge is written back with its recorded location unchanged
  /// (docs/graph-file-format.md): one recorded without a trace gains none
  /// (it gained the graph file's name as its trace).
  @Test func aSeededEdgeWithoutATraceKeepsNone() throws {
    let dir = try Self.directory([
      "g1.rlg":
        "rawlockcheck-graph 1\nclass A mutex\nclass B mutex\nedge A -> B kinds=EN function=f\n",
      "c.rlt": "rawlockcheck-trace 1\nclass C mutex\n1 acquire C\n",
    ])
    defer { try? FileManager.default.removeItem(at: dir) }
    let run = try ToolRun(
      ["report", "--graph-in", "g1.rlg", "--graph-out", "g2.rlg", "c.rlt"], in: dir)
    #expect(run.status == 0, "\(run.stderr)")
    let written = try String(contentsOf: dir.appendingPathComponent("g2.rlg"), encoding: .utf8)
    #expect(written.hasSuffix("\nedge A -> B kinds=EN function=f\n"), "\(written)")
  }

  /// A merged run of many traces (a CI run's shards) is named by its
  /// first and last few and how many, not a line listing them all.
  @Test func manyMergedTracesAreNamedShort() throws {
    var files: [String: String] = [:]
    for i in 1...9 { files["s\(i).rlt"] = Self.first }
    let dir = try Self.directory(files)
    defer { try? FileManager.default.removeItem(at: dir) }
    let run = try ToolRun(["report", "--merge"] + (1...9).map { "s\($0).rlt" }, in: dir)
    #expect(
      run.stdout
        == "s1.rlt + s2.rlt + s3.rlt + ... + s8.rlt + s9.rlt (9 traces): 36 events, no findings\n")
  }

  @Test func mergedJSONNamesEachTrace() throws {
    let dir = try Self.directory(["t1.rlt": Self.first, "t2.rlt": Self.second])
    defer { try? FileManager.default.removeItem(at: dir) }
    let run = try ToolRun(["report", "--merge", "--format", "json", "t1.rlt", "t2.rlt"], in: dir)
    #expect(run.status == 1)
    #expect(run.stdout.contains(#""trace":"t1.rlt""#) || run.stdout.contains(#""trace": "t1.rlt""#))
  }

  /// Binary traces have no lines: a merged run names an event by its trace
  /// and its number within that trace (B then A is events 1 and 2 of the
  /// second trace, A then B events 1 and 2 of the first).
  @Test func mergedBinaryTracesNumberEventsWithinEachTrace() throws {
    let dir = try Self.directory(["t1.rlt": Self.first, "t2.rlt": Self.second])
    defer { try? FileManager.default.removeItem(at: dir) }
    for name in ["t1", "t2"] {
      let convert = try ToolRun(["convert", "\(name).rlt", "\(name).rltb"], in: dir)
      #expect(convert.status == 0)
    }
    let run = try ToolRun(["report", "--merge", "t1.rltb", "t2.rltb"], in: dir)
    #expect(run.status == 1)
    #expect(
      run.stdout.contains(
        "is trying to acquire lock:\n (&a->lock){+.+.}-{4:4}, at: t2.rltb: event 2\n"))
    #expect(
      run.stdout.contains(
        "-> #1 (&b->lock){+.+.}-{4:4}:\n       t1.rltb: event 2 (no stack recorded)"))
    #expect(run.stdout.contains(" #0: (&b->lock){+.+.}-{4:4}, at: t2.rltb: event 1\n"))
    #expect(run.stdout.contains("found at t2.rltb: event 2, once\n"))
    let json = try ToolRun(
      ["report", "--merge", "--format", "json", "t1.rltb", "t2.rltb"], in: dir)
    let object = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
    let finding = (object?["findings"] as? [[String: Any]])?.first
    let event = finding?["event"] as? [String: Any]
    #expect(event?["index"] as? Int == 2)
    #expect(event?["trace"] as? String == "t2.rltb")
    // SARIF names the trace too, and locates the result in it.
    let sarif = try ToolRun(
      ["report", "--merge", "--format", "sarif", "t1.rltb", "t2.rltb"], in: dir)
    let log = try JSONSerialization.jsonObject(with: Data(sarif.stdout.utf8)) as? [String: Any]
    let result = ((log?["runs"] as? [[String: Any]])?.first?["results"] as? [[String: Any]])?.first
    let properties = result?["properties"] as? [String: Any]
    #expect(properties?["event"] as? Int == 2)
    #expect(properties?["trace"] as? String == "t2.rltb")
    let location = (result?["locations"] as? [[String: Any]])?.first?["physicalLocation"]
    let uri = ((location as? [String: Any])?["artifactLocation"] as? [String: Any])?["uri"]
    #expect(uri as? String == "t2.rltb")
    let artifacts = (log?["runs"] as? [[String: Any]])?.first?["artifacts"] as? [[String: Any]]
    let names = artifacts?.compactMap {
      (($0["location"] as? [String: Any])?["uri"]) as? String
    }
    #expect(names == ["t1.rltb", "t2.rltb"])
    // Text traces keep their lines, and the event's number within its trace.
    let text = try ToolRun(["report", "--merge", "t1.rlt", "t2.rlt"], in: dir)
    #expect(text.stdout.contains("found at t2.rlt:5 (event 2), once\n"))
  }

  /// Traces validated apart may declare one key as two classes (each
  /// process's own): a graph file holds one class per key, so
  /// `--graph-out` writes nothing and says why (status 2), where it wrote
  /// the first trace's class with the second's dependencies, a file that
  /// `--graph-in` then refused with those same traces.
  @Test func graphOutOfTracesDeclaringAKeyApartIsAnError() throws {
    let dir = try Self.directory([
      "k1.rlt": "rawlockcheck-trace 1\nclass A mutex\nclass C mutex\n1 acquire A\n",
      "k7.rlt": "rawlockcheck-trace 1\nclass A spinlock\nclass C mutex\n1 acquire C\n1 acquire A\n",
    ])
    defer { try? FileManager.default.removeItem(at: dir) }
    let run = try ToolRun(["report", "--graph-out", "g.rlg", "k1.rlt", "k7.rlt"], in: dir)
    #expect(run.status == 2)
    #expect(
      run.stderr
        == "rawlockcheck: g.rlg: class \"A\" is spinlock in k7.rlt but mutex in k1.rlt: a graph file holds one class per key\n"
    )
    #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("g.rlg").path))
    // Each trace is still reported, on its own.
    #expect(run.stdout == "k1.rlt: 1 event, no findings\nk7.rlt: 2 events, no findings\n")
  }

  /// A validator searches as lockdep does, and so can hold a strong cycle
  /// a weak path hid from the search that added its last edge
  /// (`cycle-found-by-a-known-dependency.rlt`, reported only when a later
  /// chain takes a known dependency again): `--graph-out` leaves that edge
  /// out, and says so, so that the file has no strong cycle to refuse.
  @Test func graphOutLeavesOutAStrongCycleTheSearchMissed() throws {
    let dir = try Self.directory([:])
    defer { try? FileManager.default.removeItem(at: dir) }
    let trace = FixturePaths.traces.appendingPathComponent(
      "findings/cycle-found-by-a-known-dependency.rlt"
    ).path
    let run = try ToolRun(["report", "--graph-out", "g.rlg", trace], in: dir)
    #expect(run.status == 1)
    #expect(
      run.stderr
        == "rawlockcheck: g.rlg: left out A -> B (\(trace):30): it closes a cycle with the dependencies before it\n"
    )
    let graph = try String(contentsOf: dir.appendingPathComponent("g.rlg"), encoding: .utf8)
    #expect(!graph.contains("edge A -> B"))
    #expect(graph.contains("edge P -> A kinds=EN"))
    let next = try ToolRun(["report", "--graph-in", "g.rlg", trace], in: dir)
    #expect(next.status == 1, "\(next.stderr)")
    #expect(next.stderr == "")
  }

  /// Traces validated apart may hold both orders of a pair between them,
  /// each clean: `--graph-out` keeps the first order, says it left out the
  /// second, and writes a file the next run reads, which then finds the
  /// cycle. With `--merge` the run reports it, and the file is the same.
  @Test func graphOutOfTracesValidatedApartStaysAcyclic() throws {
    let dir = try Self.directory(["t1.rlt": Self.first, "t2.rlt": Self.second])
    defer { try? FileManager.default.removeItem(at: dir) }
    let apart = try ToolRun(["report", "--graph-out", "g.rlg", "t1.rlt", "t2.rlt"], in: dir)
    #expect(apart.status == 0)
    #expect(
      apart.stderr
        == "rawlockcheck: g.rlg: left out B -> A (t2.rlt:5): it closes a cycle with the other traces' dependencies (--merge reports it)\n"
    )
    let graph = try String(contentsOf: dir.appendingPathComponent("g.rlg"), encoding: .utf8)
    #expect(graph.contains("edge A -> B kinds=EN trace=t1.rlt trace-line=5\n"))
    #expect(!graph.contains("edge B -> A"))
    let next = try ToolRun(["report", "--graph-in", "g.rlg", "t2.rlt"], in: dir)
    #expect(next.status == 1, "\(next.stderr)")
    #expect(next.stdout.contains("possible circular locking dependency"))
    // The graph file from standard input (`-`, as a trace may be), which
    // is read once: not with a trace from it too.
    let piped = try ToolRun(["report", "--graph-in", "-", "t2.rlt"], in: dir, input: graph)
    #expect(piped.status == 1, "\(piped.stderr)")
    #expect(piped.stdout == next.stdout)
    let twice = try ToolRun(["report", "--graph-in", "-", "-"], in: dir, input: graph)
    #expect(twice.status == 2, "\(twice.stderr)")
    #expect(twice.stderr.contains("Standard input (-) can be read only once"))
    // By another of its names, where it is a pipe (read once): the second
    // read an empty trace.
    for other in ["/dev/stdin", "/proc/self/fd/0"] {
      let named = try ToolRun.command(
        "/bin/sh",
        [
          "-c",
          "cd '\(dir.path)' && cat g.rlg | '\(FixturePaths.tool.path)' report --graph-in - \(other)",
        ])
      #expect(named.status == 2, "\(named.stderr)")
      #expect(
        named.stderr.contains("Standard input (- and \(other)) can be read only once"),
        "\(named.stderr)")
    }
    // A graph file on standard output would break a JSON or SARIF document there.
    for format in ["json", "sarif"] {
      let mixed = try ToolRun(
        ["report", "--format", format, "--graph-out", "-", "t2.rlt"], in: dir)
      #expect(mixed.status == 2 && mixed.stdout.isEmpty, "\(mixed.stderr)")
      #expect(mixed.stderr.contains("--graph-out - would write the graph file into the"))
      // Or by any name of the file standard output goes to.
      let out = dir.appendingPathComponent("out.\(format)")
      _ = FileManager.default.createFile(atPath: out.path, contents: nil)
      for name in ["/dev/stdout", out.path] {
        let named = try ToolRun(
          ["report", "--format", format, "--graph-out", name, "t2.rlt"], in: dir,
          standardInput: nil, standardOutput: FileHandle(forWritingTo: out))
        #expect(named.status == 2, "\(named.stderr)")
        #expect(named.stderr.contains("--graph-out \(name) would write the graph file into the"))
        #expect(try Data(contentsOf: out).isEmpty)
      }
    }
    let merged = try ToolRun(
      ["report", "--merge", "--graph-out", "g2.rlg", "t1.rlt", "t2.rlt"], in: dir)
    #expect(merged.status == 1)
    let graph2 = try String(contentsOf: dir.appendingPathComponent("g2.rlg"), encoding: .utf8)
    #expect(graph2.contains("edge A -> B kinds=EN trace=t1.rlt trace-line=5\n"))
    #expect(!graph2.contains("edge B -> A"))
  }

  /// A graph file of a later version (a newer rawlockcheck's, kept by CI)
  /// is not written over as version 1, with less in it: one line, status
  /// 2, the file as it was.
  @Test func graphOutDoesNotWriteOverALaterVersion() throws {
    let later = "rawlockcheck-graph 2\nclass x mutex\n"
    let dir = try Self.directory(["t1.rlt": Self.first, "g.rlg": later])
    defer { try? FileManager.default.removeItem(at: dir) }
    let run = try ToolRun(["report", "--graph-out", "g.rlg", "t1.rlt"], in: dir)
    #expect(run.status == 2)
    #expect(
      run.stderr
        == "rawlockcheck: g.rlg: is a graph file of version 2, which this rawlockcheck cannot read (it writes version 1); not written over\n"
    )
    #expect(try String(contentsOf: dir.appendingPathComponent("g.rlg"), encoding: .utf8) == later)
  }

  /// A graph file with CRLF line ends, or a byte order mark, which
  /// `--graph-in` reads, is written over by `--graph-out` (a CI job that
  /// kept its graph file through a checkout with `autocrlf` was refused on
  /// every run: "version 1\r\nclass").
  @Test(arguments: ["\r\n", "bom"])
  func graphOutWritesOverAGraphFileItReads(_ form: String) throws {
    let lines = ["rawlockcheck-graph 1", "class x mutex", ""]
    let text =
      form == "bom" ? "\u{FEFF}" + lines.joined(separator: "\n") : lines.joined(separator: form)
    let dir = try Self.directory(["t1.rlt": Self.first, "g.rlg": text])
    defer { try? FileManager.default.removeItem(at: dir) }
    #expect(try ToolRun(["report", "--graph-in", "g.rlg", "t1.rlt"], in: dir).status == 0)
    let run = try ToolRun(
      ["report", "--graph-in", "g.rlg", "--graph-out", "g.rlg", "t1.rlt"], in: dir)
    #expect(run.status == 0, "\(run.stderr)")
    let written = try String(contentsOf: dir.appendingPathComponent("g.rlg"), encoding: .utf8)
    #expect(written.contains("class x mutex\n"))
    #expect(written.contains("edge A -> B "))
  }

  /// A class declared with an empty display name (`name=""`, which the
  /// report shows as its key) round-trips through a graph file without a
  /// warning (every later run said it was named "" here but "K" there).
  @Test func anEmptyDisplayNameRoundTripsSilently() throws {
    let lines = [
      "rawlockcheck-trace 1", "class K mutex name=\"\"", "class L mutex", "1 acquire K",
      "1 acquire L", "1 release L", "1 release K", "",
    ]
    let dir = try Self.directory(["e.rlt": lines.joined(separator: "\n")])
    defer { try? FileManager.default.removeItem(at: dir) }
    let written = try ToolRun(["report", "--graph-out", "g.rlg", "e.rlt"], in: dir)
    #expect(written.status == 0, "\(written.stderr)")
    let read = try ToolRun(["report", "--graph-in", "g.rlg", "e.rlt"], in: dir)
    #expect(read.status == 0)
    #expect(read.stderr.isEmpty, "\(read.stderr)")
  }

  /// `--graph-out` whose value was forgotten (`--graph-out t1.rlt t2.rlt`)
  /// takes a trace for its file: a file that is not a graph file is not
  /// written over (one line, status 2); a graph file is.
  @Test func graphOutDoesNotWriteOverATrace() throws {
    let dir = try Self.directory(["t1.rlt": Self.first, "t2.rlt": Self.second])
    defer { try? FileManager.default.removeItem(at: dir) }
    let run = try ToolRun(["report", "--graph-out", "t1.rlt", "t2.rlt"], in: dir)
    #expect(run.status == 2)
    #expect(
      run.stderr
        == "rawlockcheck: t1.rlt: exists and is not a graph file (it does not start with \"rawlockcheck-graph\"); not written over\n"
    )
    let kept = try String(contentsOf: dir.appendingPathComponent("t1.rlt"), encoding: .utf8)
    #expect(kept == Self.first)
    #expect(try ToolRun(["report", "--graph-out", "g.rlg", "t1.rlt"], in: dir).status == 0)
    #expect(try ToolRun(["report", "--graph-out", "g.rlg", "t1.rlt"], in: dir).status == 0)
    // A graph file whose header follows a comment, as its reader allows.
    let graph = try String(contentsOf: dir.appendingPathComponent("g.rlg"), encoding: .utf8)
    try Data(("\n# kept by CI\n" + graph).utf8).write(to: dir.appendingPathComponent("c.rlg"))
    let rewritten = try ToolRun(
      ["report", "--graph-in", "c.rlg", "--graph-out", "c.rlg", "t1.rlt"], in: dir)
    #expect(rewritten.status == 0, "\(rewritten.stderr)")
  }

  /// One shard's trace that cannot be read (empty, here) is said and
  /// fails the run (status 2), but the other traces are still merged and
  /// reported: it hid every finding, in text, JSON and SARIF alike; the
  /// SARIF notification names it.
  @Test func anUnreadableTraceDoesNotHideTheOthers() throws {
    let dir = try Self.directory(["t1.rlt": Self.first, "empty.rlt": "", "t2.rlt": Self.second])
    defer { try? FileManager.default.removeItem(at: dir) }
    let text = try ToolRun(["report", "--merge", "t1.rlt", "empty.rlt", "t2.rlt"], in: dir)
    #expect(text.status == 2)
    #expect(
      text.stderr
        == "rawlockcheck: empty.rlt:1: empty trace: expected header \"rawlockcheck-trace 1\"\n")
    #expect(text.stdout.contains("WARNING: possible circular locking dependency detected"))
    let sarif = try ToolRun(
      ["report", "--merge", "--format", "sarif", "t1.rlt", "empty.rlt", "t2.rlt"], in: dir)
    #expect(sarif.status == 2)
    let log = try #require(
      try JSONSerialization.jsonObject(with: Data(sarif.stdout.utf8)) as? [String: Any])
    let run = try #require((log["runs"] as? [[String: Any]])?.first)
    #expect((run["results"] as? [Any])?.count == 1)
    let invocation = try #require((run["invocations"] as? [[String: Any]])?.first)
    #expect(invocation["executionSuccessful"] as? Bool == false)
    let notification = try #require(
      (invocation["toolExecutionNotifications"] as? [[String: Any]])?.first)
    #expect(notification["locations"] != nil)
  }

  @Test func graphFileCarriesTheFirstRunToTheSecond() throws {
    let dir = try Self.directory(["t1.rlt": Self.first, "t2.rlt": Self.second])
    defer { try? FileManager.default.removeItem(at: dir) }
    let out = try ToolRun(["report", "--graph-out", "g.rlg", "t1.rlt"], in: dir)
    #expect(out.status == 0)
    let graph = try String(contentsOf: dir.appendingPathComponent("g.rlg"), encoding: .utf8)
    #expect(graph.hasPrefix("rawlockcheck-graph 1\n"))
    #expect(graph.contains("class A mutex name=&a->lock\n"))
    #expect(graph.contains("edge A -> B kinds=EN trace=t1.rlt trace-line=5\n"))
    let run = try ToolRun(
      ["report", "--graph-in", "g.rlg", "--graph-out", "g2.rlg", "t2.rlt"], in: dir)
    Self.expectCycleAcrossTraces(run)
    let union = try String(contentsOf: dir.appendingPathComponent("g2.rlg"), encoding: .utf8)
    #expect(union.contains("edge A -> B kinds=EN trace=t1.rlt trace-line=5\n"))
    #expect(!union.contains("edge B -> A"))
  }

  @Test func recordedFramePrintsInTheChain() throws {
    let graph = """
      rawlockcheck-graph 1
      class A mutex name=&a->lock
      class B mutex name=&b->lock
      edge A -> B kinds=EN function="Shard.one()" file=Sources/Shard.swift line=12 trace=old.rltb

      """
    let dir = try Self.directory(["g.rlg": graph, "t2.rlt": Self.second])
    defer { try? FileManager.default.removeItem(at: dir) }
    let run = try ToolRun(["report", "--graph-in", "g.rlg", "t2.rlt"], in: dir)
    #expect(run.status == 1)
    #expect(
      run.stdout.contains(
        "-> #1 (&b->lock){+.+.}-{4:4}:\n       Shard.one() Sources/Shard.swift:12\n"))
  }

  @Test func graphFileErrorsNameTheLine() throws {
    let cases: [(String, String)] = [
      (
        "rawlockcheck-graph 2\n",
        "g.rlg:1: unsupported graph file version 2 (this reader knows version 1)"
      ),
      (
        "rawlockcheck-graph 1\nclass A mutex\nedge A -> Z kinds=EN\n",
        "g.rlg:3: unknown class \"Z\""
      ),
      (
        "rawlockcheck-graph 1\nclass A mutex\nclass B mutex\nedge A -> B kinds=XX\n",
        "g.rlg:4: kinds="
      ),
      ("rawlockcheck-graph 1\nclass A mutex\nnode A\n", "g.rlg:3: expected a class or edge line"),
      ("rawlockcheck-trace 1\n", "g.rlg:1: a trace, not a graph file"),
      (
        "rawlockcheck-graph 1\nclass A mutex\nclass B mutex\nedge A -> B kinds=EN\nedge B -> A kinds=EN\n",
        "g.rlg:5: edge B -> A closes a cycle"
      ),
      // A strong cycle (A -> B -> P -> A) that lockdep's search, marking A
      // visited through the weak B -(ER)-> Q -(SN)-> A, misses.
      (
        "rawlockcheck-graph 1\nclass A mutex\nclass B mutex\nclass Q rwsem\nclass P mutex\n"
          + "edge B -> Q kinds=ER\nedge B -> P kinds=EN\nedge Q -> A kinds=SN\nedge P -> A kinds=EN\n"
          + "edge A -> B kinds=EN\n",
        "g.rlg:10: edge A -> B closes a cycle with the edges above it"
      ),
    ]
    for (graph, message) in cases {
      let dir = try Self.directory(["g.rlg": graph, "t1.rlt": Self.first])
      defer { try? FileManager.default.removeItem(at: dir) }
      let run = try ToolRun(["report", "--graph-in", "g.rlg", "t1.rlt"], in: dir)
      #expect(run.status == 2, "\(graph)")
      #expect(run.stderr.hasPrefix("rawlockcheck: " + message), "\(run.stderr)")
    }
  }

  /// A graph file that cannot be read or written fails the run in its
  /// SARIF log too (once, of the graph file, not of each trace), so that
  /// CI reading only the log does not show it clean: also when its writes
  /// fail (a full disk, `/dev/full`), which they did after the log was
  /// printed, saying the run went well.
  @Test func aGraphFileProblemFailsTheSARIFLog() throws {
    let cycle =
      "rawlockcheck-graph 1\nclass A mutex\nclass B mutex\nedge A -> B kinds=EN\nedge B -> A kinds=EN\n"
    let dir = try Self.directory(["g.rlg": cycle, "t1.rlt": Self.first, "t2.rlt": Self.first])
    defer { try? FileManager.default.removeItem(at: dir) }
    func invocation(_ arguments: [String]) throws -> (Int32, [String: Any]) {
      let run = try ToolRun(arguments + ["--format", "sarif"], in: dir)
      let log = try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any]
      let runs = log?["runs"] as? [[String: Any]]
      let invocations = runs?.first?["invocations"] as? [[String: Any]]
      return (run.status, invocations?.first ?? [:])
    }
    for arguments in [
      ["report", "t1.rlt", "--graph-out", "missing/dir/g.rlg"],
      ["report", "t1.rlt", "t2.rlt", "--graph-in", "g.rlg"],
      ["report", "t1.rlt", "--graph-in", "missing.rlg"],
      ["report", "t1.rlt", "--graph-out", "/dev/full"],
    ] {
      let (status, invocation) = try invocation(arguments)
      #expect(status == 2, "\(arguments)")
      #expect(invocation["executionSuccessful"] as? Bool == false, "\(arguments)")
      let notes = invocation["toolExecutionNotifications"] as? [[String: Any]] ?? []
      #expect(notes.count == 1, "\(arguments): \(notes)")
      let uri =
        ((notes.first?["locations"] as? [[String: Any]])?.first?["physicalLocation"]
        as? [String: Any]).flatMap { ($0["artifactLocation"] as? [String: Any])?["uri"] as? String }
      #expect(uri?.hasSuffix(arguments.last!) == true, "\(arguments): \(notes)")
    }
  }

  /// `--graph-in` and `--graph-out` are given once: a second one took the
  /// first's place, and a graph file given but not read was a cycle not
  /// found, with status 0.
  @Test func aGraphOptionGivenTwiceIsRefused() throws {
    let dir = try Self.directory(["t1.rlt": Self.first])
    defer { try? FileManager.default.removeItem(at: dir) }
    for option in ["--graph-in", "--graph-out"] {
      let run = try ToolRun(["report", option, "a.rlg", option, "b.rlg", "t1.rlt"], in: dir)
      #expect(run.status == 2)
      #expect(run.stderr.contains("\(option) was given 2 times"), "\(run.stderr)")
      #expect(run.stdout == "")
    }
  }

  /// A trace named twice (by another path too) is merged once: each
  /// finding once, as reports.md wants of a distinct finding.
  @Test func aTraceNamedTwiceIsMergedOnce() throws {
    let bad =
      "rawlockcheck-trace 1\nclass R raw_spinlock\nclass M mutex\n1 acquire R\n1 acquire M\n"
    let dir = try Self.directory(["t.rlt": bad])
    defer { try? FileManager.default.removeItem(at: dir) }
    let once = try ToolRun(["report", "t.rlt"], in: dir)
    let twice = try ToolRun(["report", "--merge", "t.rlt", "./t.rlt"], in: dir)
    #expect(twice.status == 1)
    #expect(twice.stderr == "rawlockcheck: ./t.rlt: the same file as t.rlt, merged once\n")
    #expect(
      twice.stdout.components(separatedBy: "found at").count
        == once.stdout.components(separatedBy: "found at").count)
  }

  /// A hand-edited edge's place: a file without a function is `??`
  /// (addr2line's unknown function) at that file and line, not an address
  /// of 0; a trace line without its trace is no line of the graph file.
  @Test func aHandEditedEdgesPlaceIsShownAsGiven() throws {
    for (options, shown) in [
      ("file=x.c line=7", "?? x.c:7"), ("trace-line=9", "g.rlg (no stack recorded)"),
      ("function=\"\" file=\"\" trace=\"\"", "g.rlg (no stack recorded)"),
    ] {
      let graph =
        "rawlockcheck-graph 1\nclass A mutex name=&a->lock\nclass B mutex name=&b->lock\n"
        + "edge A -> B kinds=EN \(options)\n"
      let dir = try Self.directory(["g.rlg": graph, "t2.rlt": Self.second])
      defer { try? FileManager.default.removeItem(at: dir) }
      let run = try ToolRun(["report", "--graph-in", "g.rlg", "t2.rlt"], in: dir)
      #expect(run.status == 1)
      #expect(run.stdout.contains("       \(shown)\n"), "\(options): \(run.stdout)")
    }
  }

  /// The searches follow each class's edges in the order they were
  /// added (as lockdep's `__bfs()`, which marks a class at its first path,
  /// strong or not): a graph file's edges are seeded in its order, so
  /// `--graph-in` of one run's graph answers as `--merge` of its trace
  /// does (seeding in another order found a cycle `--merge` does not).
  @Test func aGraphFileAnswersAsTheMergedTraceDoes() throws {
    var first = "rawlockcheck-trace 1\n"
    for c in ["r mutex", "p1 mutex", "p2 mutex", "w rwsem", "T mutex", "q mutex"] {
      first += "class \(c)\n"
    }
    for (a, b) in [
      ("r", "p1"), ("r", "p2"), ("p1", "w read-recursive"), ("p2", "w"), ("w read", "T"),
      ("q", "p1"),
    ] {
      let held = String(a.split(separator: " ")[0])
      let taken = String(b.split(separator: " ")[0])
      first += "1 acquire \(a)\n1 acquire \(b)\n1 release \(taken)\n1 release \(held)\n"
    }
    let second = "rawlockcheck-trace 1\nclass T mutex\nclass r mutex\n2 acquire T\n2 acquire r\n"
    let dir = try Self.directory(["a.rlt": first, "b.rlt": second])
    defer { try? FileManager.default.removeItem(at: dir) }
    #expect(try ToolRun(["report", "a.rlt", "--graph-out", "g.rlg"], in: dir).status == 0)
    let merged = try ToolRun(["report", "--merge", "a.rlt", "b.rlt"], in: dir)
    let seeded = try ToolRun(["report", "--graph-in", "g.rlg", "b.rlt"], in: dir)
    #expect(merged.status == seeded.status, "\(merged.stdout)\n\(seeded.stdout)")
  }

  /// A recursive read taken while a read of its class is held is the
  /// dependency -(SR)-> of the class on itself (lockdep's check_deadlock()
  /// lets it by and check_prev_add() records it): the graph file keeps it,
  /// reads it back, and answers as the merged traces do; a self edge of
  /// any other kind is no graph the validator writes (status 2). (The
  /// reader refused the file it had written: found by an independent
  /// trace generator, 13 of 200 random traces.)
  @Test func aClasssRecursiveReadEdgeToItselfReadsBack() throws {
    let first = """
      rawlockcheck-trace 1
      class A rwlock
      class B spinlock
      1 acquire A read
      1 acquire A read-recursive
      1 acquire B
      1 release B
      1 release A
      1 release A

      """
    let second =
      "rawlockcheck-trace 1\nclass A rwlock\nclass B spinlock\n2 acquire B\n2 acquire A\n"
    let dir = try Self.directory([
      "a.rlt": first, "b.rlt": second,
      "bad.rlg": "rawlockcheck-graph 1\nclass A rwlock\nedge A -> A kinds=SN\n",
    ])
    defer { try? FileManager.default.removeItem(at: dir) }
    #expect(try ToolRun(["report", "a.rlt", "--graph-out", "g.rlg"], in: dir).status == 0)
    let graph = try String(contentsOf: dir.appendingPathComponent("g.rlg"), encoding: .utf8)
    #expect(graph.contains("edge A -> A kinds=SR "), "\(graph)")
    #expect(try ToolRun(["report", "--graph-in", "g.rlg", "a.rlt"], in: dir).status == 0)
    let merged = try ToolRun(["report", "--merge", "a.rlt", "b.rlt"], in: dir)
    let seeded = try ToolRun(["report", "--graph-in", "g.rlg", "b.rlt"], in: dir)
    #expect(merged.status == 1)
    #expect(seeded.status == 1, "B -> A closes A -> B: \(seeded.stdout)\(seeded.stderr)")
    let bad = try ToolRun(["report", "--graph-in", "bad.rlg", "b.rlt"], in: dir)
    #expect(bad.status == 2)
    #expect(bad.stderr.contains("bad.rlg:3: an edge from a class to itself"))
  }

  /// An edge recorded with kinds SN and ER (two events, a shared hold
  /// under a read, an exclusive hold under a recursive read) is seeded as
  /// those two kinds, never as the EN that neither event made: beside
  /// `E -(SR)-> D` both cycles are weak (an -(*R)-> edge followed by an
  /// -(S*)-> one), as the trace that wrote the file found. The file a
  /// clean trace wrote was refused ("closes a cycle with the edges above
  /// it"), and two clean traces' union left the edge out; found by an
  /// independent model of lockdep's read-lock rules.
  @Test func anEdgeOfSeveralKindsIsSeededAsEachKind() throws {
    let first =
      "rawlockcheck-trace 1\nclass D rwlock\nclass E rwlock\n"
      + "1 acquire E read\n1 acquire D read-recursive\n1 release D\n1 release E\n"
    let second =
      "rawlockcheck-trace 1\nclass D rwlock\nclass E rwlock\n"
      + "1 acquire D read\n1 acquire E read\n1 release E\n1 release D\n"
      + "1 acquire D\n1 acquire E read-recursive\n1 release E\n1 release D\n"
    // The two dependencies closing a cycle the strong rule allows: a
    // trace taking E then D exclusive does close one.
    let strong =
      "rawlockcheck-trace 1\nclass D rwlock\nclass E rwlock\n"
      + "2 acquire E\n2 acquire D\n2 release D\n2 release E\n"
    let dir = try Self.directory(["first.rlt": first, "second.rlt": second, "strong.rlt": strong])
    defer { try? FileManager.default.removeItem(at: dir) }
    let both = try ToolRun(["report", "--merge", "first.rlt", "second.rlt"], in: dir)
    #expect(both.status == 0, "\(both.stdout)")
    let apart = try ToolRun(["report", "first.rlt", "second.rlt", "--graph-out", "g.rlg"], in: dir)
    #expect(apart.status == 0)
    #expect(apart.stderr.isEmpty, "no edge left out: \(apart.stderr)")
    let graph = try String(contentsOf: dir.appendingPathComponent("g.rlg"), encoding: .utf8)
    #expect(graph.contains("edge E -> D kinds=SR "), "\(graph)")
    #expect(graph.contains("edge D -> E kinds=SN,ER "), "\(graph)")
    let seeded = try ToolRun(["report", "--graph-in", "g.rlg", "first.rlt"], in: dir)
    #expect(seeded.status == 0, "\(seeded.stderr)")
    let closed = try ToolRun(["report", "--graph-in", "g.rlg", "strong.rlt"], in: dir)
    #expect(closed.status == 1)
    #expect(closed.stdout.contains("possible circular locking dependency"), "\(closed.stdout)")
  }

  /// Every recorded kind of a dependency is searched, the narrower ones
  /// too: lockdep's search marks a class visited by its first path, so
  /// the search for EN (any edge after the new one) can miss a cycle the
  /// search for ER (only an exclusive hold next) finds. Here P -> N, EN
  /// and ER, closes N -(EN)-> B -(EN)-> C -(EN)-> P -(ER)-> N, which the
  /// EN search misses past N -(SR)-> A; the validator's search (lockdep's)
  /// found it, so the merge reports it (the review's).
  @Test func everyKindOfASeededDependencyIsSearched() throws {
    let declare =
      "rawlockcheck-trace 1\n"
      + ["N", "A", "B", "C", "P"].map { "class \($0) rwlock\n" }.joined()
    let pairs = [
      ("N read", "A read-recursive"), ("N", "B"), ("A read", "P"), ("B", "C"), ("C", "P"),
    ]
    let first =
      declare
      + pairs.map {
        "1 acquire \($0.0)\n1 acquire \($0.1)\n"
          + "1 release \($0.1.split(separator: " ")[0])\n1 release \($0.0.split(separator: " ")[0])\n"
      }.joined()
    let second =
      declare + "1 acquire P\n1 acquire N\n1 release N\n1 release P\n"
      + "1 acquire P\n1 acquire N read-recursive\n1 release N\n1 release P\n"
    let dir = try Self.directory(["t1.rlt": first, "t2.rlt": second])
    defer { try? FileManager.default.removeItem(at: dir) }
    let merged = try ToolRun(["report", "--merge", "t1.rlt", "t2.rlt"], in: dir)
    #expect(merged.status == 1, "\(merged.stdout)")
    let apart = try ToolRun(["report", "t1.rlt", "t2.rlt", "--graph-out", "g.rlg"], in: dir)
    #expect(
      apart.stderr.contains(
        "left out P -> N (t2.rlt:8): it closes a cycle with the other traces' dependencies"),
      "\(apart.stderr)")
  }

  /// A class another source declared under another display name is the
  /// same class (keyed by its id): a warning names both declarations, the
  /// run goes on, and reports name the class as the first source did.
  @Test func aClassNamedOtherwiseIsAWarning() throws {
    let renamed = Self.second.replacingOccurrences(
      of: "class A mutex name=&a->lock", with: "class A mutex name=&other->lock")
    #expect(renamed != Self.second)
    let dir = try Self.directory(["t1.rlt": Self.first, "t2.rlt": renamed])
    defer { try? FileManager.default.removeItem(at: dir) }
    let run = try ToolRun(["report", "--merge", "t1.rlt", "t2.rlt"], in: dir)
    #expect(run.status == 1)
    let line =
      try #require(renamed.split(separator: "\n").firstIndex { $0.hasPrefix("class A ") }) + 1
    #expect(
      run.stderr
        == "rawlockcheck: t2.rlt:\(line): class \"A\" is named \"&other->lock\" here but \"&a->lock\" in t1.rlt:2: reports name it as there\n"
    )
    #expect(run.stdout.contains("&a->lock") && !run.stdout.contains("&other->lock"))
  }

  /// A class another source declared otherwise is an error naming both
  /// declarations, each where it is (a graph file's line, a text trace's
  /// line, a binary trace's byte).
  @Test func classKindMismatchNamesBoth() throws {
    let graph = "rawlockcheck-graph 1\nclass A spinlock\n"
    let dir = try Self.directory(["g.rlg": graph, "t1.rlt": Self.first, "t2.rlt": Self.second])
    defer { try? FileManager.default.removeItem(at: dir) }
    let run = try ToolRun(["report", "--graph-in", "g.rlg", "t1.rlt"], in: dir)
    #expect(run.status == 2)
    #expect(
      run.stderr == "rawlockcheck: t1.rlt:2: class \"A\" is mutex here but spinlock in g.rlg:2\n")
    let other = Self.second.replacingOccurrences(of: "class A mutex", with: "class A rwsem")
    try Data(other.utf8).write(to: dir.appendingPathComponent("t2.rlt"))
    let merged = try ToolRun(["report", "--merge", "t1.rlt", "t2.rlt"], in: dir)
    #expect(merged.status == 2)
    #expect(
      merged.stderr == "rawlockcheck: t2.rlt:3: class \"A\" is rwsem here but mutex in t1.rlt:2\n")
    // The earlier declaration's place in a binary trace is its byte offset.
    #expect(try ToolRun(["convert", "t1.rlt", "t1.rltb"], in: dir).status == 0)
    let binary = try ToolRun(["report", "--merge", "t1.rltb", "t2.rlt"], in: dir)
    #expect(binary.status == 2)
    #expect(
      binary.stderr.hasPrefix(
        "rawlockcheck: t2.rlt:3: class \"A\" is rwsem here but mutex in t1.rltb: byte "),
      "\(binary.stderr)")
  }

  /// The traces of one build's processes share a symbolizer (their
  /// modules are the same files at other addresses): 40 reported under 128
  /// descriptors, where a symbolizer per trace ran out of them at 38 of
  /// 1,024, each finding still symbolized at its trace's own addresses.
  /// Merged, the same finding in each is one finding counted 40 times (it
  /// was 40 findings).
  @Test func tracesOfOneBuildShareTheirSymbolizerAndTheirFindings() throws {
    var traces: [URL] = []
    defer { for t in traces { try? FileManager.default.removeItem(at: t) } }
    for _ in 0..<40 { traces.append(try RecorderTests.record("invalid-wait-context").trace) }
    func run(_ options: [String]) throws -> (status: Int32, json: Any?, stderr: String) {
      let shell = Process()
      shell.executableURL = URL(fileURLWithPath: "/bin/sh")
      shell.arguments =
        ["-c", "ulimit -n 128; exec \"$0\" report --format json \"$@\"", FixturePaths.tool.path]
        + options + traces.map(\.path)
      let out = Pipe()
      let err = Pipe()
      shell.standardOutput = out
      shell.standardError = err
      try shell.run()
      let json = out.fileHandleForReading.readDataToEndOfFile()
      let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
      shell.waitUntilExit()
      return (shell.terminationStatus, try? JSONSerialization.jsonObject(with: json), stderr)
    }
    let apart = try run([])
    #expect(apart.status == 1, "\(apart.stderr)")
    #expect(!apart.stderr.contains("Too many open files") && !apart.stderr.contains("not found"))
    let reports = try #require(apart.json as? [[String: Any]])
    #expect(reports.count == 40)
    let firsts = reports.compactMap {
      (($0["findings"] as? [[String: Any]])?.first?["frames"] as? [[String: Any]])?.first
    }
    #expect(firsts.count == 40)
    #expect(Set(firsts.compactMap { $0["address"] as? String }).count > 1, "ASLR: addresses differ")
    #expect(
      firsts.allSatisfy { ($0["file"] as? String)?.hasSuffix("LockdepProbe/main.swift") == true })

    let merged = try run(["--merge"])
    #expect(merged.status == 1, "\(merged.stderr)")
    let findings = try #require((merged.json as? [String: Any])?["findings"] as? [[String: Any]])
    #expect(findings.map { $0["kind"] as? String } == ["invalid-wait-context"])
    #expect(findings.first?["count"] as? Int == 40)
  }

  /// Each trace's repeats of earlier traces' findings are folded as it is
  /// read, before they count towards the 1,000 distinct findings kept:
  /// 501 traces of one build, each with the same three findings, gave
  /// 1,000 of them and a false limit-exceeded finding. The stack's return
  /// address is its module's last byte + 1 (the call is the byte before).
  @Test func manyTracesOfOneBuildStayUnderTheFindingsLimit() throws {
    let trace = """
      rawlockcheck-trace 1
      module 0x700000000000-0x700000010000 0x0 /nonexistent/app build-id=ab
      stack s1 0x700000010000
      stack s2 0x700000001234
      class raw raw_spinlock
      class m mutex
      1 acquire raw
      1 acquire m at=s1
      1 might-sleep at=s2

      """
    var files: [String: String] = [:]
    for i in 0..<501 { files["t\(i).rlt"] = trace }
    let dir = try Self.directory(files)
    defer { try? FileManager.default.removeItem(at: dir) }
    let run = try ToolRun(
      ["report", "--merge", "--format", "json"] + (0..<501).map { "t\($0).rlt" }, in: dir)
    #expect(run.status == 1)
    let object = try #require(
      try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
    let findings = try #require(object["findings"] as? [[String: Any]])
    // The mutex under the raw lock (mutex_lock()'s might_sleep(), then
    // its wait context), and the might-sleep.
    #expect(
      findings.map { $0["kind"] as? String } == [
        "sleep-in-atomic", "invalid-wait-context", "sleep-in-atomic",
      ])
    #expect(findings.map { $0["count"] as? Int } == [501, 501, 501])
  }

  /// A trace's start for the findings of a mutex taken under a raw lock
  /// at two stacks that start alike (`s1`, `s2`).
  static let underARawLock = """
    rawlockcheck-trace 1
    module 0x700000000000-0x700000010000 0x0 /nonexistent/app build-id=ab
    stack s1 0x700000001000 0x700000002000
    stack s2 0x700000001000 0x700000003000
    class raw raw_spinlock
    class m mutex
    1 acquire raw

    """

  /// A finding at a stack, then again at its first return address alone
  /// (an event the recorder wrote with `ip=` only: the live run took no
  /// stack, its chain known) is one finding in a union run, counted
  /// twice; a stack that only starts alike stays apart. It read as two
  /// findings of one cycle closed against `--graph-in`.
  @Test func aFindingAtItsReturnAddressAloneIsTheStacksFinding() throws {
    let trace =
      Self.underARawLock + "1 acquire m at=s1\n1 release m\n1 acquire m ip=0x700000001000\n"
      + "1 release m\n1 acquire m at=s2\n1 release m\n"
    let dir = try Self.directory(["t.rlt": trace])
    defer { try? FileManager.default.removeItem(at: dir) }
    let union = try ToolRun(["report", "--merge", "--format", "json", "t.rlt"], in: dir)
    let object = try #require(
      try JSONSerialization.jsonObject(with: Data(union.stdout.utf8)) as? [String: Any])
    let findings = try #require(object["findings"] as? [[String: Any]])
    // A mutex under the raw lock: sleep-in-atomic and invalid-wait-context.
    #expect(findings.map { $0["count"] as? Int } == [2, 2, 1, 1])
    let apart = try ToolRun(["report", "t.rlt"], in: dir)
    #expect(apart.stdout.hasSuffix("6 findings (invalid-wait-context 3, sleep-in-atomic 3)\n"))
  }

  /// The same in the other order, over two traces: the finding at the
  /// return address alone comes first, then the stacks. The first stack
  /// folds into it (and it is shown at that stack from then on); the
  /// stack that only starts alike stays apart. Whichever trace is named
  /// first, the union has the same findings and counts.
  @Test func aReturnAddressAloneFirstFoldsTheStacksFindingInEitherOrder() throws {
    let header = Self.underARawLock
    let ipOnly = header + "1 acquire m ip=0x700000001000\n1 release m\n"
    let stacks = header + "1 acquire m at=s1\n1 release m\n1 acquire m at=s2\n1 release m\n"
    let dir = try Self.directory(["ip.rlt": ipOnly, "stacks.rlt": stacks])
    defer { try? FileManager.default.removeItem(at: dir) }
    for order in [["ip.rlt", "stacks.rlt"], ["stacks.rlt", "ip.rlt"]] {
      let union = try ToolRun(["report", "--merge", "--format", "json"] + order, in: dir)
      let object = try #require(
        try JSONSerialization.jsonObject(with: Data(union.stdout.utf8)) as? [String: Any])
      let findings = try #require(object["findings"] as? [[String: Any]])
      #expect(
        findings.compactMap { $0["count"] as? Int }.sorted() == [1, 1, 2, 2], "\(order)")
    }
  }
}
