import Basics
import Foundation
import LockGraph
import Testing

@testable import Trace

/// The text reader's event loop (`TextTraceParser.parseEvents`), which
/// reads simple event lines a word at a time, against the general parser,
/// which reads every line token by token: they must read the same events.
@Suite struct TextEventLoopTests {
  // MARK: Finding a token's end

  /// Bytes that end a token: below 0x21 (blanks, line ends, control
  /// bytes), and the quote, `#` and `=` that start what the general
  /// parser reads (`docs/text-trace-input.md`).
  static func endsToken(_ byte: UInt8) -> Bool {
    byte < 0x21 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "#")
      || byte == UInt8(ascii: "=")
  }

  @Test func everyByteValueIsFoundAtEveryPosition() {
    for position in 0..<8 {
      for value in 0...255 {
        var bytes = [UInt8](repeating: UInt8(ascii: "a"), count: 8)
        bytes[position] = UInt8(value)
        let word = bytes.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
        let stops = TextTraceParser.stopBytes(word)
        if Self.endsToken(UInt8(value)) {
          #expect(stops.trailingZeroBitCount / 8 == position, "byte \(value) at \(position)")
        } else {
          #expect(stops == 0, "byte \(value) at \(position)")
        }
      }
    }
  }

  @Test func theFirstStopWinsWhateverFollowsIt() {
    // A borrow from a stop may mark bytes above it; never one below it.
    for first in 0..<7 {
      for value in 0...255 {
        for stop: UInt8 in [0x00, 0x09, 0x0A, 0x20, 0x22, 0x23, 0x3D] {
          var bytes = [UInt8](repeating: 0x80, count: 8)
          bytes[first] = stop
          bytes[first + 1] = UInt8(value)
          let word = bytes.withUnsafeBytes {
            UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self))
          }
          #expect(TextTraceParser.stopBytes(word).trailingZeroBitCount / 8 == first)
        }
      }
    }
  }

  // MARK: Token tables

  /// Keys of every length up to 40 bytes, in pairs that differ in their
  /// last byte only, or in length only (a zero byte more).
  static let keys: [[UInt8]] = (0...40).flatMap { n -> [[UInt8]] in
    let base = (0..<n).map { UInt8(ascii: "a") + UInt8($0 % 26) }
    var other = base
    if n > 0 { other[n - 1] = UInt8(ascii: "Z") }
    return n == 0 ? [base, [0]] : [base, other, base + [0]]
  }

  @Test func keysOfEveryLengthAreFoundBothWays() {
    var table = TokenTable()
    for (i, key) in Self.keys.enumerated() {
      key.withUnsafeBytes { table.insert($0, value: Int32(i)) }
    }
    for (i, key) in Self.keys.enumerated() {
      // Exactly the key's bytes, nothing readable past them.
      let exact = UnsafeMutableRawBufferPointer.allocate(byteCount: key.count, alignment: 1)
      defer { exact.deallocate() }
      exact.copyBytes(from: key)
      #expect(table.find(UnsafeRawBufferPointer(exact)) == Int32(i), "key \(i)")
      // Followed by garbage that the padded lookup must ignore.
      let padded = key + [UInt8](repeating: 0xA5, count: 16)
      padded.withUnsafeBytes { bytes in
        #expect(
          table.find(
            paddedBytes: bytes.baseAddress!, length: key.count,
            hash: TokenTable.hash(UnsafeRawBufferPointer(rebasing: bytes[..<key.count])))
            == Int32(i), "padded key \(i)")
      }
    }
    // A key's prefix or extension that is not a key is not found.
    for missing: [UInt8] in [Array("abcdefghi".utf8) + [0x41], Array("abcdefghijklmnopZZ".utf8)] {
      missing.withUnsafeBytes { #expect(table.find($0) == nil) }
    }
  }

  @Test func aScannedTokenHashesAsItsKey() {
    for key in Self.keys where !key.isEmpty && !key.contains(0) {
      let line = key + Array(" next\n".utf8) + [UInt8](repeating: 0, count: 16)
      line.withUnsafeBytes { bytes in
        let base = bytes.baseAddress!
        let token = TextTraceParser.scanToken(base, before: base + key.count + 6)
        #expect(token?.length == key.count)
        #expect(token?.stop == 0x20)
        #expect(
          token?.hash == TokenTable.hash(UnsafeRawBufferPointer(rebasing: bytes[..<key.count])))
      }
    }
  }

  @Test func aTokenRunningPastTheBufferIsLeft() {
    let line = Array("1 acquire lock".utf8) + [UInt8](repeating: 0x20, count: 16)
    line.withUnsafeBytes { bytes in
      let base = bytes.baseAddress!
      // The blank that ends "lock" is past the buffered bytes.
      #expect(TextTraceParser.scanToken(base + 10, before: base + 14) == nil)
      #expect(TextTraceParser.scanToken(base + 10, before: base + 15)?.length == 4)
    }
  }

  // MARK: Whole traces

  /// A trace of event lines in every spelling the event loop reads
  /// (blanks and tabs, trailing blanks, flags in either order, tokens
  /// across word boundaries), and the general parser's reading of the
  /// same events: each line with its thread token quoted, which the loop
  /// leaves. Some lines end in a comment after a blank.
  static func traces(seed: UInt64, lines: Int) -> (plain: String, general: String) {
    var random = SplitMix(seed: seed)
    func pick<T>(_ items: [T]) -> T { items[Int(random.next() % UInt64(items.count))] }
    let classes = [
      "c1", "abcdefg", "abcdefgh", "abcdefghi", "lock_sixteen_xxx", "caf\u{e9}", "a!b&c",
    ]
    let threads = ["1", "22", "t1234567", "t12345678", "worker_thread_long"]
    var head = "rawlockcheck-trace 1\n"
    for (i, c) in classes.enumerated() {
      head += "class \(c) \(i % 2 == 0 ? "mutex" : "spinlock")\n"
    }
    for t in threads { head += "thread \(t)\n" }
    let stacks = ["s1", "stack_long_name_1"]
    for sid in stacks { head += "stack \(sid) 0x1000 0x2000\n" }
    let numbers = ["0", "5", "0x10", "0X1f", "0xffffffffffffffff", "18446744073709551615", "007"]
    /// Some of the options `verb` takes, each once, in any order.
    func options(_ keys: [String]) -> [String] {
      keys.filter { _ in random.next() % 3 == 0 }.map { key in
        switch key {
        case "sub": "sub=" + pick(["0", "3", "7", "0x7"])
        case "nest": "nest=" + pick(classes)
        case "at": "at=" + pick(stacks)
        default: key + "=" + pick(numbers)
        }
      }.shuffled(using: &random)
    }
    var plain = head
    var generalLines = head
    let blanks = [" ", " ", "  ", "\t", " \t "]
    for _ in 0..<lines {
      let thread = pick(threads)
      var tokens: [String]
      switch random.next() % 8 {
      case 0, 1:
        tokens = [thread, "acquire", pick(classes)]
        let flags = pick([
          [], [], ["try"], ["read"], ["read-recursive"], ["try", "read"], ["read", "try"],
        ])
        tokens += (flags + options(["inst", "at", "ip", "sub", "nest"])).shuffled(using: &random)
      case 2, 3: tokens = [thread, "release", pick(classes)] + options(["inst", "at", "ip"])
      case 4:
        tokens =
          [thread, "might-lock", pick(classes)]
          + (pick([[], ["read"]]) + options(["at"])).shuffled(using: &random)
      case 5:
        tokens = [thread, "init", pick(classes), "inst=" + pick(["5", "0x10"])] + options(["at"])
      case 6: tokens = [thread, "free", pick(numbers), pick(numbers)] + options(["at"])
      default: tokens = [thread, pick(["might-sleep", "preempt-disable", "preempt-enable"])]
      }
      var line = ""
      for token in tokens.dropFirst() { line += pick(blanks) + token }
      if random.next() % 8 == 0 { line += pick(blanks) }
      if random.next() % 6 == 0 {
        line += pick(blanks) + pick(["#", "# a note", "#\tx=1 \"q\" #"])
      }
      plain += tokens[0] + line + "\n"
      // A quoted thread token: the loop leaves the line.
      generalLines += "\"\(tokens[0])\"" + line + "\n"
    }
    return (plain, generalLines)
  }

  @Test(arguments: [1, 2, 3] as [UInt64])
  func theLoopReadsWhatTheGeneralParserReads(_ seed: UInt64) throws {
    let (plain, generalLines) = Self.traces(seed: seed, lines: 3000)
    let (fast, _) = try read(plain)
    let (general, _) = try read(generalLines)
    #expect(fast.events.count == 3000)
    #expect(Self.describe(fast.events) == Self.describe(general.events))
  }

  @Test func everySimpleSpellingIsReadInPlace() throws {
    // The loop leaving a line is never wrong, only slow: this checks that
    // it takes every line of the generated traces itself.
    let (plain, _) = Self.traces(seed: 4, lines: 500)
    let lines = plain.split(separator: "\n", omittingEmptySubsequences: false)
    let declarations = lines.prefix {
      $0.hasPrefix("rawlockcheck-trace ") || $0.hasPrefix("class ") || $0.hasPrefix("thread ")
        || $0.hasPrefix("stack ")
    }
    var parser = TextTraceParser(file: "t.rlt")
    var recorder = Recorder()
    for (i, line) in declarations.enumerated() {
      var bytes = Array(line.utf8)
      try bytes.withUnsafeMutableBytes {
        try parser.parse(UnsafeRawBufferPointer($0), number: Int64(i + 1), into: &recorder)
      }
    }
    let events = Array(lines.dropFirst(declarations.count).joined(separator: "\n").utf8)
    let buffer = events + [UInt8](repeating: 0, count: TextTraceParser.readSlack)
    var read = 0
    var consumed = 0
    try buffer.withUnsafeBytes { bytes in
      while read < 500 {
        let parsed = parser.parseEvents(
          bytes.baseAddress! + consumed, count: events.count - consumed,
          firstNumber: Int64(declarations.count + 1 + read))
        #expect(parsed.lines > 0)
        if parsed.lines == 0 { break }
        read += parsed.lines
        consumed += parsed.consumed
        try parser.flush(into: &recorder)
      }
    }
    #expect(read == 500)
    #expect(consumed == events.count)
    #expect(recorder.events.count == 500)
  }

  @Test func linesAcrossTheReadBufferAreRead() throws {
    // More than the 2 MiB buffer: lines straddle its refills.
    let (plain, generalLines) = Self.traces(seed: 9, lines: 120_000)
    #expect(plain.utf8.count > 2 << 20)
    let (fast, _) = try read(plain)
    let (general, _) = try read(generalLines)
    #expect(fast.events.count == 120_000)
    #expect(Self.describe(fast.events) == Self.describe(general.events))
  }

  @Test(arguments: [
    // Each is for the general parser, which says what is wrong.
    ("1 acquire A read read\n", "t.rlt:5: repeated flag read"),
    ("1 acquire A try read-recursive read\n", "t.rlt:5: unexpected \"read\" after acquire"),
    ("1 acquire A=1\n", "t.rlt:5: acquire needs a class"),
    ("1 acquire sub=1 A\n", "t.rlt:5: acquire needs a class before its options, got \"sub=1\""),
    ("1 acquire A\r\r\n", "t.rlt:5: control character \\u{D} at column 12"),
    ("1 irq-disable A\n", "t.rlt:5: unexpected \"A\" after irq-disable"),
    ("1 acquire\n", "t.rlt:5: acquire needs a class"),
    ("1 acquire B\n", "t.rlt:5: unknown class \"B\""),
    ("1 acquir A\n", "t.rlt:5: unknown verb \"acquir\""),
    // A thread whose token is a declaration word: the line declares.
    ("class acquire A\n", "t.rlt:5: unknown lock kind \"A\" (expected one of"),
    // Options: a value or key the loop does not read.
    ("1 acquire A sub=8\n", "t.rlt:5: sub= must be a subclass from 0 to 7, got \"8\""),
    ("1 acquire A inst=1 inst=2\n", "t.rlt:5: repeated option inst="),
    ("1 acquire A at=s9\n", "t.rlt:5: unknown stack \"s9\""),
    ("1 acquire A inst=0x\n", "t.rlt:5: inst= must be an address, got \"0x\""),
    ("1 acquire A inst=\n", "t.rlt:5: inst= must be an address, got \"\""),
    ("1 acquire A nest=B\n", "t.rlt:5: unknown class \"B\""),
    ("1 acquire A =5\n", "t.rlt:5: unexpected \"=5\" after acquire"),
    ("1 release A sub=1\n", "t.rlt:5: unknown option \"sub=\" for release"),
    ("1 init A inst=0\n", "t.rlt:5: init needs inst=<addr> (a nonzero address)"),
    ("1 init A\n", "t.rlt:5: init needs inst=<addr> (a nonzero address)"),
    ("1 free 1\n", "t.rlt:5: expected \"free <addr> <length>\""),
    (
      "1 free 0x1 18446744073709551616\n",
      "t.rlt:5: expected a number for length, got \"18446744073709551616\""
    ),
  ])
  func linesTheLoopLeavesAreReadOrRefusedAsBefore(_ line: String, _ expected: String) {
    let trace = "rawlockcheck-trace 1\nclass A mutex\nthread class\n1 release A\n" + line
    let message = error(trace) ?? "accepted"
    #expect(message.hasPrefix(expected), "\(message)")
  }

  @Test(arguments: ["1 acquire%@A", "1%@irq-disable", "1 acquire A%@try", "1 acquire A try%@"])
  func aLineLongWithBlanksIsStillTooLong(_ pattern: String) {
    let blanks = String(repeating: " ", count: LineReader.maxLineLength)
    let line = pattern.replacingOccurrences(of: "%@", with: blanks)
    let trace = "rawlockcheck-trace 1\nclass A mutex\n1 release A\n" + line + "\n"
    #expect(error(trace) == "t.rlt:4: line longer than \(LineReader.maxLineLength) bytes")
  }

  @Test func verbsAreTheirRawValuesInOrder() {
    // Both event loops turn a table's raw value into a verb with
    // `unsafeBitCast`, which is right only for raw values 0, 1, 2, ...
    for (i, verb) in LockEvent.Verb.allCases.enumerated() {
      #expect(Int(verb.rawValue) == i)
      #expect(unsafeBitCast(UInt8(i), to: LockEvent.Verb.self) == verb)
    }
  }

  static func describe(_ events: [LockEvent]) -> [String] {
    events.map {
      "\($0.verb) \($0.thread.raw) \($0.lockClass.raw) \($0.read) \($0.isTrylock) \($0.origin.line)"
        + " \($0.subclass) \($0.nest.raw) \($0.address) \($0.length) \($0.origin.stack.raw)"
        + " \($0.origin.ip)"
    }
  }
}
