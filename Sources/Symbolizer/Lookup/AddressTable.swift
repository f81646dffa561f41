/// A hash map from 64-bit keys (addresses, C-string pointers) to values,
/// for the symbolizer's per-address cache and its interning tables.
///
/// `Dictionary` hashes every key with seeded SipHash, which cost more than
/// the rest of a cached lookup; keys here are already well spread machine
/// addresses, so a multiplicative (Fibonacci) hash and linear probing in
/// flat arrays do. Keys are not secret and a colliding set only slows the
/// table down.
///
/// Invariants: `keys.count == values.count` is a power of two, at least
/// twice `count` (so probing always finds an empty slot); a slot is empty
/// exactly when its value is nil; `shift == 64 - log2(keys.count)`.
struct AddressTable<Value> {
  private var keys: [UInt64]
  private var values: [Value?]
  private var shift: UInt64
  private(set) var count = 0

  /// An empty table with room for `capacity` keys before it grows.
  init(capacity: Int = 8) {
    var size = 16
    while size < 2 * capacity { size *= 2 }
    keys = [UInt64](repeating: 0, count: size)
    values = [Value?](repeating: nil, count: size)
    shift = UInt64(64 - size.trailingZeroBitCount)
  }

  private func slot(of key: UInt64) -> Int {
    Int(truncatingIfNeeded: (key &* 0x9e37_79b9_7f4a_7c15) >> shift)
  }

  /// The value stored for `key`, if any.
  subscript(key: UInt64) -> Value? {
    let mask = keys.count - 1
    var index = slot(of: key)
    while let value = values[index] {
      if keys[index] == key { return value }
      index = (index + 1) & mask
    }
    return nil
  }

  /// Stores `value` for `key`, replacing any value it had.
  mutating func updateValue(_ value: Value, forKey key: UInt64) {
    if 2 * (count + 1) > keys.count { grow() }
    let mask = keys.count - 1
    var index = slot(of: key)
    while values[index] != nil {
      if keys[index] == key {
        values[index] = value
        return
      }
      index = (index + 1) & mask
    }
    keys[index] = key
    values[index] = value
    count += 1
  }

  /// Forgets every key, keeping the storage.
  mutating func removeAll() {
    for index in values.indices { values[index] = nil }
    count = 0
  }

  /// Doubles the storage, moving (not copying) every value.
  private mutating func grow() {
    var bigger = AddressTable(capacity: keys.count)
    let mask = bigger.keys.count - 1
    for index in keys.indices {
      guard let value = values[index].take() else { continue }
      var slot = bigger.slot(of: keys[index])
      while bigger.values[slot] != nil { slot = (slot + 1) & mask }
      bigger.keys[slot] = keys[index]
      bigger.values[slot] = consume value
    }
    bigger.count = count
    self = bigger
  }
}
