import CElfutils
import Dispatch
import Foundation
import XCTest

@testable import Symbolizer

/// Lanes (`Symbolizer.lane()`), split by `LookupLocality` and `LaneRouter`
/// and printed by one `BatchRenderer` per lane, answer exactly what one
/// symbolizer answers, and share what they should.
final class LaneTests: XCTestCase {
  func testCFixtureLanesPrintWhatOneSymbolizerPrints() throws {
    let binary = try FixtureSupport.cProgram()
    try assertLanesMatchOneSymbolizer(binary: binary)
  }

  func testSwiftFixtureLanesPrintWhatOneSymbolizerPrints() throws {
    let binary = try FixtureSupport.swiftProgram()
    try assertLanesMatchOneSymbolizer(binary: binary)
  }

  /// Every 3rd byte of every function and addresses outside them, split
  /// between three lanes that symbolize at the same time, in chunks of 101;
  /// the interleaved output against `FrameFormatting` of one symbolizer.
  private func assertLanesMatchOneSymbolizer(binary: String) throws {
    let addresses = FixtureSupport.sampledAddresses(of: binary, every: 3, after: [0, 3])
    let reference = Symbolizer(executable: binary)
    let expected = addresses.map {
      FrameFormatting.text(reference.symbolize($0), printAddress: true)
    }

    let first = Symbolizer(executable: binary)
    let lanes = [first, first.lane(), first.lane()]
    var router = LaneRouter(locality: first.lookupLocality(), laneCount: lanes.count)
    var renderers = Array(repeating: BatchRenderer(format: .text), count: lanes.count)
    let batches = LaneBatches(count: lanes.count)
    var out: [UInt8] = []
    var used = Set<Int>()
    for chunkStart in stride(from: 0, to: addresses.count, by: 101) {
      let chunk = addresses[chunkStart..<min(chunkStart + 101, addresses.count)]
      let order = chunk.map { router.lane(of: $0) }
      used.formUnion(order)
      let parts = (0..<lanes.count).map { lane in
        zip(chunk, order).filter { $0.1 == lane }.map(\.0)
      }
      DispatchQueue.concurrentPerform(iterations: lanes.count) { lane in
        batches.symbolize(parts[lane], with: lanes[lane], lane: lane)
      }
      for lane in lanes.indices { renderers[lane].absorb(batches.batch(lane)) }
      var next = Array(repeating: 0, count: lanes.count)
      for lane in order {
        renderers[lane].appendAnswers(
          next[lane]..<next[lane] + 1, of: batches.batch(lane), to: &out)
        next[lane] += 1
      }
    }
    XCTAssertEqual(used.count, lanes.count, "every lane got addresses")
    let text = String(decoding: out, as: UTF8.self)
    XCTAssertEqual(text, expected.map { $0 + "\n" }.joined())
  }

  func testLanesShareNamesAndEachUnitHasOneKey() throws {
    let binary = try FixtureSupport.cProgram()
    let first = Symbolizer(executable: binary)
    let lane = first.lane()
    let functions = FixtureSupport.functions(of: binary)
    XCTAssertGreaterThan(functions.count, 3)
    for function in functions {
      let a = first.symbolize(function.start).frames
      let b = lane.symbolize(function.start).frames
      XCTAssertEqual(a.count, b.count)
      for (x, y) in zip(a, b) where x.name != nil {
        XCTAssertTrue(x.name === y.name, "\(x.name!.linkage): two SymbolNames for one name")
      }
    }
    let locality = first.lookupLocality()
    XCTAssertGreaterThan(locality.count, 0)
    XCTAssertNil(locality.key(of: 0xffff_ffff_0000))
    // Functions with DWARF lines lie in a unit (crt's `_start` has none).
    let withLines = functions.filter { first.symbolize($0.start).frames.last?.line ?? 0 > 0 }
    XCTAssertGreaterThan(withLines.count, 3)
    for function in withLines {
      let key = try XCTUnwrap(locality.key(of: function.start), "no unit for a function")
      XCTAssertLessThan(key, locality.count)
      XCTAssertEqual(locality.key(of: function.start + function.size - 1), key)
    }
  }

