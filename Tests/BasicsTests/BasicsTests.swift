import Basics
import Testing

@Suite struct NumberTextTests {
  @Test func hexIsLowercaseWithPrefix() {
    #expect(NumberText.hex(0) == "0x0")
    #expect(NumberText.hex(0xdead_BEEF) == "0xdeadbeef")
    #expect(NumberText.hex(.max) == "0xffffffffffffffff")
  }

  @Test func numbersAgreeWithTheStandardLibrary() {
    for value: UInt64 in [0, 7, 9, 10, 255, 4096, 1 << 40, .max] {
      var d: [UInt8] = []
      var h: [UInt8] = []
      NumberText.appendDecimal(value, to: &d)
      NumberText.appendHex(value, to: &h)
      #expect(String(decoding: d, as: UTF8.self) == String(value))
      #expect(String(decoding: h, as: UTF8.self) == "0x" + String(value, radix: 16))
    }
  }

  @Test func pointersPrintAsThePercentPXFormat() {
    #expect(NumberText.pointer(0x7f00_0000_1000) == "00007f0000001000")
    #expect(NumberText.pointer(0xffff_8880_1d09_4000) == "ffff88801d094000")
    #expect(NumberText.pointer(0) == "0000000000000000")
  }

  @Test func decimal() {
    var out: [UInt8] = []
    NumberText.appendDecimal(-42, to: &out)
    out.append(0x20)
    NumberText.appendDecimal(UInt64.max, to: &out)
    #expect(String(decoding: out, as: UTF8.self) == "-42 18446744073709551615")
  }

  @Test(
    arguments: [
      ("0", UInt64(0)), ("42", 42), ("0x2A", 42), ("0X2a", 42),
      ("18446744073709551615", .max), ("0xffffffffffffffff", .max),
    ] as [(String, UInt64)])
  func parses(text: String, value: UInt64) {
    #expect(NumberText.parse(text.utf8) == value)
  }

  @Test(arguments: [
    "", "0x", "-1", "+1", " 1", "1 ", "12a", "0xg", "18446744073709551616",
    "0x10000000000000000",
  ])
  func refuses(text: String) {
    #expect(NumberText.parse(text.utf8) == nil)
  }

  /// The standard library's reading of the same rule: decimal digits, or
  /// `0x`/`0X` and hexadecimal digits, in 64 bits.
  static func reference(_ bytes: [UInt8]) -> UInt64? {
    guard bytes.allSatisfy({ $0 < 0x80 }) else { return nil }
    let text = String(decoding: bytes, as: UTF8.self)
    if bytes.count > 2 && bytes[0] == 0x30 && (bytes[1] == 0x78 || bytes[1] == 0x58) {
      let digits = text.dropFirst(2)
      guard digits.allSatisfy(\.isHexDigit) else { return nil }
      return UInt64(digits, radix: 16)
    }
    guard bytes.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
    return UInt64(text, radix: 10)
  }

  @Test func everyByteAtEveryPositionReadsAsTheStandardLibraryReadsIt() {
    for base in ["0x1f2e", "0X00ab", "12345", "0x", "18446744073709551615", "0xffffffffffffffff"] {
      for position in 0..<base.utf8.count {
        for value in 0...255 {
          var bytes = Array(base.utf8)
          bytes[position] = UInt8(value)
          #expect(
            bytes.withUnsafeBytes { NumberText.parse($0) } == Self.reference(bytes),
            "\(bytes)")
        }
      }
    }
  }

  @Test func randomNumbersReadAsTheStandardLibraryReadsThem() {
    var random = SplitMix(seed: 7)
    let alphabet = Array("0123456789abcdefABCDEFxXgG:@/`".utf8)
    for _ in 0..<20_000 {
      let length = Int(random.next() % 24)
      var bytes = (0..<length).map { _ in alphabet[Int(random.next() % UInt64(alphabet.count))] }
      if random.next() % 2 == 0 && length > 2 {
        bytes[0] = 0x30
        bytes[1] = 0x78
      }
      #expect(bytes.withUnsafeBytes { NumberText.parse($0) } == Self.reference(bytes), "\(bytes)")
    }
  }
}

@Suite struct JSONTextTests {
  @Test func escapes() {
    #expect(JSONText.quoted("a\"b\\c\n\r\t\u{1}\u{1f}é") == #""a\"b\\c\n\r\t\u0001\u001fé""#)
    #expect(JSONText.quoted(nil) == "null")
    // Text without anything to escape is copied whole.
    #expect(JSONText.quoted("plain é 😀 text") == "\"plain é 😀 text\"")
    #expect(JSONText.quoted("") == "\"\"")
    #expect(JSONText.quoted("end\\") == #""end\\""#)
  }
}

@Suite struct FrameTextTests {
  func line(
    _ style: FrameText.Style, name: String? = nil, file: String? = nil, line: Int = 0,
    column: Int = 0, module: String? = nil, stale: Bool = false
  ) -> String {
    let parts = FrameText.Parts(
      name: name.map { Array($0.utf8) }, file: file.map { Array($0.utf8) },
      module: module.map { Array($0.utf8) }, line: line, column: column, isInlined: false,
      isStale: stale, moduleOffset: 0x1234, address: 0x5555_0000_1234)
    var out: [UInt8] = []
    FrameText.appendDescription(parts, style: style, to: &out)
    return String(decoding: out, as: UTF8.self)
  }

