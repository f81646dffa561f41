import Basics
import Foundation
import XCTest

@testable import Symbolizer

/// Symbolizing a fixture as a trace's module record, as if it had been
/// loaded at a PIE base, must give the answer for the link-time address.
final class OfflineTests: XCTestCase {
  let pieBase: UInt64 = 0x5555_5555_4000

  private func fixture() throws -> (path: String, info: ElfFileInfo, exec: ElfFileInfo.Segment) {
    let path = try FixtureSupport.cProgram()
    let info = try XCTUnwrap(ElfFileInfo.read(path))
    let exec = try XCTUnwrap(info.segments.first(where: \.isExecutable))
    return (path, info, exec)
  }

  /// The module line a recorder would write for the fixture at `pieBase`.
  private func record(path: String, exec: ElfFileInfo.Segment, buildID: String?) -> ModuleRecord {
    let start = pieBase + (exec.vaddr & ~0xfff)
    return ModuleRecord(
      start: start, end: start + ((exec.fileSize + 0xfff) & ~0xfff),
      fileOffset: exec.offset & ~0xfff, path: path, buildID: buildID)
  }

  private func addresses(_ path: String) -> [UInt64] {
    FixtureSupport.functions(of: path).flatMap { [$0.start, $0.start + $0.size / 2] }
  }

  private func assertSameFrames(
    _ offline: Symbolizer, _ reference: Symbolizer, _ links: [UInt64],
    file: StaticString = #filePath, line: UInt = #line
  ) {
    for link in links {
      let runtime = pieBase + link
      let got = offline.symbolize(runtime, isReturnAddress: true).frames
      let want = reference.symbolize(link, isReturnAddress: true).frames
      XCTAssertEqual(got.count, want.count, file: file, line: line)
      for (g, w) in zip(got, want) {
        XCTAssertEqual(g.linkageName, w.linkageName, file: file, line: line)
        XCTAssertEqual(g.file, w.file, file: file, line: line)
        XCTAssertEqual(g.line, w.line, file: file, line: line)
        XCTAssertEqual(g.moduleOffset, link, file: file, line: line)
        XCTAssertEqual(g.address, runtime, file: file, line: line)
        XCTAssertFalse(g.isStale, file: file, line: line)
      }
    }
  }

  func testModuleRecordAtPIEBaseMatchesLinkTimeAddresses() throws {
    let (path, info, exec) = try fixture()
    let offline = Symbolizer(
      modules: [record(path: path, exec: exec, buildID: info.buildID.map(hexString))])
    XCTAssertEqual(offline.modules.map(\.status), [.ok])
    let reference = Symbolizer(executable: path)
    let links = addresses(path)
    XCTAssertFalse(links.isEmpty)
    assertSameFrames(offline, reference, links)
    // And a named function, checked by hand against inline.c.
    let outer = try XCTUnwrap(FixtureSupport.functions(of: path).first { $0.name == "outer_work" })
    let frames = offline.symbolize(pieBase + outer.start).frames
    XCTAssertEqual(frames.last?.function, "outer_work")
    XCTAssertEqual(frames.last?.file.map(baseName), "inline.c")
  }

  /// One file mapped at several places (a library loaded in several
  /// namespaces; a made-up trace with hundreds): each place is symbolized
  /// as that file at that base, and the file is reported to libdwfl and
  /// indexed once, not once a place (500 places took 7 GB, then crashed).
  func testOneFileMappedAtSeveralPlacesIsIndexedOnce() throws {
    let (path, info, exec) = try fixture()
    let buildID = info.buildID.map(hexString)
    let shifts: [UInt64] = [0, 0x10_0000_0000, 0x20_0000_0000]
    let offline = Symbolizer(
      modules: shifts.map { shift in
        var module = record(path: path, exec: exec, buildID: buildID)
        module.start += shift
        module.end += shift
        return module
      })
    XCTAssertEqual(offline.modules.map(\.status), [.ok, .ok, .ok])
    let reference = Symbolizer(executable: path)
    let links = addresses(path)
    XCTAssertFalse(links.isEmpty)
    for shift in shifts.reversed() {
      for link in links {
        let got = offline.symbolize(pieBase + shift + link, isReturnAddress: true).frames
        let want = reference.symbolize(link, isReturnAddress: true).frames
        XCTAssertEqual(got.map(\.linkageName), want.map(\.linkageName))
        XCTAssertEqual(got.map(\.file), want.map(\.file))
        XCTAssertEqual(got.map(\.line), want.map(\.line))
        XCTAssertEqual(got.map(\.moduleOffset), got.map { _ in link })
      }
    }
    let files = offline.engine.withLock { engine in
      Set(engine.slots.map { ObjectIdentifier($0.file) }).count
    }
    XCTAssertEqual(files, 1)
    // Its units are keyed once (one lane reads each), and their bytes
    // count once toward splitting the work among lanes.
    let one = Symbolizer(modules: [record(path: path, exec: exec, buildID: buildID)])
      .lookupLocality()
    let three = offline.lookupLocality()
    XCTAssertEqual(three.count, one.count)
    XCTAssertEqual(three.unitBytes, one.unitBytes)
    for link in links {
      XCTAssertEqual(
        three.key(of: pieBase + 0x20_0000_0000 + link), one.key(of: pieBase + link))
    }
  }

