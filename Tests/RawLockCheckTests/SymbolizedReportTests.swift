import Foundation
import Testing

/// `rawlockcheck report` symbolizes a trace's stacks through its `module`
/// lines: the tool's own binary, mapped at a PIE bias as a loaded process
/// would have it.
@Suite struct SymbolizedReportTests {
  static func shell(_ command: String) throws -> String {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/bin/sh")
    p.arguments = ["-c", command]
    let out = Pipe()
    p.standardOutput = out
    try p.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return String(decoding: data, as: UTF8.self)
  }

  /// What the toolchain's llvm-symbolizer (the oracle) calls the function
  /// at `main`'s address: SwiftPM renames a testable executable's entry.
  static func oracleName() throws -> String {
    let tool = FixturePaths.tool.path
    let answer = try shell(
      "LS=$(dirname $(readlink -f $(command -v swift)))/llvm-symbolizer; "
        + "$LS --obj='\(tool)' 0x$(nm '\(tool)' | awk '$3 == \"main\" { print $1 }') | head -1")
    return answer.trimmingCharacters(in: .whitespacesAndNewlines)
  }

  /// A trace whose one stack is `main`+1 of the tool, loaded at `bias`;
  /// `innermost` (link-time addresses) are pushed in front of it.
  /// `path`: the module's recorded path (the tool's by default).
  /// `ipOnly`: the acquisition names its one return address (`ip=`, the
  /// address after `main`'s first byte) and the trace has no `stack` line.
  static func trace(
    buildID: String?, innermost: [UInt64] = [], path: String? = nil, ipOnly: Bool = false
  ) throws -> URL {
    let tool = FixturePaths.tool.path
    let bias: UInt64 = 0x5555_5555_4000
    // The executable PT_LOAD: offset, vaddr, filesz.
    let load = try shell(
      "readelf -lW '\(tool)' | awk '$1 == \"LOAD\" && / R E / { print $2, $3, $5; exit }'"
    )
    .split(separator: " ").map {
      UInt64($0.trimmingCharacters(in: .whitespacesAndNewlines).dropFirst(2), radix: 16)!
    }
    let main = try shell("nm '\(tool)' | awk '$3 == \"main\" { print $1 }'")
      .trimmingCharacters(in: .whitespacesAndNewlines)
    let mainAddress = UInt64(main, radix: 16)!
    let realID = try shell("readelf -n '\(tool)' | awk '/Build ID/ { print $3 }'")
      .trimmingCharacters(in: .whitespacesAndNewlines)
    let start = bias + load[1]
    let addresses = (innermost + [mainAddress + 1]).map { "0x" + String(bias + $0, radix: 16) }
    let stack = ipOnly ? "" : "stack s1 \(addresses.joined(separator: " "))\n"
    let text = """
      rawlockcheck-trace 1
      module 0x\(String(start, radix: 16))-0x\(String(start + load[2], radix: 16)) 0x\(String(load[0], radix: 16)) \(path ?? tool) build-id=\(buildID ?? realID)
      \(stack)class raw raw_spinlock
      class m mutex
      1 acquire raw
      1 acquire m \(ipOnly ? "ip=\(addresses[0])" : "at=s1")
      """
    let url = FileManager.default.temporaryDirectory.appendingPathComponent(
      "sym-\(buildID ?? "real")-\(innermost.count)-\(path == nil ? "tool" : "moved")\(ipOnly ? "-ip" : "").rlt"
    )
    try Data(text.utf8).write(to: url)
    return url
  }

  @Test func stackFramesAreSymbolizedFromDWARF() throws {
    let url = try Self.trace(buildID: nil)
    let run = try ToolRun(["report", url.path])
    #expect(run.status == 1)
    let name = try Self.oracleName()
    #expect(!name.isEmpty)
    #expect(run.stdout.contains("#0 \(name) /"), "\(run.stdout.prefix(600))")
    #expect(run.stdout.contains("main.swift:"), "file:line of main")
    #expect(run.stderr.isEmpty)
  }

