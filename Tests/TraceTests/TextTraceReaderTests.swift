import Basics
import Foundation
import LockGraph
import Testing
import WaitContext

@testable import Trace

/// Records what a reader produced.
struct Recorder: TraceConsumer {
  var classes: [(key: String, name: String?, kind: LockKind, waits: ClassWaitTypes)] = []
  var threads: [(token: String, name: String?)] = []
  var events: [LockEvent] = []

  mutating func declareClass(key: String, name: String?, kind: LockKind, waits: ClassWaitTypes)
    -> ClassID
  {
    classes.append((key, name, kind, waits))
    return ClassID(Int32(classes.count - 1))
  }
  mutating func declareThread(token: String, name: String?) -> ThreadID {
    threads.append((token, name))
    return ThreadID(Int32(threads.count - 1))
  }
  mutating func nameThread(_ id: ThreadID, _ name: String) { threads[id.index].name = name }
  mutating func consume(_ event: LockEvent) throws(EventError) { events.append(event) }
}

func read(_ text: String) throws(TraceError) -> (Recorder, TraceSymbols) {
  let url = FileManager.default.temporaryDirectory
    .appendingPathComponent("rlt-\(UInt64.random(in: 0...UInt64.max)).rlt")
  try! Data(text.utf8).write(to: url)
  defer { try? FileManager.default.removeItem(at: url) }
  var recorder = Recorder()
  let symbols = try TextTraceReader(path: url.path, displayName: "t.rlt").read(into: &recorder)
  return (recorder, symbols)
}

func error(_ text: String) -> String? {
  do {
    _ = try read(text)
    return nil
  } catch {
    return error.description
  }
}

