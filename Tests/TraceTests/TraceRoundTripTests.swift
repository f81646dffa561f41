import Basics
import Foundation
import LockGraph
import Testing
import WaitContext

@testable import Trace

/// Everything a consumer received, with ids replaced by the tokens they
/// were declared with (stacks by their addresses), one string per call, so
/// two readings compare whatever tokens and line numbers each trace used.
struct TranscriptRecorder: TraceConsumer {
  var entries: [String] = []
  var classKeys: [String] = []
  var threadTokens: [String] = []

  mutating func declareClass(key: String, name: String?, kind: LockKind, waits: ClassWaitTypes)
    -> ClassID
  {
    entries.append(
      "class \(key) name=\(name ?? "<nil>") \(kind.rawValue) \(waits.inner)/"
        + "\(waits.outer.map(\.description) ?? "<nil>")/\(waits.lockType)")
    classKeys.append(key)
    return ClassID(Int32(classKeys.count - 1))
  }

  mutating func declareThread(token: String, name: String?) -> ThreadID {
    entries.append("thread \(token) name=\(name ?? "<nil>")")
    threadTokens.append(token)
    return ThreadID(Int32(threadTokens.count - 1))
  }

  mutating func nameThread(_ id: ThreadID, _ name: String) {
    entries.append("name \(threadTokens[id.index]) \(name)")
  }

  mutating func consume(_ event: LockEvent) throws(EventError) {
    func key(_ id: ClassID) -> String { id == .none ? "-" : classKeys[id.index] }
    entries.append(
      "\(threadTokens[event.thread.index]) \(event.verb) class=\(key(event.lockClass)) "
        + "read=\(event.read) try=\(event.isTrylock) threaded=\(event.threaded) "
        + "sub=\(event.subclass) nest=\(key(event.nest)) address=\(event.address) "
        + "length=\(event.length) stack=\(event.origin.stack.raw) ip=\(event.origin.ip)")
  }

  /// The entries with each stack number replaced by its addresses.
  func resolved(_ symbols: TraceSymbols) -> [String] {
    entries.map { entry in
      guard let range = entry.range(of: "stack="),
        let end = entry[range.upperBound...].firstIndex(of: " "),
        let raw = Int(entry[range.upperBound..<end]), raw >= 0
      else { return entry }
      let addresses = symbols.stacks[raw].map { String($0, radix: 16) }.joined(separator: ",")
      return entry.replacingCharacters(in: range.upperBound..<end, with: "[\(addresses)]")
    }
  }
}

enum RoundTrip {
  static let root = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

  /// Every well-formed fixture trace (all of Fixtures/traces but malformed/).
  static let fixtures: [String] = {
    let base = root.appendingPathComponent("Fixtures/traces")
    let files = FileManager.default.enumerator(at: base, includingPropertiesForKeys: nil)
    var result: [String] = []
    while let url = files?.nextObject() as? URL {
      guard url.pathExtension == "rlt", !url.path.contains("/malformed/") else { continue }
      result.append(String(url.path.dropFirst(base.path.count + 1)))
    }
    return result.sorted()
  }()

  static func temporaryFile(_ bytes: [UInt8]) -> URL {
    let url = FileManager.default.temporaryDirectory
      .appendingPathComponent("rlt-\(UInt64.random(in: 0...UInt64.max)).rlt")
    try! Data(bytes).write(to: url)
    return url
  }

  static func transcript(_ path: String) throws -> [String] {
    var recorder = TranscriptRecorder()
    let symbols = try TraceReader(path: path).read(into: &recorder)
    return recorder.resolved(symbols)
  }

  /// The trace at `path` read, written with the writer, and the text written.
  static func rewrite(_ path: String) throws -> [UInt8] {
    var first = TranscriptRecorder()
    let symbols = try TextTraceReader(path: path).read(into: &first)
    var rewriter = try TextTraceRewriter(symbols: symbols)
    _ = try TextTraceReader(path: path).read(into: &rewriter)
    return rewriter.writer.take()
  }

  /// What a report shows of each finding: kind, count, thread, event index,
  /// the classes involved and the site.
  static func findings(_ path: String) throws -> [String] {
    var validator = LockValidator()
    let symbols = try TraceReader(path: path).read(into: &validator)
    func name(_ id: ClassID) -> String { validator.classes[id].displayName }
    return validator.findings.findings.map { f in
      let stack = f.origin.stack.isNone ? [] : symbols.stacks[Int(f.origin.stack.raw)]
      return
        "\(f.kind.rawValue) x\(f.count) thread=\(validator.threadLabel(f.thread)) "
        + "event=\(f.origin.event) lock=\(f.lock.map { name($0.lockClass) } ?? "-") "
        + "held=\(f.held.map { name($0.lockClass) }) stack=\(stack) ip=\(f.origin.ip)"
    }
  }
}