  /// A trace without stacks, whose acquisitions name their return address
  /// (`ip=`, spec/trace-format.md), is symbolized through its modules too.
  @Test func aReturnAddressWithoutStacksIsSymbolized() throws {
    let url = try Self.trace(buildID: nil, ipOnly: true)
    let run = try ToolRun(["report", url.path])
    #expect(run.status == 1)
    let name = try Self.oracleName()
    #expect(run.stdout.contains("#0 \(name) /"), "\(run.stdout.prefix(600))")
    #expect(run.stderr.isEmpty)
  }

  /// A trace with modules but neither stacks nor return addresses has no
  /// frame to show: its modules are not opened, nor said missing; with
  /// `ip=`, a missing module is said, and its frames print as
  /// `module+0xoffset`.
  @Test func modulesAreOpenedOnlyForFramesToShow() throws {
    func run(_ ip: String) throws -> ToolRun {
      let url = FileManager.default.temporaryDirectory.appendingPathComponent(
        "modules-\(UUID().uuidString).rlt")
      defer { try? FileManager.default.removeItem(at: url) }
      let text = """
        rawlockcheck-trace 1
        module 0x1000-0x2000 0 /nonexistent/libx.so
        class A mutex
        1 acquire A\(ip)
        1 acquire A\(ip)

        """
      try Data(text.utf8).write(to: url)
      return try ToolRun(["report", url.path])
    }
    let none = try run("")
    #expect(none.status == 1)
    #expect(none.stderr.isEmpty, "\(none.stderr)")
    let ip = try run(" ip=0x1100")
    #expect(ip.stderr.contains("module /nonexistent/libx.so not found"))
    #expect(ip.stdout.contains("#0 libx.so+0x100"))
    // Only a dependency's first acquisition has a return address: its link
    // of the cycle is symbolized too.
    let url = FileManager.default.temporaryDirectory.appendingPathComponent(
      "modules-chain-\(UUID().uuidString).rlt")
    defer { try? FileManager.default.removeItem(at: url) }
    try Data(
      """
      rawlockcheck-trace 1
      module 0x1000-0x2000 0 /nonexistent/libx.so
      class A mutex
      class B mutex
      1 acquire A ip=0x1100
      1 acquire B ip=0x1200
      1 release B
      1 release A
      2 acquire B
      2 acquire A

      """.utf8
    ).write(to: url)
    let chain = try ToolRun(["report", url.path])
    #expect(chain.status == 1)
    #expect(chain.stdout.contains("libx.so+0x200"), "\(chain.stdout)")
  }

