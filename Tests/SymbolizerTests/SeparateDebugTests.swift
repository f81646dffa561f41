import Basics
import Foundation
import XCTest

@testable import Symbolizer

/// Separate debug files found by GNU build-id (`<root>/.build-id/xx/yyyy.debug`):
/// a stripped executable symbolized like `llvm-symbolizer --debug-file-directory`,
/// and a trace module whose file is gone but whose build-id names a file under
/// a debug root (a full copy of the binary, or only `objcopy --only-keep-debug`
/// output, whose program headers have no file contents behind them).
///
/// Everything readelf, nm and objcopy say is taken from the tools, not from
/// the code under test.
final class SeparateDebugTests: XCTestCase {
  /// One `PT_LOAD` segment as `readelf -lW` prints it.
  struct Segment: Sendable {
    var offset: UInt64
    var vaddr: UInt64
    var fileSize: UInt64
    var memorySize: UInt64
  }

  /// A build of the C fixture and what the binutils say about it.
  struct Build: Sendable {
    var path: String
    var buildID: String
    /// The executable `PT_LOAD` segment.
    var exec: Segment
    /// `objcopy --only-keep-debug` of `path`.
    var debugOnly: String
    /// `nm -S` function symbols of `path` (unstripped).
    var functions: [(name: String, start: UInt64, size: UInt64)]

    func function(_ name: String) throws -> (name: String, start: UInt64, size: UInt64) {
      try XCTUnwrap(functions.first { $0.name == name }, "\(name) not in nm output")
    }
  }

  static let directory = NSTemporaryDirectory() + "separate-debug-\(getpid())"

  /// PIE, linked with `-rdynamic` so that its global functions are in `.dynsym`.
  static let pie = Result { try makeBuild(name: "cfix-pie", linkFlags: ["-rdynamic"]) }
  /// Not PIE: the executable segment's address differs from its file offset
  /// (0x401000 at offset 0x1000), and the load bias is 0.
  static let fixedAddress = Result { try makeBuild(name: "cfix-nopie", linkFlags: ["-no-pie"]) }

  /// PIE linked by lld: the executable segment's address is its file offset
  /// plus a page (0x1c60 at 0xc60), so a mapping's start minus its file
  /// offset is not the bias.
  static let lldPIE = Result {
    guard FixtureSupport.which("ld.lld") != nil else { throw XCTSkip("ld.lld not installed") }
    return try makeBuild(name: "cfix-lld", linkFlags: ["-fuse-ld=lld", "-rdynamic"])
  }

  override class func tearDown() {
    try? FileManager.default.removeItem(atPath: directory)
    super.tearDown()
  }

  // MARK: Stripped executable, debug file by build-id

  func testStrippedExecutableUsesBuildIDDebugFileLikeLLVMSymbolizer() throws {
    let build = try Self.pie.get()
    try assertStrippedMatchesLLVMSymbolizer(build, debugFile: build.debugOnly)
  }

  /// The same with the debug file's sections compressed (`objcopy
  /// --compress-debug-sections=zlib`, as Debian ships them): the symbolizer
  /// inflates them itself (`DwarfImage`), and the answers must not change.
  /// Offline trace modules found as that file must keep their bias too.
  func testCompressedDebugFileIsInflatedAndMatchesLLVMSymbolizer() throws {
    let builds = [
      (try Self.pie.get(), 0x5555_5555_0000 as UInt64), (try Self.fixedAddress.get(), 0),
    ]
    for (build, base) in builds {
      let compressed = build.debugOnly + ".zlib"
      try Self.tool("objcopy", ["--compress-debug-sections=zlib", build.debugOnly, compressed])
      let info = try Self.tool("readelf", ["-SW", compressed]).split(separator: "\n").first {
        $0.contains(" .debug_info ")
      }
      // readelf's flags column: C is SHF_COMPRESSED.
      XCTAssertTrue(
        try XCTUnwrap(info).split(separator: " ").contains { $0.hasSuffix("C") },
        "objcopy did not compress .debug_info: \(info ?? "")")
      XCTAssertNotNil(DwarfImage.open(path: compressed), "compressed DWARF not inflated by us")
      XCTAssertNil(DwarfImage.open(path: build.debugOnly), "uncompressed DWARF is libdw's to open")

      let root = try Self.debugRoot(placing: compressed, buildID: build.buildID)
      try assertOfflineMatchesExecutable(build, root: root, base: base)
    }
    // The PIE is linked with -rdynamic, as the stripped comparison needs.
    let pie = try Self.pie.get()
    try assertStrippedMatchesLLVMSymbolizer(pie, debugFile: pie.debugOnly + ".zlib")
  }

