import Basics
import XCTest

@testable import Symbolizer

/// Our answers against llvm-symbolizer's for many addresses of the fixture
/// binaries: the same number of frames, the same linkage name and the same
/// basename:line at every inline level.
final class OracleTests: XCTestCase {
  func testCFixtureMatchesLLVMSymbolizer() throws {
    let binary = try FixtureSupport.cProgram()
    try compareWithOracle(binary: binary, expectInlinedFrames: true, fullPaths: true)
  }

  func testSwiftFixtureMatchesLLVMSymbolizer() throws {
    let binary = try FixtureSupport.swiftProgram()
    try compareWithOracle(binary: binary, expectInlinedFrames: true, fullPaths: true)
  }

  /// The C fixture built with `-gsplit-dwarf` (gcc): each unit in the
  /// executable is a skeleton, and its functions and inlined calls are in
  /// the `.dwo` file beside the objects. Its inlined frames were missing
  /// (the skeleton has no functions: the symbol table's name and the
  /// innermost line were printed as one frame).
  func testSplitDwarfMatchesLLVMSymbolizer() throws {
    let (binary, output, made) = try Self.buildSplit(named: "cfix-split")
    defer { for file in made { try? FileManager.default.removeItem(atPath: file) } }
    XCTAssertTrue(
      FileManager.default.fileExists(atPath: output + ".c.dwo"), "gcc wrote no .dwo file")
    try compareWithOracle(binary: binary, expectInlinedFrames: true, fullPaths: true)
  }

  /// The C fixture built with `-gsplit-dwarf` as `name` plus a unique
  /// suffix: the program, the path its objects and `.dwo` files are named
  /// from, and every file made.
  static func buildSplit(named name: String) throws -> (
    binary: String, output: String, made: [String]
  ) {
    guard let gcc = FixtureSupport.which("gcc"), let gxx = FixtureSupport.which("g++") else {
      throw XCTSkip("gcc/g++ not installed")
    }
    let output = FixtureSupport.built.directory + "/\(name)-\(UUID().uuidString)"
    let binary = try XCTUnwrap(
      FixtureSupport.buildC(into: output, gcc: gcc, gxx: gxx, extraFlags: ["-gsplit-dwarf"]))
    let made = [binary, output + ".c.o", output + ".cxx.o", output + ".c.dwo", output + ".cxx.dwo"]
    return (binary, output, made)
  }

  /// A FIFO where a split unit's `.dwo` file is looked for is passed over
  /// (the unit read as one whose file was not found): libdw's open of it
  /// blocked forever, at the first address.
  func testAFIFOForASplitDwarfFileIsPassedOver() throws {
    let (binary, output, made) = try Self.buildSplit(named: "cfix-splitfifo")
    defer { for file in made { try? FileManager.default.removeItem(atPath: file) } }
    try FileManager.default.removeItem(atPath: output + ".c.dwo")
    XCTAssertEqual(mkfifo(output + ".c.dwo", 0o600), 0)
    let address = try XCTUnwrap(FixtureSupport.functions(of: binary).first { $0.name == "main" })
      .start
    final class Answer: @unchecked Sendable { var frames: [Frame]? }
    let answer = Answer()
    let done = DispatchSemaphore(value: 0)
    _ = SpawnedThread {
      answer.frames = Symbolizer(executable: binary).symbolize(address).frames
      done.signal()
    }
    guard done.wait(timeout: .now() + 60) == .success else {
      return XCTFail("the search for the split DWARF file hung")
    }
    XCTAssertEqual(answer.frames?.last?.linkageName, "main")
  }

  /// A program built as make builds it, from relative paths (`gcc -c
  /// src/main.c -Iinc`): its line tables' include directories are
  /// relative, and DWARF makes them relative to the unit's
  /// `DW_AT_comp_dir`. llvm-symbolizer prints the joined, absolute path of
  /// every frame, inlined or not; libdw leaves it relative.
  func testRelativeSourceDirectoriesAreUnderTheCompilationDirectory() throws {
    guard let gcc = FixtureSupport.which("gcc") else { throw XCTSkip("gcc not installed") }
    let directory = FileManager.default.temporaryDirectory
      .appendingPathComponent("relative-\(UUID().uuidString)")
    defer { try? FileManager.default.removeItem(at: directory) }
    try writeSourcesAndHeaders(in: directory)
    // The last build's compilation directory is relative itself
    // (`-fdebug-prefix-map`, as Debian builds libc: `./stdlib`): it is
    // joined all the same (`./sub/inc/helper.h`), as llvm-symbolizer
    // and addr2line join it. It was left out (`inc/helper.h`).
    let prefixMap = "-fdebug-prefix-map=\(directory.resolvingSymlinksInPath().path)=./sub"
    for (version, extra) in [(4, []), (5, []), (5, [prefixMap])] {
      let binary = try gccBuild(
        gcc, in: directory, name: "m\(version)\(extra.isEmpty ? "" : "-mapped")",
        arguments: ["-O2", "-g", "-gdwarf-\(version)", "-Iinc", "src/main.c"] + extra)
      try compareWithOracle(
        binary: binary, expectInlinedFrames: true, fullPaths: true, minimumAddresses: 10)
    }
  }

