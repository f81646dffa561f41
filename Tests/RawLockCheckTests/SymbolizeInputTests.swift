import Foundation
import Testing

/// `rawlockcheck symbolize` reading addresses from standard input: tokens
/// and lines however they are spaced or split, errors naming the line, and
/// answers written while the input is still open (a client that writes one
/// address and waits must get its answer).
@Suite struct SymbolizeInputTests {
  /// `main`'s link-time address in the tool itself, from nm.
  static func mainAddress() throws -> String {
    let digits = try SymbolizedReportTests.shell(
      "nm '\(FixturePaths.tool.path)' | awk '$3 == \"main\" { print $1 }'"
    ).trimmingCharacters(in: .whitespacesAndNewlines)
    let value = try #require(UInt64(digits, radix: 16), "nm printed \(digits)")
    return "0x" + String(value, radix: 16)
  }

  @Test func everyTokenIsAnsweredInOrderWhateverTheSpacing() throws {
    let main = try Self.mainAddress()
    let single = try ToolRun(["symbolize", "--exe", FixturePaths.tool.path, main])
    #expect(single.status == 0)
    let block = single.stdout
    #expect(block.hasPrefix(main + ": "))
    // Blank lines, tabs, CRLF, several per line, one line longer than the
    // reader's 64 KiB buffer, and a last line without a newline.
    let long = Array(repeating: main, count: 9000).joined(separator: " ")
    let input = "\(main)\n\n \t\(main)  \(main)\r\n\(long)\n\(main)"
    let run = try ToolRun(["symbolize", "--exe", FixturePaths.tool.path], input: input)
    #expect(run.status == 0, "\(run.stderr)")
    #expect(run.stdout == String(repeating: block, count: 9004))
  }

  @Test func distinctAddressesAreAnsweredInInputOrderAcrossBatches() throws {
    // Answers are formatted and written on a second thread in batches of
    // 256; 3,000 distinct addresses span twelve batches, more than may wait
    // at once.
    let main = try #require(UInt64(try Self.mainAddress().dropFirst(2), radix: 16))
    let addresses = (0..<3000).map { "0x" + String(main &+ UInt64($0) &* 7, radix: 16) }
    let run = try ToolRun(
      ["symbolize", "--exe", FixturePaths.tool.path],
      input: addresses.joined(separator: "\n") + "\n")
    #expect(run.status == 0, "\(run.stderr)")
    let heads = run.stdout.split(separator: "\n").filter { !$0.hasPrefix(" (inlined by) ") }
      .map { String($0.prefix { $0 != ":" }) }
    #expect(heads == addresses)
    // A bad token after several batches: every answer before it, then the error.
    let bad = try ToolRun(
      ["symbolize", "--exe", FixturePaths.tool.path],
      input: addresses.joined(separator: "\n") + "\nnope\n")
    #expect(bad.status == 2)
    #expect(bad.stdout == run.stdout)
    #expect(bad.stderr == "rawlockcheck: <stdin>:3001: expected an address, got \"nope\"\n")
  }

  @Test func aBadTokenNamesItsLineAfterTheAnswersBeforeIt() throws {
    let main = try Self.mainAddress()
    let single = try ToolRun(["symbolize", "--exe", FixturePaths.tool.path, main])
    for (bad, shown) in [
      ("zz", "zz"), ("0x", "0x"), ("0x1ffffffffffffffff", "0x1ffffffffffffffff"), ("12a", "12a"),
    ] {
      let run = try ToolRun(
        ["symbolize", "--exe", FixturePaths.tool.path], input: "\(main)\n\n\(main) \(bad) \(main)\n"
      )
      #expect(run.status == 2)
      #expect(run.stderr == "rawlockcheck: <stdin>:3: expected an address, got \"\(shown)\"\n")
      #expect(run.stdout == String(repeating: single.stdout, count: 2))
    }
    // Decimal is accepted (and printed in hex, as llvm-symbolizer does).
    let decimal = try ToolRun(
      ["symbolize", "--exe", FixturePaths.tool.path],
      input: "\(UInt64(main.dropFirst(2), radix: 16)!)\n")
    #expect(decimal.stdout == single.stdout)
  }

