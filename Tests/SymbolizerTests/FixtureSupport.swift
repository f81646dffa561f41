import Foundation
import XCTest

/// Builds the programs under `Fixtures/symbolizer` once per test run, and
/// runs the oracle (`llvm-symbolizer` from the Swift toolchain).
enum FixtureSupport {
  struct Built: Sendable {
    var directory: String
    /// gcc -O2 -g (C with always_inline frames, plus a C++ file).
    var cProgram: String?
    var cSkipReason: String?
    /// swiftc -O -g (@inline(__always) frames, a closure nested in a method).
    var swiftProgram: String?
    var swiftSkipReason: String?
    /// `cxx20.cpp` built with g++ -O2 -g -std=c++20 and with the toolchain's
    /// clang++ (C++20 names GCC 12's demangler cannot read).
    var gxxProgram: String?
    var clangxxProgram: String?
  }

  /// The C fixture; the test fails when it could not be built.
  static func cProgram() throws -> String {
    try XCTUnwrap(built.cProgram, built.cSkipReason ?? "")
  }

  /// The Swift fixture; the test is skipped when it could not be built.
  static func swiftProgram() throws -> String {
    guard let binary = built.swiftProgram else {
      throw XCTSkip(built.swiftSkipReason ?? "Swift fixture unavailable")
    }
    return binary
  }

  /// Every `step`-th byte of every function of `binary`, after `leading`,
  /// then an address no function covers.
  static func sampledAddresses(of binary: String, every step: Int, after leading: [UInt64])
    -> [UInt64]
  {
    var addresses = leading
    for function in functions(of: binary) {
      addresses += stride(from: function.start, to: function.start + function.size, by: step)
    }
    addresses.append(0xffff_ffff_0000)
    return addresses
  }

  static let sourceDirectory: String = {
    URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
      .deletingLastPathComponent().appendingPathComponent("Fixtures/symbolizer").path
  }()

  /// Where the fixtures are built: one directory per test process,
  /// removed when the process exits.
  static let directory = NSTemporaryDirectory() + "symbolizer-fixtures-\(getpid())"

  static let built: Built = {
    let directory = Self.directory
    try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    atexit { try? FileManager.default.removeItem(atPath: FixtureSupport.directory) }
    var result = Built(directory: directory)
    let source = sourceDirectory
    if let gcc = which("gcc"), let gxx = which("g++") {
      result.cProgram = buildC(into: directory + "/cfix", gcc: gcc, gxx: gxx, extraFlags: [])
      if result.cProgram == nil { result.cSkipReason = "gcc failed to build the C fixture" }
    } else {
      result.cSkipReason = "gcc/g++ not installed"
    }
    let cxx20Flags = ["-std=c++20", "-O2", "-g", "-fno-omit-frame-pointer", "-Wl,--build-id"]
    if let gxx = which("g++") {
      let out = directory + "/cxx20-gxx"
      let status = run(gxx, cxx20Flags + [source + "/cxx20.cpp", "-o", out]).status
      result.gxxProgram = status == 0 ? out : nil
    }
    if let clangxx = toolchainTool("clang++") {
      let out = directory + "/cxx20-clang"
      let status = run(clangxx, cxx20Flags + [source + "/cxx20.cpp", "-o", out]).status
      result.clangxxProgram = status == 0 ? out : nil
    }
    if let swiftc = which("swiftc") {
      let out = directory + "/swfix"
      let status = run(
        swiftc,
        [
          "-O", "-g", "-parse-as-library", "-module-name", "swfix", source + "/Fixture.swift",
          "-o", out,
        ]
      ).status
      result.swiftProgram = status == 0 ? out : nil
      if status != 0 { result.swiftSkipReason = "swiftc failed to build the Swift fixture" }
    } else {
      result.swiftSkipReason = "swiftc not installed"
    }
    return result
  }()

  /// Builds the C+C++ fixture at `output`; `extraFlags` (e.g. a -D) give a
  /// different binary (and build-id) from the same sources; `linkFlags`
  /// (e.g. `-rdynamic`, `-no-pie`) are passed to the link only.
  static func buildC(
    into output: String, gcc: String, gxx: String, extraFlags: [String],
    linkFlags: [String] = []
  ) -> String? {
    let source = sourceDirectory
    let cObject = output + ".c.o"
    let cxxObject = output + ".cxx.o"
    let flags = ["-O2", "-g", "-fno-omit-frame-pointer"] + extraFlags
    guard run(gcc, flags + ["-c", source + "/inline.c", "-o", cObject]).status == 0,
      run(gxx, flags + ["-c", source + "/mangled.cpp", "-o", cxxObject]).status == 0,
      run(gxx, ["-Wl,--build-id"] + linkFlags + [cObject, cxxObject, "-o", output]).status == 0
    else { return nil }
    return output
  }