  /// The debug file a stripped executable's `.gnu_debuglink` names is
  /// found in `.debug/` beside it while `DEBUGINFOD_URLS` is set (as
  /// distributions set it system-wide: the whole local search was skipped
  /// then, and the static function had no name), and a FIFO where a debug
  /// file is looked for first (beside it) is passed over, not opened (its
  /// open blocked forever).
  func testDebuglinkFileIsFoundWithDebuginfodSetPastAFIFO() throws {
    let build = try Self.pie.get()
    let dir = Self.directory + "/debuglink-\(UUID().uuidString)"
    try FileManager.default.createDirectory(
      atPath: dir + "/.debug", withIntermediateDirectories: true)
    let stripped = dir + "/prog"
    try FileManager.default.copyItem(atPath: build.path, toPath: stripped)
    try Self.tool("strip", ["--strip-all", stripped])
    try FileManager.default.copyItem(atPath: build.debugOnly, toPath: dir + "/.debug/prog.debug")
    try Self.tool("objcopy", ["--add-gnu-debuglink=" + dir + "/.debug/prog.debug", stripped])
    XCTAssertEqual(mkfifo(dir + "/prog.debug", 0o600), 0)
    let helper = try build.function("static_helper").start
    for debuginfod in [true, false] {
      if debuginfod { setenv("DEBUGINFOD_URLS", "http://127.0.0.1:9/", 1) }
      defer { unsetenv("DEBUGINFOD_URLS") }
      final class Answer: @unchecked Sendable { var name: String?? = nil }
      let answer = Answer()
      let done = DispatchSemaphore(value: 0)
      _ = SpawnedThread {
        answer.name = Symbolizer(executable: stripped).symbolize(helper).frames.last?.linkageName
        done.signal()
      }
      guard done.wait(timeout: .now() + 60) == .success else {
        return XCTFail("the search for the debug file hung (debuginfod set: \(debuginfod))")
      }
      XCTAssertEqual(answer.name, "static_helper", "debuginfod set: \(debuginfod)")
    }
  }

  /// A module reached through a symbolic link has its debuglink file
  /// looked for beside the file the link names too, as libdwfl searches
  /// again from the real path (`/lib` on a merged-`/usr` system); and a
  /// stripped copy of the module where its own name is looked for is not
  /// taken for its debug file (libdwfl tries the module's own name only
  /// when there is no debuglink).
  func testDebuglinkFileIsFoundFromTheRealPathAndNotAsAStrippedCopy() throws {
    let build = try Self.pie.get()
    let dir = Self.directory + "/symlinked-\(UUID().uuidString)"
    for sub in ["/real", "/links", "/root/" + dir.dropFirst() + "/real"] {
      try FileManager.default.createDirectory(atPath: dir + sub, withIntermediateDirectories: true)
    }
    let stripped = dir + "/real/prog"
    try FileManager.default.copyItem(atPath: build.path, toPath: stripped)
    try Self.tool("strip", ["--strip-all", stripped])
    try FileManager.default.copyItem(atPath: build.debugOnly, toPath: dir + "/real/prog.debug")
    try Self.tool("objcopy", ["--add-gnu-debuglink=" + dir + "/real/prog.debug", stripped])
    try FileManager.default.createSymbolicLink(
      atPath: dir + "/links/prog", withDestinationPath: "../real/prog")
    // Under a debug root, where the module's directory's path leads: a
    // stripped copy named as the module (with its build-id), not its
    // debuglink's name.
    try FileManager.default.copyItem(atPath: stripped, toPath: dir + "/root" + dir + "/real/prog")
    let helper = try build.function("static_helper").start
    let linked = Symbolizer(executable: dir + "/links/prog").symbolize(helper).frames
    XCTAssertEqual(linked.last?.linkageName, "static_helper")
    try FileManager.default.removeItem(atPath: dir + "/real/prog.debug")
    try FileManager.default.copyItem(atPath: build.debugOnly, toPath: dir + "/root/prog.debug")
    let rooted = Symbolizer(executable: stripped, debugDirectories: [dir + "/root"])
    XCTAssertEqual(rooted.symbolize(helper).frames.last?.linkageName, "static_helper")
  }