  @Test func anAnswerArrivesBeforeTheInputEnds() throws {
    let main = try Self.mainAddress()
    let process = Process()
    process.executableURL = FixturePaths.tool
    process.arguments = ["symbolize", "--exe", FixturePaths.tool.path]
    let input = Pipe()
    let output = Pipe()
    process.standardInput = input
    process.standardOutput = output
    try process.run()
    defer {
      try? input.fileHandleForWriting.close()
      process.waitUntilExit()
    }
    input.fileHandleForWriting.write(Data((main + "\n").utf8))
    // Read until the answer's line ends, giving up after 20 s (not waiting
    // for the end of input, which never comes before the answer).
    var received = Data()
    let deadline = Date().addingTimeInterval(20)
    let descriptor = output.fileHandleForReading.fileDescriptor
    while !received.contains(UInt8(ascii: "\n")), Date() < deadline {
      var poller = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
      guard poll(&poller, 1, 100) > 0 else { continue }
      var chunk = [UInt8](repeating: 0, count: 4096)
      let count = read(descriptor, &chunk, chunk.count)
      if count <= 0 { break }
      received.append(contentsOf: chunk[..<count])
    }
    let text = String(decoding: received, as: UTF8.self)
    #expect(text.hasPrefix(main + ": "), "no answer while the input was open: \(text)")
  }

  /// Standard input that cannot be read (a directory): a one-line error and
  /// status 2, not a silent empty answer.
  @Test func unreadableInputIsAnError() throws {
    let directory = try #require(FileHandle(forReadingAtPath: "/") as FileHandle?)
    let run = try ToolRun(
      ["symbolize", "--exe", FixturePaths.tool.path], standardInput: directory)
    #expect(run.status == 2)
    #expect(run.stdout.isEmpty)
    #expect(run.stderr == "rawlockcheck: <stdin>: cannot read: Is a directory\n")
  }
}

/// `symbolize` caps an input line at 1 MiB, as the trace reader does.
@Suite struct SymbolizeLineLengthTests {
  @Test func aLineLongerThanOneMebibyteIsAnErrorNamingIt() throws {
    let long = String(repeating: " ", count: (1 << 20) + 1)
    let run = try ToolRun(
      ["symbolize", "--exe", FixturePaths.tool.path], input: "0x10\n\(long)\n0x20\n")
    #expect(run.status == 2)
    #expect(run.stderr == "rawlockcheck: <stdin>:2: line longer than 1048576 bytes\n")
    #expect(run.stdout.hasPrefix("0x10: "))
    #expect(!run.stdout.contains("0x20"))
    // The same as the last line, without its newline.
    let last = try ToolRun(["symbolize", "--exe", FixturePaths.tool.path], input: "0x10\n\(long)")
    #expect(last.status == 2)
    #expect(last.stderr == "rawlockcheck: <stdin>:2: line longer than 1048576 bytes\n")
  }

  @Test func aLineOfOneMebibyteIsRead() throws {
    let padding = String(repeating: " ", count: (1 << 20) - 4)
    let run = try ToolRun(
      ["symbolize", "--exe", FixturePaths.tool.path], input: "0x10\(padding)\n0x20")
    #expect(run.status == 0, "\(run.stderr)")
    #expect(run.stdout.contains("0x20: "))
  }
}

