import Testing

@testable import Symbolizer

/// `AddressTable` against `Dictionary` on the same operations.
@Suite struct AddressTableTests {
  @Test func behavesLikeADictionaryThroughGrowthAndClearing() {
    var rng = SystemRandomNumberGenerator()
    var table = AddressTable<Int>()
    var reference: [UInt64: Int] = [:]
    // Addresses close together (as code addresses are), plus extremes and
    // keys that collide under the hash (equal low bits).
    var keys: [UInt64] = (0..<3000).map { 0x5555_5555_0000 + UInt64($0) * 3 }
    keys += [0, 1, UInt64.max, UInt64.max - 1]
    keys += (0..<64).map { UInt64($0) << 58 }
    keys += (0..<2000).map { _ in UInt64.random(in: 0...UInt64.max, using: &rng) }
    for round in 0..<3 {
      for (n, key) in keys.shuffled(using: &rng).enumerated() {
        table.updateValue(n + round, forKey: key)
        reference[key] = n + round
        if n % 7 == 0 {
          // Replacing keeps the count.
          table.updateValue(-n, forKey: key)
          reference[key] = -n
        }
      }
      #expect(table.count == reference.count)
      for key in keys { #expect(table[key] == reference[key]) }
      #expect(table[0x1234_5678_9abc] == nil)
      if round < 2 {
        table.removeAll()
        reference.removeAll()
        #expect(table.count == 0)
        #expect(keys.allSatisfy { table[$0] == nil })
      }
    }
  }
}