  /// Strips a copy of `build` (keeping `.dynsym` and a debuglink), puts
  /// `debugFile` under a debug root by build-id, and compares every 3rd byte
  /// of every function with llvm-symbolizer given the same root.
  private func assertStrippedMatchesLLVMSymbolizer(_ build: Build, debugFile source: String)
    throws
  {
    guard FixtureSupport.llvmSymbolizer != nil else {
      throw XCTSkip("llvm-symbolizer not found next to swift")
    }
    let root = try Self.debugRoot(placing: source, buildID: build.buildID)
    let debugFile = Self.buildIDPath(root: root, buildID: build.buildID)
    let stripped = Self.directory + "/cfix-pie-stripped-\(UUID().uuidString)"
    try FileManager.default.copyItem(atPath: build.path, toPath: stripped)
    try Self.tool("strip", ["--strip-all", stripped])
    try Self.tool("objcopy", ["--add-gnu-debuglink=" + debugFile, stripped])

    // The stripped file really is stripped, keeps its build-id, and exports
    // the global functions but not the static one.
    let sections = try Self.tool("readelf", ["-SW", stripped])
    XCTAssertFalse(sections.contains(".symtab"), "strip left a .symtab")
    XCTAssertFalse(sections.contains(".debug_info"), "strip left DWARF")
    XCTAssertTrue(sections.contains(".dynsym"))
    XCTAssertEqual(try Self.readBuildID(stripped), build.buildID)
    let dynamic = try Self.tool("nm", ["-D", "--defined-only", stripped])
    XCTAssertTrue(dynamic.contains(" outer_work\n"), "outer_work not exported; -rdynamic ignored?")
    XCTAssertFalse(dynamic.contains("static_helper"))

    var addresses: [UInt64] = []
    for function in build.functions {
      addresses += stride(from: function.start, to: function.start + function.size, by: 3)
    }
    XCTAssertGreaterThan(addresses.count, 100, "too few code addresses found with nm")
    let expected = try XCTUnwrap(
      FixtureSupport.oracle(
        binary: stripped, addresses: addresses,
        extraArguments: ["--debug-file-directory=" + root]))
    XCTAssertEqual(expected.count, addresses.count)

    let symbolizer = Symbolizer(executable: stripped, debugDirectories: [root])
    XCTAssertEqual(symbolizer.modules.map(\.status), [.ok])
    var mismatches: [String] = []
    var inlinedSeen = 0
    for (address, oracle) in zip(addresses, expected) {
      let frames = symbolizer.symbolize(address).frames
      let ours = frames.map {
        FixtureSupport.OracleFrame(
          name: $0.linkageName ?? "??", location: "\(baseName($0.file ?? "??")):\($0.line)")
      }
      if ours.count > 1 { inlinedSeen += 1 }
      if ours != oracle {
        mismatches.append("0x\(String(address, radix: 16)): ours \(ours) oracle \(oracle)")
      }
      XCTAssertEqual(frames.map(\.isInlined), frames.indices.map { $0 < frames.count - 1 })
    }
    XCTAssertEqual(
      mismatches.count, 0,
      "\(mismatches.count) of \(addresses.count) differ:\n"
        + mismatches.prefix(10).joined(separator: "\n"))
    XCTAssertGreaterThan(inlinedSeen, 0, "no address had inlined frames")

    // A static function is only in the debug file (its .symtab and DWARF).
    let helper = try build.function("static_helper")
    let helperFrame = try XCTUnwrap(symbolizer.symbolize(helper.start).frames.last)
    XCTAssertEqual(helperFrame.linkageName, "static_helper")
    XCTAssertEqual(helperFrame.file.map(baseName), "inline.c")
    XCTAssertGreaterThan(helperFrame.line, 0)
    // The cold part of fixture::build is named `_ZN7fixture5buildEi.cold`
    // only in the debug file's .symtab; .dynsym does not cover it, so the
    // outermost frame takes the DWARF subprogram's name, as llvm-symbolizer does.
    let cold = try build.function("_ZN7fixture5buildEi.cold")
    XCTAssertEqual(
      symbolizer.symbolize(cold.start).frames.last?.linkageName, "_ZN7fixture5buildEi")

    // Control: without the debug root, the static function has no name.
    let bare = Symbolizer(executable: stripped)
    let bareFrames = bare.symbolize(helper.start).frames
    XCTAssertEqual(bareFrames.count, 1)
    XCTAssertNil(bareFrames.first?.name)
    XCTAssertNil(bareFrames.first?.file)
  }