@Suite struct TraceRoundTripTests {
  @Test func thereAreFixtures() {
    #expect(RoundTrip.fixtures.count > 300)
    #expect(RoundTrip.fixtures.contains("seed-scenario.rlt"))
  }

  /// Read, written and read again: the same declarations and events, and
  /// the same findings.
  @Test(arguments: RoundTrip.fixtures)
  func fixtureRoundTrips(_ name: String) throws {
    let path = RoundTrip.root.appendingPathComponent("Fixtures/traces/\(name)").path
    let written = RoundTrip.temporaryFile(try RoundTrip.rewrite(path))
    defer { try? FileManager.default.removeItem(at: written) }
    let before = try RoundTrip.transcript(path)
    let after = try RoundTrip.transcript(written.path)
    #expect(!before.isEmpty)
    #expect(after.count == before.count, "\(name): number of declarations and events")
    if let i = before.indices.first(where: { $0 < after.count && before[$0] != after[$0] }) {
      Issue.record("\(name): entry \(i) read \"\(before[i])\", after writing \"\(after[i])\"")
    }
    let findingsBefore = try RoundTrip.findings(path)
    let findingsAfter = try RoundTrip.findings(written.path)
    #expect(findingsAfter.count == findingsBefore.count, "\(name): number of findings")
    if let i = findingsBefore.indices.first(where: {
      $0 < findingsAfter.count && findingsBefore[$0] != findingsAfter[$0]
    }) {
      Issue.record("\(name): finding \(findingsBefore[i]), after writing \(findingsAfter[i])")
    }
    // Writing what was written gives the same text.
    #expect(try RoundTrip.rewrite(written.path) == RoundTrip.rewrite(path))
  }
}

@Suite struct TextTraceWriterTests {
  static let awkward = [
    "a b", #"say "hi""#, #"back\slash"#, #"trailing\"#, "#hash", "a#b", "tab\there", "ünïcödé 鎖",
    "", "=eq", "a=b", "class", "thread", "module", "stack", "rawlockcheck-trace", "try", "\"",
    #"\""#, "&zone->lock", "kworker/0:1",
  ]

  @Test func awkwardTokensAndNamesReadBack() throws {
    var w = TextTraceWriter()
    w.header()
    for (i, text) in Self.awkward.enumerated() {
      try w.declareClass(
        id: ClassID(Int32(i)), key: text, name: text, kind: .mutex, waits: .init(inner: .sleep))
      try w.declareThread(id: ThreadID(Int32(i)), token: text, name: text)
    }
    try w.module(
      ModuleRecord(
        start: 0x1000, end: 0x2000, fileOffset: 0x10, path: "/a dir/lib #1.so", buildID: "ab12"))
    w.stack(id: StackID(0), token: "s 0", addresses: [0x1010, 0x1020])
    for i in Self.awkward.indices {
      var e = LockEvent(.acquire, thread: ThreadID(Int32(i)), lockClass: ClassID(Int32(i)))
      e.nest = ClassID(Int32(i))
      e.origin.stack = StackID(0)
      w.event(e)
    }
    let (r, symbols) = try read(w.text)
    #expect(r.classes.map(\.key) == Self.awkward)
    #expect(r.classes.map(\.name) == Self.awkward)
    #expect(r.threads.map(\.token) == Self.awkward)
    #expect(r.threads.map(\.name) == Self.awkward)
    #expect(r.events.map(\.lockClass.raw) == r.events.map(\.nest.raw))
    #expect(r.events.map(\.lockClass.raw) == Self.awkward.indices.map { Int32($0) })
    #expect(r.events.map(\.thread.raw) == Self.awkward.indices.map { Int32($0) })
    #expect(symbols.modules.map(\.path) == ["/a dir/lib #1.so"])
    #expect(symbols.stacks == [[0x1010, 0x1020]])
  }

