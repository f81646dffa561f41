import Foundation
import Testing

#if canImport(Glibc)
  import Glibc
#endif

@Suite struct ReportCommandTests {
  static let goldens = [
    "invalid-wait-context-seed", "circular-abba", "irq-lock-inversion", "recursive-locking",
    "inconsistent-lock-state", "bad-unlock-balance", "circular-three", "held-lock-freed",
    "held-lock-freed-init", "sleep-in-atomic", "locks-held-at-exit", "locks-held-at-exit-irq",
    "nested-lock-not-taken", "limit-exceeded", "irq-inversion-backwards-chain",
  ]

  /// A trace's `module` line may name any path: a FIFO (whose open would
  /// wait for a writer forever) is not read, and the module's frames print
  /// as addresses, as for a module not found.
  @Test func aModuleThatIsAFIFOIsNotRead() throws {
    let directory = FileManager.default.temporaryDirectory
      .appendingPathComponent("module-fifo-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    let fifo = directory.appendingPathComponent("libfifo.so").path
    #expect(mkfifo(fifo, 0o600) == 0)
    let trace = directory.appendingPathComponent("t.rlt")
    let text = """
      rawlockcheck-trace 1
      module 0x1000-0x2000 0 \(fifo)
      stack s1 0x1100
      class A raw_spinlock
      class M mutex
      t1 acquire A at=s1
      t1 acquire M at=s1

      """
    try Data(text.utf8).write(to: trace)
    let run = try ToolRun(["report", trace.path])
    #expect(run.status == 1, "\(run.stderr)")
    #expect(
      run.stderr.contains(
        "module \(fifo): not a regular file (a FIFO, socket or device), so no ELF file: "
          + "its frames print as addresses"), "\(run.stderr)")
    #expect(run.stdout.contains("BUG: sleeping function called from invalid context"))
  }

  /// `report -` of a clean trace whose one stack has a frame in each of
  /// `modules` (0x1000 bytes each, from 0x1000 on); its run and its
  /// standard error's lines.
  static func reportWithModules(_ modules: [String]) throws -> (ToolRun, [String]) {
    var trace = "rawlockcheck-trace 1\n"
    var frames: [String] = []
    for (i, path) in modules.enumerated() {
      let start = 0x1000 + i * 0x2000
      trace +=
        "module 0x\(String(start, radix: 16))-0x\(String(start + 0x1000, radix: 16)) 0 \(path)\n"
      frames.append("0x\(String(start + 0x100, radix: 16))")
    }
    trace += "stack s1 \(frames.joined(separator: " "))\nclass A raw_spinlock\n"
    trace += "1 acquire A at=s1\n1 release A\n"
    let run = try ToolRun(["report", "-"], input: trace)
    #expect(run.status == 0, "\(run.stderr)")
    return (run, run.stderr.split(separator: "\n").map(String.init))
  }