  // MARK: Trace module found only under a debug root

  /// The executable mapping of the PIE fixture at a runtime base, the path
  /// gone, the unstripped binary at `<root>/.build-id/xx/yyyy.debug`.
  func testMissingModuleFoundAsBuildIDCopyOfBinary() throws {
    let build = try Self.pie.get()
    let root = try Self.debugRoot(placing: build.path, buildID: build.buildID)
    try assertOfflineMatchesExecutable(build, root: root, base: 0x5555_5555_0000)
  }

  /// The same with only the `--only-keep-debug` file under the build-id path:
  /// its program headers have `p_filesz == 0` (binutils objcopy also rewrites
  /// the executable segment's `p_offset` to 0), yet the mapping's bias must
  /// come out the same. With GNU ld's layout (`p_vaddr == p_offset`) even
  /// `start - fileOffset` is the right bias; the lld and non-PIE tests below
  /// are the ones where it is not.
  func testMissingModuleFoundAsDebugOnlyFile() throws {
    let build = try Self.pie.get()
    let root = try Self.debugRoot(placing: build.debugOnly, buildID: build.buildID)
    try assertOfflineMatchesExecutable(build, root: root, base: 0x5555_5555_0000)
  }

  /// The lld-linked PIE, with the full binary, then with only the debug
  /// file (which keeps the executable segment's `p_offset`).
  func testLLDPIEModuleFoundAsDebugOnlyFile() throws {
    let build = try Self.lldPIE.get()
    XCTAssertNotEqual(
      build.exec.vaddr & ~0xfff, build.exec.offset & ~0xfff, "fixture no longer tests this")
    let full = try Self.debugRoot(placing: build.path, buildID: build.buildID)
    try assertOfflineMatchesExecutable(build, root: full, base: 0x5555_5555_0000)
    let debugOnly = try Self.debugRoot(placing: build.debugOnly, buildID: build.buildID)
    try assertOfflineMatchesExecutable(build, root: debugOnly, base: 0x5555_5555_0000)
  }

