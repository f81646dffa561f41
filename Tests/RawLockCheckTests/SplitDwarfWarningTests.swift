import Foundation
import Testing

/// The C compiler, if any.
private let splitDwarfCompiler = ["/usr/bin/gcc", "/usr/bin/cc"].first(
  where: FileManager.default.isExecutableFile)

/// A `-gsplit-dwarf` build keeps its functions and inlined calls in `.dwo`
/// files beside its objects; where they are gone (moved, deleted, packed
/// into a `.dwp`, which libdw 0.188 does not read), frames are named from
/// the symbol table without their inlined calls. That is said, naming the
/// `.dwo` file where the compiler wrote it, once its addresses were looked
/// up: by `symbolize` and by `report` (each module once per run).
@Suite(.enabled(if: splitDwarfCompiler != nil, "no gcc"))
struct SplitDwarfWarningTests {

  /// A shared library built with `-gsplit-dwarf` in a directory of its
  /// own, and the address just past the start of its `entry` (nil where
  /// there is no gcc).
  static func library() throws -> (directory: URL, path: String, dwo: String, entry: UInt64)? {
    guard let gcc = splitDwarfCompiler else { return nil }
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

  /// `symbolize` says nothing while the `.dwo` file is there, and once
  /// it is gone names it, once, after the answers (which still come).
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

  /// A `.dwo` file that is there but in which libdw finds no split unit
  /// (damaged here; gcc 12's type units, `-fdebug-types-section`, are
  /// another case) is said to be unreadable, not missing.
  @Test func aSplitDwarfFileThatIsThereButUnreadableIsNotCalledMissing() throws {
    guard let lib = try Self.library() else { return }
    defer { try? FileManager.default.removeItem(at: lib.directory) }
    try Data("not an ELF file".utf8).write(to: URL(fileURLWithPath: lib.dwo))
    let run = try ToolRun(["symbolize", "--exe", lib.path, "0x" + String(lib.entry, radix: 16)])
    #expect(run.status == 0)
    #expect(run.stdout.contains("entry"), "\(run.stdout)")
    #expect(
      run.stderr.contains(
        "split DWARF file not readable (\(lib.dwo): libdw found no split unit in it)"),
      "\(run.stderr)")
  }

  /// `report` says it once a run, for each format (JSON of one trace is
  /// made as it is printed, at the run's end), for `--merge`, and for
  /// `graph`; nothing while the `.dwo` file is there.
  @Test func reportSaysItOnceAfterTheReport() throws {
    guard let lib = try Self.library() else { return }
    defer { try? FileManager.default.removeItem(at: lib.directory) }
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
    func said(_ arguments: [String]) throws -> [Substring] {
      let run = try ToolRun(arguments)
      #expect(run.status == (arguments.first == "graph" ? 0 : 1), "\(arguments) \(run.stderr)")
      return run.stderr.split(separator: "\n").filter { $0.contains("split DWARF") }
    }
    #expect(try said(["report", file.path]).isEmpty)
    try FileManager.default.removeItem(atPath: lib.dwo)
    let expected = "module \(lib.path): split DWARF file not found (\(lib.dwo);"
    for arguments in [
      // Two traces of one build share a symbolizer: said once.
      ["report", file.path, file.path],
      ["report", "--format", "json", file.path],
      ["report", "--format", "json", file.path, file.path],
      ["report", "--format", "sarif", file.path, file.path],
      ["report", "--merge", "--format", "json", file.path, file.path],
      ["report", "--merge", file.path, file.path],
      // Each edge is drawn with its first stack.
      ["graph", "--format", "json", file.path],
    ] {
      let lines = try said(arguments)
      #expect(lines.count == 1, "\(arguments): \(lines)")
      #expect(lines.first?.contains(expected) == true, "\(arguments): \(lines)")
    }
  }
}