@Suite struct TextTraceReaderTests {
  @Test func readsDeclarationsAndEvents() throws {
    let (r, symbols) = try read(
      """
      # a comment before the header
      rawlockcheck-trace 1
      class zone spinlock name="&zone->lock #2"   # quoted: a space and a hash
      class ovr wait_override inner=spin
      class c custom inner=sleep outer=spin type=percpu
      thread 7 name="kworker/0:1"
      module 0x1000-0x2000 0 /bin/true build-id=ABCD
      stack s1 0x1010 4112
      7 acquire zone try read-recursive sub=3 inst=0x40 at=s1
      7\trelease zone ip=0x1234\r
      7 free 0x40 16
      7 hardirq-enter threaded
      7 hardirq-exit
      """)
    #expect(r.classes.map(\.key) == ["zone", "ovr", "c"])
    #expect(r.classes[0].name == "&zone->lock #2")
    #expect(r.classes[1].waits == ClassWaitTypes(inner: .spin, outer: nil, lockType: .override))
    #expect(r.classes[2].waits == ClassWaitTypes(inner: .sleep, outer: .spin, lockType: .percpu))
    #expect(r.threads.count == 1)
    #expect(r.threads[0].token == "7")
    #expect(r.threads[0].name == "kworker/0:1")
    #expect(
      symbols.modules == [
        ModuleRecord(start: 0x1000, end: 0x2000, fileOffset: 0, path: "/bin/true", buildID: "abcd")
      ])
    #expect(symbols.stacks == [[0x1010, 4112]])
    let acquire = r.events[0]
    #expect(acquire.verb == .acquire)
    #expect(acquire.isTrylock)
    #expect(acquire.read == .recursive)
    #expect(acquire.subclass == 3)
    #expect(acquire.address == 0x40)
    #expect(acquire.origin.stack == StackID(0))
    #expect(acquire.origin.line == 9)
    #expect(r.events[1].verb == .release)
    #expect(r.events[1].origin.ip == 0x1234)
    #expect(r.events[2].address == 0x40 && r.events[2].length == 16)
    #expect(r.events[3].threaded)
    #expect(r.events.count == 5)
  }

  @Test func escapesInQuotes() throws {
    let (r, _) = try read(
      #"""
      rawlockcheck-trace 1
      class "a b" mutex name="say \"hi\" \\ there"
      1 acquire "a b"
      """#)
    #expect(r.classes[0].key == "a b")
    #expect(r.classes[0].name == #"say "hi" \ there"#)
    #expect(r.events.count == 1)
  }

  /// The header's version is a number, spelled as any other
  /// (spec/trace-format.md: decimal, or hexadecimal with `0x`).
  @Test(arguments: ["1", "0x1", "01", "0X1"])
  func theHeaderVersionIsANumber(spelling: String) throws {
    let (r, _) = try read("rawlockcheck-trace \(spelling)\nclass A spinlock\n1 acquire A\n")
    #expect(r.events.count == 1)
  }

  @Test(arguments: [
    ("class a spinlock\n", "t.rlt:1: expected header \"rawlockcheck-trace 1\""),
    (
      "rawlockcheck-trace 0x2\n",
      "t.rlt:1: unsupported trace version 0x2 (this reader knows version 1)"
    ),
    (
      "rawlockcheck-trace 2 compressed=1\n",
      "t.rlt:1: unsupported trace version 2 (this reader knows version 1)"
    ),
    ("rawlockcheck-trace 1 x=1\n", "t.rlt:1: expected header \"rawlockcheck-trace 1\""),
    (
      "rawlockcheck-trace 2\n", "t.rlt:1: unsupported trace version 2 (this reader knows version 1)"
    ),
    ("", "t.rlt:1: empty trace: expected header \"rawlockcheck-trace 1\""),
    ("# nothing yet\n\n", "t.rlt:3: empty trace: expected header \"rawlockcheck-trace 1\""),
    // Without a final newline the file ends on its last line.
    ("# nothing\n# yet", "t.rlt:2: empty trace: expected header \"rawlockcheck-trace 1\""),
    (
      "rawlockcheck-trace 1\nclass a spinlock\nclass a mutex\n",
      "t.rlt:3: class \"a\" declared twice"
    ),
    (
      "rawlockcheck-trace 1\nclass a frob\n",
      "t.rlt:2: unknown lock kind \"frob\" (expected one of raw_spinlock, spinlock, rwlock, local_lock, mutex, rwsem, rt_mutex, rcu, rcu_bh, rcu_sched, srcu, wait_override, custom)"
    ),
    ("rawlockcheck-trace 1\nclass a custom\n", "t.rlt:2: a custom class needs inner="),
    (
      "rawlockcheck-trace 1\nclass a mutex colour=red\n",
      "t.rlt:2: unknown option \"colour=\" on a class line"
    ),
    (
      "rawlockcheck-trace 1\nclass a mutex inner=slow\n",
      "t.rlt:2: inner= must be inv, free, spin, config or sleep (or 0 to 4), got \"slow\""
    ),
    (
      "rawlockcheck-trace 1\nclass a local_lock type=normal\n",
      "t.rlt:2: a local_lock class has lock type percpu, not type=normal"
    ),
    ("rawlockcheck-trace 1\n1 acquire b\n", "t.rlt:2: unknown class \"b\""),
    ("rawlockcheck-trace 1\nclass a mutex\n1 acquire a at=s9\n", "t.rlt:3: unknown stack \"s9\""),
    (
      "rawlockcheck-trace 1\nclass a mutex\n1 acquire a sub=8\n",
      "t.rlt:3: sub= must be a subclass from 0 to 7, got \"8\""
    ),
    (
      "rawlockcheck-trace 1\nclass a mutex\n1 acquire a banana\n",
      "t.rlt:3: unexpected \"banana\" after acquire"
    ),
    (
      "rawlockcheck-trace 1\nclass a mutex\n1 release a try\n",
      "t.rlt:3: unexpected \"try\" after release"
    ),
    ("rawlockcheck-trace 1\n1 jump\n", "t.rlt:2: unknown verb \"jump\""),
    ("rawlockcheck-trace 1\n1 acquire\n", "t.rlt:2: acquire needs a class"),
    ("rawlockcheck-trace 1\nclass a mutex name=\"open\n", "t.rlt:2: unterminated quote"),
    (
      "rawlockcheck-trace 1\nstack s1 0xZZ\n",
      "t.rlt:2: expected a number for address, got \"0xZZ\""
    ),
    (
      "rawlockcheck-trace 1\nmodule 0x2000-0x1000 0 /x\n",
      "t.rlt:2: expected an address range <start>-<end>, got \"0x2000-0x1000\""
    ),
    ("rawlockcheck-trace 1\n1 free 0x10\n", "t.rlt:2: expected \"free <addr> <length>\""),
    (
      "rawlockcheck-trace 1\nclass a mutex\n1 init a\n",
      "t.rlt:3: init needs inst=<addr> (a nonzero address)"
    ),
    (
      "rawlockcheck-trace 1\n1 free 99999999999999999999999 1\n",
      "t.rlt:2: expected a number for address, got \"99999999999999999999999\""
    ),
    ("rawlockcheck-trace 1\nrawlockcheck-trace 1\n", "t.rlt:2: header repeated"),
    (
      "rawlockcheck-trace 1\nclass a=b mutex\n",
      "t.rlt:2: class id \"a=b\" holds '=': write it in quotes, here and in the events that name it"
    ),
    (
      "rawlockcheck-trace 1\nmodule 0x1000-0x2000 0 /x build-id=abc\n",
      "t.rlt:2: build-id must be hexadecimal bytes (two digits each), got \"abc\""
    ),
    (
      "rawlockcheck-trace 1\nmodule 0x1000-0x2000 0 build-id=00\n",
      "t.rlt:2: expected a path before build-id=00"
    ),
  ])
  func malformedInputNamesFileAndLine(_ input: String, _ expected: String) {
    #expect(error(input) == expected)
  }

  @Test func overlongLineIsAnErrorNotAnAllocation() {
    let long = String(repeating: "x", count: LineReader.maxLineLength + 10)
    let message = error("rawlockcheck-trace 1\n" + long + "\n")
    #expect(message == "t.rlt:2: line longer than \(LineReader.maxLineLength) bytes")
  }

  /// A line of the limit's length reads with CRLF as with LF (the `\r`
  /// is not the line's: it was refused), and one byte more does not.
  @Test(arguments: ["\n", "\r\n"])
  func aLineOfTheLimitReadsWithEitherLineEnd(_ end: String) {
    let comment = "#" + String(repeating: "x", count: LineReader.maxLineLength - 1)
    let trace = ["rawlockcheck-trace 1", comment, "class A mutex", "1 acquire A", "1 release A"]
    #expect(error(trace.joined(separator: end) + end) == nil)
    let longer = ["rawlockcheck-trace 1", comment + "x", "class A mutex"]
    #expect(
      error(longer.joined(separator: end) + end)
        == "t.rlt:2: line longer than \(LineReader.maxLineLength) bytes")
  }

  /// A trace cut while it is read (`truncate` of a file being reported) is
  /// an error, not a clean end: what was read may hold half of a pair (a
  /// false bad unlock balance), or nothing at all (a false clean run).
  @Test func aFileThatShrinksWhileReadIsAnError() throws {
    let url = FileManager.default.temporaryDirectory
      .appendingPathComponent("rlt-shrink-\(UInt64.random(in: 0...UInt64.max)).rlt")
    defer { try? FileManager.default.removeItem(at: url) }
    // Larger than what the reader reads before its first progress call.
    let pairs = String(repeating: "1 acquire A\n1 release A\n", count: 400_000)
    try Data(("rawlockcheck-trace 1\nclass A mutex\n" + pairs).utf8).write(to: url)
    var recorder = Recorder()
    var cut = false
    let failure = #expect(throws: TraceError.self) {
      _ = try TextTraceReader(path: url.path, displayName: "t.rlt").read(
        into: &recorder,
        progress: { _, _ in
          if !cut { cut = truncate(url.path, 100) == 0 }
        })
    }
    #expect(cut)
    let message = failure?.description ?? ""
    #expect(message.hasPrefix("t.rlt:"), "\(message)")
    #expect(message.contains(": the file shrank while it was read: it ended after "))
    #expect(message.hasSuffix(" of its \(pairs.utf8.count + 35) bytes"), "\(message)")
  }

  /// A text trace is UTF-8 (the spec): a line that is not is refused, or
  /// two different names (0xFF and 0xFE) would both read as U+FFFD, one
  /// declared and the other taken as that one. Valid UTF-8 reads.
  @Test func invalidUTF8IsRefused() throws {
    func bytes(_ parts: [[UInt8]]) -> URL {
      let url = FileManager.default.temporaryDirectory
        .appendingPathComponent("rlt-\(UInt64.random(in: 0...UInt64.max)).rlt")
      try! Data(parts.joined()).write(to: url)
      return url
    }
    let header = Array("rawlockcheck-trace 1\n".utf8)
    for (trace, expected) in [
      (
        [header, Array("class ".utf8), [0xFF], Array(" spinlock\n1 acquire ".utf8), [0xFE, 0x0A]],
        "t.rlt:2: not valid UTF-8"
      ),
      (
        [header, Array("class a spinlock\n1 acquire ".utf8), [0xC3, 0x0A]],
        "t.rlt:3: not valid UTF-8"
      ),
    ] {
      let url = bytes(trace)
      defer { try? FileManager.default.removeItem(at: url) }
      var recorder = Recorder()
      #expect(throws: (any Error).self) {
        _ = try TextTraceReader(path: url.path, displayName: "t.rlt").read(into: &recorder)
      }
      do {
        _ = try TextTraceReader(path: url.path, displayName: "t.rlt").read(into: &recorder)
      } catch {
        #expect(error.description == expected)
      }
    }
    #expect(error("rawlockcheck-trace 1\nclass \u{FC} spinlock\n1 acquire \u{FC}\n") == nil)
    // A comment may hold anything (the spec's comment runs to the end of
    // the line), bytes that are not UTF-8 too.
    let commented = bytes([
      header, Array("class a spinlock # ".utf8), [0xFF, 0x0A], Array("# ".utf8), [0xC3, 0x0A],
      Array("1 acquire a #".utf8), [0xFE, 0x0A],
    ])
    defer { try? FileManager.default.removeItem(at: commented) }
    var recorder = Recorder()
    #expect(throws: Never.self) {
      _ = try TextTraceReader(path: commented.path, displayName: "t.rlt").read(into: &recorder)
    }
  }

  /// A UTF-8 byte order mark (U+FEFF, as some Windows tools write UTF-8)
  /// before the header is not part of it; anywhere else it is part of a
  /// token (here the thread id), as any other character is.
  @Test func aByteOrderMarkBeforeTheHeaderIsSkipped() throws {
    let (r, _) = try read("\u{FEFF}rawlockcheck-trace 1\nclass A spinlock\n1 acquire A\n")
    #expect(r.classes.map(\.key) == ["A"])
    #expect(r.events.count == 1)
    #expect(
      error("rawlockcheck-trace 1\n\u{FEFF}class A spinlock\n")
        == "t.rlt:2: unknown verb \"A\"")
  }

  /// A trace cut short in the middle of its last line (a copy of a trace
  /// being written): that line, without its newline, does not read, so the
  /// trace is read up to the line before, with a warning, as a binary one
  /// is read up to its last whole record. The same line with its newline
  /// is an error; a last line without a newline that reads is an event.
  @Test func aLastLineCutShortIsLeftOutWithAWarning() throws {
    let url = FileManager.default.temporaryDirectory
      .appendingPathComponent("rlt-\(UInt64.random(in: 0...UInt64.max)).rlt")
    defer { try? FileManager.default.removeItem(at: url) }
    let whole = "rawlockcheck-trace 1\nclass A spinlock\n1 acquire A\n1 release A\n"
    var warnings: [String] = []
    try Data((whole + "1 acq").utf8).write(to: url)
    var recorder = Recorder()
    _ = try TextTraceReader(path: url.path, displayName: "t.rlt").read(
      into: &recorder, warning: { warnings.append($0) })
    #expect(recorder.events.count == 2)
    #expect(
      warnings == [
        "t.rlt:5: the last line ends without a newline and does not read (unknown verb \"acq\"): the trace was cut short; read up to the line before"
      ])
    #expect(error(whole + "1 acq\n") == "t.rlt:5: unknown verb \"acq\"")
    let (r, _) = try read(whole + "1 acquire A")
    #expect(r.events.count == 3)
  }

  /// Only a last line that is a prefix of a line that reads is taken for a
  /// cut: one that some text appended (completing its last token, then
  /// adding tokens) makes read. A wrong line at the end of a file without
  /// its final newline (a writer that leaves it out, `printf` in a test)
  /// is the error it would be with one (spec/trace-format.md: a malformed
  /// line stops the reader), not a finding silently lost: a wrong last
  /// word, and as much a wrong earlier token (a stack declared twice), an
  /// option repeated or not of its verb, a number that more digits cannot
  /// mend (negative, too large), a value of the wrong kind, a token too
  /// many. (An independent check found the second group read as cuts.)
  @Test(arguments: [
    ("1 acquire zone_lok", false), ("1 acquire A tyr", false), ("1 acquire A foo=2", false),
    ("class A spinlock", false), ("1 acquire zone_lo # a comment", false),
    ("1 acqu", true), ("1 acquire zone_lo", true), ("1 acquire A inst=", true),
    ("1 acquire A inst=0x", true), ("1 acquire A at=s", true), ("1 acquire A tr", true),
    ("class B mut", true), ("class B mutex name=\"ab", true), ("1 acquire ", true),
    ("stack s2 0x10 0x", true), ("1 acquire", true), ("class new_lo", true), ("class C", true),
    ("stack s9", true), ("worke", true),
    ("class D custom", true), ("1 acquire A sub=8", false), ("1 acquire A sub=0x", true),
    ("stack s1 0x20", false), ("1 acquire A inst=0x10 inst=0x2", false),
    ("1 release A sub=1", false), ("1 acquire A sub=99999999999999999999999", false),
    ("1 acquire A sub=-1", false), ("1 acquire A ip=-5", false),
    ("1 acquire A inst=0x1ffffffffffffffff", false), ("class E mutex inner=5", false),
    ("1 free 0x10 0x10 0x10", false), ("1 init inst=0x10", false),
    ("1 acquire zone_lok r", false), ("1 acquire A nest=zone_l", true),
    ("class F mutex inner=sp", true), ("1 free 0x10", true), ("1 init A", true),
    ("thread 2 na", true), ("module 0x1000-", true), ("1 acquire \"zone_lo", true),
    // Long, and lacking more in a way no text mends: the trials stop at
    // their byte budget (they took 2.6 GB and 6 s for 100 KB).
    ("class name=" + String(repeating: "y", count: 100_000), false),
    ("1 acquire sub=1", false),
  ])
  func aLastLineIsACutOnlyWhenTextAppendedMakesItRead(line: String, isCut: Bool) throws {
    let url = FileManager.default.temporaryDirectory
      .appendingPathComponent("rlt-\(UInt64.random(in: 0...UInt64.max)).rlt")
    defer { try? FileManager.default.removeItem(at: url) }
    let whole =
      "rawlockcheck-trace 1\nclass A spinlock\nclass zone_lock spinlock\nstack s1 0x10\n"
      + "1 acquire A\n1 release A\n"
    try Data((whole + line).utf8).write(to: url)
    var recorder = Recorder()
    var warnings: [String] = []
    do {
      _ = try TextTraceReader(path: url.path, displayName: "t.rlt").read(
        into: &recorder, warning: { warnings.append($0) })
      #expect(isCut, "read as a cut: \(warnings)")
      #expect(recorder.events.count == 2)
      #expect(warnings.first?.hasPrefix("t.rlt:7: the last line ends without a newline") == true)
    } catch {
      #expect(!isCut, "an error: \(error)")
      #expect(error.line == 7)
    }
  }

  /// A file that ends inside its header (no newline) is still an error:
  /// no trace was written yet. It says so, where it said only that the
  /// header was expected (an independent check of cut traces asked). A
  /// wrong first line, or a whole header without its newline, is as before.
  @Test func aFileThatEndsInsideItsHeaderSaysSo() {
    let note = " (the file ends inside it: a trace cut short)"
    for cut in ["rawlockcheck-tra", "rawlockcheck-trace", "rawlockcheck-trace ", "\u{FEFF}raw"] {
      #expect(error(cut) == "t.rlt:1: expected header \"rawlockcheck-trace 1\"" + note, "\(cut)")
    }
    #expect(
      error("# a comment\nrawlock") == "t.rlt:2: expected header \"rawlockcheck-trace 1\"" + note)
    #expect(error("rawlockcheck-trace 1") == nil)
    #expect(error("nonsense") == "t.rlt:1: expected header \"rawlockcheck-trace 1\"")
    #expect(
      error("rawlockcheck-trace 2")
        == "t.rlt:1: unsupported trace version 2 (this reader knows version 1)")
  }

  /// A quoted verb is its text, as a quoted flag or kind is (it read as
  /// an unknown verb naming itself); a quoted declaration keyword is a
  /// thread id (a thread may be named `class`).
  @Test func aQuotedVerbIsItsText() throws {
    let (r, _) = try read(
      "rawlockcheck-trace 1\nclass A spinlock\n1 \"acquire\" A \"try\"\n\"class\" release A\n")
    #expect(r.events.map(\.verb) == [.acquire, .release])
    #expect(r.threads.map(\.token) == ["1", "class"])
  }

  @Test func binaryGarbageIsRejected() {
    let message = error("\u{7F}ELF\u{02}\u{01}\u{01}\0\0\0")
    #expect(message?.hasPrefix("t.rlt:1: expected header") == true)
  }

  @Test func numbers() {
    func n(_ s: String) -> UInt64? {
      var copy = s
      return copy.withUTF8 { NumberText.parse(UnsafeRawBufferPointer($0)) }
    }
    #expect(n("0") == 0)
    #expect(n("18446744073709551615") == .max)
    #expect(n("18446744073709551616") == nil)
    #expect(n("0xffffffffffffffff") == .max)
    #expect(n("0x1ffffffffffffffff") == nil)
    #expect(n("0x") == nil)
    #expect(n("12a") == nil)
    #expect(n("") == nil)
  }
}

/// Spec: only the first non-empty line is the header; thread ids are
/// tokens of the trace's choosing, `rawlockcheck-trace` too (a second
/// header, two traces concatenated, is still an error).
@Suite struct HeaderWordAsThreadTests {
  @Test func aThreadCalledLikeTheHeaderWordHasEvents() throws {
    let (r, _) = try read(
      "rawlockcheck-trace 1\nclass M mutex\nrawlockcheck-trace acquire M\nrawlockcheck-trace release M\n"
    )
    #expect(r.threads.map(\.token) == ["rawlockcheck-trace"])
    #expect(r.events.map(\.verb) == [.acquire, .release])
  }
}

@Suite struct ErrorMessageLengthTests {
  @Test func longTokensAreClippedInErrors() throws {
    let message = try #require(
      error("rawlockcheck-trace 1\n" + String(repeating: "y", count: 5000) + "\n"))
    #expect(message.count < 200)
    #expect(message.hasPrefix("t.rlt:2: expected a declaration"))
  }
}