  /// The spec's lock line: `at: Allocator.Zone.refill(batch:)
  /// (Sources/Allocator/Zone.swift:88)`: file and line, no column.
  @Test func reportStyle() {
    #expect(line(.report, name: "f", file: "a.c", line: 3, column: 7) == "f (a.c:3)")
    #expect(line(.report, name: "f", file: "a.c", line: 3) == "f (a.c:3)")
    #expect(line(.report, name: "f", file: "a.c") == "f (a.c:<compiler-generated>)")
    // Swift's compiler-generated code has a file of that name, not a file.
    #expect(line(.report, name: "f", file: "/<compiler-generated>") == "f (<compiler-generated>)")
    #expect(line(.report, name: "f") == "f")
    #expect(line(.report, module: "libx.so") == "libx.so+0x1234")
    #expect(line(.report) == "0x555500001234")
  }

  /// The spec's backtrace line: `#0 Allocator.Zone.refill(batch:)
  /// Sources/Allocator/Zone.swift:88`.
  @Test func backtraceStyle() {
    #expect(line(.backtrace, name: "f()", file: "/s/a.c", line: 3, column: 7) == "f() /s/a.c:3")
    #expect(line(.backtrace, name: "f", file: "a.c") == "f a.c:<compiler-generated>")
    #expect(line(.backtrace, name: "f", file: "/<compiler-generated>") == "f <compiler-generated>")
    #expect(line(.backtrace, name: "f") == "f")
    #expect(line(.backtrace, module: "libx.so") == "libx.so+0x1234")
  }

  /// Both layouts read back: the function may hold spaces and
  /// parentheses, a path may hold spaces, a relative path is the last
  /// word that reads as a location.
  @Test func aReportFrameReadsBack() {
    func read(_ text: String) -> (String, String?, Int, Bool) {
      let l = FrameText.location(in: Substring(text))
      return (String(l.function), l.file.map(String.init), l.line, l.isInlined)
    }
    #expect(
      read("closure #1 in f() /src/a b.swift:12") == (
        "closure #1 in f()", "/src/a b.swift", 12, false
      ))
    #expect(
      read("closure #1 in f() (/src/a.swift:12)") == (
        "closure #1 in f()", "/src/a.swift", 12, false
      ))
    #expect(
      read("f(_:) Sources/A/Zone.swift:88 [inlined]") == ("f(_:)", "Sources/A/Zone.swift", 88, true)
    )
    #expect(
      read("f(_:) (Sources/A/Zone.swift:88:5)") == ("f(_:)", "Sources/A/Zone.swift", 88, false))
    #expect(read("thunk <compiler-generated>") == ("thunk", "<compiler-generated>", 0, false))
    #expect(read("g() (./nptl/x.c:<compiler-generated>)") == ("g()", "./nptl/x.c", 0, false))
    #expect(
      read("merged static Checked.withSoftIRQ<A, B>(_:)") == (
        "merged static Checked.withSoftIRQ<A, B>(_:)", nil, 0, false
      ))
    #expect(read("libx.so+0x1234") == ("libx.so+0x1234", nil, 0, false))
    #expect(read("subscript(_:) x:y") == ("subscript(_:) x:y", nil, 0, false))
  }

  @Test func prettyStyle() {
    #expect(line(.pretty, name: "f", file: "a.c", line: 3, column: 7) == "f at a.c:3:7")
    #expect(line(.pretty, name: "f", file: "a.c") == "f at <compiler-generated>")
    #expect(line(.pretty, name: "f", module: "libx.so") == "f (libx.so+0x1234)")
    #expect(line(.pretty, file: "a.c", line: 3) == "?? at a.c:3")
    #expect(line(.pretty, module: "libx.so") == "libx.so+0x1234")
  }

  @Test(arguments: [FrameText.Style.pretty, .report, .backtrace])
  func staleFramesCarryNoNamesAndOneMarker(style: FrameText.Style) {
    #expect(
      line(style, name: "f", file: "a.c", line: 3, module: "libx.so", stale: true)
        == "libx.so+0x1234 [stale binary]")
  }
}

/// A file's directory and a name joined under one, as `dirname` and a
/// shell's `"$dir/$name"` give them (a `.dwo` file under its unit's
/// compilation directory, and that under the DWARF file's).
@Suite struct PathJoiningTests {
  @Test func directoryNameIsWhatDirnameSays() {
    #expect(directoryName("/usr/lib/libc.so.6") == "/usr/lib")
    #expect(directoryName("/libx.so") == "/")
    #expect(directoryName("build/libx.so") == "build")
    #expect(directoryName("libx.so") == "")
  }

  @Test func aRelativeNameGoesUnderTheDirectory() {
    #expect(joinedPath("/build", "x.dwo") == "/build/x.dwo")
    #expect(joinedPath("/build/", "x.dwo") == "/build/x.dwo")
    #expect(joinedPath("/", "x.dwo") == "/x.dwo")
    #expect(joinedPath("/build", "/abs/x.dwo") == "/abs/x.dwo")
    #expect(joinedPath("", "x.dwo") == "x.dwo")
    #expect(joinedPath("/lib", "./x.dwo") == "/lib/./x.dwo")
  }
}