  func testRebuiltBinaryIsStale() throws {
    let (path, info, exec) = try fixture()
    let rebuilt = FixtureSupport.built.directory + "/cfix-rebuilt"
    let gcc = try XCTUnwrap(FixtureSupport.which("gcc"))
    let gxx = try XCTUnwrap(FixtureSupport.which("g++"))
    _ = try XCTUnwrap(
      FixtureSupport.buildC(into: rebuilt, gcc: gcc, gxx: gxx, extraFlags: ["-DREBUILT=1", "-O1"]))
    let rebuiltInfo = try XCTUnwrap(ElfFileInfo.read(rebuilt))
    XCTAssertNotEqual(rebuiltInfo.buildID, info.buildID)
    // The trace recorded the original build-id, but the path now holds the rebuild.
    let offline = Symbolizer(
      modules: [record(path: rebuilt, exec: exec, buildID: info.buildID.map(hexString))])
    XCTAssertEqual(offline.modules.map(\.status), [.stale])
    for link in addresses(path) {
      let frames = offline.symbolize(pieBase + link).frames
      XCTAssertEqual(frames.count, 1)
      XCTAssertTrue(frames[0].isStale)
      XCTAssertNil(frames[0].function)
      XCTAssertEqual(frames[0].moduleOffset, link)
    }
    let text = FrameFormatting.text(offline.symbolize(pieBase + exec.vaddr))
    XCTAssertEqual(text, "cfix-rebuilt+0x\(String(exec.vaddr, radix: 16)) [stale binary]")
  }

  /// `--binary`: a named file takes the module whose build-id it has
  /// (under any name), or, for a module recorded without one, the module
  /// of its file name, ahead of the recorded path.
  func testNamedBinaryTakesItsModule() throws {
    let (path, info, exec) = try fixture()
    let hex = try XCTUnwrap(info.buildID.map(hexString))
    let gone = "/nonexistent/install/prefix/bin/cfix"
    let links = addresses(path)
    let reference = Symbolizer(executable: path)
    let dir = FixtureSupport.built.directory + "/binaries-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let renamed = dir + "/app-renamed"
    let sameName = dir + "/cfix"
    try FileManager.default.copyItem(atPath: path, toPath: renamed)
    try FileManager.default.copyItem(atPath: path, toPath: sameName)
    XCTAssertTrue(Symbolizer.isELFFile(renamed))
    XCTAssertFalse(Symbolizer.isELFFile(dir))
    XCTAssertFalse(Symbolizer.isELFFile(dir + "/none"))

    // By build-id, under another name.
    let byID = Symbolizer(
      modules: [record(path: gone, exec: exec, buildID: hex)], binaries: [sameName + "x", renamed])
    XCTAssertEqual(byID.modules.first?.status, .ok)
    XCTAssertEqual(byID.modules.first?.resolvedPath, renamed)
    assertSameFrames(byID, reference, links)

    // Without a build-id: by file name only.
    let byName = Symbolizer(
      modules: [record(path: gone, exec: exec, buildID: nil)], binaries: [renamed, sameName])
    XCTAssertEqual(byName.modules.first?.resolvedPath, sameName)
    assertSameFrames(byName, reference, links)
    let otherName = Symbolizer(
      modules: [record(path: gone, exec: exec, buildID: nil)], binaries: [renamed])
    XCTAssertEqual(otherName.modules.first?.status, .missing)

    // Two files of the trace with that name (two directories): neither
    // takes it by name, which would give one file's names to the other.
    let twoNames = Symbolizer(
      modules: [
        record(path: gone, exec: exec, buildID: nil),
        record(path: "/elsewhere/cfix", exec: exec, buildID: nil),
      ], binaries: [sameName])
    XCTAssertTrue(twoNames.modules.allSatisfy { $0.resolvedPath == nil })

    // Ahead of the recorded path, which still exists.
    let ahead = Symbolizer(
      modules: [record(path: path, exec: exec, buildID: nil)], binaries: [sameName])
    XCTAssertEqual(ahead.modules.first?.resolvedPath, sameName)

    // Another build-id: never taken.
    let other = "/nonexistent/cfix"
    let wrong = Symbolizer(
      modules: [record(path: other, exec: exec, buildID: String(repeating: "ab", count: 20))],
      binaries: [sameName])
    XCTAssertEqual(wrong.modules.first?.status, .missing)
    XCTAssertNil(wrong.modules.first?.resolvedPath)
  }

  func testMissingFileFoundUnderDebugDirectory() throws {
    let (path, info, exec) = try fixture()
    let hex = try XCTUnwrap(info.buildID.map(hexString))
    let gone = "/nonexistent/install/prefix/bin/cfix"
    let links = addresses(path)
    let reference = Symbolizer(executable: path)

    // By base name under a --debug-dir root.
    let byName = Symbolizer(
      modules: [record(path: gone, exec: exec, buildID: hex)],
      debugDirectories: [FixtureSupport.built.directory])
    XCTAssertEqual(byName.modules.first?.resolvedPath, path)
    assertSameFrames(byName, reference, links)

    // By build-id under a root with the .build-id layout.
    let root = FixtureSupport.built.directory + "/debugroot-\(UUID().uuidString)"
    let dir = root + "/.build-id/" + hex.prefix(2)
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    try FileManager.default.copyItem(atPath: path, toPath: dir + "/" + hex.dropFirst(2) + ".debug")
    let byID = Symbolizer(
      modules: [record(path: gone, exec: exec, buildID: hex)], debugDirectories: [root])
    XCTAssertEqual(byID.modules.first?.status, .ok)
    assertSameFrames(byID, reference, links)

    // Nowhere: module+offset.
    let missing = Symbolizer(modules: [record(path: gone, exec: exec, buildID: hex)])
    XCTAssertEqual(missing.modules.first?.status, .missing)
    let frame = try XCTUnwrap(missing.symbolize(pieBase + links[0]).frames.first)
    XCTAssertNil(frame.function)
    XCTAssertEqual(
      FrameFormatting.describe(frame), "cfix+0x\(String(links[0], radix: 16))")
  }
}