/// `--debug-dir` as a user types it: a directory relative to the working
/// directory holding `.build-id/xx/yyyy.debug` (libdwfl's build-id search
/// skips relative entries of its path, so the tool makes them absolute).
@Suite struct RelativeDebugDirectoryTests {
  @Test func aRelativeDebugDirectoryFindsTheBuildIDFile() throws {
    let dir = FileManager.default.temporaryDirectory
      .appendingPathComponent("relative-debug-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    // A stripped program whose DWARF is only under dbg/.build-id.
    let script = """
      cd '\(dir.path)' && printf 'int __attribute__((noinline)) work(int x) { return x * 3 + 1; }\\nint main(int c, char **v) { return work(c); }\\n' > p.c \
      && cc -g -O1 -Wl,--build-id p.c -o p \
      && id=$(readelf -n p | awk '/Build ID/ { print $3 }') \
      && mkdir -p dbg/.build-id/$(echo $id | cut -c1-2) \
      && objcopy --only-keep-debug p dbg/.build-id/$(echo $id | cut -c1-2)/$(echo $id | cut -c3-).debug \
      && objcopy --strip-all p p.stripped \
      && nm p | awk '$3 == "work" { print $1 }'
      """
    let digits = try SymbolizedReportTests.shell(script)
      .trimmingCharacters(in: .whitespacesAndNewlines)
    let address = try #require(UInt64(digits, radix: 16), "the fixture did not build: \(digits)")
    let hex = "0x" + String(address, radix: 16)
    for root in ["dbg", "./dbg/", dir.path + "/dbg"] {
      let run = try ToolRun(
        ["symbolize", "--exe", "p.stripped", "--debug-dir", root, hex], in: dir)
      #expect(run.status == 0, "\(run.stderr)")
      #expect(run.stdout.hasPrefix("\(hex): work at "), "--debug-dir \(root): \(run.stdout)")
      #expect(run.stderr.isEmpty, "\(run.stderr)")
    }
    // Without the debug file there is no line to give: the answer is
    // the module and offset, and one line on standard error says why (it
    // said nothing, and a user could not tell a stripped file from a bug).
    let bare = try ToolRun(["symbolize", "--exe", "p.stripped", hex], in: dir)
    #expect(bare.status == 0)
    #expect(bare.stdout.hasPrefix("\(hex): p.stripped+"), "\(bare.stdout)")
    #expect(
      bare.stderr
        == "rawlockcheck: p.stripped: no DWARF found (none in the file, and no debug file "
        + "through its .gnu_debuglink or build-id under /usr/lib/debug): functions are named "
        + "from the symbol table where it has them, without file:line\n")
    // The program with its DWARF says nothing.
    let whole = try ToolRun(["symbolize", "--exe", "p", hex], in: dir)
    #expect(whole.stderr.isEmpty, "\(whole.stderr)")
  }
}

