import Testing

@testable import Symbolizer

/// `StartDirectory` narrows a search without changing its answer, and
/// `NameText` keys compare by text.
@Suite struct StartDirectoryTests {
  /// The plain answer: how many starts are at or below `address`.
  static func reference(_ starts: [UInt64], _ address: UInt64) -> Int {
    starts.filter { $0 <= address }.count
  }

  static func directed(_ starts: [UInt64], _ address: UInt64) -> Int {
    let directory = StartDirectory(count: starts.count) { starts[$0] }
    return starts.withUnsafeBufferPointer {
      $0.prefixCount(in: directory, for: address, where: { $0 <= address })
    }
  }

  /// Hand-worked: starts 100, 100, 130, 400 over a span of 300 (4 starts:
  /// buckets of 128 addresses from 100).
  @Test func countsStartsAtOrBelowAnAddress() {
    let starts: [UInt64] = [100, 100, 130, 400]
    let expected: [(UInt64, Int)] = [
      (0, 0), (99, 0), (100, 2), (129, 2), (130, 3), (227, 3), (228, 3), (399, 3), (400, 4),
      (401, 4), (.max, 4),
    ]
    for (address, count) in expected {
      #expect(Self.directed(starts, address) == count, "address \(address)")
    }
  }

  /// Random tables (clustered, spread over the whole 64-bit space, with
  /// repeated starts) agree with the plain count at every start, its
  /// neighbours and random addresses.
  @Test(arguments: [1, 2, 7, 64, 1000])
  func agreesWithAPlainCount(size: Int) {
    var generator = SystemRandomNumberGenerator()
    for spread in [UInt64(1) << 12, 1 << 40, .max] {
      var starts = (0..<size).map { _ in UInt64.random(in: 0...spread, using: &generator) }
      starts += starts.prefix(size / 4)
      starts.sort()
      var probes = starts.flatMap { [$0 &- 1, $0, $0 &+ 1] }
      probes += (0..<200).map { _ in UInt64.random(in: 0...spread, using: &generator) }
      probes += [0, .max]
      for address in probes {
        #expect(
          Self.directed(starts, address) == Self.reference(starts, address),
          "size \(size), spread \(spread), address \(address)")
      }
    }
  }

  @Test func anEmptyDirectoryFindsNothing() {
    #expect(Self.directed([], 0) == 0)
    #expect(Self.directed([], .max) == 0)
  }

  /// Ranges found through a directory are those found without one.
  @Test func addressRangesFoundThroughADirectory() {
    let ranges = [
      AddressRange(low: 0x1000, high: 0x1100, index: 0),
      AddressRange(low: 0x1100, high: 0x1180, index: 1),
      AddressRange(low: 0x2000, high: 0x9000, index: 2),
      AddressRange(low: 0x2400, high: 0x2500, index: 3),
    ]
    let directory = StartDirectory(count: ranges.count) { ranges[$0].low }
    for address: UInt64 in [
      0xfff, 0x1000, 0x10ff, 0x1100, 0x1180, 0x2000, 0x2450, 0x2500, 0x8fff, 0x9000,
    ] {
      #expect(
        ranges.index(containing: address, in: directory) == ranges.index(containing: address),
        "address \(address)")
    }
    #expect(ranges.index(containing: 0x2450, in: directory) == 3)
    #expect(ranges.index(containing: 0x2500, in: directory) == 2)
    #expect(ranges.index(containing: 0x1180, in: directory) == nil)
  }

  /// Keys with the same text are equal and hash alike whichever way they
  /// were made; different texts (also of one length, or differing only
  /// past the first 8 bytes) are not equal.
  @Test func nameTextKeysCompareByText() {
    let name = "$s10Symbolizer11SymbolTableV6lookupyAC5EntryVSgs6UInt64VF"
    let fromBytes = Array(name.utf8).withUnsafeBufferPointer { NameText($0) }
    #expect(fromBytes == NameText(name))
    #expect(fromBytes.hash == NameText(name).hash)
    #expect(NameText("abcdefgh1") != NameText("abcdefgh2"))
    #expect(NameText("abcdefgh1").hash != NameText("abcdefgh2").hash)
    #expect(NameText("a") != NameText("a\0"))
    #expect(NameText("a").hash != NameText("a\0").hash)
    var table: [NameText: Int] = [:]
    for index in 0..<2000 { table[NameText("name\(index)")] = index }
    #expect(table.count == 2000)
    #expect(table[NameText("name1234")] == 1234)
  }
}