  /// A control character (a line break among them) cannot be written in
  /// a text trace: the declaration is refused, naming what and which
  /// field, and nothing is written (it used to become a space).
  @Test func controlCharactersInDeclarationsAreRefused() throws {
    var w = TextTraceWriter()
    w.header()
    let before = w.bytes
    #expect(
      throws: TraceWriteError(
        "cannot write thread \"1\" as text: its name holds the control character \\u{A}, which a text trace cannot hold"
      )
    ) {
      try w.declareThread(id: ThreadID(0), token: "1", name: "two\nlines")
    }
    #expect(
      throws: TraceWriteError(
        "cannot write thread \"a\\u{1B}[31m\" as text: its id holds the control character \\u{1B}, which a text trace cannot hold"
      )
    ) {
      try w.declareThread(id: ThreadID(0), token: "a\u{1B}[31m", name: nil)
    }
    #expect(
      throws: TraceWriteError(
        "cannot write class \"k\" as text: its name holds the control character \\u{0}, which a text trace cannot hold"
      )
    ) {
      try w.declareClass(
        id: ClassID(0), key: "k", name: "a\0b", kind: .mutex, waits: .init(inner: .sleep))
    }
    #expect(throws: TraceWriteError.self) {
      try w.declareClass(
        id: ClassID(0), key: "k\u{7F}", name: nil, kind: .mutex, waits: .init(inner: .sleep))
    }
    #expect(throws: TraceWriteError.self) {
      try w.module(ModuleRecord(start: 1, end: 2, fileOffset: 0, path: "a\rb", buildID: nil))
    }
    try w.declareThread(id: ThreadID(0), token: "1", name: nil)
    let declared = w.bytes
    #expect(throws: TraceWriteError.self) { try w.nameThread(ThreadID(0), "x\ny") }
    #expect(w.bytes == declared)
    #expect(declared.count > before.count)
    // A tab is written (quoted) and reads back.
    try w.nameThread(ThreadID(0), "a\tb")
    let (r, _) = try read(w.text)
    #expect(r.threads.map(\.name) == ["a\tb"])
  }

  /// A binary trace's strings may be 1 MiB each, a text line no longer:
  /// a declaration whose line would be longer, or whose id could make an
  /// event line longer, is refused and not written, so that `convert`
  /// never writes a text trace the reader refuses (it wrote one: found by
  /// an independent trace generator). One at the limits reads back.
  @Test func declarationsLongerThanATextLineAreRefused() throws {
    var w = TextTraceWriter()
    w.header()
    let before = w.bytes
    let long = String(repeating: "n", count: LineReader.maxLineLength)
    #expect(throws: TraceWriteError.self) {
      try w.declareClass(
        id: ClassID(0), key: "A", name: long, kind: .mutex, waits: .init(inner: .sleep))
    }
    #expect(throws: TraceWriteError.self) {
      try w.declareThread(id: ThreadID(0), token: "1", name: long)
    }
    #expect(throws: TraceWriteError.self) {
      try w.module(ModuleRecord(start: 1, end: 2, fileOffset: 0, path: long, buildID: nil))
    }
    let key = String(repeating: "k", count: TextTraceWriter.maxTokenLength + 1)
    #expect(throws: TraceWriteError.self) {
      try w.declareClass(
        id: ClassID(0), key: key, name: nil, kind: .mutex, waits: .init(inner: .sleep))
    }
    #expect(w.bytes == before)
    // A name too long for the line of a thread declared just before: the
    // declaration stays as it was.
    try w.declareThread(id: ThreadID(5), token: "5", name: nil)
    let declared = w.bytes
    #expect(throws: TraceWriteError.self) { try w.nameThread(ThreadID(5), long) }
    #expect(w.bytes == declared)
    w = TextTraceWriter()
    w.header()
    // At the limits: three ids of the longest length and a name that
    // fills its line read back, with an event naming all three.
    let most = String(repeating: "k", count: TextTraceWriter.maxTokenLength)
    try w.declareThread(id: ThreadID(0), token: "t" + most.dropFirst(), name: nil)
    try w.nameThread(
      ThreadID(0), String(repeating: "m", count: LineReader.maxLineLength - 200 - most.count))
    try w.declareClass(
      id: ClassID(0), key: "a" + most.dropFirst(), name: nil, kind: .mutex,
      waits: .init(inner: .sleep))
    try w.declareClass(
      id: ClassID(1), key: "b" + most.dropFirst(), name: nil, kind: .mutex,
      waits: .init(inner: .sleep))
    var event = LockEvent(.acquire, thread: ThreadID(0), lockClass: ClassID(1))
    event.nest = ClassID(0)
    event.address = UInt64.max
    w.event(event)
    let (r, _) = try read(w.text)
    #expect(r.classes.count == 2)
    #expect(r.events.count == 1)
  }

  @Test func writableEscapesWhatTextCannotHold() {
    #expect(TextTraceWriter.writable("a\nb\u{1B}\tc") == "a\\u{A}b\\u{1B}\tc")
    #expect(TextTraceWriter.writable("plain") == "plain")
  }

  /// Every class declaration the reader accepts, written back, resolves to
  /// the same wait types.
  @Test func classWaitTypesReadBack() throws {
    let waits: [WaitType?] = [nil, .inv, .free, .spin, .config, .sleep]
    let types: [LockType?] = [nil, .normal, .percpu, .override]
    var expected: [ClassWaitTypes] = []
    var w = TextTraceWriter()
    w.header()
    for kind in LockKind.allCases {
      for inner in waits {
        for outer in waits {
          for type in types {
            guard
              let resolved = try? ClassWaitTypes(
                kind: kind, inner: inner, outer: outer, lockType: type)
            else { continue }
            let id = ClassID(Int32(expected.count))
            try w.declareClass(id: id, key: "c\(id.raw)", name: nil, kind: kind, waits: resolved)
            expected.append(resolved)
          }
        }
      }
    }
    let (r, _) = try read(w.text)
    #expect(expected.count > 500)
    #expect(r.classes.map(\.waits) == expected)
    #expect(r.classes.allSatisfy { $0.name == nil })
  }

  @Test func defaultsAreNotWritten() throws {
    var w = TextTraceWriter()
    try w.declareClass(
      id: ClassID(0), key: "z", name: "&zone->lock", kind: .spinlock, waits: .init(inner: .config))
    try w.declareClass(
      id: ClassID(1), key: "r", name: nil, kind: .rcu, waits: .init(inner: .config, outer: .free))
    try w.declareClass(
      id: ClassID(2), key: "o", name: nil, kind: .waitOverride,
      waits: .init(inner: .spin, lockType: .override))
    #expect(
      w.text == """
        class z spinlock name=&zone->lock
        class r rcu
        class o wait_override inner=spin

        """)
  }

  @Test func eventsAreWrittenAsTheSpecShowsThem() throws {
    var w = TextTraceWriter()
    try w.declareClass(
      id: ClassID(0), key: "a", name: nil, kind: .mutex, waits: .init(inner: .sleep))
    try w.declareThread(id: ThreadID(0), token: "7", name: nil)
    w.stack(id: StackID(0), addresses: [0x10])
    let t = ThreadID(0)
    let a = ClassID(0)
    w.event(
      LockEvent(
        .acquire, thread: t, lockClass: a, read: .recursive, isTrylock: true, subclass: 3, nest: a,
        address: 0x40, origin: Origin(stack: StackID(0), ip: 0x1234)))
    w.event(LockEvent(.release, thread: t, lockClass: a, read: .shared, address: 0x40))
    w.event(LockEvent(.mightLock, thread: t, lockClass: a, read: .shared))
    w.event(LockEvent(.hardirqEnter, thread: t, threaded: true))
    w.event(LockEvent(.free, thread: t, address: 0x40, length: 16))
    w.event(LockEvent(.initLock, thread: t, lockClass: a, address: 0x40))
    w.event(LockEvent(.exit, thread: ThreadID(9)))
    #expect(
      w.text == """
        class a mutex
        thread 7
        stack s0 0x10
        7 acquire a try read-recursive sub=3 nest=a inst=0x40 at=s0 ip=0x1234
        7 release a inst=0x40
        7 might-lock a read
        7 hardirq-enter threaded
        7 free 0x40 16
        7 init a inst=0x40
        9 exit

        """)
  }

  /// A thread declared and named at once (a binary trace names it in a
  /// record of its own) is one `thread` line; a name given later, or after
  /// the buffer was taken, is a line of its own.
  @Test func aThreadNamedAsItIsDeclaredIsOneLine() throws {
    var w = TextTraceWriter()
    try w.declareThread(id: ThreadID(0), token: "7", name: nil)
    try w.nameThread(ThreadID(0), "worker")
    try w.declareThread(id: ThreadID(1), token: "8", name: nil)
    w.event(LockEvent(.hardirqEnter, thread: ThreadID(1)))
    try w.nameThread(ThreadID(1), "late")
    try w.declareThread(id: ThreadID(2), token: "9", name: nil)
    #expect(
      w.text == """
        thread 7 name=worker
        thread 8
        8 hardirq-enter
        thread 8 name=late
        thread 9

        """)
    _ = w.take()
    try w.nameThread(ThreadID(2), "after")
    #expect(w.text == "thread 9 name=after\n")
  }

  @Test func flushHandsOverAndEmpties() {
    var w = TextTraceWriter(capacity: 64)
    w.header()
    var out: [UInt8] = []
    w.flush { out.append(contentsOf: $0) }
    #expect(String(decoding: out, as: UTF8.self) == "rawlockcheck-trace 1\n")
    #expect(w.bytes.isEmpty)
    struct Full: Error {}
    w.header()
    #expect(throws: Full.self) { try w.flush { _ throws(Full) in throw Full() } }
    #expect(w.bytes.count == 21, "a failed flush keeps the text")
  }
}
