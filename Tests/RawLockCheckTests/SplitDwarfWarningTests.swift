import Foundation
import Testing

/// A `-gsplit-dwarf` build keeps its functions and inlined calls in `.dwo`
/// files beside its objects; where they are gone (moved, deleted, packed
/// into a `.dwp`, which libdw 0.188 does not read), frames are named from
/// the symbol table without their inlined calls. That is said, naming the
/// `.dwo` file where the compiler wrote it, once its addresses were looked
/// up: by `symbolize` and by `report` (each module once per run).
@Suite struct SplitDwarfWarningTests {
  /// A shared library built with `-gsplit-dwarf` in a directory of its
  /// own, and the address just past the start of its `entry` (nil where
  /// there is no gcc).
  static func library() throws -> (directory: URL, path: String, dwo: String, entry: UInt64)? {
    guard
      let gcc = ["/usr/bin/gcc", "/usr/bin/cc"].first(where: FileManager.default.isExecutableFile)
    else { return nil }
    let directory = FileManager.default.temporaryDirectory
      .appendingPathComponent("split-dwarf-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    try Data(
      """
      static inline __attribute__((always_inline)) int twice(int x) { return x * 2 + 1; }
      __attribute__((noinline)) int entry(int x) { return twice(x) + twice(x + 3); }

      """.utf8
    ).write(to: directory.appendingPathComponent("unit.c"))
    let build = Process()
    build.executableURL = URL(fileURLWithPath: gcc)
    build.currentDirectoryURL = directory
    build.arguments = ["-O2", "-g", "-gsplit-dwarf", "-fPIC", "-c", "unit.c", "-o", "unit.o"]
    try build.run()
    build.waitUntilExit()
    let link = Process()
    link.executableURL = URL(fileURLWithPath: gcc)
    link.currentDirectoryURL = directory
    link.arguments = ["-shared", "unit.o", "-o", "libunit.so"]
    try link.run()
    link.waitUntilExit()
    #expect(build.terminationStatus == 0 && link.terminationStatus == 0)
    let path = directory.appendingPathComponent("libunit.so").path
    let dwo = directory.resolvingSymlinksInPath().appendingPathComponent("unit.dwo").path
    #expect(FileManager.default.fileExists(atPath: dwo), "gcc wrote no unit.dwo")
    let entry = try #require(Self.function("entry", in: path))
    return (directory, path, dwo, entry + 1)
  }

  /// The address of global function `name` in `library`, from `nm`.
  static func function(_ name: String, in library: String) -> UInt64? {
    let run = try? ToolRun.command("/usr/bin/nm", [library])
    for line in (run?.stdout ?? "").split(separator: "\n") {
      let fields = line.split(separator: " ")
      if fields.count == 3, fields[1] == "T", fields[2] == name {
        return UInt64(fields[0], radix: 16)
      }
    }
    return nil
  }

  @Test func symbolizeSaysWhichSplitDwarfFileIsMissing() throws {
    guard let lib = try Self.library() else { return }
    defer { try? FileManager.default.removeItem(at: lib.directory) }
    let address = "0x" + String(lib.entry, radix: 16)
    let whole = try ToolRun(["symbolize", "--exe", lib.path, address])
    #expect(whole.status == 0)
    #expect(!whole.stderr.contains("split DWARF"), "\(whole.stderr)")
    #expect(whole.stdout.contains("entry at "), "\(whole.stdout)")

    try FileManager.default.removeItem(atPath: lib.dwo)
    let run = try ToolRun(["symbolize", "--exe", lib.path, address])
    #expect(run.status == 0)
    #expect(run.stdout.contains("entry"), "\(run.stdout)")
    #expect(
      run.stderr.contains("split DWARF file not found (\(lib.dwo);"), "\(run.stderr)")
    #expect(run.stderr.split(separator: "\n").count == 1, "\(run.stderr)")
  }

  @Test func reportSaysItOnceAfterTheReport() throws {
    guard let lib = try Self.library() else { return }
    defer { try? FileManager.default.removeItem(at: lib.directory) }
    try FileManager.default.removeItem(atPath: lib.dwo)
    let base: UInt64 = 0x7f00_0000_0000
    let trace = """
      rawlockcheck-trace 1
      module 0x\(String(base, radix: 16))-0x\(String(base + 0x10_0000, radix: 16)) 0 \(lib.path)
      stack s 0x\(String(base + lib.entry, radix: 16))
      class R raw_spinlock
      class M mutex
      1 acquire R at=s
      1 acquire M at=s

      """
    let file = lib.directory.appendingPathComponent("t.rlt")
    try Data(trace.utf8).write(to: file)
    // Two traces of one build share a symbolizer: said once.
    let run = try ToolRun(["report", file.path, file.path])
    #expect(run.status == 1)
    let said = run.stderr.split(separator: "\n").filter { $0.contains("split DWARF") }
    #expect(said.count == 1, "\(run.stderr)")
    #expect(
      said.first?.contains("module \(lib.path): split DWARF file not found (\(lib.dwo);") == true,
      "\(run.stderr)")
    // `graph` draws each edge with its first stack: said there too.
    let graph = try ToolRun(["graph", "--format", "json", file.path])
    #expect(graph.status == 0, "\(graph.stderr)")
    #expect(graph.stderr.contains("split DWARF file not found"), "\(graph.stderr)")
  }
}