  /// Sources in the compilation directory itself, which is relative
  /// (`-fdebug-prefix-map`, as Debian builds libc: `./nptl` and
  /// `pthread_create.c`): DWARF 5's directory 0 is that directory, and its
  /// files are not joined to it twice (`./sub/main.c`, as llvm-symbolizer
  /// prints; it was `./sub/./sub/main.c`, as addr2line prints).
  func testFilesOfARelativeCompilationDirectoryAreJoinedOnce() throws {
    guard let gcc = FixtureSupport.which("gcc") else { throw XCTSkip("gcc not installed") }
    let directory = FileManager.default.temporaryDirectory
      .appendingPathComponent("flat-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    try """
    static inline __attribute__((always_inline)) int helper(int x) {
      int y = x * 5;
      y ^= y >> 3;
      return y + 11;
    }
    """.write(to: directory.appendingPathComponent("helper.h"), atomically: true, encoding: .utf8)
    try """
    #include "helper.h"
    int __attribute__((noinline)) work(int v) { return helper(v) + helper(v + 2); }
    int main(int argc, char **argv) { return work(argc); }
    """.write(to: directory.appendingPathComponent("main.c"), atomically: true, encoding: .utf8)
    let prefixMap = "-fdebug-prefix-map=\(directory.resolvingSymlinksInPath().path)=./sub"
    for version in [4, 5] {
      let binary = try gccBuild(
        gcc, in: directory, name: "flat\(version)",
        arguments: ["-O2", "-g", "-gdwarf-\(version)", "main.c", prefixMap])
      let files = try filesAtWork(binary)
      XCTAssertFalse(files.contains { $0.contains("sub/./sub") }, "\(files)")
      try compareWithOracle(
        binary: binary, expectInlinedFrames: true, fullPaths: true, minimumAddresses: 10)
    }
  }

  /// clang's DWARF 5 names a source by its path from the compilation
  /// directory, in directory 0 (`src/main.c` of `.`, built as `clang
  /// src/main.c -fdebug-prefix-map=$PWD=.`, the usual reproducible build):
  /// a file of directory 0 is not joined to it again (`./src/main.c`, as
  /// llvm-symbolizer prints; it was `././src/main.c`), while one of an
  /// include directory is (`./inc/helper.h`).
  func testClangsDirectoryZeroFileWithASubdirectoryIsJoinedOnce() throws {
    guard let clang = FixtureSupport.toolchainTool("clang") else {
      throw XCTSkip("clang not found next to swift")
    }
    let directory = FileManager.default.temporaryDirectory
      .appendingPathComponent("clang-relative-\(UUID().uuidString)")
    defer { try? FileManager.default.removeItem(at: directory) }
    try writeSourcesAndHeaders(in: directory)
    let real = directory.resolvingSymlinksInPath().path
    for version in [4, 5] {
      let binary = try gccBuild(
        clang, in: directory, name: "clang\(version)",
        arguments: [
          "-O2", "-g", "-gdwarf-\(version)", "-Iinc", "src/main.c", "-fdebug-prefix-map=\(real)=.",
        ])
      let files = try filesAtWork(binary)
      XCTAssertFalse(files.contains { $0.hasPrefix("././") }, "\(files)")
      try compareWithOracle(
        binary: binary, expectInlinedFrames: true, fullPaths: true, minimumAddresses: 10)
    }
  }

  /// clang's split DWARF with type units (`-gsplit-dwarf
  /// -fdebug-types-section`): the `.dwo` has a `.debug_line.dwo` of its
  /// own, for the type units, while the split unit's `DW_AT_call_file`
  /// numbers its skeleton's files, as llvm-symbolizer reads them (the
  /// inlined frames of `std::function` and `std::string` named other
  /// headers: `uses_allocator.h` for `std_function.h`).
  func testSplitDwarfWithTypeUnitsNamesCallFilesFromTheSkeleton() throws {
    guard let clangxx = FixtureSupport.toolchainTool("clang++") else {
      throw XCTSkip("clang++ not found next to swift")
    }
    let directory = FileManager.default.temporaryDirectory
      .appendingPathComponent("split-types-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    try """
    #include <functional>
    #include <string>
    struct Box { std::string name; int n; int size() const { return (int)name.size() + n; } };
    double __attribute__((noinline)) apply(const std::function<double(double)> &f, double x) {
      return f(x * 2.0);
    }
    int __attribute__((noinline)) measure(const Box &b) { return b.size(); }
    int main(int argc, char **) {
      Box b{"box", argc};
      return (int)apply([argc](double x) { return x + argc; }, 1.5) + measure(b);
    }
    """.write(to: directory.appendingPathComponent("main.cpp"), atomically: true, encoding: .utf8)
    let binary = try gccBuild(
      clangxx, in: directory, name: "types",
      arguments: ["-O2", "-g", "-gsplit-dwarf", "-fdebug-types-section", "main.cpp"])
    try compareWithOracle(
      binary: binary, expectInlinedFrames: true, fullPaths: true, minimumAddresses: 10)
  }

  /// An include directory whose text starts with the relative compilation
  /// directory is still relative to it, and joined, as llvm-symbolizer
  /// joins it: `.` (`-fdebug-prefix-map=$PWD=.`) with `-I./inc` prints
  /// `././inc/helper.h` (a review found the first rule for files of the
  /// compilation directory left it unjoined). Not tried: DWARF 4's
  /// `-I./sub` of `./sub`, which text alone cannot tell from a file of
  /// the compilation directory.
  func testAnIncludeDirectoryUnderARelativeCompilationDirectoryIsJoined() throws {
    guard let gcc = FixtureSupport.which("gcc") else { throw XCTSkip("gcc not installed") }
    let directory = FileManager.default.temporaryDirectory
      .appendingPathComponent("include-\(UUID().uuidString)")
    defer { try? FileManager.default.removeItem(at: directory) }
    try FileManager.default.createDirectory(
      at: directory.appendingPathComponent("inc"), withIntermediateDirectories: true)
    try """
    static inline __attribute__((always_inline)) int helper(int x) {
      int y = x * 5;
      y ^= y >> 3;
      return y + 11;
    }
    """.write(
      to: directory.appendingPathComponent("inc/helper.h"), atomically: true, encoding: .utf8)
    try """
    #include "helper.h"
    int __attribute__((noinline)) work(int v) { return helper(v) + helper(v + 2); }
    int main(int argc, char **argv) { return work(argc); }
    """.write(to: directory.appendingPathComponent("main.c"), atomically: true, encoding: .utf8)
    let real = directory.resolvingSymlinksInPath().path
    for version in [4, 5] {
      let binary = try gccBuild(
        gcc, in: directory, name: "inc\(version)",
        arguments: [
          "-O2", "-g", "-gdwarf-\(version)", "-I./inc", "main.c", "-fdebug-prefix-map=\(real)=.",
        ])
      try compareWithOracle(
        binary: binary, expectInlinedFrames: true, fullPaths: true, minimumAddresses: 10)
    }
  }

  /// A relative compilation directory that another of the unit's
  /// directories starts (`./Alg` and `.`: built in `Alg` with `-I.` and
  /// `-fdebug-prefix-map=$PARENT=.`, as Debian builds libipopt): a file of
  /// directory 0 is joined once (`./Alg/x.c`, as llvm-symbolizer prints),
  /// the header's directory index telling it from a file of `.`, which
  /// text cannot (it printed `./Alg/./Alg/x.c`).
  func testADirectoryZeroFileIsJoinedOnceWhereAnotherDirectoryStartsItsPath() throws {
    guard let gcc = FixtureSupport.which("gcc") else { throw XCTSkip("gcc not installed") }
    let directory = FileManager.default.temporaryDirectory
      .appendingPathComponent("nested-\(UUID().uuidString)")
    let sources = directory.appendingPathComponent("Alg")
    try FileManager.default.createDirectory(at: sources, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    try """
    static inline __attribute__((always_inline)) int scale(int x) {
      int y = x * 5;
      y ^= y >> 3;
      return y + 11;
    }
    """.write(to: sources.appendingPathComponent("cfg.h"), atomically: true, encoding: .utf8)
    try """
    #include <cfg.h>
    int __attribute__((noinline)) work(int v) { return scale(v) + scale(v + 2); }
    int main(int argc, char **argv) { return work(argc); }
    """.write(to: sources.appendingPathComponent("x.c"), atomically: true, encoding: .utf8)
    let prefixMap = "-fdebug-prefix-map=\(directory.resolvingSymlinksInPath().path)=."
    for version in [4, 5] {
      let binary = try gccBuild(
        gcc, in: sources, name: "x\(version)",
        arguments: ["-O2", "-g", "-gdwarf-\(version)", "-I.", "x.c", prefixMap])
      let files = try filesAtWork(binary)
      XCTAssertTrue(files.contains("./Alg/x.c"), "\(files)")
      XCTAssertFalse(files.contains { $0.contains("Alg/./Alg") }, "\(files)")
      try compareWithOracle(
        binary: binary, expectInlinedFrames: true, fullPaths: true, minimumAddresses: 10)
    }
  }

  /// Two units claim the same code when the linker keeps one copy of a
  /// COMDAT function and points the discarded copy's DWARF at it (same
  /// size). The first unit's copy is the one kept (llvm-symbolizer names
  /// it); the other may name other inlined functions (here `helperB`; in
  /// leveldb, GCC's merged `vector<unsigned long>` and
  /// `vector<FileMetaData*>` bodies). The unit found was the last one.
  func testCodeTwoUnitsClaimIsNamedFromTheFirstUnit() throws {
    guard let gxx = FixtureSupport.which("g++") else { throw XCTSkip("g++ not installed") }
    let directory = FileManager.default.temporaryDirectory
      .appendingPathComponent("comdat-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    for (unit, helper, add) in [("a", "helperA", 1), ("b", "helperB", 2)] {
      try """
      static inline __attribute__((always_inline)) int \(helper)(int x) { return x * 7 + 3; }
      inline __attribute__((noinline)) int shared(int x) { return \(helper)(x) ^ 0x55; }
      int from_\(unit)(int x) { return shared(x) + \(add); }
      """.write(
        to: directory.appendingPathComponent("\(unit).cc"), atomically: true, encoding: .utf8)
    }
    try """
    int from_a(int); int from_b(int);
    int main(int c, char **) { return from_a(c) + from_b(c); }
    """.write(to: directory.appendingPathComponent("m.cc"), atomically: true, encoding: .utf8)
    let process = Process()
    process.executableURL = URL(fileURLWithPath: gxx)
    process.arguments = ["-O2", "-g", "a.cc", "b.cc", "m.cc", "-o", "p"]
    process.currentDirectoryURL = directory
    try process.run()
    process.waitUntilExit()
    XCTAssertEqual(process.terminationStatus, 0)
    let binary = directory.appendingPathComponent("p").path
    let shared = try XCTUnwrap(
      FixtureSupport.functions(of: binary).first { $0.name == "_Z6sharedi" })
    let frames = Symbolizer(executable: binary).symbolize(shared.start).frames
    XCTAssertEqual(frames.map(\.linkageName), ["helperA", "_Z6sharedi"])
    XCTAssertEqual(frames.map { baseName($0.file ?? "??") }, ["a.cc", "a.cc"])
    try compareWithOracle(binary: binary, expectInlinedFrames: true, minimumAddresses: 10)
  }

  /// `src/main.c`, whose `work` inlines `helper` of `inc/helper.h`, in
  /// `directory` (built from it with `-Iinc`).
  private func writeSourcesAndHeaders(in directory: URL) throws {
    for sub in ["src", "inc"] {
      try FileManager.default.createDirectory(
        at: directory.appendingPathComponent(sub), withIntermediateDirectories: true)
    }
    try """
    static inline __attribute__((always_inline)) int helper(int x) {
      int y = x * 3;
      y ^= y >> 2;
      return y + 7;
    }
    """.write(
      to: directory.appendingPathComponent("inc/helper.h"), atomically: true, encoding: .utf8)
    try """
    #include "helper.h"
    int __attribute__((noinline)) work(int v) { return helper(v) + helper(v + 1); }
    int main(int argc, char **argv) { return work(argc); }
    """.write(to: directory.appendingPathComponent("src/main.c"), atomically: true, encoding: .utf8)
  }

  /// The files of the frames at the first address of `binary`'s `work`.
  private func filesAtWork(_ binary: String) throws -> [String] {
    let work = try XCTUnwrap(FixtureSupport.functions(of: binary).first { $0.name == "work" })
    return Symbolizer(executable: binary).symbolize(work.start).frames.compactMap(\.file)
  }

  /// Runs `gcc arguments -o name` (or another C compiler's) in `directory`
  /// and returns the program's path.
  private func gccBuild(
    _ gcc: String, in directory: URL, name: String, arguments: [String]
  ) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: gcc)
    process.arguments = arguments + ["-o", name]
    process.currentDirectoryURL = directory
    try process.run()
    process.waitUntilExit()
    XCTAssertEqual(process.terminationStatus, 0)
    return directory.appendingPathComponent(name).path
  }

  private func compareWithOracle(
    binary: String, expectInlinedFrames: Bool, fullPaths: Bool = false,
    minimumAddresses: Int = 100
  ) throws {
    guard FixtureSupport.llvmSymbolizer != nil else {
      throw XCTSkip("llvm-symbolizer not found next to swift")
    }
    // Every byte of every function would be slow; every 3rd byte covers
    // every instruction boundary pattern and all inline ranges well.
    var addresses: [UInt64] = []
    for function in FixtureSupport.functions(of: binary) {
      addresses += stride(from: function.start, to: function.start + function.size, by: 3)
    }
    XCTAssertGreaterThan(addresses.count, minimumAddresses, "too few code addresses found with nm")
    let expected = try XCTUnwrap(
      FixtureSupport.oracle(binary: binary, addresses: addresses, fullPaths: fullPaths))
    XCTAssertEqual(expected.count, addresses.count)
    let symbolizer = Symbolizer(executable: binary)
    var mismatches: [String] = []
    var inlinedSeen = 0
    for (address, oracle) in zip(addresses, expected) {
      let frames = symbolizer.symbolize(address).frames
      let ours = frames.map {
        FixtureSupport.OracleFrame(
          name: $0.linkageName ?? "??",
          location: "\(fullPaths ? $0.file ?? "??" : baseName($0.file ?? "??")):\($0.line)")
      }
      if ours.count > 1 { inlinedSeen += 1 }
      if ours != oracle {
        mismatches.append("0x\(String(address, radix: 16)): ours \(ours) oracle \(oracle)")
      }
      // Structural invariant: only the last frame is not inlined.
      XCTAssertEqual(frames.map(\.isInlined), frames.indices.map { $0 < frames.count - 1 })
    }
    XCTAssertEqual(mismatches.count, 0, mismatches.prefix(10).joined(separator: "\n"))
    if expectInlinedFrames {
      XCTAssertGreaterThan(inlinedSeen, 0, "no address had inlined frames")
    }
  }

  /// A Swift function's demangled name is the simplified Swift form, and
  /// both demanglers agree with the toolchain's and binutils' command-line
  /// demanglers.
  func testDemanglingMatchesSwiftDemangleAndCxxFilt() throws {
    let built = FixtureSupport.built
    if let swiftBinary = built.swiftProgram, let swift = FixtureSupport.which("swift") {
      let names = FixtureSupport.functions(of: swiftBinary).map(\.name).filter {
        $0.hasPrefix("$s")
      }
      XCTAssertFalse(names.isEmpty)
      let expected = FixtureSupport.run(
        swift, ["demangle", "--simplified", "--compact"],
        input: names.joined(separator: "\n") + "\n"
      ).output.split(separator: "\n").map(String.init)
      XCTAssertEqual(expected.count, names.count)
      for (name, want) in zip(names, expected) {
        XCTAssertEqual(Demangler.demangle(name), want, name)
      }
      // Checked by hand against the fixture's source.
      XCTAssertEqual(Demangler.demangle("$s5swfix5MixerV3run5countS2i_tF"), "Mixer.run(count:)")
    }
    if let cBinary = built.cProgram, let filt = FixtureSupport.which("c++filt") {
      let names = FixtureSupport.functions(of: cBinary).map(\.name).filter { $0.hasPrefix("_Z") }
      XCTAssertFalse(names.isEmpty)
      let expected = FixtureSupport.run(filt, [], input: names.joined(separator: "\n") + "\n")
        .output.split(separator: "\n").map(String.init)
      for (name, want) in zip(names, expected) {
        XCTAssertEqual(Demangler.demangle(name), want, name)
      }
    }
    XCTAssertEqual(Demangler.demangle("_ZN7fixture5buildEi"), "fixture::build(int)")
    XCTAssertEqual(Demangler.demangle("outer_work"), "outer_work")
  }
}
