import Foundation
import Testing

@testable import Basics
@testable import Trace

/// Input the text reader must refuse rather than accept silently: repeated
/// options and flags, unknown escapes, control characters, stacks deeper
/// than the binary encoding holds, and a binary trace read through a pipe.
@Suite struct TextInputValidationTests {
  static let header = "rawlockcheck-trace 1\n"

  @Test(arguments: [
    ("class A mutex name=first name=second\n", "t.rlt:2: repeated option name="),
    ("class A custom inner=spin inner=sleep\n", "t.rlt:2: repeated option inner="),
    ("thread 1 name=a name=b\n", "t.rlt:2: repeated option name="),
    ("module 0x1-0x2 0 /x build-id=ab build-id=cd\n", "t.rlt:2: repeated option build-id="),
    ("class A mutex\n1 acquire A inst=0x10 inst=0x20\n", "t.rlt:3: repeated option inst="),
    ("class A mutex\n1 acquire A sub=1 sub=2\n", "t.rlt:3: repeated option sub="),
    ("class A mutex\n1 acquire A sub=1 try sub=1\n", "t.rlt:3: repeated option sub="),
    ("stack s 1\nclass A mutex\n1 release A at=s at=s\n", "t.rlt:4: repeated option at="),
    ("1 hardirq-enter threaded threaded\n", "t.rlt:2: repeated flag threaded"),
    ("class A mutex\n1 acquire A try try\n", "t.rlt:3: repeated flag try"),
    ("class A mutex\n1 acquire A read read\n", "t.rlt:3: repeated flag read"),
    ("class A mutex\n1 acquire A try inst=0x1 try\n", "t.rlt:3: repeated flag try"),
    // A known thread and class: the fast path must not take these either.
    ("class A mutex\n1 release A\n1 acquire A try try\n", "t.rlt:4: repeated flag try"),
    ("1 nmi-exit\n1 hardirq-enter threaded threaded\n", "t.rlt:3: repeated flag threaded"),
    // Still refused as before: two flags of one exclusive group.
    (
      "class A mutex\n1 acquire A read read-recursive\n",
      "t.rlt:3: unexpected \"read-recursive\" after acquire"
    ),
  ])
  func repeatedOptionsAndFlagsAreErrors(_ body: String, _ expected: String) {
    #expect(error(Self.header + body) == expected)
  }

  @Test(arguments: [
    (
      #"class A mutex name="a\qb""#,
      #"t.rlt:2: unknown escape \q at column 22 (in quotes only \" and \\ are escapes)"#
    ),
    (
      #"class A mutex name="a\nb""#,
      #"t.rlt:2: unknown escape \n at column 22 (in quotes only \" and \\ are escapes)"#
    ),
    (
      "class A mutex name=\"a\\\u{1B}b\"",
      #"t.rlt:2: unknown escape \\u{1B} at column 22 (in quotes only \" and \\ are escapes)"#
    ),
  ])
  func unknownEscapesAreErrors(_ line: String, _ expected: String) {
    #expect(error(Self.header + line + "\n") == expected)
  }

  @Test func knownEscapesStillRead() throws {
    let (r, _) = try read(Self.header + #"class A mutex name="q\"b\\s""# + "\n")
    #expect(r.classes.first?.name == #"q"b\s"#)
  }

  @Test(arguments: [
    ("class A\0 mutex", "t.rlt:2: control character \\u{0} at column 8"),
    ("1 acq\0uire A", "t.rlt:2: control character \\u{0} at column 6"),
    ("1 acquire A\u{1B}[2J", "t.rlt:2: control character \\u{1B} at column 12"),
    ("class A mutex name=\"a\u{7F}\"", "t.rlt:2: control character \\u{7F} at column 22"),
    ("class A mutex name=\"a\u{0B}b\"", "t.rlt:2: control character \\u{B} at column 22"),
    ("\u{0C}1 acquire A", "t.rlt:2: control character \\u{C} at column 1"),
  ])
  func controlCharactersAreErrors(_ line: String, _ prefix: String) throws {
    let message = try #require(error(Self.header + line + "\n"))
    #expect(message.hasPrefix(prefix + " "), "\(message)")
    #expect(message.unicodeScalars.allSatisfy { $0.value >= 0x20 && $0.value < 0x7F })
  }

  @Test func tabsAndControlCharactersInCommentsAreFine() throws {
    let (r, _) = try read(
      Self.header + "class\tA mutex name=\"a\tb\"\t# \u{1B}[31m a comment\0\n1\tacquire A\n")
    #expect(r.classes.first?.name == "a\tb")
    #expect(r.events.count == 1)
  }

  @Test func stacksAreLimitedToWhatBinaryHolds() throws {
    let limit = BinaryTraceFormat.maxStackDepth
    func stack(_ n: Int) -> String {
      "stack s" + String(repeating: " 0x1000", count: n) + "\n"
    }
    let (_, symbols) = try read(Self.header + stack(limit))
    #expect(symbols.stacks.first?.count == limit)
    #expect(
      error(Self.header + stack(limit + 1)) == "t.rlt:2: a stack of 4097 addresses; at most 4096")
    #expect(
      error(Self.header + stack(100_000)) == "t.rlt:2: a stack of 100000 addresses; at most 4096")
  }

  @Test func aBinaryTraceGivenToTheTextReaderIsNamed() {
    var bytes = BinaryTraceFormat.header
    bytes += [0x01, 0x00, 0x04, 0x00, 0x01, 0x41, 0x0A]
    #expect(
      error(String(decoding: bytes, as: UTF8.self))
        == "t.rlt:1: a binary trace (it starts with \"RLCT\"): read it with TraceReader, which tells the encodings apart"
    )
  }

  @Test func errorsQuoteInputPrintably() {
    #expect(QuotedText.shown("a\u{1B}[31mb") == "a\\u{1B}[31mb")
    #expect(QuotedText.shown("two\nlines") == "two\\u{A}lines")
    #expect(QuotedText.shown("q\"b\\") == "q\\\"b\\\\")
    #expect(QuotedText.shown("\u{202E}rtl") == "\\u{202E}rtl")
    #expect(QuotedText.shown("ünïcödé 鎖") == "ünïcödé 鎖")
    #expect(
      QuotedText.shown(String(repeating: "x", count: 70)) == String(repeating: "x", count: 61)
        + "...")
  }
}
