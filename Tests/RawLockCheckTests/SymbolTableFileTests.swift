import Foundation
import LockGraph
import Report
import Symbolizer
import Testing

/// A library without DWARF names a local function's file only by the
/// `STT_FILE` symbol before it: `llvm-symbolizer` prints it (`crtstuff.c:0:0`
/// for every function of such a Swift library, whose only file symbols are
/// the C runtime's), and so does `symbolize`; a report leaves it out rather
/// than print a file the code is not in.
@Suite struct SymbolTableFileTests {
  @Test func aReportLeavesOutAFileKnownOnlyFromTheSymbolTable() throws {
    guard
      let gcc = ["/usr/bin/gcc", "/usr/bin/cc"].first(where: FileManager.default.isExecutableFile)
    else { return }
    let directory = FileManager.default.temporaryDirectory
      .appendingPathComponent("symtab-file-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    let source = directory.appendingPathComponent("hinted.c")
    try Data(
      """
      __attribute__((noinline)) static int helper(int x) { return x * 3 + 1; }
      int entry(int x) { return helper(x) + 1; }

      """.utf8
    ).write(to: source)
    let library = directory.appendingPathComponent("libhinted.so").path
    let build = Process()
    build.executableURL = URL(fileURLWithPath: gcc)
    // No -g: a symbol table with its file symbols, and no DWARF.
    build.arguments = ["-O1", "-fPIC", "-shared", source.path, "-o", library]
    try build.run()
    build.waitUntilExit()
    #expect(build.terminationStatus == 0)
    let symbolizer = Symbolizer(executable: library)
    let helper = try #require(Self.localFunction("helper", in: library))
    let frames = symbolizer.symbolize(helper + 1).frames
    #expect(frames.map(\.function) == ["helper"])
    #expect(frames.first?.file == "hinted.c")
    #expect(frames.first?.line == 0)
    #expect(frames.first?.fileIsFromSymbolTable == true)

    let resolver = SymbolizingFrameResolver(
      symbolizer: symbolizer, stacks: { _ in [helper + 1] }, filter: FrameFilterChoice())
    let reported = resolver.frames(for: Origin(stack: StackID(0)))
    #expect(reported.map(\.function) == ["helper"])
    #expect(reported.first?.file == nil)
    #expect(reported.first?.reportText == "helper")
  }

  /// The address of local function `name` in `library`, from `nm`.
  static func localFunction(_ name: String, in library: String) -> UInt64? {
    let nm = Process()
    nm.executableURL = URL(fileURLWithPath: "/usr/bin/nm")
    nm.arguments = [library]
    let pipe = Pipe()
    nm.standardOutput = pipe
    guard (try? nm.run()) != nil else { return nil }
    let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    nm.waitUntilExit()
    for line in output.split(separator: "\n") {
      let fields = line.split(separator: " ")
      if fields.count == 3, fields[1] == "t", fields[2] == name {
        return UInt64(fields[0], radix: 16)
      }
    }
    return nil
  }
}
