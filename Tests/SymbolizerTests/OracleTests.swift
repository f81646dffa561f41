import Basics
import XCTest

@testable import Symbolizer

/// Our answers against llvm-symbolizer's for many addresses of the fixture
/// binaries: the same number of frames, the same linkage name and the same
/// basename:line at every inline level.
final class OracleTests: XCTestCase {
  func testCFixtureMatchesLLVMSymbolizer() throws {
    let binary = try FixtureSupport.cProgram()
    try compareWithOracle(binary: binary, expectInlinedFrames: true)
  }

  func testSwiftFixtureMatchesLLVMSymbolizer() throws {
    let binary = try FixtureSupport.swiftProgram()
    try compareWithOracle(binary: binary, expectInlinedFrames: true)
  }

  private func compareWithOracle(binary: String, expectInlinedFrames: Bool) throws {
    guard FixtureSupport.llvmSymbolizer != nil else {
      throw XCTSkip("llvm-symbolizer not found next to swift")
    }
    // Every byte of every function would be slow; every 3rd byte covers
    // every instruction boundary pattern and all inline ranges well.
    var addresses: [UInt64] = []
    for function in FixtureSupport.functions(of: binary) {
      addresses += stride(from: function.start, to: function.start + function.size, by: 3)
    }
    XCTAssertGreaterThan(addresses.count, 100, "too few code addresses found with nm")
    let expected = try XCTUnwrap(FixtureSupport.oracle(binary: binary, addresses: addresses))
    XCTAssertEqual(expected.count, addresses.count)
    let symbolizer = Symbolizer(executable: binary)
    var mismatches: [String] = []
    var inlinedSeen = 0
    for (address, oracle) in zip(addresses, expected) {
      let frames = symbolizer.symbolize(address).frames
      let ours = frames.map {
        FixtureSupport.OracleFrame(
          name: $0.linkageName ?? "??",
          location: "\(baseName($0.file ?? "??")):\($0.line)")
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
