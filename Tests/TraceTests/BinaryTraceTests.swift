import Basics
import Foundation
import LockGraph
import Testing
import WaitContext

@testable import Trace

enum BinaryRoundTrip {
  /// The trace at `path` (either encoding) rewritten with `writer`.
  static func rewrite<W: TraceWriting>(_ path: String, with writer: W) throws -> [UInt8] {
    var first = TranscriptRecorder()
    let symbols = try TraceReader(path: path).read(into: &first)
    var rewriter = try TraceRewriter(writer: writer, symbols: symbols)
    _ = try TraceReader(path: path).read(into: &rewriter)
    return rewriter.writer.take()
  }

  static func path(_ fixture: String) -> String {
    RoundTrip.root.appendingPathComponent("Fixtures/traces/\(fixture)").path
  }

  /// Reads `bytes` (either encoding) from a temporary file into a validator;
  /// returns nil when it read, the error when it did not, and any warning.
  static func validate(_ bytes: [UInt8]) -> (error: TraceError?, warnings: [String]) {
    let file = RoundTrip.temporaryFile(bytes)
    defer { try? FileManager.default.removeItem(at: file) }
    var validator = LockValidator()
    var warnings: [String] = []
    do {
      _ = try TraceReader(path: file.path).read(into: &validator, warning: { warnings.append($0) })
      return (nil, warnings)
    } catch {
      return (error, warnings)
    }
  }
}

@Suite struct BinaryTraceTests {
  /// A `module` line declared again, the same in every field (build-ids
  /// compare in lower case), is kept once in either encoding, and
  /// `convert` writes it once; a line that differs in one field is kept,
  /// and so is a line declared again after another at its start (the
  /// later line at a start is the module there).
  @Test func repeatedModuleLinesAreKeptOnce() throws {
    let text = """
      rawlockcheck-trace 1
      module 0x1000-0x2000 0 /lib/a.so build-id=ab
      module 0x3000-0x4000 0x1000 /lib/b.so
      module 0x1000-0x2000 0 /lib/a.so build-id=AB
      module 0x1000-0x2000 0x10 /lib/a.so build-id=ab
      module 0x3000-0x4000 0x1000 /lib/b.so
      module 0x1000-0x2000 0 /lib/a.so
      module 0x1000-0x2000 0 /lib/a.so build-id=ab
      module 0x1000-0x2000 0 /lib/a.so build-id=ab

      """
    let expected = [
      ModuleRecord(start: 0x1000, end: 0x2000, fileOffset: 0, path: "/lib/a.so", buildID: "ab"),
      ModuleRecord(start: 0x3000, end: 0x4000, fileOffset: 0x1000, path: "/lib/b.so"),
      ModuleRecord(start: 0x1000, end: 0x2000, fileOffset: 0x10, path: "/lib/a.so", buildID: "ab"),
      ModuleRecord(start: 0x1000, end: 0x2000, fileOffset: 0, path: "/lib/a.so"),
      ModuleRecord(start: 0x1000, end: 0x2000, fileOffset: 0, path: "/lib/a.so", buildID: "ab"),
    ]
    let file = RoundTrip.temporaryFile(Array(text.utf8))
    defer { try? FileManager.default.removeItem(at: file) }
    var recorder = TranscriptRecorder()
    #expect(try TraceReader(path: file.path).read(into: &recorder).modules == expected)
    // Written once by `convert`.
    let rewritten = String(decoding: try RoundTrip.rewrite(file.path), as: UTF8.self)
    #expect(rewritten.split(separator: "\n").filter { $0.hasPrefix("module ") }.count == 5)
    // A binary trace's records repeated so.
    var writer = BinaryTraceWriter()
    writer.header()
    for module in [
      expected[0], expected[1], expected[0], expected[2], expected[1], expected[3], expected[0],
      expected[0],
    ] {
      writer.module(module)
    }
    let binary = RoundTrip.temporaryFile(writer.take())
    defer { try? FileManager.default.removeItem(at: binary) }
    var again = TranscriptRecorder()
    #expect(try TraceReader(path: binary.path).read(into: &again).modules == expected)
  }