  static func which(_ tool: String) -> String? {
    for directory in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":") {
      let candidate = "\(directory)/\(tool)"
      if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
    }
    return nil
  }

  /// `llvm-symbolizer` next to the `swift` driver.
  static let llvmSymbolizer: String? = toolchainTool("llvm-symbolizer")

  /// A tool next to the `swift` driver (the toolchain's clang, llvm-symbolizer).
  static func toolchainTool(_ name: String) -> String? {
    guard let swift = which("swift") else { return nil }
    let real = URL(fileURLWithPath: swift).resolvingSymlinksInPath()
    let candidate = real.deletingLastPathComponent().appendingPathComponent(name).path
    return FileManager.default.isExecutableFile(atPath: candidate) ? candidate : nil
  }

  @discardableResult
  static func run(_ tool: String, _ arguments: [String], input: String? = nil) -> (
    status: Int32, output: String
  ) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: tool)
    process.arguments = arguments
    let outPipe = Pipe()
    process.standardOutput = outPipe
    process.standardError = FileHandle.nullDevice
    let inPipe = Pipe()
    process.standardInput = inPipe
    do { try process.run() } catch { return (-1, "") }
    if let input {
      DispatchQueue.global().async {
        inPipe.fileHandleForWriting.write(input.data(using: .utf8)!)
        try? inPipe.fileHandleForWriting.close()
      }
    } else {
      try? inPipe.fileHandleForWriting.close()
    }
    let data = outPipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
  }

  /// One oracle frame: the linkage name and `basename:line`.
  struct OracleFrame: Equatable, CustomStringConvertible {
    var name: String
    var location: String
    var description: String { "\(name) @ \(location)" }
  }

  /// llvm-symbolizer's inline chains (innermost first) for link-time
  /// addresses of `binary`, with linkage names (`--no-demangle`);
  /// `extraArguments` are added (e.g. `--debug-file-directory=<root>`).
  /// llvm-symbolizer's frames for `addresses` of `binary`, each location
  /// `file.c:12` (`/a/b/file.c:12` with `fullPaths`).
  static func oracle(
    binary: String, addresses: [UInt64], extraArguments: [String] = [], fullPaths: Bool = false
  )
    -> [[OracleFrame]]?
  {
    guard let tool = llvmSymbolizer else { return nil }
    let input = addresses.map { "0x" + String($0, radix: 16) }.joined(separator: "\n") + "\n"
    let result = run(
      tool,
      ["--obj=" + binary, "--inlining", "--no-demangle", "--functions=linkage"] + extraArguments,
      input: input)
    guard result.status == 0 else { return nil }
    var chains: [[OracleFrame]] = []
    var current: [OracleFrame] = []
    var pendingName: String?
    for line in result.output.split(separator: "\n", omittingEmptySubsequences: false) {
      if line.isEmpty {
        if !current.isEmpty || pendingName != nil { chains.append(current) }
        current = []
        pendingName = nil
      } else if let name = pendingName {
        let location = String(line)
        current.append(
          OracleFrame(
            name: name, location: fullPaths ? pathLine(location) : basenameLine(location)))
        pendingName = nil
      } else {
        pendingName = String(line)
      }
    }
    return chains
  }

  /// `/a/b/file.c:12:3` → `/a/b/file.c:12`.
  static func pathLine(_ location: String) -> String {
    let parts = location.split(separator: ":", omittingEmptySubsequences: false)
    guard parts.count >= 3 else { return location }
    return parts.dropLast(2).joined(separator: ":") + ":" + parts[parts.count - 2]
  }

  /// `/a/b/file.c:12:3` → `file.c:12`.
  static func basenameLine(_ location: String) -> String {
    let parts = location.split(separator: ":", omittingEmptySubsequences: false)
    guard parts.count >= 2 else { return location }
    let file = parts[parts.count - 3 >= 0 && parts.count >= 3 ? parts.count - 3 : 0]
    let line = parts[parts.count >= 3 ? parts.count - 2 : 1]
    return "\(file.split(separator: "/").last ?? file):\(line)"
  }

  /// Function symbols (`nm -S --defined-only`) of `binary`: start and size.
  static func functions(of binary: String) -> [(name: String, start: UInt64, size: UInt64)] {
    guard let nm = which("nm") else { return [] }
    let output = run(nm, ["-S", "--defined-only", binary]).output
    var result: [(String, UInt64, UInt64)] = []
    for line in output.split(separator: "\n") {
      let fields = line.split(separator: " ")
      guard fields.count == 4, ["T", "t", "W", "w"].contains(fields[2]),
        let start = UInt64(fields[0], radix: 16), let size = UInt64(fields[1], radix: 16),
        size > 0
      else { continue }
      result.append((String(fields[3]), start, size))
    }
    return result
  }
}