  /// A non-PIE executable (bias 0, executable segment at 0x401000 from file
  /// offset 0x1000): with the full binary, then with only the debug file.
  /// Unlike the PIE fixture, whose executable segment has `p_vaddr ==
  /// p_offset`, a wrong bias here cannot go unnoticed.
  ///
  /// Fails at the time of writing, for the debug-only file only: no
  /// `PT_LOAD` of that file holds file offset 0x1000 (`p_offset` 0 and
  /// `p_filesz` 0 after objcopy), so `ElfFileInfo.bias` returns nil and the
  /// engine falls back to `start - fileOffset` = 0x400000. libdwfl ignores
  /// the bias of an ET_EXEC file, so lines still come out right, but every
  /// `moduleOffset` is 0x400000 too small and the own-symbol lookup misses
  /// (the `.cold` part loses its `.cold` name).
  func testNonPIEModuleFoundAsDebugOnlyFile() throws {
    let build = try Self.fixedAddress.get()
    XCTAssertNotEqual(build.exec.vaddr, build.exec.offset, "fixture no longer tests this")
    let full = try Self.debugRoot(placing: build.path, buildID: build.buildID)
    try assertOfflineMatchesExecutable(build, root: full, base: 0)
    let debugOnly = try Self.debugRoot(placing: build.debugOnly, buildID: build.buildID)
    try assertOfflineMatchesExecutable(build, root: debugOnly, base: 0)
  }

  /// A record for the executable mapping of `build` loaded at `base`, as
  /// `/proc/PID/maps` shows it, whose path does not exist; every byte of
  /// `outer_work` and every 3rd byte of every function must symbolize as
  /// the link-time address does with `Symbolizer(executable:)`.
  private func assertOfflineMatchesExecutable(
    _ build: Build, root: String, base: UInt64, file: StaticString = #filePath,
    line: UInt = #line
  ) throws {
    let exec = build.exec
    let start = base + (exec.vaddr & ~0xfff)
    let end = base + ((exec.vaddr + exec.memorySize + 0xfff) & ~0xfff)
    let record = ModuleRecord(
      start: start, end: end, fileOffset: exec.offset & ~0xfff, path: "/nonexistent/cfix",
      buildID: build.buildID)
    let offline = Symbolizer(modules: [record], debugDirectories: [root])
    XCTAssertEqual(offline.modules.map(\.status), [.ok], file: file, line: line)
    XCTAssertEqual(
      offline.modules.first?.resolvedPath, Self.buildIDPath(root: root, buildID: build.buildID),
      file: file, line: line)
    let reference = Symbolizer(executable: build.path)

    let outer = try build.function("outer_work")
    var links = Array(outer.start..<(outer.start + outer.size))
    for function in build.functions {
      links += stride(from: function.start, to: function.start + function.size, by: 3)
    }
    var frameMismatches: [String] = []
    var placeMismatches: [String] = []
    var inlinedSeen = 0
    let hex = { (value: UInt64) in "0x" + String(value, radix: 16) }
    for link in links {
      let runtime = base + link
      XCTAssertTrue(record.start <= runtime && runtime < record.end, file: file, line: line)
      let got = offline.symbolize(runtime).frames
      let want = reference.symbolize(link).frames
      if want.count > 1 { inlinedSeen += 1 }
      let describe = { (frames: [Frame]) in
        frames.map {
          "\($0.linkageName ?? "??")@\($0.file.map(baseName) ?? "??"):\($0.line):\($0.column)"
            + ($0.isInlined ? " (inlined)" : "")
        }
      }
      if describe(got) != describe(want) {
        frameMismatches.append(
          "\(hex(runtime)) (link \(hex(link))): offline \(describe(got)), "
            + "executable \(describe(want))")
      }
      if got.contains(where: { $0.moduleOffset != link || $0.address != runtime || $0.isStale }) {
        placeMismatches.append(
          "\(hex(runtime)): moduleOffset \(hex(got[0].moduleOffset)), expected \(hex(link))")
      }
    }
    XCTAssertEqual(
      frameMismatches.count, 0,
      "frames differ at \(frameMismatches.count) of \(links.count) addresses:\n"
        + frameMismatches.prefix(5).joined(separator: "\n"),
      file: file, line: line)
    XCTAssertEqual(
      placeMismatches.count, 0,
      "module offset wrong at \(placeMismatches.count) of \(links.count) addresses:\n"
        + placeMismatches.prefix(3).joined(separator: "\n"),
      file: file, line: line)
    XCTAssertGreaterThan(inlinedSeen, 0, "no address had inlined frames", file: file, line: line)
    // Checked by hand against inline.c.
    let outerFrames = offline.symbolize(base + outer.start).frames
    XCTAssertEqual(outerFrames.last?.linkageName, "outer_work", file: file, line: line)
    XCTAssertEqual(outerFrames.last?.file.map(baseName), "inline.c", file: file, line: line)
    let helper = try build.function("static_helper")
    XCTAssertEqual(
      offline.symbolize(base + helper.start).frames.last?.linkageName, "static_helper",
      file: file, line: line)
  }