  /// Text to binary to text: the same declarations and events, the same
  /// findings, and binary is smaller.
  @Test(arguments: RoundTrip.fixtures)
  func fixtureRoundTripsThroughBinary(_ name: String) throws {
    let path = BinaryRoundTrip.path(name)
    let binary = try BinaryRoundTrip.rewrite(path, with: BinaryTraceWriter())
    #expect(binary.starts(with: BinaryTraceFormat.header))
    let binaryFile = RoundTrip.temporaryFile(binary)
    defer { try? FileManager.default.removeItem(at: binaryFile) }
    let text = try BinaryRoundTrip.rewrite(binaryFile.path, with: TextTraceWriter())
    let textFile = RoundTrip.temporaryFile(text)
    defer { try? FileManager.default.removeItem(at: textFile) }

    let before = try RoundTrip.transcript(path)
    #expect(try RoundTrip.transcript(binaryFile.path) == before, "\(name): text -> binary")
    #expect(try RoundTrip.transcript(textFile.path) == before, "\(name): binary -> text")
    let findings = try RoundTrip.findings(path)
    #expect(try RoundTrip.findings(binaryFile.path) == findings, "\(name): binary findings")
    #expect(try RoundTrip.findings(textFile.path) == findings, "\(name): text again findings")
    let size = try Data(contentsOf: URL(fileURLWithPath: path)).count
    #expect(binary.count < size, "\(name): binary \(binary.count) bytes, text \(size)")
  }

  /// Class ids of one, two and three bytes mixed at random (the event
  /// loop decodes the first two kinds without a branch on the length):
  /// text and binary give the same events and the same findings.
  @Test func classIdsOfEveryLengthDecode() throws {
    var text = "rawlockcheck-trace 1\n"
    let classes = 20_000
    for c in 0..<classes { text += "class c\(c) spinlock\n" }
    var rng = SplitMix(seed: 5)
    for _ in 0..<3_000 {
      // Under 128, under 16,384 and above, in turn at random.
      let limits = [128, 16_384, classes]
      let a = Int(rng.next() % UInt64(limits[Int(rng.next() % 3)]))
      let b = Int(rng.next() % UInt64(limits[Int(rng.next() % 3)]))
      text += "1 acquire c\(a)\n"
      if b != a { text += "1 acquire c\(b)\n1 release c\(b)\n" }
      text += "1 release c\(a)\n"
    }
    let textFile = RoundTrip.temporaryFile(Array(text.utf8))
    defer { try? FileManager.default.removeItem(at: textFile) }
    let binary = try BinaryRoundTrip.rewrite(textFile.path, with: BinaryTraceWriter())
    let binaryFile = RoundTrip.temporaryFile(binary)
    defer { try? FileManager.default.removeItem(at: binaryFile) }
    #expect(try RoundTrip.transcript(binaryFile.path) == RoundTrip.transcript(textFile.path))
    let findings = try RoundTrip.findings(textFile.path)
    // Two classes taken in both orders somewhere: the reads found cycles.
    #expect(!findings.isEmpty)
    #expect(try RoundTrip.findings(binaryFile.path) == findings)
  }