  /// A module whose file is there but is no ELF file to read says why,
  /// not that it was not found; one whose file is not there says that.
  @Test func aModuleThatIsNoELFFileSaysWhy() throws {
    let directory = try MergeCommandTests.directory(["libtext.so": "not ELF at all\n"])
    defer { try? FileManager.default.removeItem(at: directory) }
    let text = directory.appendingPathComponent("libtext.so").path
    let gone = directory.appendingPathComponent("libgone.so").path
    let (run, lines) = try Self.reportWithModules([text, gone, directory.path])
    #expect(
      lines.contains(
        "rawlockcheck: -: module \(text): not an ELF file: its frames print as addresses"),
      "\(run.stderr)")
    #expect(
      lines.contains("rawlockcheck: -: module \(gone) not found: its frames print as addresses"),
      "\(run.stderr)")
    #expect(
      lines.contains(
        "rawlockcheck: -: module \(directory.path): cannot open: Is a directory: "
          + "its frames print as addresses"), "\(run.stderr)")
  }

  /// A module's ELF file cut short (a copy that stopped): libdw opens it,
  /// and the frames past its end printed as addresses without a word.
  @Test func aTruncatedModuleIsSaid() throws {
    let directory = try MergeCommandTests.directory([:])
    defer { try? FileManager.default.removeItem(at: directory) }
    let whole = try Data(contentsOf: FixturePaths.tool)
    let cut = directory.appendingPathComponent("libcut.so")
    try whole.prefix(whole.count / 3).write(to: cut)
    let (run, lines) = try Self.reportWithModules([cut.path])
    #expect(
      lines.contains {
        $0.hasPrefix("rawlockcheck: -: module \(cut.path): truncated ELF file: ")
          && $0.hasSuffix(": some or all of its frames print as addresses")
      }, "\(run.stderr)")
  }

  /// lockdep prints a thread as `comm/pid`; reports.md's example names
  /// thread 1 `kworker/1` in text and JSON alike, so a name that already
  /// ends in `/<tid>` is printed as it is (not `kworker/1/1`), and the
  /// JSON name is the name the trace gave.
  @Test(arguments: [("1", "kworker/1", "kworker/1"), ("7", "kworker", "kworker/7")])
  func aThreadIsPrintedAsCommSlashPid(tid: String, name: String, label: String) throws {
    let directory = FileManager.default.temporaryDirectory
      .appendingPathComponent("thread-label-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    let trace = directory.appendingPathComponent("t.rlt")
    let text = """
      rawlockcheck-trace 1
      class some_lock raw_spinlock name=&some_lock
      class zone spinlock name=&zone->lock
      thread \(tid) name=\(name)
      \(tid) acquire some_lock
      \(tid) acquire zone

      """
    try Data(text.utf8).write(to: trace)
    let run = try ToolRun(["report", trace.path])
    #expect(run.status == 1, "\(run.stderr)")
    #expect(run.stdout.contains("\n\(label) is trying to lock:\n"), "\(run.stdout)")
    #expect(run.stdout.contains("1 lock held by \(label):"), "\(run.stdout)")
    let json = try ToolRun(["report", "--format", "json", trace.path])
    let object = try #require(
      try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
    let finding = try #require((object["findings"] as? [[String: Any]])?.first)
    let thread = try #require(finding["thread"] as? [String: Any])
    #expect(thread["id"] as? String == tid)
    #expect(thread["name"] as? String == name)
  }

  /// `-` read from a FIFO whose writer has already closed it (`report - <
  /// fifo`): standard input is read where it is, not opened again (which
  /// waits for a new writer forever), in either encoding.
  @Test(arguments: ["text", "binary"])
  func standardInputFromAFIFOWhoseWriterIsGone(encoding: String) throws {
    let directory = FileManager.default.temporaryDirectory
      .appendingPathComponent("stdin-fifo-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    let trace = directory.appendingPathComponent("t.\(encoding)").path
    let converted = try ToolRun([
      "convert", "--to", encoding, "findings/circular-abba.rlt", trace,
    ])
    #expect(converted.status == 0, "\(converted.stderr)")
    let bytes = try Data(contentsOf: URL(fileURLWithPath: trace))
    let fifo = directory.appendingPathComponent("fifo").path
    #expect(mkfifo(fifo, 0o600) == 0)
    let reader = open(fifo, O_RDONLY | O_NONBLOCK)
    #expect(reader >= 0)
    let writer = open(fifo, O_WRONLY)
    #expect(writer >= 0)
    #expect(bytes.withUnsafeBytes { write(writer, $0.baseAddress, $0.count) } == bytes.count)
    close(writer)
    _ = fcntl(reader, F_SETFL, fcntl(reader, F_GETFL) & ~O_NONBLOCK)
    let run = try ToolRun(
      ["report", "-"], standardInput: FileHandle(fileDescriptor: reader, closeOnDealloc: true))
    #expect(run.status == 1, "\(run.stderr)")
    #expect(
      run.stdout.hasSuffix("-: 8 events, 1 finding (circular-dependency 1)\n"), "\(run.stdout)")
  }

  /// The text layout, checked by hand against lockdep's print functions.
  @Test(arguments: goldens)
  func textReportMatchesGolden(_ name: String) throws {
    let run = try ToolRun(["report", "findings/\(name).rlt"])
    let golden = try String(
      contentsOf: FixturePaths.reports.appendingPathComponent("\(name).txt"), encoding: .utf8)
    #expect(run.status == 1)
    #expect(run.stdout == golden)
    #expect(run.stderr.isEmpty)
  }

  /// Every fixture reports exactly the kinds its `# expect:` line names.
  @Test(
    arguments: FixturePaths.traces(under: FixturePaths.traces.appendingPathComponent("findings"))
      + FixturePaths.traces(under: FixturePaths.traces.appendingPathComponent("clean")))
  func fixtureReportsItsExpectedKinds(_ url: URL) throws {
    let expected = try #require(FixturePaths.header(of: url)["expect"])
    let run = try ToolRun(["report", "--format", "json", url.path])
    let object = try #require(
      try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
    let findings = try #require(object["findings"] as? [[String: Any]])
    let kinds = Set(findings.compactMap { $0["kind"] as? String })
    if expected == "clean" {
      #expect(kinds.isEmpty)
      #expect(run.status == 0)
    } else {
      #expect(kinds == Set(expected.split(separator: " ").map(String.init)))
      #expect(run.status == 1)
    }
  }

  /// "The same kind at the same lock classes from the same stack is one
  /// finding" (spec/reports.md): also when a writer declared that stack
  /// twice, under two ids.
  @Test func oneStackDeclaredTwiceIsOneFinding() throws {
    let trace = """
      rawlockcheck-trace 1
      class R raw_spinlock
      class M mutex
      stack s1 0x10 0x20
      stack s2 0x10 0x20
      stack s3 0x30
      1 acquire R
      1 acquire M at=s1
      1 release M
      1 acquire M at=s2
      1 release M
      1 acquire M at=s3
      1 release M
      1 release R

      """
    let run = try ToolRun(
      ["report", "--no-raw-nesting", "--format", "json", "-"], input: trace)
    #expect(run.status == 1)
    let object = try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any]
    let findings = (object?["findings"] as? [[String: Any]]) ?? []
    let waits = findings.filter { $0["kind"] as? String == "invalid-wait-context" }
    #expect(waits.map { $0["count"] as? Int } == [2, 1], "\(run.stdout)")
  }

  /// JSON names a lock's class as the trace declared it (spec: the
  /// `name=` is what reports print): the text's lockdep suffixes, `#2`
  /// for a second class of one name and `/3` for a subclass, are the
  /// `class` and `subclass` fields.
  @Test func jsonNamesAClassAsDeclared() throws {
    let trace = """
      rawlockcheck-trace 1
      class A spinlock name=&a->lock
      class A2 spinlock name=&a->lock
      class B mutex name=&b->lock
      1 acquire A sub=3
      1 acquire A2
      1 acquire B

      """
    let text = try ToolRun(["report", "-"], input: trace)
    #expect(text.stdout.contains(" #0: (&a->lock/3){+.+.}-{3:3}"), "\(text.stdout)")
    #expect(text.stdout.contains(" #1: (&a->lock#2){+.+.}-{3:3}"), "\(text.stdout)")
    let json = try ToolRun(["report", "--format", "json", "-"], input: trace)
    let object = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
    let finding = ((object?["findings"] as? [[String: Any]]) ?? []).first {
      $0["kind"] as? String == "invalid-wait-context"
    }
    let held = (finding?["held"] as? [[String: Any]]) ?? []
    #expect(held.map { $0["name"] as? String } == ["&a->lock", "&a->lock"], "\(json.stdout)")
    #expect(held.map { $0["class"] as? String } == ["A", "A2"])
    #expect(held.map { $0["subclass"] as? Int } == [3, nil])
    #expect((finding?["lock"] as? [String: Any])?["name"] as? String == "&b->lock")
  }

  /// A limit's title is the kernel's (`BUG: MAX_LOCK_DEPTH too low!`,
  /// the limit's name alone), in text and JSON; its value is a field.
  @Test func aLimitIsTitledAsTheKernelTitlesIt() throws {
    let run = try ToolRun(["report", "--format", "json", "findings/limit-exceeded.rlt"])
    #expect(run.status == 1)
    let object = try #require(
      try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
    let finding = try #require((object["findings"] as? [[String: Any]])?.first)
    #expect(finding["kind"] as? String == "limit-exceeded")
    #expect(finding["title"] as? String == "BUG: MAX_LOCK_DEPTH too low!")
    #expect(finding["limit"] as? String == "MAX_LOCK_DEPTH")
    #expect(finding["max"] as? Int == 1024)
    let sarif = try ToolRun(["report", "--format", "sarif", "findings/limit-exceeded.rlt"])
    let log = try #require(
      try JSONSerialization.jsonObject(with: Data(sarif.stdout.utf8)) as? [String: Any])
    let result = try #require(
      ((log["runs"] as? [[String: Any]])?.first?["results"] as? [[String: Any]])?.first)
    let message = (result["message"] as? [String: Any])?["text"] as? String ?? ""
    #expect(
      message.hasPrefix(
        "BUG: MAX_LOCK_DEPTH too low! (MAX_LOCK_DEPTH 1024): validation of this thread stopped"),
      "\(message)")
  }

  @Test func jsonHasTheSpecFields() throws {
    let run = try ToolRun(["report", "--format", "json", "findings/invalid-wait-context-seed.rlt"])
    let object = try #require(
      try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
    #expect(object["tool"] as? String == "rawlockcheck")
    #expect(object["events"] as? Int == 8)
    let config = try #require(object["config"] as? [String: Any])
    #expect(config["proveRawLockNesting"] as? Bool == true)
    #expect(config["preemptRT"] as? Bool == false)
    let finding = try #require((object["findings"] as? [[String: Any]])?.first)
    #expect(finding["kind"] as? String == "invalid-wait-context")
    #expect(finding["title"] as? String == "BUG: Invalid wait context")
    #expect(finding["count"] as? Int == 1)
    #expect(finding["context"] as? Int == 5)
    let event = try #require(finding["event"] as? [String: Any])
    // The seed's zone acquisition is its fourth event (spec/reports.md's
    // example: "index": 4).
    #expect(event["index"] as? Int == 4)
    #expect(event["line"] as? Int == 14)
    let lock = try #require(finding["lock"] as? [String: Any])
    #expect(lock["name"] as? String == "&zone->lock")
    #expect(lock["outer"] as? Int == 3)
    #expect((finding["held"] as? [Any])?.count == 3)
    #expect((object["summary"] as? [String: Int])?["invalid-wait-context"] == 1)
  }

  @Test func configurationFlagsChangeTheVerdict() throws {
    let relaxed = try ToolRun([
      "report", "--no-raw-nesting", "findings/invalid-wait-context-seed.rlt",
    ])
    #expect(relaxed.status == 0)
    #expect(relaxed.stdout.contains("no findings"))
    let rt = try ToolRun([
      "report", "--preempt-rt", "--format", "json", "findings/invalid-wait-context-seed.rlt",
    ])
    #expect(rt.status == 1)
    #expect(rt.stdout.contains("\"sleep-in-atomic\""), "spinlock_t sleeps under a raw lock on RT")
  }

  /// Without PROVE_RAW_LOCK_NESTING, `enum lockdep_wait_type` has
  /// `LD_WAIT_CONFIG = LD_WAIT_SPIN`, so sleep is 3 and task context 4:
  /// a kernel built so prints `(&dev->mutex){....}-{3:3}` and
  /// `context-{4:4}` (a real report, net/sched under `spin_lock_bh`), and
  /// `context-{2:2}` in a softirq (blktrace's mutex in an RCU callback).
  @Test func withoutRawNestingWaitTypesAreNumberedAsThatKernelNumbersThem() throws {
    let trace = """
      rawlockcheck-trace 1
      class rtnl mutex name=rtnl_mutex
      class tx spinlock name=&dev->tx_global_lock
      class dev mutex name=&dev->mutex
      class probe mutex name=blk_probe_mutex
      1 acquire rtnl
      1 bh-disable
      1 acquire tx
      1 acquire dev
      1 release dev
      1 release tx
      1 bh-enable
      1 release rtnl
      2 softirq-enter
      2 acquire probe
      2 release probe
      2 softirq-exit

      """
    let text = try ToolRun(["report", "--no-raw-nesting", "-"], input: trace)
    #expect(text.status == 1)
    #expect(text.stdout.contains("(&dev->mutex){....}-{3:3}, at:"), "\(text.stdout)")
    #expect(text.stdout.contains("context-{4:4}\n"))
    #expect(text.stdout.contains("(rtnl_mutex){+.+.}-{3:3}, at:"))
    #expect(text.stdout.contains("(&dev->tx_global_lock){+...}-{2:2}, at:"))
    #expect(text.stdout.contains("(blk_probe_mutex){....}-{3:3}, at:"))
    #expect(text.stdout.contains("context-{2:2}\n"))
    #expect(!text.stdout.contains("{4:4}, at:") && !text.stdout.contains("context-{5:5}"))
    let json = try ToolRun(["report", "--no-raw-nesting", "--format", "json", "-"], input: trace)
    let object = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
    let waits = ((object?["findings"] as? [[String: Any]]) ?? []).filter {
      $0["kind"] as? String == "invalid-wait-context"
    }
    #expect(waits.map { $0["context"] as? Int } == [4, 2], "\(json.stdout)")
    #expect(waits.map { ($0["lock"] as? [String: Any])?["outer"] as? Int } == [3, 3])
  }

  /// `[HC%u[%lu]:SC%u[%lu]:HE%u:SE%u]` prints `softirq_count() >>
  /// SOFTIRQ_SHIFT`: 1 for the softirq being served, 2 for each
  /// `local_bh_disable()` (`SOFTIRQ_DISABLE_OFFSET`), as in syzbot's
  /// `[HC0[0]:SC0[2]:HE0:SE0]` under `spin_lock_bh`.
  @Test func theSoftirqCountHasTwoPerBottomHalfDisable() throws {
    let trace = """
      rawlockcheck-trace 1
      class L spinlock
      class M spinlock
      1 acquire L
      1 release L
      1 bh-disable
      1 hardirq-enter
      1 acquire L
      1 release L
      1 hardirq-exit
      1 bh-enable
      1 acquire M
      1 release M
      2 softirq-enter
      2 bh-disable
      2 acquire M
      2 release M
      2 bh-enable
      2 softirq-exit

      """
    let run = try ToolRun(["report", "-"], input: trace)
    #expect(run.status == 1)
    #expect(run.stdout.contains("[HC1[1]:SC0[2]:HE0:SE0] takes:"), "\(run.stdout)")
    #expect(run.stdout.contains("[HC0[0]:SC1[3]:HE1:SE0] takes:"), "\(run.stdout)")
  }

  /// The dependency form of an irq inversion (lockdep's
  /// `print_bad_irq_dependency()`) carries the kernel's own title line,
  /// which is what people search for.
  @Test func aSafeToUnsafeDependencyCarriesTheKernelsTitle() throws {
    let trace = """
      rawlockcheck-trace 1
      class safe spinlock name=&host->lock
      class unsafe spinlock name=&psock->link_lock
      1 hardirq-enter
      1 acquire safe
      1 release safe
      1 hardirq-exit
      2 acquire unsafe
      2 release unsafe
      2 irq-disable
      2 acquire safe
      2 acquire unsafe
      2 release unsafe
      2 release safe
      2 irq-enable

      """
    let run = try ToolRun(["report", "-"], input: trace)
    #expect(run.status == 1)
    #expect(run.stdout.contains("WARNING: possible irq lock inversion dependency detected\n"))
    #expect(
      run.stdout.contains("\nWARNING: HARDIRQ-safe -> HARDIRQ-unsafe lock order detected\n"),
      "\(run.stdout)")
  }

  /// An irq report's dependency listing shows each class's usage as the
  /// finding saw it (lockdep prints it then): a use of the middle lock
  /// later in the trace, interrupts on, does not show in the listing.
  @Test func anIrqListingShowsUsageAsFound() throws {
    let fixture = try String(
      contentsOf: FixturePaths.traces.appendingPathComponent(
        "findings/irq-inversion-backwards-chain.rlt"), encoding: .utf8)
    let later = fixture + "8391 release fown\n8391 acquire fa read\n8391 release fa\n"
    let run = try ToolRun(["report", "-"], input: later)
    #expect(run.status == 1)
    #expect(run.stdout.contains("\n -> (&new->fa_lock){....}-{2:2} {\n    INITIAL READ USE at:\n"))
    #expect(!run.stdout.contains("(&new->fa_lock){.+.+}"), "\(run.stdout)")
  }

  /// `#` starts a comment outside quotes (the spec), so an unquoted
  /// kernel-style name `&ctx->wqh#2` is cut to `&ctx->wqh`: read as the
  /// spec says, with one warning naming the first such line. A quoted
  /// `#`, and a comment after a blank, are no warning.
  @Test func aHashRightAfterATokenIsWarnedAboutOnce() throws {
    let trace = """
      rawlockcheck-trace 1
      class A spinlock name="&x#1"
      class B spinlock name=&ctx->wqh#2
      class C spinlock name=&ctx->wqh#3
      1 acquire A # a comment
      1 acquire B
      1 release B
      1 release A

      """
    let run = try ToolRun(["report", "-"], input: trace)
    #expect(run.status == 0)
    #expect(
      run.stderr
        == "rawlockcheck: -:3: '#' right after \"name=&ctx->wqh\" starts a comment, which cuts "
        + "the token there; write a token holding '#' in quotes\n")
    let clean = try ToolRun(
      ["report", "-"], input: trace.replacingOccurrences(of: "wqh#", with: "wqh #"))
    #expect(clean.status == 0 && clean.stderr.isEmpty)
  }

  /// Bad input: one line naming file and line, exit status 2.
  @Test(
    arguments: FixturePaths.traces(under: FixturePaths.traces.appendingPathComponent("malformed")))
  func malformedTraceIsAOneLineError(_ url: URL) throws {
    let expected = try #require(FixturePaths.header(of: url)["error"])
    let relative = "malformed/" + url.lastPathComponent
    let output = FileManager.default.temporaryDirectory
      .appendingPathComponent("malformed-\(UUID().uuidString).rltb")
    defer { try? FileManager.default.removeItem(at: output) }
    // Every command that reads a trace refuses it alike: `convert` writes
    // nothing that the others would refuse.
    for arguments in [
      ["report", relative], ["stats", relative], ["graph", relative],
      ["convert", relative, output.path],
    ] {
      let run = try ToolRun(arguments)
      #expect(run.status == 2, "\(arguments)")
      #expect(run.stdout.isEmpty, "\(arguments)")
      #expect(run.stderr == "rawlockcheck: \(relative):\(expected)\n", "\(arguments)")
    }
    #expect(!FileManager.default.fileExists(atPath: output.path))
  }

  /// A word in the verb position that is not a verb: exit status 2 and one
  /// `file:line: unknown verb "..."` line (spec/trace-format.md, Errors).
  @Test(arguments: [
    ("1 aquire A", "aquire"),  // misspelled
    ("1 Acquire A", "Acquire"),  // verbs are case-sensitive
    ("1 \"\" A", ""),  // an empty quoted token
    ("1 class B mutex", "class"),  // a declaration keyword as a verb
    ("1 thread", "thread"),
  ])
  func unknownVerbIsAOneLineError(_ line: String, _ verb: String) throws {
    let dir = FileManager.default.temporaryDirectory
      .appendingPathComponent("verb-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    let trace = "rawlockcheck-trace 1\nclass A mutex\n1 acquire A\n\(line)\n1 release A\n"
    try Data(trace.utf8).write(to: dir.appendingPathComponent("bad.rlt"))
    let run = try ToolRun(["report", "bad.rlt"], in: dir)
    #expect(run.status == 2)
    #expect(run.stdout.isEmpty)
    #expect(run.stderr == "rawlockcheck: bad.rlt:4: unknown verb \"\(verb)\"\n")
  }

  @Test func usageErrorsExitWithTwo() throws {
    #expect(try ToolRun(["report"]).status == 2)
    #expect(try ToolRun(["report", "--bogus", "x.rlt"]).status == 2)
    #expect(try ToolRun(["report", "--format", "xml", "clean/nested-ok.rlt"]).status == 2)
    let missing = try ToolRun(["report", "no-such.rlt"])
    #expect(missing.status == 2)
    #expect(missing.stderr.hasPrefix("rawlockcheck: no-such.rlt: cannot open"))
    let dir = try ToolRun(["report", "findings"])
    #expect(dir.status == 2)
  }

  @Test func severalTracesGiveAJSONArrayAndTheWorstStatus() throws {
    let run = try ToolRun([
      "report", "--format", "json", "clean/nested-ok.rlt", "findings/recursive-locking.rlt",
    ])
    #expect(run.status == 1)
    let array = try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [Any]
    #expect(array?.count == 2)
    let withError = try ToolRun(["report", "clean/nested-ok.rlt", "malformed/unbalanced.rlt"])
    #expect(withError.status == 2)
    #expect(withError.stdout.contains("no findings"))
  }

  /// lockdep's `__print_lock_name()`: a later class of a name an earlier
  /// class has (`count_matching_names()`) prints `#N` after it, and a
  /// subclass `/N` after that, so that a cycle between two classes of one
  /// name does not read as one lock taken twice.
  @Test func aLaterClassOfOneNamePrintsItsNameVersion() throws {
    let trace = """
      rawlockcheck-trace 1
      class a mutex name=&p->lock
      class b mutex name=&p->lock
      class c mutex name=&p->lock
      class d mutex name=&q->lock
      1 acquire a
      1 acquire b
      1 release b
      1 release a
      2 acquire b
      2 acquire c sub=1
      2 acquire a
      2 release a
      2 release c
      2 release b

      """
    let run = try ToolRun(["report", "-"], input: trace)
    #expect(run.status == 1)
    #expect(
      run.stdout.contains("thread/2 is trying to acquire lock:\n (&p->lock){"), "\(run.stdout)")
    #expect(run.stdout.contains(" #0: (&p->lock#2){"), "\(run.stdout)")
    #expect(run.stdout.contains(" #1: (&p->lock#3/1){"), "\(run.stdout)")
    #expect(!run.stdout.contains("&q->lock#"))
  }

  /// An inconsistent lock state found when interrupts or bottom halves
  /// come back on: lockdep's `print_usage_bug()` prints the held lock with
  /// `print_lock()`, at its `acquire_ip` (where it was taken, not the
  /// enable); `lockdep_hardirqs_on_prepare()` marks the held locks before
  /// interrupts count as on (`HE0`), while `lockdep_softirqs_on()` sets
  /// `softirqs_enabled` first (`SE1`). A `bh-enable` with interrupts on
  /// marks them there too: `__local_bh_enable_ip()` disables interrupts
  /// around `lockdep_softirqs_on()` (which marks nothing with them off)
  /// and its `local_irq_enable()` marks them (`HE0`). The stack is the
  /// enable's.
  @Test(arguments: [
    ("hardirq", "irq", "HE0:SE1", "{IN-HARDIRQ-W} -> {HARDIRQ-ON-W}"),
    ("softirq", "bh", "HE0:SE1", "{IN-SOFTIRQ-W} -> {SOFTIRQ-ON-W}"),
  ])
  func aStateMadeInconsistentByAnEnableNamesWhereTheLockWasTaken(
    irq: String, off: String, state: String, usage: String
  ) throws {
    let trace = """
      rawlockcheck-trace 1
      class L spinlock
      1 \(irq)-enter
      1 acquire L
      1 release L
      1 \(irq)-exit
      2 \(off)-disable
      2 acquire L
      2 \(off)-enable
      2 release L

      """
    let run = try ToolRun(["report", "-"], input: trace)
    #expect(run.status == 1)
    #expect(run.stdout.contains("inconsistent \(usage) usage."), "\(run.stdout)")
    #expect(run.stdout.contains("thread/2 [HC0[0]:SC0[0]:\(state)] takes:\n (L){"), "\(run.stdout)")
    #expect(run.stdout.contains("}-{3:3}, at: -:8\n"), "\(run.stdout)")
    #expect(run.stdout.contains("stack backtrace:\n -:9 (no stack recorded)"), "\(run.stdout)")
  }

  /// An empty `name=` is no name (spec: a class's display name defaults
  /// to its id): the class shows its id, the thread is `thread`, as
  /// without one; not `()` and `/1`.
  @Test func anEmptyNameIsNoName() throws {
    let trace = """
      rawlockcheck-trace 1
      class A spinlock name=
      thread 1 name=
      1 acquire A
      1 acquire A

      """
    let run = try ToolRun(["report", "-"], input: trace)
    #expect(run.status == 1)
    #expect(run.stdout.contains("thread/1 is trying to acquire lock:\n (A){"), "\(run.stdout)")
    #expect(!run.stdout.contains("()"), "\(run.stdout)")
  }

  /// `rcu_read_unlock_bh()` ends with `local_bh_enable()`: a lock held
  /// across it that a softirq took is marked there as on a `bh-enable`,
  /// interrupts counted off (`HE0`, the stamps say so too).
  @Test func anRCUBottomHalfSectionsEndMarksAsABottomHalfEnable() throws {
    let trace = """
      rawlockcheck-trace 1
      class A spinlock name=&A
      class RB rcu_bh name=rcu_read_lock_bh
      1 softirq-enter
      1 acquire A
      1 release A
      1 softirq-exit
      1 acquire RB
      1 acquire A
      1 release RB
      1 release A

      """
    let run = try ToolRun(["report", "-"], input: trace)
    #expect(run.status == 1)
    #expect(run.stdout.contains("inconsistent {IN-SOFTIRQ-W} -> {SOFTIRQ-ON-W} usage."))
    #expect(run.stdout.contains("thread/1 [HC0[0]:SC0[0]:HE0:SE1] takes:"), "\(run.stdout)")
  }

  /// Two usage conflicts of one lock from one place, a softirq one and a
  /// hardirq one, are two findings (lockdep reports each usage pair as
  /// its own bug), not one counted twice.
  @Test func twoUsageConflictsOfOneLockAtOnePlaceAreTwoFindings() throws {
    let trace = """
      rawlockcheck-trace 1
      class L raw_spinlock
      stack s1 0x1000
      1 acquire L
      1 release L
      1 softirq-enter
      1 acquire L at=s1
      1 release L
      1 softirq-exit
      1 hardirq-enter
      1 acquire L at=s1
      1 release L
      1 hardirq-exit

      """
    let run = try ToolRun(["report", "-"], input: trace)
    #expect(run.status == 1)
    #expect(run.stdout.contains("{SOFTIRQ-ON-W} -> {IN-SOFTIRQ-W}"), "\(run.stdout)")
    #expect(run.stdout.contains("{HARDIRQ-ON-W} -> {IN-HARDIRQ-W}"), "\(run.stdout)")
    #expect(run.stdout.hasSuffix("2 findings (inconsistent-lock-state 2)\n"), "\(run.stdout)")
  }

  /// Two irq lock inversions of the same two classes found by one
  /// acquisition, a hardirq one and a softirq one (the lock becomes
  /// irq-enabled both ways at once, and an irq-safe class took it before,
  /// safe both ways), are two findings, not one counted twice.
  @Test func aHardirqAndASoftirqInversionAtOnePlaceAreTwoFindings() throws {
    let trace = """
      rawlockcheck-trace 1
      class X raw_spinlock
      class Y raw_spinlock
      1 hardirq-enter
      1 acquire X
      1 release X
      1 hardirq-exit
      1 softirq-enter
      1 irq-disable
      1 acquire X
      1 release X
      1 irq-enable
      1 softirq-exit
      1 irq-disable
      1 acquire X
      1 acquire Y
      1 release Y
      1 release X
      1 irq-enable
      1 acquire Y
      1 release Y

      """
    let run = try ToolRun(["report", "-"], input: trace)
    #expect(run.status == 1)
    #expect(run.stdout.contains("taken by another, HARDIRQ-safe lock"), "\(run.stdout)")
    #expect(run.stdout.contains("taken by another, SOFTIRQ-safe lock"), "\(run.stdout)")
    #expect(run.stdout.hasSuffix("2 findings (irq-lock-inversion 2)\n"), "\(run.stdout)")
  }

  /// An inconsistent lock state prints lockdep's `print_irqtrace_events()`
  /// block after where the first state was registered: the thread's count
  /// of interrupt state changes and the newest change of each kind (`0x0`
  /// for none), each counted where lockdep counts one.
  @Test func inconsistentStatePrintsTheIrqEventStamps() throws {
    let trace = """
      rawlockcheck-trace 1
      class A spinlock name=&file_data->lock
      thread 1 name=swapper/0
      1 acquire A
      1 release A
      1 irq-disable
      1 irq-disable
      1 irq-enable
      1 irq-enable
      1 softirq-enter
      1 acquire A

      """
    let run = try ToolRun(["report", "-"], input: trace)
    #expect(run.status == 1)
    let expected = """
      {SOFTIRQ-ON-W} state was registered at:
        -:4 (no stack recorded)
      irq event stamp: 3
      hardirqs last  enabled at (2): -:9
      hardirqs last disabled at (1): -:6
      softirqs last  enabled at (0): 0x0
      softirqs last disabled at (3): -:10

      other info that might help us debug this:

      """
    #expect(run.stdout.contains(expected), "\(run.stdout)")
    // JSON carries the same stamps, each with the line of its event (none
    // for a stamp of 0).
    let finding = try Self.onlyJSONFinding(trace, kind: "inconsistent-lock-state")
    let events = try #require(finding["irqEvents"] as? [String: Any], "\(finding)")
    #expect(events["stamp"] as? Int == 3)
    func stamp(_ key: String) -> [Int?] {
      let change = events[key] as? [String: Any] ?? [:]
      return [change["stamp"] as? Int, (change["event"] as? [String: Any])?["line"] as? Int]
    }
    #expect(stamp("hardirqsLastEnabled") == [2, 9])
    #expect(stamp("hardirqsLastDisabled") == [1, 6])
    #expect(stamp("softirqsLastEnabled") == [0, nil])
    #expect(stamp("softirqsLastDisabled") == [3, 10])
    // And the place the text's "state was registered at:" names: the
    // acquisition on line 4 (JSON had its frames alone, empty in a trace
    // without stacks; a user's trial found the line missing).
    #expect(finding["previousUsage"] as? String == "SOFTIRQ-ON-W")
    #expect((finding["previousEvent"] as? [String: Any])?["line"] as? Int == 4)
    #expect((finding["previousFrames"] as? [Any])?.isEmpty == true)
  }

  /// An irq-safe to irq-unsafe dependency in JSON says where each class
  /// became safe and unsafe, as the text's "which became ... at:" lines:
  /// the event (its line) and frames. JSON had the usage alone.
  @Test func irqUnsafeDependencyJSONSaysWhereEachUsageBegan() throws {
    let trace = """
      rawlockcheck-trace 1
      class A raw_spinlock name=&a
      class B raw_spinlock name=&b
      thread 1
      1 hardirq-enter
      1 acquire A
      1 release A
      1 hardirq-exit
      1 acquire B
      1 release B
      1 irq-disable
      1 acquire A
      1 acquire B

      """
    let finding = try Self.onlyJSONFinding(trace, kind: "irq-lock-inversion")
    let safe = finding["safe"] as? [String: Any] ?? [:]
    let unsafe = finding["unsafe"] as? [String: Any] ?? [:]
    #expect(safe["usage"] as? String == "IN-HARDIRQ-W")
    #expect((safe["event"] as? [String: Any])?["line"] as? Int == 6)
    #expect(unsafe["usage"] as? String == "HARDIRQ-ON-W")
    #expect((unsafe["event"] as? [String: Any])?["line"] as? Int == 9)
    #expect((safe["frames"] as? [Any])?.isEmpty == true)
  }

  /// The one finding of `kind` in `trace`'s JSON report.
  static func onlyJSONFinding(_ trace: String, kind: String, options: [String] = []) throws
    -> [String: Any]
  {
    let run = try ToolRun(["report", "--format", "json"] + options + ["-"], input: trace)
    let object = try #require(
      try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
    let findings = (object["findings"] as? [[String: Any]] ?? []).filter {
      $0["kind"] as? String == kind
    }
    return try #require(findings.count == 1 ? findings.first : nil, "\(run.stdout)")
  }

  /// On PREEMPT_RT a `spinlock_t` taken with interrupts off under
  /// `rcu_read_lock()` and another `spinlock_t`: `__might_resched()`
  /// prints the RCU nesting it found and expected (two, from the reader
  /// and the held lock), in text and JSON alike.
  @Test func anRTLockReportsTheRCUNestingItExpects() throws {
    let trace = """
      rawlockcheck-trace 1
      class R rcu
      class S spinlock
      class T spinlock
      1 acquire R read
      1 acquire S
      1 irq-disable
      1 acquire T

      """
    let run = try ToolRun(["report", "--preempt-rt", "-"], input: trace)
    #expect(run.stdout.contains("preempt_count: 0, expected: 0\nRCU nest depth: 2, expected: 2\n"))
    let finding = try Self.onlyJSONFinding(
      trace, kind: "sleep-in-atomic", options: ["--preempt-rt"])
    #expect(finding["rcuNestDepth"] as? Int == 2 && finding["rcuNestDepthExpected"] as? Int == 2)
    #expect(finding["preemptCount"] as? Int == 0)
  }

  /// `__might_resched()` prints, after the held locks, the irq event
  /// stamps when interrupts are off, then `Preemption disabled at:` with
  /// where the preempt count left 0: here the `bh-disable` on line 6 (the
  /// spin lock on line 7 came after it; line 5 turned interrupts off,
  /// which does not count).
  @Test func aSleepInAtomicContextSaysWherePreemptionWasDisabled() throws {
    let trace = """
      rawlockcheck-trace 1
      class A spinlock
      class M mutex
      1 irq-disable
      1 bh-disable
      1 acquire A
      1 acquire M

      """
    let run = try ToolRun(["report", "-"], input: trace)
    #expect(run.status == 1)
    let expected = """
       #0: (A){....}-{3:3}, at: -:6
      irq event stamp: 2
      hardirqs last  enabled at (0): 0x0
      hardirqs last disabled at (1): -:4
      softirqs last  enabled at (0): 0x0
      softirqs last disabled at (2): -:5
      Preemption disabled at:
      -:5
      stack backtrace:
       -:7 (no stack recorded)

      """
    #expect(run.stdout.contains(expected), "\(run.stdout)")
    // JSON: the text's `in_atomic(): 1, irqs_disabled(): 1`, the stamps,
    // and where preemption was disabled.
    let finding = try Self.onlyJSONFinding(trace, kind: "sleep-in-atomic")
    #expect(finding["inAtomic"] as? Bool == true)
    #expect(finding["irqsDisabled"] as? Bool == true)
    #expect(run.stdout.contains("in_atomic(): 1, irqs_disabled(): 1,"))
    let disabledAt = finding["preemptionDisabledAt"] as? [String: Any]
    #expect((disabledAt?["event"] as? [String: Any])?["line"] as? Int == 5, "\(finding)")
    let events = finding["irqEvents"] as? [String: Any]
    #expect(events?["stamp"] as? Int == 2, "\(finding)")
  }

  /// The reasons of a sleep report name the classes held, printed with
  /// their control and format characters (bidirectional marks) escaped, as every other
  /// line prints a name from a trace (README: "Names from a trace ... are
  /// printed with control characters escaped"): a right-to-left override
  /// in a class name (or, from a binary trace, an escape sequence) reached
  /// the terminal there.
  @Test func aSleepReportsReasonsEscapeClassNames() throws {
    let trace = """
      rawlockcheck-trace 1
      class R raw_spinlock name="red\u{202E}lock\u{200F}x"
      class M mutex
      1 acquire R
      1 acquire M

      """
    let run = try ToolRun(["report", "-"], input: trace)
    #expect(run.status == 1)
    #expect(!run.stdout.unicodeScalars.contains { $0 == "\u{202E}" || $0 == "\u{200F}" })
    #expect(
      run.stdout.contains("  holding raw_spinlock red\\u{202E}lock\\u{200F}x\n"), "\(run.stdout)")
  }

  /// A sleep in a hard interrupt handler with no `irq-disable` of its
  /// own: handlers run with interrupts off, and `__might_resched()`
  /// prints `irqs_disabled()` as it is there, 1 (as lockdep's own stamps
  /// say: `hardirqs last disabled at` the `hardirq-enter`).
  @Test func aSleepInAHardirqHandlerHasInterruptsDisabled() throws {
    let trace = """
      rawlockcheck-trace 1
      class M mutex
      1 hardirq-enter
      1 acquire M

      """
    let run = try ToolRun(["report", "-"], input: trace)
    #expect(run.status == 1)
    #expect(run.stdout.contains("  in hardirq context\n"), "\(run.stdout)")
    #expect(run.stdout.contains("in_atomic(): 1, irqs_disabled(): 1,"), "\(run.stdout)")
    let finding = try Self.onlyJSONFinding(trace, kind: "sleep-in-atomic")
    #expect(finding["irqsDisabled"] as? Bool == true)
  }

  /// A class declared `outer=inv` (lockdep's 0, as a converter copying a
  /// `lockdep_map` writes it) is checked and printed with its inner as its
  /// outer: a sleeping map under a raw spin lock is an invalid wait context,
  /// `-{4:4}` (`print_lock_name()`: `wait_type_outer ?: wait_type_inner`).
  @Test func anOuterOfInvIsTheInner() throws {
    let trace = """
      rawlockcheck-trace 1
      class R raw_spinlock
      class M custom inner=sleep outer=inv
      1 acquire R
      1 acquire M

      """
    let run = try ToolRun(["report", "-"], input: trace)
    #expect(run.status == 1)
    #expect(run.stdout.contains("[ BUG: Invalid wait context ]"), "\(run.stdout)")
    #expect(run.stdout.contains(" (M){....}-{4:4}, at: -:5"), "\(run.stdout)")
  }

  /// `__might_resched()` prints `preempt_disable_ip` as one place
  /// (`print_ip_sym()`), as the irq stamps and the held locks' `at:`: the
  /// innermost frame of the lock's three-frame stack, not the whole stack
  /// (which the live validator, holding a call site only, could not print).
  @Test func preemptionDisabledAtIsOnePlaceAsTheKernelPrintsIt() throws {
    let trace = """
      rawlockcheck-trace 1
      stack s 0x1000 0x2000 0x3000
      class A spinlock
      1 acquire A at=s
      1 might-sleep

      """
    let run = try ToolRun(["report", "-"], input: trace)
    #expect(run.status == 1)
    #expect(
      run.stdout.contains("Preemption disabled at:\n0x1000\nstack backtrace:\n"), "\(run.stdout)")
    #expect(!run.stdout.contains("0x2000"), "\(run.stdout)")
  }

  /// `print_shortest_lock_dependencies_backwards()`: a dependency's stack
  /// is that of the lock taken second, so in the safe-to-held section the
  /// safe lock (S) has no `... acquired at:`, M has the stack of M taken
  /// under S, and the held lock P that of P taken under M; the report's
  /// own stack (0x5000) is printed only in the other section, as the
  /// lock being acquired's. Usage stacks are indented by
  /// `print_lock_class_header()`'s `1 + len`, which counts the depth twice.
  @Test func aBadIrqDependencyPrintsEachStackUnderTheLockTakenSecond() throws {
    let trace = """
      rawlockcheck-trace 1
      stack sS 0x1000
      stack sM 0x2000
      stack sP 0x3000
      stack sN 0x4000
      stack sX 0x5000
      class S raw_spinlock
      class M raw_spinlock
      class P raw_spinlock
      class N raw_spinlock
      1 hardirq-enter
      1 acquire S at=sS
      1 release S
      1 hardirq-exit
      2 irq-disable
      2 acquire S at=sS
      2 acquire M at=sM
      2 release M
      2 release S
      2 acquire M at=sM
      2 acquire P at=sP
      2 release P
      2 release M
      2 irq-enable
      3 acquire N at=sN
      3 release N
      4 irq-disable
      4 acquire P at=sP
      4 acquire N at=sX

      """
    let run = try ToolRun(["report", "-"], input: trace)
    #expect(run.status == 1)
    let expected = """
      the dependencies between HARDIRQ-irq-safe lock and the holding lock:
        -> (S){-...}-{2:2} {
           IN-HARDIRQ-W at:
                              0x1000
           INITIAL USE at:
                             0x1000
         }
       -> (M){....}-{2:2} {
          INITIAL USE at:
                           0x2000
        }
        ... acquired at:
         0x2000

      -> (P){....}-{2:2} {
         INITIAL USE at:
                         0x3000
       }
       ... acquired at:
         0x3000


      the dependencies between the lock to be acquired
       and HARDIRQ-irq-unsafe lock:
      -> (N){+.+.}-{2:2} {
         HARDIRQ-ON-W at:
                          0x4000
         SOFTIRQ-ON-W at:
                          0x4000
         INITIAL USE at:
                         0x4000
       }
       ... acquired at:
         0x5000


      stack backtrace:

      """
    #expect(run.stdout.contains(expected), "\(run.stdout)")
  }

  /// A bad unlock and a nest lock name the lock by its map's name alone
  /// (`print_lockdep_cache()`, `nest_lock->name`): no `#2` for the second
  /// class of a name, no `/3` for a subclass, where a held lock's line has
  /// both (`__print_lock_name()`).
  @Test func unlockAndNestLockNamesAreTheMapsName() throws {
    let trace = """
      rawlockcheck-trace 1
      class a1 mutex name=&p->lock
      class a2 mutex name=&p->lock
      class m1 mutex name=&mm->lock
      class m2 mutex name=&mm->lock
      class v spinlock name=&vma->lock
      1 acquire a1
      1 acquire a2 sub=3
      1 release a2
      1 release a2
      1 acquire a2 sub=3
      1 acquire v nest=m2

      """
    let run = try ToolRun(["report", "-"], input: trace)
    #expect(run.status == 1)
    #expect(run.stdout.contains("thread/1 is trying to release lock (&p->lock) at:\n"))
    #expect(run.stdout.contains("but this task is not holding:\n&mm->lock\n"))
    #expect(run.stdout.contains(" #1: (&p->lock#2/3){+.+.}-{4:4}, at: -:11\n"), "\(run.stdout)")
    // An inconsistent lock state's scenario names the class as a held
    // lock's line does (`print_usage_bug_scenario()`: `__print_lock_name()`).
    let usage = try ToolRun(
      ["report", "-"],
      input: """
        rawlockcheck-trace 1
        class a1 spinlock name=&q->lock
        class a2 spinlock name=&q->lock
        1 hardirq-enter
        1 acquire a2 sub=1
        1 release a2
        1 hardirq-exit
        1 acquire a2 sub=1

        """)
    #expect(
      usage.stdout.contains("  lock(&q->lock#2/1);\n  <Interrupt>\n    lock(&q->lock#2/1);\n"),
      "\(usage.stdout)")
  }

  /// A trace whose modules are all gone says the first 20 and how many
  /// more, not one line each (a process maps thousands).
  @Test func manyMissingModulesAreSaidInPart() throws {
    var trace = "rawlockcheck-trace 1\n"
    for i in 0..<25 {
      trace += "module 0x\(String(0x1000_0000 + i * 0x10000, radix: 16))-"
      trace += "0x\(String(0x1000_8000 + i * 0x10000, radix: 16)) 0 /nonexistent/lib\(i).so\n"
    }
    trace += "stack s 0x10000010\nclass A spinlock\n1 acquire A at=s\n1 release A\n"
    let run = try ToolRun(["report", "-"], input: trace)
    #expect(run.status == 0, "\(run.stderr)")
    let lines = run.stderr.split(separator: "\n")
    #expect(lines.filter { $0.hasSuffix("not found: its frames print as addresses") }.count == 20)
    #expect(lines.last == "rawlockcheck: -: 5 more module warnings not shown", "\(run.stderr)")
  }

  /// A dependency path's entries are indented by their depth, as lockdep
  /// does, but by 32 spaces at most: a path of thousands of links would
  /// otherwise print its square in spaces.
  @Test func aLongDependencyPathIsIndentedAtMost32() throws {
    var trace = "rawlockcheck-trace 1\nclass S raw_spinlock\nclass N raw_spinlock\n"
    for i in 0..<40 { trace += "class L\(i) raw_spinlock\n" }
    trace += "1 hardirq-enter\n1 acquire S\n1 release S\n1 hardirq-exit\n1 irq-disable\n"
    var previous = "S"
    for i in 0..<40 {
      trace += "1 acquire \(previous)\n1 acquire L\(i)\n1 release L\(i)\n1 release \(previous)\n"
      previous = "L\(i)"
    }
    trace += "1 irq-enable\n2 acquire N\n2 release N\n3 irq-disable\n3 acquire L39\n3 acquire N\n"
    let run = try ToolRun(["report", "-"], input: trace)
    #expect(run.status == 1)
    let arrows = run.stdout.split(separator: "\n").filter { $0.contains("-> (") }
    let indents = arrows.map { $0.prefix { $0 == " " }.count }
    #expect(indents.max() == 32, "\(indents)")
    #expect(arrows.count > 40)
  }

  /// A trace whose one stack has `frames` frames, taken by an AB-BA pair
  /// (a circular dependency that prints it three times).
  static func deepStackTrace(frames: Int) -> String {
    let addresses = (0..<frames).map { "0x\(String(0x1000 + $0 * 16, radix: 16))" }
    return """
      rawlockcheck-trace 1
      stack deep \(addresses.joined(separator: " "))
      class A mutex
      class B mutex
      1 acquire A at=deep
      1 acquire B at=deep
      1 release B
      1 release A
      2 acquire B at=deep
      2 acquire A at=deep

      """
  }

  /// A report prints `TextReport.maxFramesShown` (128) frames of a stack
  /// and how many more there are, in text and JSON (`framesOmitted`): a
  /// trace's stack may have thousands, and a report prints a stack at
  /// every place it appears.
  @Test func aDeepStackIsPrintedInPart() throws {
    let trace = Self.deepStackTrace(frames: 200)
    let text = try ToolRun(["report", "-"], input: trace)
    #expect(text.status == 1)
    #expect(text.stdout.contains("#127 0x") && !text.stdout.contains("#128 0x"))
    #expect(text.stdout.contains(" ... 72 more frames\n"), "\(text.stdout.prefix(3000))")
    let json = try ToolRun(["report", "--format", "json", "-"], input: trace)
    let object = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
    let finding = try #require((object?["findings"] as? [[String: Any]])?.first)
    #expect((finding["frames"] as? [Any])?.count == 128)
    #expect(finding["framesOmitted"] as? Int == 72)
    // A stack within the limit has no such key.
    let shallow = try ToolRun(
      ["report", "--format", "json", "-"], input: Self.deepStackTrace(frames: 128))
    #expect(!shallow.stdout.contains("framesOmitted"))
  }
}

