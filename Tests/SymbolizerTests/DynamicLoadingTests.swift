import Foundation
import XCTest

@testable import Symbolizer

/// The in-process module map follows `dlopen` and `dlclose`: a library
/// loaded after the symbolizer was created is symbolized from its DWARF, and
/// once it is unloaded its addresses no longer answer with its functions
/// (even those answered, and cached, before).
final class DynamicLoadingTests: XCTestCase {
  func testLoadedLibraryIsSymbolizedAndForgottenAfterUnload() throws {
    guard let gcc = FixtureSupport.which("gcc") else { throw XCTSkip("gcc not installed") }
    let directory = FixtureSupport.built.directory
    let source = directory + "/dynload.c"
    let library = directory + "/libdynload-\(UUID().uuidString).so"
    try """
    int dynload_probe(int x) { return x * 7 + 1; }

    """.write(toFile: source, atomically: true, encoding: .utf8)
    let build = FixtureSupport.run(gcc, ["-shared", "-fPIC", "-g", "-O1", source, "-o", library])
    XCTAssertEqual(build.status, 0, build.output)

    let symbolizer = Symbolizer.inProcess()
    guard let handle = dlopen(library, RTLD_NOW | RTLD_LOCAL) else {
      return XCTFail("dlopen failed: \(String(cString: dlerror()))")
    }
    let symbol = try XCTUnwrap(dlsym(handle, "dynload_probe"))
    let address = UInt64(UInt(bitPattern: symbol))

    let loaded = symbolizer.symbolize(address).frames
    XCTAssertEqual(loaded.last?.function, "dynload_probe", "\(loaded)")
    XCTAssertEqual(
      loaded.last?.file.map { URL(fileURLWithPath: $0).lastPathComponent }, "dynload.c")
    XCTAssertEqual(loaded.last?.line, 1)
    XCTAssertEqual(loaded.last?.moduleName, URL(fileURLWithPath: library).lastPathComponent)

    XCTAssertEqual(dlclose(handle), 0)
    // The mapping is gone (glibc unmaps a library whose last handle closes).
    let unloaded = symbolizer.symbolize(address).frames
    XCTAssertNotEqual(unloaded.last?.function, "dynload_probe", "\(unloaded)")
    XCTAssertNotEqual(
      unloaded.last?.moduleName, URL(fileURLWithPath: library).lastPathComponent, "\(unloaded)")
  }
}
