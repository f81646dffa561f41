/// The graph's edges by class pair: an open-addressing hash table of
/// 64-bit pair keys, with a multiplicative hash. Every new chain looks its
/// dependencies up here (a lookup per edge), so this replaces a
/// `Dictionary`, whose SipHash cost more than the rest of the lookup.
///
/// Invariants: `keys.count` is a power of two at least twice `count`
/// (linear probing always finds an empty slot); an empty slot holds
/// `empty`, which no pair key equals (class ids are below 2^31).
struct EdgeIndex: Sendable {
  private static let empty = UInt64.max
  private var keys = [UInt64](repeating: EdgeIndex.empty, count: 64)
  private var values = [Int32](repeating: -1, count: 64)
  private var count = 0

  @inline(__always)
  private func slot(_ key: UInt64) -> Int {
    Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15) >> 32) & (keys.count &- 1)
  }

  /// The edge of pair `key`, if any.
  @inline(__always)
  func find(_ key: UInt64) -> Int32? {
    var i = slot(key)
    while true {
      let k = keys[i]
      if k == key { return values[i] }
      if k == Self.empty { return nil }
      i = (i &+ 1) & (keys.count &- 1)
    }
  }

  /// Records edge `edge` for pair `key` (not present yet).
  mutating func insert(_ key: UInt64, _ edge: Int32) {
    if (count + 1) * 2 > keys.count { grow() }
    var i = slot(key)
    while keys[i] != Self.empty { i = (i &+ 1) & (keys.count &- 1) }
    keys[i] = key
    values[i] = edge
    count += 1
  }

  private mutating func grow() {
    let oldKeys = keys
    let oldValues = values
    keys = [UInt64](repeating: Self.empty, count: oldKeys.count * 2)
    values = [Int32](repeating: -1, count: oldKeys.count * 2)
    count = 0
    for (k, v) in zip(oldKeys, oldValues) where k != Self.empty { insert(k, v) }
  }
}