/// The progress bar on a terminal of 60 columns (a pseudo-terminal the
/// driver makes): every drawing fits in 59 columns (it was about 90 and
/// wrapped, leaving a row behind at each), SIGINT clears it before the
/// process ends (the shell's next line began on the bar), and the warning
/// saying where the interrupt ended the reading starts on a cleared line
/// (it was printed after the bar, on its line).
///
/// The driver sends SIGINT once the bar is on the terminal (not after a
/// fixed time: a loaded machine may not have drawn it yet), twice at once
/// as GNU `timeout` does: to the process, then to its process group.
@Suite struct ProgressBarTerminalTests {
  /// Runs `TOOL COMMAND... TRACE` (argv: tool, trace, `twice` or `once`,
  /// the command's words) on a pseudo-terminal of 60 columns, standard
  /// output to /dev/null; sends SIGINT once a bar is drawn (`twice`: to
  /// the process and then to its group); prints what the terminal
  /// showed, then `\nSTATUS` and the exit status (negative: the signal).
  static let driver = """
    import fcntl, os, pty, signal, struct, sys, termios, time
    tool, trace, times, command = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
    # The test runner starts its children with SIGINT blocked.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGINT, signal.SIGTERM])
    pid, fd = pty.fork()
    if pid == 0:
        fcntl.ioctl(2, termios.TIOCSWINSZ, struct.pack("HHHH", 12, 60, 0, 0))
        os.environ["TERM"] = "xterm"
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
        null = os.open("/dev/null", os.O_WRONLY)
        os.dup2(null, 1)
        os.execv(tool, [tool] + command + [trace])
    output = b""
    sent = False
    deadline = time.time() + 300
    while time.time() < deadline:
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            break
        if not chunk:
            break
        output += chunk
        # A bar drawn: its `[....]` after the trace's name.
        if not sent and b"] " in output:
            os.kill(pid, signal.SIGINT)
            if times == "twice":
                os.killpg(pid, signal.SIGINT)
            sent = True
    _, status = os.waitpid(pid, 0)
    sys.stdout.buffer.write(output)
    sys.stdout.buffer.write(b"\\nSTATUS %d" % os.waitstatus_to_exitcode(status))
    """