  /// A trace that records no module takes no `--binary`: the file is said
  /// unused (a wrong trace or a typo), by `report` and `graph` alike.
  @Test(arguments: [["report"], ["graph"]])
  func aBinaryForATraceWithoutModulesIsSaidUnused(command: [String]) throws {
    let run = try ToolRun(command + ["--binary", "/bin/sh", "findings/circular-abba.rlt"])
    #expect(
      run.stderr
        == "rawlockcheck: findings/circular-abba.rlt: --binary /bin/sh is no module of this trace (it records no module)\n"
    )
  }

  /// `--binary` (spec/reports.md): the binary is no longer where the trace
  /// recorded it; the file named takes the module of its build-id.
  @Test func binaryOptionFindsAMovedExecutable() throws {
    let url = try Self.trace(buildID: nil, path: "/nonexistent/moved/rawlockcheck")
    let name = try Self.oracleName()
    let lost = try ToolRun(["report", url.path])
    #expect(lost.status == 1)
    #expect(!lost.stdout.contains("main.swift:"))
    #expect(lost.stderr.contains("module /nonexistent/moved/rawlockcheck not found"))
    let found = try ToolRun(["report", "--binary", FixturePaths.tool.path, url.path])
    #expect(found.status == 1)
    #expect(found.stdout.contains("#0 \(name) /"), "\(found.stdout.prefix(600))")
    #expect(found.stdout.contains("main.swift:"))
    #expect(found.stderr.isEmpty, "\(found.stderr)")
    // A file of no module of the trace: a warning naming it.
    let other = try ToolRun(["report", "--binary", "/bin/sh", url.path])
    #expect(other.stderr.contains("--binary /bin/sh is no module of this trace"))
    // The module's file name, another build: not taken, and said so.
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("rebuilt-\(UUID())")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    let rebuilt = dir.appendingPathComponent("rawlockcheck").path
    try FileManager.default.copyItem(
      atPath: URL(fileURLWithPath: "/bin/sh").resolvingSymlinksInPath().path, toPath: rebuilt)
    let wrong = try ToolRun(["report", "--binary", rebuilt, url.path])
    #expect(!wrong.stdout.contains("main.swift:"))
    #expect(
      wrong.stderr.contains(
        "--binary \(rebuilt) was not used for module /nonexistent/moved/rawlockcheck of this trace"),
      "\(wrong.stderr)")
    // Not an ELF file: bad usage, one line.
    let bad = try ToolRun(["report", "--binary", url.path, url.path])
    #expect(bad.status == 2)
    #expect(
      bad.stderr
        == "rawlockcheck: --binary \(url.path): not an ELF file (see 'rawlockcheck report --help')\n"
    )
    let graph = try ToolRun(
      ["graph", "--format", "json", "--binary", FixturePaths.tool.path, url.path])
    #expect(graph.status == 0 || graph.status == 1)
    #expect(graph.stderr.isEmpty, "\(graph.stderr)")
  }

  @Test func aRebuiltBinaryIsMarkedStale() throws {
    let url = try Self.trace(buildID: "00112233445566778899aabbccddeeff00112233")
    let run = try ToolRun(["report", url.path])
    #expect(run.status == 1)
    #expect(run.stdout.contains("[stale binary]"))
    #expect(!run.stdout.contains("main.swift"), "no names from the wrong binary")
    #expect(run.stderr.contains("another build-id"))
  }

  /// `--hide-frames` leaves out the leading frames of the named functions
  /// (here: one of the tool's own Symbolizer functions on top of `main`).
  @Test func hideFramesDropsLeadingFramesByName() throws {
    let tool = FixturePaths.tool.path
    let line = try Self.shell(
      "nm '\(tool)' | awk '$2 ~ /^[tT]$/ && $3 ~ /^\\$s10Symbolizer0A6EngineC/ { print $1, $3; exit }'"
    ).split(separator: " ")
    #expect(line.count == 2)
    let address = UInt64(line[0], radix: 16)! + 1
    let url = try Self.trace(buildID: nil, innermost: [address])
    let plain = try ToolRun(["report", url.path])
    let hidden = try ToolRun(["report", "--hide-frames", "$s10Symbolizer", url.path])
    // The same by the Swift module's name (demangled names do not carry it).
    let byModule = try ToolRun(["report", "--hide-frames", "Symbolizer", url.path])
    #expect(byModule.stdout == hidden.stdout)
    let name = try Self.oracleName()
    #expect(plain.status == 1 && hidden.status == 1)
    #expect(!plain.stdout.contains("#0 \(name) /"), "\(plain.stdout.prefix(800))")
    #expect(plain.stdout.contains("SymbolizerEngine"), "\(plain.stdout.prefix(800))")
    #expect(hidden.stdout.contains("#0 \(name) /"), "\(hidden.stdout.prefix(800))")
    #expect(!hidden.stdout.contains("SymbolizerEngine"), "\(hidden.stdout.prefix(800))")
  }

  @Test func symbolizeCommandPrintsInlineChains() throws {
    let tool = FixturePaths.tool.path
    let main = try Self.shell("nm '\(tool)' | awk '$3 == \"main\" { print $1 }'")
      .trimmingCharacters(in: .whitespacesAndNewlines)
    let run = try ToolRun(["symbolize", "--exe", tool, "--format", "json", "0x" + main])
    #expect(run.status == 0)
    let object = try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any]
    let frames = object?["frames"] as? [[String: Any]]
    #expect(frames?.last?["function"] as? String == (try Self.oracleName()))
    let bad = try ToolRun(["symbolize", "--exe", tool, "nonsense"])
    #expect(bad.status == 2)
    #expect(bad.stderr == "rawlockcheck: argument 1: expected an address, got \"nonsense\"\n")
  }
}