  /// Masked events whose mask names flags only (decoded by the event
  /// loop from a table, not by the general field decoder): every subset of
  /// each verb's flags reads as the same line in text does, and one that
  /// sets two flags of one exclusive group is refused in both encodings.
  @Test func flagMasksReadAsTheirText() throws {
    for verb in LockEvent.Verb.allCases {
      let rule = TraceVocabulary.rule(for: verb)
      guard rule.required.isEmpty else { continue }
      let flags = TraceVocabulary.flags.filter { rule.flags.contains(EventFlags($0.flag)) }
      let operand =
        switch rule.operand {
        case .none: ""
        case .lockClass: " c"
        case .addressAndLength: " 0x10 8"
        }
      for subset in 0..<(1 << flags.count) {
        let words = flags.indices.filter { subset & (1 << $0) != 0 }.map { flags[$0].spelling }
        let line = (["1 \(rule.spelling)\(operand)"] + words).joined(separator: " ")
        // Repeated: the event loop only decodes while a long record fits
        // in what is buffered (a short trace's tail, and an event that
        // declares its thread, go the careful way).
        let text =
          "rawlockcheck-trace 1\nclass c rwlock\n"
          + String(repeating: "\(line)\n", count: 64)
        let textFile = RoundTrip.temporaryFile(Array(text.utf8))
        defer { try? FileManager.default.removeItem(at: textFile) }
        guard let expected = try? RoundTrip.transcript(textFile.path) else {
          // Two flags of one group: text refuses the line (binary, given
          // such a mask, is checked below).
          #expect(words.count >= 2, "\(line)")
          continue
        }
        let binary = try BinaryRoundTrip.rewrite(textFile.path, with: BinaryTraceWriter())
        let binaryFile = RoundTrip.temporaryFile(binary)
        defer { try? FileManager.default.removeItem(at: binaryFile) }
        #expect(try RoundTrip.transcript(binaryFile.path) == expected, "\(line)")
      }
    }
    // read and read-recursive (one group) in one mask: each acquisition's
    // record (type, thread, class) ends with its mask byte, whose bits name
    // acquire's flags in vocabulary order (try, read, read-recursive).
    // (The first event, which declares the thread, is read the careful way.)
    let text =
      "rawlockcheck-trace 1\nclass c rwlock\n1 acquire c\n"
      + String(repeating: "1 acquire c read\n", count: 64)
    let textFile = RoundTrip.temporaryFile(Array(text.utf8))
    defer { try? FileManager.default.removeItem(at: textFile) }
    var binary = try BinaryRoundTrip.rewrite(textFile.path, with: BinaryTraceWriter())
    for record in 0..<64 {
      let mask = binary.count - 1 - 4 * record
      #expect(binary[mask] == 0b010 && binary[mask - 3] == 0x80)
      binary[mask] = 0b110
    }
    // Refused at the first such record, whichever way it is read.
    let first = binary.count - 4 * 64
    let (error, _) = BinaryRoundTrip.validate(binary)
    #expect(
      error?.description.hasSuffix(
        "byte \(first): acquire: flag read-recursive excluded by another")
        == true, "\(String(describing: error))")
  }

  /// The total size of the fixtures in both encodings (printed).
  /// An `init` without `inst=` (or with 0, an unknown address) is refused
  /// in binary as in text, whether its record is plain (no fields: read
  /// by the careful path, not the event loop) or lists other fields,
  /// whether the event loop or the careful path (at a buffer's end) reads
  /// it: `convert` could not write it as text.
  @Test(arguments: [0, 300])
  func anInitWithoutItsInstanceIsRefused(eventsBefore: Int) throws {
    for (stack, after) in [(false, 0), (true, 0), (false, 100), (true, 100)] {
      var writer = BinaryTraceWriter()
      writer.header()
      writer.declareClass(
        id: ClassID(0), key: "a", name: nil, kind: .spinlock,
        waits: try ClassWaitTypes(kind: .spinlock))
      writer.declareThread(id: ThreadID(0), token: "1", name: nil)
      if stack { writer.stack(id: StackID(0), addresses: [0x1000]) }
      for _ in 0..<eventsBefore {
        writer.event(LockEvent(.acquire, thread: ThreadID(0), lockClass: ClassID(0)))
        writer.event(LockEvent(.release, thread: ThreadID(0), lockClass: ClassID(0)))
      }
      var initEvent = LockEvent(.initLock, thread: ThreadID(0), lockClass: ClassID(0))
      if stack { initEvent.origin.stack = StackID(0) }
      writer.event(initEvent)
      // Records after it: the event loop reads a record only when a whole
      // longest record's bytes follow it in the buffer.
      for _ in 0..<after {
        writer.event(LockEvent(.acquire, thread: ThreadID(0), lockClass: ClassID(0)))
        writer.event(LockEvent(.release, thread: ThreadID(0), lockClass: ClassID(0)))
      }
      let (error, _) = BinaryRoundTrip.validate(writer.take())
      let message = try #require(error.map { "\($0)" }, "stack \(stack), \(after) after")
      #expect(message.hasSuffix("init needs inst=<addr> (a nonzero address)"), "\(message)")
    }
  }

  /// A module's build-id is whole bytes in either encoding: a binary
  /// trace with an odd one is refused as the text reader refuses it (the
  /// text `convert` would write from it could not be read back).
  @Test func anOddBuildIDIsRefused() throws {
    for (buildID, refused) in [("abc", true), ("abcd", false)] {
      var writer = BinaryTraceWriter()
      writer.header()
      writer.module(
        ModuleRecord(start: 0x1000, end: 0x2000, fileOffset: 0, path: "/x", buildID: buildID))
      let (error, _) = BinaryRoundTrip.validate(writer.take())
      #expect((error != nil) == refused, "\(buildID)")
      if refused {
        #expect(
          "\(error!)".hasSuffix("build-id must be hexadecimal bytes (two digits each), got \"abc\"")
        )
      }
    }
  }

  /// Tokens are bytes in either encoding: a precomposed "é" and "e" with
  /// a combining accent are two classes and two threads, as the text
  /// reader reads them, not one declared twice (as a `Set<String>`, which
  /// compares canonically, made them in the binary reader).
  @Test func tokensAreComparedByteByByte() throws {
    let text = """
      rawlockcheck-trace 1
      class \u{E9} raw_spinlock
      class e\u{301} mutex
      \u{E9} acquire \u{E9}
      e\u{301} acquire e\u{301}
      \u{E9} acquire e\u{301}

      """
    let file = RoundTrip.temporaryFile(Array(text.utf8))
    defer { try? FileManager.default.removeItem(at: file) }
    let fromText = try RoundTrip.transcript(file.path)
    let bytes = try BinaryRoundTrip.rewrite(file.path, with: BinaryTraceWriter())
    let binary = RoundTrip.temporaryFile(bytes)
    defer { try? FileManager.default.removeItem(at: binary) }
    #expect(try RoundTrip.transcript(binary.path) == fromText)
    // Two classes and two threads, the mutex taken under the raw spin lock
    // found by both encodings.
    for path in [file.path, binary.path] {
      var validator = LockValidator()
      _ = try TraceReader(path: path).read(into: &validator)
      #expect(validator.core.classes.count == 2)
      #expect(validator.findings.findings.map(\.kind).contains(.invalidWaitContext))
    }
  }

  @Test func binaryIsSmallerOverAllFixtures() throws {
    var files = 0
    var text = 0
    var binary = 0
    for name in RoundTrip.fixtures {
      let path = BinaryRoundTrip.path(name)
      files += try Data(contentsOf: URL(fileURLWithPath: path)).count
      let rewritten = try RoundTrip.rewrite(path)
      text += rewritten.count
      binary += try BinaryRoundTrip.rewrite(path, with: BinaryTraceWriter()).count
    }
    print(
      "fixtures: \(RoundTrip.fixtures.count) traces, files \(files) bytes, text rewritten "
        + "(no comments) \(text) bytes, binary \(binary) bytes: ratio to files "
        + "\(Double(binary) / Double(files)), to rewritten text \(Double(binary) / Double(text))")
    #expect(binary * 2 < text)
  }

  /// Every prefix of a binary trace reads up to its last whole record: no
  /// error past the header, a warning naming the bytes left over.
  @Test func truncatedTraceReadsUpToTheLastWholeRecord() throws {
    let full = try BinaryRoundTrip.rewrite(
      BinaryRoundTrip.path("findings/circular-abba.rlt"), with: BinaryTraceWriter())
    let whole = try RoundTrip.findings(BinaryRoundTrip.path("findings/circular-abba.rlt"))
    var warned = 0
    for length in 5..<full.count {
      var recorder = TranscriptRecorder()
      var warnings: [String] = []
      _ = try BinaryTraceReader.read(
        bytes: Array(full.prefix(length)), name: "t.rltb", into: &recorder,
        warning: { warnings.append($0) })
      if let w = warnings.first {
        warned += 1
        #expect(w.hasPrefix("t.rltb: truncated at byte "))
        #expect(w.contains("left over"))
      }
    }
    #expect(warned > 0)
    var recorder = TranscriptRecorder()
    var warnings: [String] = []
    _ = try BinaryTraceReader.read(
      bytes: full, name: "t.rltb", into: &recorder, warning: { warnings.append($0) })
    #expect(warnings.isEmpty)
    #expect(!whole.isEmpty)
    let short = BinaryRoundTrip.validate(Array(full.prefix(3)))
    #expect(
      short.error?.description
        == "\(short.error?.file ?? ""): byte 0: truncated header: expected \"RLCT\" and version 1")
  }

  /// A record cut short has no effect: an event or a thread's name whose
  /// record is cut declares no thread (its thread is new), as a text line
  /// cut short declares none.
  @Test func aCutRecordDeclaresNoThread() throws {
    func transcript(_ hex: String) throws -> (TranscriptRecorder, [String]) {
      var recorder = TranscriptRecorder()
      var warnings: [String] = []
      _ = try BinaryTraceReader.read(
        bytes: Self.bytes(hex), name: "t.rltb", into: &recorder,
        warning: { warnings.append($0) })
      return (recorder, warnings)
    }
    // Class A, thread 0 takes A; then thread 7's event, or its name, cut.
    let whole = "524c435401" + "0100040001" + "41" + "400000"
    let (reference, none) = try transcript(whole)
    #expect(none.isEmpty)
    for cut in ["4007", "0307056162"] {
      let (recorder, warnings) = try transcript(whole + cut)
      #expect(recorder.entries == reference.entries, "cut record \(cut)")
      #expect(recorder.threadTokens == reference.threadTokens, "cut record \(cut)")
      #expect(warnings.first?.hasPrefix("t.rltb: truncated at byte 14: ") == true)
    }
  }

  /// A record whose bytes already read are malformed is an error even when
  /// the file ends inside it (docs/binary-trace-format.md): only a record
  /// well-formed as far as it goes is a truncation.
  @Test(arguments: [
    // A class key declared twice, the second record cut in its name.
    ("524c4354010100040001410101040101410361", "class \"A\" declared twice"),
    // A thread id declared twice, cut in its token.
    ("524c4354010200017802000479", "thread id 0 declared twice"),
    // A module of size 0, and one whose range wraps, cut in their offset or path.
    ("524c43540104802000", "module range 0x1000 + 0x0 is empty or wraps"),
    ("524c43540104f0ffffffffffffffff011000052f", "is empty or wraps"),
    // A custom class without an inner wait type, cut in its key.
    ("524c43540101000c01014103", "a custom class needs an inner type"),
    // An init without inst=, cut in its fields.
    ("524c43540101000400014190000002", "init needs inst="),
    // A thread name of thread id 2^31 (past the largest), cut in its name.
    ("524c4354010380808080080a6162", "thread id 2147483648 too large"),
  ])
  func aMalformedRecordCutShortIsAnError(_ hex: String, _ message: String) {
    var recorder = TranscriptRecorder()
    var warnings: [String] = []
    #expect {
      _ = try BinaryTraceReader.read(
        bytes: Self.bytes(hex), name: "t.rltb", into: &recorder,
        warning: { warnings.append($0) })
    } throws: { error in
      (error as? TraceError)?.description.contains(message) == true
    }
    #expect(warnings.isEmpty)
  }

  /// `init` needs a nonzero `inst=` in either encoding: a binary `init`
  /// whose `inst=` is 0 (what an absent option means) is refused, as the
  /// text reader refuses `init A inst=0`; `convert` could not write it.
  @Test func anInitAtAddressZeroIsRefused() {
    var recorder = TranscriptRecorder()
    #expect {
      _ = try BinaryTraceReader.read(
        bytes: Self.bytes("524c4354010100040001419000000100"), name: "t.rltb", into: &recorder)
    } throws: { error in
      (error as? TraceError)?.description
        == "t.rltb: byte 11: init needs inst=<addr> (a nonzero address)"
    }
  }

  /// The bytes of hexadecimal `text`.
  static func bytes(_ text: String) -> [UInt8] {
    let digits = Array(text.utf8)
    return stride(from: 0, to: digits.count, by: 2).map {
      UInt8(String(decoding: digits[$0..<$0 + 2], as: UTF8.self), radix: 16)!
    }
  }

  /// Errors name the file, the byte offset of the record, and what is wrong.
  @Test func errorsNameTheByteOffset() throws {
    func read(_ body: [UInt8]) -> String {
      var recorder = TranscriptRecorder()
      do {
        _ = try BinaryTraceReader.read(
          bytes: BinaryTraceFormat.header + body, name: "trace.rltb", into: &recorder)
        return "ok"
      } catch {
        return error.description
      }
    }
    #expect(read([0x17]) == "trace.rltb: byte 5: unknown record type 0x17")
    #expect(read([0x02, 0x01, 0x01, 0x41, 0x17]) == "trace.rltb: byte 9: unknown record type 0x17")
    // A string longer than the limit, a stack deeper than the limit, a
    // number wider than 64 bits: rejected before anything is allocated.
    #expect(
      read([0x02, 0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F])
        == "trace.rltb: byte 5: thread token of 4294967295 bytes (at most 1048576)")
    #expect(
      read([0x05, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F])
        == "trace.rltb: byte 5: stack of 4294967295 addresses (expected 1 to 4096)")
    #expect(
      read([0x02] + [UInt8](repeating: 0xFF, count: 10) + [0x01])
        == "trace.rltb: byte 5: number wider than 64 bits")
    // A stack holds 1 to 4096 addresses: none is as malformed as too many
    // (a text `stack` line needs an address too).
    #expect(
      read([0x05, 0x00, 0x00]) == "trace.rltb: byte 5: stack of 0 addresses (expected 1 to 4096)")
    // A module may end at the top of the address space (start + size =
    // 2^64 - 1, as the text `module 0xfffffffffffff000-0xffffffffffffffff`
    // converts): it is neither empty nor does it wrap.
    let topStart: [UInt8] = [0x80, 0xE0, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01]
    #expect(read([0x04] + topStart + [0xFF, 0x1F, 0x00, 0x01, 0x78, 0x00]) == "ok")
    #expect(
      read([0x04] + topStart + [0x80, 0x20, 0x00, 0x01, 0x78, 0x00])
        == "trace.rltb: byte 5: module range 0xfffffffffffff000 + 0x1000 is empty or wraps")
    // Zero padded past ten bytes is too long, not too wide: in a
    // declaration and in an event (two decoders).
    for record: UInt8 in [0x02, 0x40] {
      #expect(
        read([record] + [UInt8](repeating: 0x80, count: 10) + [0x00])
          == "trace.rltb: byte 5: number longer than 10 bytes")
    }
    #expect(read([0x40, 0x00, 0x05]) == "trace.rltb: byte 5: unknown class id 5")
    #expect(read([0xC0]) == "trace.rltb: byte 5: unknown record type 0xc0")
    #expect(read([0x81, 0x00, 0x00]) == "trace.rltb: byte 5: unknown class id 0")
    var recorder = TranscriptRecorder()
    #expect(throws: TraceError.self) {
      _ = try BinaryTraceReader.read(
        bytes: [0x52, 0x4C, 0x43, 0x54, 2], name: "v", into: &recorder)
    }
    // Implicit threads, as in text: an event's undeclared thread is declared by it.
    #expect(read([0x4B, 0x07]) == "ok")
  }

  /// Random mutations of every fixture in both encodings (bit flips,
  /// truncations, insertions, duplicated and deleted ranges): each read
  /// ends, with a result or a `TraceError`, and quickly.
  @Test func mutatedTracesNeverCrashOrHang() throws {
    var rng = SplitMix(seed: 0x5EED)
    var inputs: [[UInt8]] = []
    for name in RoundTrip.fixtures {
      let path = BinaryRoundTrip.path(name)
      inputs.append(Array(try Data(contentsOf: URL(fileURLWithPath: path))))
      inputs.append(try BinaryRoundTrip.rewrite(path, with: BinaryTraceWriter()))
    }
    var cases = 0
    var errors = 0
    var slowest = 0.0
    let started = Date()
    for input in inputs {
      for _ in 0..<4 {
        let mutated = Self.mutate(input, &rng)
        // The thread's CPU time, not the wall clock: a loaded machine's
        // pause is no hang.
        let t0 = Self.threadCPUSeconds()
        let (error, _) = BinaryRoundTrip.validate(mutated)
        slowest = max(slowest, Self.threadCPUSeconds() - t0)
        if error != nil { errors += 1 }
        cases += 1
      }
    }
    let total = Date().timeIntervalSince(started)
    print(
      "fuzz: \(cases) mutated traces, \(errors) rejected, \(cases - errors) read; "
        + "\(total) s in all, slowest read \(slowest) s")
    #expect(cases >= 3000)
    #expect(slowest < 2)
  }

  /// The calling thread's CPU time, in seconds.
  static func threadCPUSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
  }

  static func mutate(_ input: [UInt8], _ rng: inout SplitMix) -> [UInt8] {
    var bytes = input
    func index(_ limit: Int) -> Int { limit <= 0 ? 0 : Int(rng.next() % UInt64(limit)) }
    for _ in 0...index(3) {
      switch rng.next() % 5 {
      case 0:
        if !bytes.isEmpty {
          let i = index(bytes.count)
          bytes[i] ^= 1 << UInt8(rng.next() % 8)
        }
      case 1: bytes = Array(bytes.prefix(index(bytes.count + 1)))
      case 2:
        let insert = (0..<(1 + index(16))).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        bytes.insert(contentsOf: insert, at: index(bytes.count + 1))
      case 3:
        let a = index(bytes.count + 1)
        let b = min(bytes.count, a + index(64))
        bytes.insert(contentsOf: bytes[a..<b], at: index(bytes.count + 1))
      default:
        let a = index(bytes.count + 1)
        bytes.removeSubrange(a..<min(bytes.count, a + index(8)))
      }
    }
    return bytes
  }
}
