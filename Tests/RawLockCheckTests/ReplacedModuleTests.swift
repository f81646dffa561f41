import Foundation
import Testing

/// A library unloaded and another mapped where it was (`dlclose`, then
/// `dlopen`): the trace says so with a `module` line that replaces the
/// first over the same range, and each stack is of the module lines
/// declared before it, so a stack captured in the first library is named
/// from it, and the same addresses captured in the second from the second
/// (`TraceSymbols`). Both were named from the last one, and the two stacks
/// were one.
@Suite struct ReplacedModuleTests {
  /// Two libraries whose one function is at the same offset
  /// (`entry_a`, `entry_b`), and that offset.
  static func libraries(in directory: URL) throws -> (a: String, b: String, offset: UInt64)? {
    guard
      let gcc = ["/usr/bin/gcc", "/usr/bin/cc"].first(where: FileManager.default.isExecutableFile)
    else { return nil }
    var offsets: [UInt64] = []
    var paths: [String] = []
    for name in ["a", "b"] {
      let source = directory.appendingPathComponent("\(name).c")
      try Data("int entry_\(name)(int x) { return x * 3 + 1; }\n".utf8).write(to: source)
      let library = directory.appendingPathComponent("lib\(name).so").path
      let build = Process()
      build.executableURL = URL(fileURLWithPath: gcc)
      build.arguments = ["-g", "-O1", "-fPIC", "-shared", source.path, "-o", library]
      try build.run()
      build.waitUntilExit()
      #expect(build.terminationStatus == 0)
      let nm = Process()
      let pipe = Pipe()
      nm.executableURL = URL(fileURLWithPath: "/usr/bin/nm")
      nm.arguments = [library]
      nm.standardOutput = pipe
      try nm.run()
      let listing = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
      nm.waitUntilExit()
      let line = try #require(
        listing.split(separator: "\n").first { $0.hasSuffix(" entry_\(name)") })
      offsets.append(try #require(UInt64(line.prefix { $0 != " " }, radix: 16)))
      paths.append(library)
    }
    #expect(offsets[0] == offsets[1])
    return (paths[0], paths[1], offsets[0])
  }