  // MARK: Fixture builds and binutils

  private static func makeBuild(name: String, linkFlags: [String]) throws -> Build {
    for needed in ["gcc", "g++", "objcopy", "strip", "readelf", "nm"]
    where FixtureSupport.which(needed) == nil {
      throw XCTSkip("\(needed) not installed")
    }
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    let path = try XCTUnwrap(
      FixtureSupport.buildC(
        into: directory + "/" + name, gcc: FixtureSupport.which("gcc")!,
        gxx: FixtureSupport.which("g++")!, extraFlags: [], linkFlags: linkFlags),
      "gcc failed to build the C fixture with \(linkFlags)")
    let buildID = try readBuildID(path)
    let loads = try tool("readelf", ["-lW", path]).split(separator: "\n").compactMap {
      line -> (Segment, Bool)? in
      let fields = line.split(separator: " ")
      guard fields.count >= 8, fields[0] == "LOAD" else { return nil }
      let numbers = fields[1...5].map { UInt64($0.dropFirst(2), radix: 16) }
      guard numbers.allSatisfy({ $0 != nil }) else { return nil }
      let flags = fields[6..<(fields.count - 1)].joined()
      return (
        Segment(
          offset: numbers[0]!, vaddr: numbers[1]!, fileSize: numbers[3]!,
          memorySize: numbers[4]!), flags.contains("E")
      )
    }
    let exec = try XCTUnwrap(loads.first { $0.1 }?.0, "no executable PT_LOAD in readelf -lW")
    let debugOnly = path + ".debug"
    try tool("objcopy", ["--only-keep-debug", path, debugOnly])
    let functions = FixtureSupport.functions(of: path)
    return Build(
      path: path, buildID: buildID, exec: exec, debugOnly: debugOnly, functions: functions)
  }

  /// The GNU build-id of `path` in hex, from `readelf -n`.
  private static func readBuildID(_ path: String) throws -> String {
    let notes = try tool("readelf", ["-n", path])
    let line = try XCTUnwrap(
      notes.split(separator: "\n").first { $0.contains("Build ID:") }, "no build-id in \(path)")
    let hex = String(line.split(separator: " ").last ?? "")
    XCTAssertGreaterThan(hex.count, 2)
    return hex
  }

  /// `<root>/.build-id/xx/yyyy.debug`.
  private static func buildIDPath(root: String, buildID: String) -> String {
    "\(root)/.build-id/\(buildID.prefix(2))/\(buildID.dropFirst(2)).debug"
  }

  /// A fresh debug root with a copy of `file` as the build-id's debug file,
  /// and nothing else.
  private static func debugRoot(placing file: String, buildID: String) throws -> String {
    let root = directory + "/root-\(UUID().uuidString)"
    let target = buildIDPath(root: root, buildID: buildID)
    try FileManager.default.createDirectory(
      atPath: (target as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
    try FileManager.default.copyItem(atPath: file, toPath: target)
    return root
  }

  /// Runs a binutils tool; throws (a skip when it is missing) unless it succeeds.
  @discardableResult
  private static func tool(_ name: String, _ arguments: [String]) throws -> String {
    guard let path = FixtureSupport.which(name) else { throw XCTSkip("\(name) not installed") }
    let result = FixtureSupport.run(path, arguments)
    guard result.status == 0 else {
      throw NSError(
        domain: "SeparateDebugTests", code: Int(result.status),
        userInfo: [NSLocalizedDescriptionKey: "\(name) \(arguments) failed"])
    }
    return result.output
  }
}