/// A file whose `.debug_info` is there but cannot be read (here its
/// compressed bytes damaged) is told apart from a file without DWARF: the
/// line on standard error said "no DWARF found (none in the file ...)",
/// sending the user to look for a debug file that would not help.
@Suite struct UnreadableDWARFTests {
  /// Builds `p` (`cc -gz`) in a new directory, then runs `then` there,
  /// in which `damage FILE OUT` writes FILE with every byte of its
  /// compressed `.debug_info` after the first 30 flipped (inflating it
  /// fails). Returns the directory and the address of `work`.
  static func build(then script: String) throws -> (URL, String) {
    let dir = FileManager.default.temporaryDirectory
      .appendingPathComponent("unreadable-dwarf-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    let damage = """
      import subprocess, sys
      out = subprocess.check_output(['readelf', '-S', '-W', sys.argv[1]]).decode()
      line = next(l for l in out.splitlines() if ' .debug_info ' in l)
      fields = line.split(']')[1].split()
      offset, size = int(fields[3], 16), int(fields[4], 16)
      data = bytearray(open(sys.argv[1], 'rb').read())
      for i in range(offset + 30, offset + size):
          data[i] ^= 0x5a
      open(sys.argv[2], 'wb').write(data)
      """
    try damage.write(to: dir.appendingPathComponent("damage.py"), atomically: true, encoding: .utf8)
    let digits = try SymbolizedReportTests.shell(
      """
      cd '\(dir.path)' && damage() { python3 damage.py "$1" "$2"; } \
      && printf 'int __attribute__((noinline)) work(int x) { return x * 3 + 1; }\\nint main(int c, char **v) { return work(c); }\\n' > p.c \
      && cc -g -O1 -gz=zlib p.c -o p && \(script) && nm p | awk '$3 == "work" { print $1 }'
      """
    ).trimmingCharacters(in: .whitespacesAndNewlines)
    let address = try #require(UInt64(digits, radix: 16), "the fixture did not build: \(digits)")
    return (dir, "0x" + String(address, radix: 16))
  }

  @Test func damagedCompressedDebugInfoIsSaidSo() throws {
    let (dir, hex) = try Self.build(then: "damage p p.damaged")
    defer { try? FileManager.default.removeItem(at: dir) }
    let run = try ToolRun(["symbolize", "--exe", "p.damaged", hex], in: dir)
    #expect(run.status == 0, "\(run.stderr)")
    #expect(run.stdout.hasPrefix("\(hex): work (p.damaged+"), "\(run.stdout)")
    #expect(
      run.stderr
        == "rawlockcheck: p.damaged: its DWARF (.debug_info) could not be read (damaged, or "
        + "compressed in a form libelf cannot inflate): functions are named from the symbol "
        + "table where it has them, without file:line\n")
    // The undamaged program answers with its line, and says nothing.
    let whole = try ToolRun(["symbolize", "--exe", "p", hex], in: dir)
    #expect(whole.stdout.contains("p.c:1"), "\(whole.stdout)")
    #expect(whole.stderr.isEmpty, "\(whole.stderr)")
  }

  /// The usual layout of a distribution: a stripped program whose DWARF is
  /// in a debug file found through its `.gnu_debuglink`. That file is
  /// found, and damaged: it is named, not sought.
  @Test func aDamagedDebugFileIsNamed() throws {
    let (dir, hex) = try Self.build(
      then: """
        objcopy --only-keep-debug p p.whole.debug && damage p.whole.debug p.debug \
        && objcopy --strip-all --add-gnu-debuglink=p.debug p p.stripped
        """)
    defer { try? FileManager.default.removeItem(at: dir) }
    let run = try ToolRun(["symbolize", "--exe", "p.stripped", hex], in: dir)
    #expect(run.status == 0, "\(run.stderr)")
    #expect(run.stdout.hasPrefix("\(hex): work (p.stripped+"), "\(run.stdout)")
    #expect(
      run.stderr.hasPrefix("rawlockcheck: p.stripped: the DWARF of its debug file "),
      "\(run.stderr)")
    #expect(
      run.stderr.hasSuffix(
        "p.debug (.debug_info) could not be read (damaged, or compressed in a form libelf "
          + "cannot inflate): functions are named from the symbol table where it has them, "
          + "without file:line\n"), "\(run.stderr)")
  }
}

/// An ELF file cut short (a copy or download that stopped early) is bad
/// input, said in one line with where it ends, status 2: libelf reads what
/// is there as if the rest were absent, and every address came back
/// unnamed with status 0.
@Suite struct TruncatedELFTests {
  @Test func aTruncatedExecutableIsAnError() throws {
    let cut = FileManager.default.temporaryDirectory
      .appendingPathComponent("truncated-\(UUID().uuidString).elf")
    defer { try? FileManager.default.removeItem(at: cut) }
    let whole = try Data(contentsOf: FixturePaths.tool)
    try whole.prefix(8192).write(to: cut)
    let run = try ToolRun(["symbolize", "--exe", cut.path, "0x1000"])
    #expect(run.status == 2)
    #expect(run.stdout.isEmpty)
    #expect(
      run.stderr.hasPrefix("rawlockcheck: \(cut.path): truncated ELF file: "), "\(run.stderr)")
    #expect(
      run.stderr.hasSuffix("past its 8192 bytes\n") && run.stderr.split(separator: "\n").count == 1)
    let binary = try ToolRun(["report", "--binary", cut.path, "findings/circular-abba.rlt"])
    #expect(binary.status == 2)
    #expect(
      binary.stderr.contains("--binary \(cut.path): truncated ELF file: "), "\(binary.stderr)")
    // The whole file is no problem.
    let fine = try ToolRun(["symbolize", "--exe", FixturePaths.tool.path, "0x1000"])
    #expect(fine.status == 0, "\(fine.stderr)")
  }
}