  func testRouterKeepsAKeyOnOneLaneAndGivesNewKeysToTheLeastLoaded() {
    let locality = LookupLocality(
      ranges: [
        AddressRange(low: 0x3000, high: 0x4000, index: 2),
        AddressRange(low: 0x1000, high: 0x2000, index: 0),
        AddressRange(low: 0x2000, high: 0x3000, index: 1),
      ], count: 3)
    XCTAssertEqual(locality.key(of: 0x1fff), 0)
    XCTAssertEqual(locality.key(of: 0x2000), 1)
    XCTAssertNil(locality.key(of: 0x4000))
    var router = LaneRouter(locality: locality, laneCount: 2)
    let lanes = [0x1000, 0x1001, 0x2000, 0x2001, 0x3000, 0x5000, 0x1002, 0x2fff, 0x3fff].map {
      router.lane(of: UInt64($0))
    }
    // 0x3000: loads 2 and 2, the first of equals; 0x5000 (no key): 3 and 2.
    XCTAssertEqual(lanes, [0, 0, 1, 1, 0, 1, 0, 1, 0])
    var one = LaneRouter(locality: locality, laneCount: 1)
    XCTAssertEqual([0x1000, 0x2000, 0x9000].map { one.lane(of: UInt64($0)) }, [0, 0, 0])
  }

  func testRendererPrintsAnswersInAnyOrderAfterAbsorbing() throws {
    let binary = try FixtureSupport.cProgram()
    let symbolizer = Symbolizer(executable: binary)
    var batch = SymbolizedBatch()
    let addresses = FixtureSupport.functions(of: binary).map(\.start) + [0]
    for address in addresses { symbolizer.symbolize(address, into: &batch) }
    var whole = BatchRenderer(format: .json)
    var inOrder: [UInt8] = []
    whole.append(batch, to: &inOrder)
    var parts = BatchRenderer(format: .json)
    parts.absorb(batch)
    var reversed: [UInt8] = []
    for answer in (0..<batch.count).reversed() {
      parts.appendAnswers(answer..<answer + 1, of: batch, to: &reversed)
    }
    let lines = String(decoding: inOrder, as: UTF8.self).split(separator: "\n")
    XCTAssertEqual(lines.count, addresses.count)
    XCTAssertEqual(
      String(decoding: reversed, as: UTF8.self).split(separator: "\n"), lines.reversed())
  }

  /// A lane opening a file another lane inflated reads the same bytes
  /// through a handle of its own, and indexes it the same way.
  func testLaneReusesAnInflatedImage() throws {
    let libc = try XCTUnwrap(ProcessModules.current().first { $0.path.hasSuffix("/libc.so.6") })
    let hex = try XCTUnwrap(libc.buildIDHex)
    let debugFile = "/usr/lib/debug/.build-id/\(hex.prefix(2))/\(hex.dropFirst(2)).debug"
    guard FileManager.default.fileExists(atPath: debugFile) else {
      throw XCTSkip("libc6-dbg not installed (scripts/install-deps.sh installs it)")
    }
    let share = LaneShare()
    XCTAssertNil(share.image(of: debugFile))
    let a = try XCTUnwrap(DwarfImage.open(path: debugFile, lanes: share))
    let b = try XCTUnwrap(DwarfImage.open(path: debugFile, lanes: share))
    XCTAssertTrue(a.handle.image === b.handle.image, "inflated twice")
    XCTAssertNotEqual(a.dwarf, b.dwarf, "one libdw handle for two lanes")
    XCTAssertTrue(a.lineTables === b.lineTables)
    let indexA = try XCTUnwrap(
      DwarfIndex(source: ModuleDwarf(dwarf: a.dwarf, bias: 0, image: a)))
    let indexB = try XCTUnwrap(
      DwarfIndex(source: ModuleDwarf(dwarf: b.dwarf, bias: 0, image: b)))
    XCTAssertGreaterThan(indexA.units.count, 1000)
    XCTAssertEqual(indexA.units.count, indexB.units.count)
    XCTAssertEqual(indexA.unitRanges.map(\.low), indexB.unitRanges.map(\.low))
  }
}

/// Each lane's batch sequence; lane `i` touches only entry `i` (the storage
/// is not a Swift array, whose exclusivity checks would see one access).
private final class LaneBatches: @unchecked Sendable {
  private let batches: UnsafeMutableBufferPointer<SymbolizedBatch>

  init(count: Int) {
    batches = .allocate(capacity: count)
    batches.initialize(repeating: SymbolizedBatch())
  }

  deinit {
    _ = batches.deinitialize()
    batches.deallocate()
  }

  func symbolize(_ addresses: [UInt64], with symbolizer: Symbolizer, lane: Int) {
    batches[lane].removeAnswers()
    for address in addresses { symbolizer.symbolize(address, into: &batches[lane]) }
  }

  func batch(_ lane: Int) -> SymbolizedBatch { batches[lane] }
}