  /// `driver` on a trace of 2 M generated events named `name` (nil
  /// where there is no python3): the tool's run through it.
  static func onATerminal(_ name: String, _ times: String, _ command: [String]) throws
    -> ToolRun?
  {
    let python = "/usr/bin/python3"
    guard FileManager.default.isExecutableFile(atPath: python) else { return nil }
    let dir = try MergeCommandTests.directory([:])
    defer { try? FileManager.default.removeItem(at: dir) }
    let trace = "\(dir.path)/\(name)"
    let generated = try ToolRun.command(
      "/bin/sh", ["-c", "'\(FixturePaths.tool.path)' generate --events 2000000 > '\(trace)'"])
    #expect(generated.status == 0)
    return try ToolRun.command(
      python, ["-c", Self.driver, FixturePaths.tool.path, trace, times] + command)
  }

  @Test func theBarFitsTheTerminalAndAnInterruptClearsIt() throws {
    guard
      let run = try Self.onATerminal(
        "a-long-trace-name-from-a-ci-shard.rlt", "twice", ["report", "--reader-thread", "off"])
    else { return }
    let parts = run.stdout.components(separatedBy: "\nSTATUS ")
    let output = try #require(parts.first, "\(run.stderr)")
    // Interrupted while reading (it takes seconds in a debug build), and
    // ended by its first SIGINT, not by the second one.
    #expect(parts.last == "130", "\(run.stdout.suffix(300)) \(run.stderr)")
    #expect(
      output.contains(": interrupted by SIGINT: read up to this line"), "\(output) \(run.stderr)")
    let escape = "\u{1B}[K"
    let drawings = output.components(separatedBy: "\r").map {
      $0.replacingOccurrences(of: escape, with: "")
    }
    #expect(drawings.contains { $0.hasPrefix("...") && $0.contains(".rlt [") }, "\(output)")
    for drawing in drawings {
      // The bar's drawings, not the tool's messages (each on its own line).
      let bar = drawing.components(separatedBy: "\n").last ?? ""
      #expect(bar.unicodeScalars.count <= 59 || bar.hasPrefix("rawlockcheck: "), "\(drawing)")
    }
    // Every message follows a cleared bar: `\r ESC[K` before it, not a bar.
    for piece in output.components(separatedBy: "rawlockcheck: ").dropLast() {
      #expect(
        piece.hasSuffix("\r\(escape)") || piece.isEmpty || piece.unicodeScalars.last == "\n",
        "\(piece)")
    }
    // The process ends on a cleared line: the shell's prompt starts there.
    // (`\r\n` is one Character: its scalars are compared.)
    #expect(
      output.hasSuffix("\r\(escape)") || output.unicodeScalars.last == "\n",
      "\(output.suffix(200))")
  }

  /// A signal that ends the process (`stats` does not defer it) clears
  /// the bar in the handler: the terminal's last bytes are `\r ESC[K`,
  /// where the shell's prompt then starts.
  @Test func aSignalThatEndsTheProcessClearsTheBar() throws {
    guard let run = try Self.onATerminal("t.rlt", "once", ["stats"]) else { return }
    let parts = run.stdout.components(separatedBy: "\nSTATUS ")
    #expect(parts.last == "-\(SIGINT)", "\(run.stdout.suffix(300)) \(run.stderr)")
    let output = try #require(parts.first)
    #expect(output.contains(".rlt ["), "no bar was drawn: \(output)")
    #expect(output.hasSuffix("\r\u{1B}[K"), "\(output.suffix(200))")
  }
}