  @Test func eachStackIsNamedFromTheLibraryMappedWhenItWasDeclared() throws {
    let directory = FileManager.default.temporaryDirectory
      .appendingPathComponent("replaced-module-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    guard let (a, b, offset) = try Self.libraries(in: directory) else { return }
    // Each library's executable segment at its file offset 0x1000 (gcc's
    // and ld's layout of a small library), mapped at the same place.
    let base: UInt64 = 0x7f00_0000_0000
    let range = "0x\(String(base + 0x1000, radix: 16))-0x\(String(base + 0x2000, radix: 16)) 0x1000"
    let address = "0x\(String(base + offset + 1, radix: 16))"
    let text = """
      rawlockcheck-trace 1
      class A mutex
      class B mutex
      module \(range) \(a)
      stack s0 \(address)
      1 acquire A at=s0
      1 acquire B at=s0
      1 release B
      1 release A
      module \(range) \(b)
      stack s1 \(address)
      2 acquire B at=s1
      2 acquire A at=s1
      2 release A
      2 release B
      module \(range) \(a)
      stack s2 \(address)
      3 acquire B at=s2
      3 acquire A at=s2

      """
    let trace = directory.appendingPathComponent("t.rlt")
    try Data(text.utf8).write(to: trace)
    let binary = directory.appendingPathComponent("t.rltb")
    let converted = try ToolRun(["convert", trace.path, binary.path], in: directory)
    #expect(converted.status == 0, "\(converted.stderr)")
    for path in [trace.path, binary.path] {
      let run = try ToolRun(["report", "--format", "json", path], in: directory)
      #expect(run.status == 1, "\(run.stderr)")
      let document = try #require(
        try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
      let findings = try #require(document["findings"] as? [[String: Any]])
      // B -> A on thread 2 (libb) closes A -> B of thread 1 (liba); thread 3
      // (liba again) closes it too, from another stack: two findings.
      #expect(findings.count == 2, "\(run.stdout)")
      let functions = findings.map { finding in
        ((finding["frames"] as? [[String: Any]]) ?? []).compactMap { $0["function"] as? String }
      }
      #expect(functions == [["entry_b"], ["entry_a"]], "\(path): \(run.stdout)")
      for finding in findings {
        let chain = (finding["chain"] as? [[String: Any]]) ?? []
        let first = chain.first.flatMap { $0["frames"] as? [[String: Any]] } ?? []
        #expect(first.compactMap { $0["function"] as? String } == ["entry_a"], "\(path): \(chain)")
      }
    }
  }

  /// Runs `report --format json` on each of `traces` (names and texts) in
  /// a directory of their own, given `extra` arguments; the runs.
  static func report(_ traces: [(String, String)], _ extra: [String] = []) throws -> ToolRun {
    let directory = FileManager.default.temporaryDirectory
      .appendingPathComponent("replaced-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    for (name, text) in traces {
      try Data(text.utf8).write(to: directory.appendingPathComponent(name))
    }
    return try ToolRun(["report", "--format", "json"] + extra + traces.map(\.0), in: directory)
  }

  static func findings(_ run: ToolRun) throws -> [[String: Any]] {
    let document = try #require(
      try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any],
      "\(run.stdout) \(run.stderr)")
    return try #require(document["findings"] as? [[String: Any]])
  }

  /// A replaced module too large for its relocated place (a hostile
  /// trace's range to the top of the address space) is looked up where it
  /// is: it wrapped past 2^64 and the symbolizer trapped.
  @Test func aReplacedModuleTooLargeToMoveIsLookedUpWhereItIs() throws {
    let run = try Self.report([
      (
        "t.rlt",
        """
        rawlockcheck-trace 1
        class A mutex
        class B mutex
        module 0x1000-0xffffffffffffffff 0 /nonexistent/liba.so
        stack s0 0x1100
        1 acquire A at=s0
        1 acquire B at=s0
        1 release B
        1 release A
        module 0x1000-0x2000 0 /nonexistent/libb.so
        stack s1 0x1100
        2 acquire B at=s1
        2 acquire A at=s1

        """
      )
    ])
    #expect(run.status == 1, "\(run.stderr)")
    #expect(try Self.findings(run).count == 1)
  }

  /// A stack declared before any module line holds its addresses is the
  /// same stack as those addresses declared after one, whatever another
  /// range's libraries do: one finding, not two.
  @Test func aStackDeclaredBeforeItsModulesIsOneWithItsRepeat() throws {
    let run = try Self.report([
      (
        "t.rlt",
        """
        rawlockcheck-trace 1
        class A mutex
        stack s0 0x1100
        1 acquire A at=s0
        1 acquire A at=s0
        module 0x5000-0x6000 0 /nonexistent/x.so
        module 0x5000-0x6000 0 /nonexistent/y.so
        module 0x1000-0x2000 0 /nonexistent/a.so
        stack s1 0x1100
        2 acquire A at=s1
        2 acquire A at=s1

        """
      )
    ])
    #expect(try Self.findings(run).count == 1, "\(run.stdout)")
  }

  /// Merged traces fold a finding of the same site: a stack of libb
  /// (declared after libb replaced liba) is libb's site, not liba's.
  @Test func mergedFindingsAreKeyedByTheLibraryInForce() throws {
    let finding = """
      stack s0 0x7100
      1 acquire A at=s0
      1 acquire A at=s0

      """
    let header = "rawlockcheck-trace 1\nclass A mutex\n"
    let liba = "module 0x7000-0x8000 0x1000 /nonexistent/liba.so\n"
    let libb = "module 0x7000-0x8000 0x1000 /nonexistent/libb.so\n"
    let both = ("m1.rlt", header + liba + libb + finding)
    let onlyA = ("m2.rlt", header + liba + finding)
    let onlyB = ("m3.rlt", header + libb + finding)
    #expect(try Self.findings(Self.report([both, onlyA], ["--merge"])).count == 2)
    #expect(try Self.findings(Self.report([both, onlyB], ["--merge"])).count == 1)
  }
}
